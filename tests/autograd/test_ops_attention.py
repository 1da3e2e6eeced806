"""The fused attention op: values and gradients against the composed formula, gradcheck, gradgradcheck."""
import gc
import weakref

import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.autograd.ops.attention import ScaledDotProductAttention, attention, blocked_bias, causal_bias


def _composed(q, k, v, bias, keep, scale, safe):
    s = (q @ k.transpose(-1, -2)) * scale
    if bias is not None:
        s = s + (bias if isinstance(bias, distgrad.Tensor) else distgrad.tensor(bias))
    if safe:
        empty = (s == float("-inf")).all(-1, keepdim=True)
        p = distgrad.softmax(s.masked_fill(empty, 0.0), -1).masked_fill(empty, 0.0)
    else:
        p = distgrad.softmax(s, -1)
    if keep is not None:
        p = p * distgrad.tensor(keep)
    return p @ v


def _inputs(rng, qs=(2, 3, 4, 5), ks=(2, 3, 6, 5), vs=(2, 3, 6, 7)):
    return [distgrad.tensor(rng.standard_normal(s), requires_grad=True) for s in (qs, ks, vs)]


def _blocked(rng, shape, empty_row=None):
    m = rng.random(shape) > 0.6
    if empty_row is not None:
        m[..., empty_row, :] = True
    return m


CASES = {
    "plain": lambda rng: (None, None, False),
    "float_bias": lambda rng: (distgrad.tensor(rng.standard_normal((4, 6)), requires_grad=True), None, True),
    "full_bias": lambda rng: (distgrad.tensor(rng.standard_normal((2, 3, 4, 6)), requires_grad=True), None, True),
    "blocked_row": lambda rng: (blocked_bias(_blocked(rng, (4, 6), empty_row=2), np.float64), None, True),
    "causal": lambda rng: (causal_bias(4, 6, np.zeros(1)), None, False),
    "dropout": lambda rng: (None, (rng.random((2, 3, 4, 6)) > 0.4) / 0.6, False),
    "bias_and_dropout": lambda rng: (distgrad.tensor(rng.standard_normal((3, 1, 6)), requires_grad=True),
                                     (rng.random((2, 3, 4, 6)) > 0.4) * 2.0, True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_the_composed_formula(case):
    rng = np.random.default_rng(1)
    bias, keep, safe = CASES[case](rng)
    results = []
    for fn in (attention, _composed):
        q, k, v = _inputs(np.random.default_rng(2))
        b = bias.detach().requires_grad_() if isinstance(bias, distgrad.Tensor) else bias
        out = fn(q, k, v, b, keep, 0.4, safe)
        (out * distgrad.tensor(np.random.default_rng(3).standard_normal(out.shape))).sum().backward()
        grads = [t.grad.numpy() for t in (q, k, v)] + ([b.grad.numpy()] if isinstance(b, distgrad.Tensor) else [])
        results.append([out.detach().numpy()] + grads)
    for ours, theirs in zip(*results):
        assert np.isfinite(ours).all()
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradcheck_and_gradgradcheck(case):
    rng = np.random.default_rng(4)
    bias, keep, safe = CASES[case](rng)
    q, k, v = _inputs(rng, (2, 3, 4, 3), (2, 3, 6, 3), (2, 3, 6, 2))
    if isinstance(bias, distgrad.Tensor):
        fn = lambda q, k, v, b: attention(q, k, v, b, keep, 0.7, safe)  # noqa: E731
        args = (q, k, v, bias)
    else:
        fn = lambda q, k, v: attention(q, k, v, bias, keep, 0.7, safe)  # noqa: E731
        args = (q, k, v)
    assert gradcheck(fn, args)
    assert gradgradcheck(fn, args)


def test_broadcast_batch_dimensions_sum_their_gradients():
    rng = np.random.default_rng(5)
    q, k, v = _inputs(rng, (2, 1, 4, 3), (1, 3, 5, 3), (3, 5, 2))
    assert attention(q, k, v, None, None, 0.5, False).shape == (2, 3, 4, 2)
    assert gradcheck(lambda q, k, v: attention(q, k, v, None, None, 0.5, False), (q, k, v))
    assert gradgradcheck(lambda q, k, v: attention(q, k, v, None, None, 0.5, False), (q, k, v))


def test_float32_stays_float32_and_no_grad_keeps_nothing(monkeypatch):
    contexts = []
    forward = ScaledDotProductAttention.forward

    def spy(ctx, *args):
        contexts.append(weakref.ref(ctx))
        return forward(ctx, *args)
    monkeypatch.setattr(ScaledDotProductAttention, "forward", staticmethod(spy))
    q = distgrad.randn(2, 4, 3)
    out = attention(q, q, q, causal_bias(4, 4, np.zeros(1, np.float32)), None, 0.5, False)
    assert out.dtype == distgrad.float32 and out.grad_fn is None
    gc.collect()
    assert contexts[0]() is None  # the no-grad ctx, and the probabilities set on it, are gone with the call
    monkeypatch.undo()
    x = q.clone().requires_grad_()
    y = attention(x, x, x, None, None, 0.5, False)
    assert type(y.grad_fn).__name__ == "ScaledDotProductAttentionBackward0"


def test_causal_bias_blocks_later_keys_top_left_aligned():
    bias = causal_bias(2, 3, np.zeros(1))
    np.testing.assert_array_equal(bias, [[0, -np.inf, -np.inf], [0, 0, -np.inf]])
    assert blocked_bias(np.array([True, False]), np.float32).dtype == np.float32
