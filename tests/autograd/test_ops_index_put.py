"""index_copy, index_fill, index_put, put and masked_scatter (and their in-place forms): PyTorch parity of
values and gradients, gradcheck and gradgradcheck, errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from error_parity import assert_raises_like_torch

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
S2 = RNG.standard_normal((2, 4))
S3 = RNG.standard_normal((3, 2))
V = RNG.standard_normal((3,))


def _idx(m, values):
    return m.tensor(values)


CASES = {
    "index_copy": (lambda m, x, s: m.index_copy(x, 0, _idx(m, [2, 0]), s), [X, S2]),
    "index_copy_dim1": (lambda m, x, s: x.index_copy(1, _idx(m, [3, 1]), s), [X, S3]),
    "index_copy_": (lambda m, x, s: (x * 1.0).index_copy_(0, _idx(m, [1, 2]), s), [X, S2]),
    "index_fill": (lambda m, x: m.index_fill(x, 1, _idx(m, [0, 2]), -1.5), [X]),
    "index_fill_tensor": (lambda m, x, v: x.index_fill(0, _idx(m, [1]), v[0]), [X, V]),
    "index_fill_": (lambda m, x: (x * 2).index_fill_(0, _idx(m, [0, 2]), 3.0), [X]),
    "index_put_accumulate": (lambda m, x, v: m.index_put(x, (_idx(m, [0, 0, 2]), _idx(m, [1, 1, 3])), v,
                                                         accumulate=True), [X, V]),
    "index_put": (lambda m, x, v: x.index_put((_idx(m, [0, 1, 2]), _idx(m, [1, 2, 3])), v), [X, V]),
    "index_put_broadcast": (lambda m, x, v: x.index_put((_idx(m, [2, 0]),), v[0]), [X, V]),
    "index_put_": (lambda m, x, v: (x * 1.0).index_put_((_idx(m, [1]), _idx(m, [0])), v[:1], True), [X, V]),
    "put": (lambda m, x, v: (x * 1.0).put_(_idx(m, [0, 5, -1]), v), [X, V]),
    "put_accumulate": (lambda m, x, v: (x * 1.0).put_(_idx(m, [2, 2, 7]), v, accumulate=True), [X, V]),
    "masked_scatter": (lambda m, x, s: x.masked_scatter(_idx(m, [True, False, False, True]), s), [X, S3]),
    "masked_scatter_": (lambda m, x, s: (x * 1.0).masked_scatter_(x > 0.3, s.reshape(-1).repeat(2)), [X, S2]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    fn, arrays = CASES[name]
    ours = [distgrad.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    od, ot = fn(distgrad, *ours), fn(torch, *theirs)
    np.testing.assert_allclose(od.detach().numpy(), ot.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = RNG.standard_normal(tuple(ot.shape))
    od.backward(distgrad.tensor(g))
    ot.backward(torch.tensor(g))
    for d, t in zip(ours, theirs):
        ref = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(d.grad.numpy(), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["index_copy", "index_fill_tensor", "index_put_accumulate", "index_put", "put",
                                  "masked_scatter"])
def test_gradcheck(name):
    fn, arrays = CASES[name]
    inputs = [distgrad.tensor(a, requires_grad=True) for a in arrays]
    f = lambda *t: fn(distgrad, *t)  # noqa: E731
    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)


ERRORS = {
    "copy_index_range": lambda m: m.zeros(3, 4).index_copy(0, m.tensor([5]), m.ones(1, 4)),
    "copy_negative": lambda m: m.zeros(3, 4).index_copy(0, m.tensor([-1]), m.ones(1, 4)),
    "copy_count": lambda m: m.zeros(3, 4).index_copy(0, m.tensor([1]), m.ones(2, 4)),
    "copy_dtype": lambda m: m.zeros(3, 4).index_copy(0, m.tensor([1]), m.ones(1, 4, dtype=m.float64)),
    "fill_value_dims": lambda m: m.zeros(3, 4).index_fill(0, m.tensor([1]), m.ones(2)),
    "scatter_short": lambda m: m.zeros(3, 4).masked_scatter(m.ones(4, dtype=m.bool), m.ones(2)),
    "scatter_mask_dtype": lambda m: m.zeros(3).masked_scatter(m.ones(3), m.ones(3)),
    "put_range": lambda m: m.zeros(3, 4).put_(m.tensor([12]), m.ones(1)),
    "put_count": lambda m: m.zeros(3, 4).put_(m.tensor([1, 2]), m.ones(3)),
    "index_put_range": lambda m: m.zeros(3).index_put((m.tensor([3]),), m.ones(1)),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch_types(name):
    assert_raises_like_torch(ERRORS[name])


def test_in_place_forms_return_self_and_bump_the_version():
    t = distgrad.zeros(3, 4)
    v = t._version
    assert t.index_fill_(0, distgrad.tensor([1]), 2.0) is t and t._version > v
    assert t.put_(distgrad.tensor([0]), distgrad.tensor([9.0])) is t and t[0, 0].item() == 9.0


def test_fill_diagonal_matches_torch():
    torch = pytest.importorskip("torch")
    for shape, wrap in (((3, 4), False), ((7, 3), False), ((7, 3), True), ((3, 3, 3), False)):
        d, t = distgrad.zeros(*shape), torch.zeros(*shape)
        assert d.fill_diagonal_(2.5, wrap=wrap) is d
        t.fill_diagonal_(2.5, wrap=wrap)
        np.testing.assert_array_equal(d.numpy(), t.numpy())
    leaf = distgrad.tensor(X, requires_grad=True)
    y = leaf * 1.0
    y.fill_diagonal_(0.0)
    y.sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), 1.0 - np.eye(3, 4))
    assert_raises_like_torch(lambda m: m.zeros(3).fill_diagonal_(1.0))
    assert_raises_like_torch(lambda m: m.zeros(2, 3, 3).fill_diagonal_(1.0))
