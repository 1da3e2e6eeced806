"""``torch.utils.checkpoint``: the same gradients as without checkpointing, PyTorch's behaviour in each variant.

Gradients are compared with an un-checkpointed run of the same function in distgrad (same seed, so dropout
draws match) and behaviours (what requires grad, what warns or raises) with PyTorch.
"""
import tracemalloc
import warnings

import numpy as np
import pytest

import distgrad
from distgrad import nn
from distgrad.utils import checkpoint as C

VARIANTS = [True, False]


def _net():
    distgrad.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 2))


def _grads(run, reentrant=None):
    net = _net()
    x = distgrad.tensor(np.linspace(-1, 1, 12).reshape(3, 4), dtype=distgrad.float32, requires_grad=True)
    distgrad.manual_seed(5)
    out = run(net, x)
    out.pow(2).sum().backward()
    return [x.grad.numpy()] + [p.grad.numpy() for p in net.parameters()]


def _same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("reentrant", VARIANTS)
def test_gradients_equal_the_plain_run_with_dropout_replayed(reentrant):
    plain = _grads(lambda net, x: net(x))
    ckpt = _grads(lambda net, x: C.checkpoint(net, x, use_reentrant=reentrant))
    _same(ckpt, plain)
    seq = _grads(lambda net, x: C.checkpoint_sequential(net, 3, x, use_reentrant=reentrant))
    _same(seq, plain)
    fresh = _grads(lambda net, x: C.checkpoint(net, x, use_reentrant=reentrant, preserve_rng_state=False))
    assert any(not np.allclose(a, b) for a, b in zip(fresh, plain))  # new dropout masks in the recomputation


def test_non_reentrant_works_with_grad_kwargs_nesting_and_double_backward():
    lin = nn.Linear(3, 3)
    x = distgrad.randn(2, 3, requires_grad=True)

    def block(t, scale=1.0):
        return (lin(t) * scale).sin()

    def nested(t):
        return C.checkpoint(block, t, use_reentrant=False, scale=2.0).cos()
    plain = nested_plain = (lin(x) * 2.0).sin().cos()
    out = C.checkpoint(nested, x, use_reentrant=False)
    np.testing.assert_allclose(out.detach().numpy(), plain.detach().numpy(), rtol=1e-6)
    g1 = distgrad.autograd.grad(out.sum(), [x, lin.weight, lin.bias], create_graph=True)
    g0 = distgrad.autograd.grad(nested_plain.sum(), [x, lin.weight, lin.bias], create_graph=True)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    (h1,) = distgrad.autograd.grad(g1[0].sum(), x)
    (h0,) = distgrad.autograd.grad(g0[0].sum(), x)
    np.testing.assert_allclose(h1.numpy(), h0.numpy(), rtol=1e-5, atol=1e-6)


def _both(case):
    torch = pytest.importorskip("torch")
    import torch.utils.checkpoint as TC
    out = []
    for L, mod in ((distgrad, C), (torch, TC)):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            res = case(L, mod)
        out.append((res, sorted({type(x.message).__name__ for x in w if "checkpoint" in str(x.message)
                                 or "requires_grad" in str(x.message)})))
    return out


def test_which_outputs_require_grad_and_what_warns_match_pytorch():
    def case(L, mod):
        L.manual_seed(0)
        lin = L.nn.Linear(2, 2)
        flags = []
        for reentrant in (None, True, False):
            y = mod.checkpoint(lin, L.ones(1, 2), use_reentrant=reentrant)
            flags.append(y.requires_grad)
        both = mod.checkpoint(lambda a, b: (a * 2, "text", None, b), L.ones(2, requires_grad=True), 3,
                              use_reentrant=False)
        flags.append((both[0].requires_grad, both[1], both[2], both[3]))
        return flags
    (ours, w_ours), (theirs, w_theirs) = _both(case)
    assert ours == theirs and w_ours == w_theirs


@pytest.mark.parametrize("misuse", [
    lambda L, mod: (lambda x: L.autograd.grad(mod.checkpoint(lambda t: t * 2, x, use_reentrant=True).sum(), x))(
        L.ones(2, requires_grad=True)),
    lambda L, mod: mod.checkpoint(lambda t, k=1: t * k, L.ones(2, requires_grad=True), use_reentrant=True, k=2),
    lambda L, mod: mod.checkpoint(lambda t: t, L.ones(2), use_reentrant=True, context_fn=lambda: (None, None)),
    lambda L, mod: mod.checkpoint(lambda t: t, L.ones(2), use_reentrant=False, determinism_check="maybe"),
    lambda L, mod: mod.checkpoint_sequential([L.nn.Identity()], 1, L.ones(2), use_reentrant=False, extra=1),
])
def test_misuse_raises_pytorchs_error_type(misuse):
    torch = pytest.importorskip("torch")
    import torch.utils.checkpoint as TC
    errors = []
    for L, mod in ((torch, TC), (distgrad, C)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                misuse(L, mod)
                errors.append(None)
            except Exception as e:  # noqa: BLE001  (the type is what is compared)
                errors.append(type(e).__name__)
    assert errors[0] is not None and errors == [errors[0]] * 2, errors


def test_reentrant_grad_is_refused_as_in_pytorch():
    x = distgrad.ones(2, requires_grad=True)
    y = C.checkpoint(lambda t: (t * 2).sum(), x, use_reentrant=True)
    with pytest.raises(RuntimeError, match="incompatible with .grad()"):
        distgrad.autograd.grad(y, x)


def test_a_recomputation_that_changes_shape_is_caught():
    calls = []

    def changing(t):
        calls.append(1)
        return t.repeat(len(calls))
    y = C.checkpoint(changing, distgrad.ones(2, requires_grad=True), use_reentrant=False)
    with pytest.raises(C.CheckpointError, match="different metadata"):
        y.sum().backward()
    calls.clear()
    y = C.checkpoint(changing, distgrad.ones(2, requires_grad=True), use_reentrant=False, determinism_check="none")
    with pytest.raises(RuntimeError):  # the gradient no longer fits; only the check was skipped
        y.sum().backward()


def _peak(run):
    distgrad.manual_seed(0)  # activations (48 x 0.5 MB) outweigh the parameters' gradients (3 MB)
    net = nn.Sequential(*[m for _ in range(48) for m in (nn.Linear(128, 128), nn.Tanh())])
    x = distgrad.randn(1024, 128, requires_grad=True)
    tracemalloc.start()
    run(net, x).sum().backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize("reentrant", VARIANTS)
def test_checkpointing_lowers_peak_memory(reentrant):
    plain = _peak(lambda net, x: net(x))
    ckpt = _peak(lambda net, x: C.checkpoint_sequential(net, 4, x, use_reentrant=reentrant))
    assert ckpt < 0.6 * plain, (ckpt, plain)
