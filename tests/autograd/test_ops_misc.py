"""all/any, isnan/isinf/isfinite, nonzero/argwhere, count_nonzero, cumsum, flip, tril/triu,
sort/argsort/topk: values against NumPy/PyTorch semantics, dtypes, gradients and errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64


def rnd(*shape):
    return distgrad.randn(*shape, dtype=F64).requires_grad_()


def distinct(*shape):
    n = int(np.prod(shape))
    return (distgrad.randperm(n).to(F64) * 0.3 - 1).reshape(shape).requires_grad_()


# --- tests and searches --------------------------------------------------------------------
@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 1)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_all_any(dim, keepdim):
    a = np.array([[1.0, 0.0, 2.0], [3.0, 4.0, 5.0]])
    x = distgrad.tensor(a)
    axis = dim if dim is not None else None
    for name in ("all", "any"):
        out = getattr(x, name)(dim, keepdim=keepdim) if dim is not None else getattr(distgrad, name)(x)
        ref = getattr(np, name)(a, axis=axis, keepdims=keepdim if dim is not None else False)
        assert out.dtype == distgrad.bool
        np.testing.assert_array_equal(out.numpy(), ref)


def test_all_any_dtypes():
    u = distgrad.tensor([1, 0], dtype=distgrad.uint8)
    assert u.all().dtype == distgrad.uint8 and u.all().item() == 0 and u.any().item() == 1
    assert distgrad.tensor([True, True]).all().item() is True
    assert distgrad.zeros(0).all().item() is True and distgrad.zeros(0).any().item() is False
    with pytest.raises(IndexError, match="Dimension out of range"):
        distgrad.ones(2).all(dim=3)


def test_isnan_isinf_isfinite():
    x = distgrad.tensor([1.0, float("nan"), float("inf"), float("-inf")])
    assert x.isnan().tolist() == [False, True, False, False]
    assert distgrad.isinf(x).tolist() == [False, False, True, True]
    assert distgrad.isfinite(x).tolist() == [True, False, False, False]
    i = distgrad.tensor([1, 2])
    assert i.isnan().tolist() == [False, False] and i.isfinite().tolist() == [True, True]
    assert distgrad.isinf(i).dtype == distgrad.bool


def test_nonzero_and_argwhere():
    a = np.array([[1, 0, 2], [0, 0, 3]])
    x = distgrad.tensor(a)
    out = x.nonzero()
    assert out.dtype == distgrad.int64
    np.testing.assert_array_equal(out.numpy(), np.argwhere(a))
    rows, cols = distgrad.nonzero(x, as_tuple=True)
    np.testing.assert_array_equal(rows.numpy(), np.nonzero(a)[0])
    np.testing.assert_array_equal(cols.numpy(), np.nonzero(a)[1])
    np.testing.assert_array_equal(distgrad.argwhere(x).numpy(), np.argwhere(a))
    assert distgrad.zeros(2, 2).nonzero().shape == (0, 2)
    assert distgrad.tensor(5).nonzero().shape == (1, 0)
    assert [t.tolist() for t in distgrad.tensor(5).nonzero(as_tuple=True)] == [[0]]
    assert [t.tolist() for t in distgrad.tensor(0).nonzero(as_tuple=True)] == [[]]


def test_count_nonzero():
    x = distgrad.tensor([[1, 0], [2, 3]])
    assert distgrad.count_nonzero(x).item() == 3
    assert x.count_nonzero(dim=0).tolist() == [2, 1]
    assert x.count_nonzero((0, 1)).item() == 3 and x.count_nonzero().dtype == distgrad.int64


# --- cumsum, flip, tril, triu --------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum(dim):
    x = rnd(3, 4)
    np.testing.assert_allclose(x.cumsum(dim).detach().numpy(), np.cumsum(x.detach().numpy(), axis=dim))
    assert x.cumsum(dim).grad_fn.name() == "CumsumBackward0"
    assert gradcheck(lambda t: distgrad.cumsum(t, dim), (x,))
    assert gradgradcheck(lambda t: distgrad.cumsum(t, dim) ** 2, (x,))


def test_cumsum_dtypes_and_errors():
    assert distgrad.cumsum(distgrad.tensor([1, 2], dtype=distgrad.int32), 0).dtype == distgrad.int64
    assert distgrad.tensor([True, True]).cumsum(0).tolist() == [1, 2]
    assert distgrad.cumsum(distgrad.tensor([1, 2]), 0, dtype=F64).dtype == F64
    assert distgrad.tensor(2.0).cumsum(0).item() == 2.0
    with pytest.raises(IndexError, match="Dimension out of range"):
        distgrad.ones(2).cumsum(1)


@pytest.mark.parametrize("dims", [(0,), (1,), (0, 1), [-1], (0, 2)], ids=str)
def test_flip(dims):
    x = rnd(2, 3, 2)
    np.testing.assert_array_equal(x.flip(dims).detach().numpy(), np.flip(x.detach().numpy(), dims))
    out = distgrad.flip(x, dims)
    assert out._base is None and out.grad_fn.name() == "FlipBackward0"  # a copy, as in PyTorch
    assert gradcheck(lambda t: t.flip(dims), (x,))
    assert gradgradcheck(lambda t: t.flip(dims) ** 2, (x,))


def test_flip_errors():
    with pytest.raises(RuntimeError, match="appears multiple times"):
        distgrad.ones(2, 2).flip((0, 0))
    with pytest.raises(IndexError, match="Dimension out of range"):
        distgrad.ones(2).flip((1,))


@pytest.mark.parametrize("diagonal", [0, 1, -1, 5])
@pytest.mark.parametrize("name", ["tril", "triu"])
def test_tril_triu(name, diagonal):
    x = rnd(2, 3, 4)
    np.testing.assert_array_equal(getattr(x, name)(diagonal).detach().numpy(),
                                  getattr(np, name)(x.detach().numpy(), diagonal))
    assert getattr(x, name)().grad_fn.name() == ("TrilBackward0" if name == "tril" else "TriuBackward0")
    assert gradcheck(lambda t: getattr(distgrad, name)(t, diagonal), (x,))
    assert gradgradcheck(lambda t: getattr(distgrad, name)(t, diagonal=diagonal) ** 2, (x,))


def test_tril_needs_two_dims():
    with pytest.raises(RuntimeError, match="tril: input tensor must have at least 2 dimensions"):
        distgrad.ones(3).tril()
    with pytest.raises(RuntimeError, match="triu: input tensor must have at least 2 dimensions"):
        distgrad.triu(distgrad.ones(3))


# --- sort, argsort, topk ---------------------------------------------------------------------
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort(dim, descending):
    x = distinct(3, 4)
    values, indices = x.sort(dim, descending=descending)
    a = x.detach().numpy()
    order = np.argsort(-a if descending else a, axis=dim)
    np.testing.assert_array_equal(indices.numpy(), order)
    np.testing.assert_array_equal(values.detach().numpy(), np.take_along_axis(a, order, axis=dim))
    assert values.grad_fn.name() == "SortBackward0" and indices.dtype == distgrad.int64
    assert gradcheck(lambda t: distgrad.sort(t, dim, descending)[0], (x,))
    assert gradgradcheck(lambda t: distgrad.sort(t, dim, descending).values ** 2, (x,))
    np.testing.assert_array_equal(distgrad.argsort(x, dim, descending=descending).numpy(), order)


def test_sort_is_stable_and_puts_nan_last():
    x = distgrad.tensor([2.0, 1.0, 2.0, float("nan"), 1.0])
    assert x.sort(stable=True).indices.tolist() == [1, 4, 0, 2, 3]
    assert x.sort(descending=True, stable=True).indices.tolist() == [3, 0, 2, 1, 4]
    assert x.argsort().tolist() == [1, 4, 0, 2, 3]
    r = distgrad.sort(distgrad.tensor([3, 1, 2]))
    assert r.values.tolist() == [1, 2, 3] and r.values.dtype == distgrad.int64
    assert repr(r).startswith("distgrad.return_types.sort(")


def test_sort_zero_dim():
    s = distgrad.tensor(3.0)
    v, i = s.sort()
    assert v.item() == 3.0 and i.item() == 0


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [0, 1, 3])
def test_topk(k, largest):
    x = distinct(2, 5)
    values, indices = x.topk(k, largest=largest)
    a = x.detach().numpy()
    order = np.argsort(-a if largest else a, axis=1)[:, :k]
    np.testing.assert_array_equal(indices.numpy(), order)
    np.testing.assert_array_equal(values.detach().numpy(), np.take_along_axis(a, order, axis=1))
    if k:
        assert values.grad_fn.name() == "TopkBackward0"
        assert gradcheck(lambda t: distgrad.topk(t, k, largest=largest).values, (x,))
        assert gradgradcheck(lambda t: distgrad.topk(t, k, dim=1, largest=largest)[0] ** 2, (x,))


def test_topk_along_dim0_and_errors():
    x = distinct(4, 2)
    v, i = distgrad.topk(x, 2, dim=0)
    np.testing.assert_array_equal(i.numpy(), np.argsort(-x.detach().numpy(), axis=0)[:2])
    assert repr(distgrad.topk(x, 1)).startswith("distgrad.return_types.topk(")
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        x.topk(3)
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        x.topk(-1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.topk(1, dim=2)
