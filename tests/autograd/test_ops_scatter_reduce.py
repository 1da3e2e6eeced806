"""scatter_reduce / index_reduce: values and gradients against PyTorch for every reduction,
with and without include_self, ties (amax/amin) and zeros (prod); gradchecks; errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64
REDUCES = ["sum", "prod", "mean", "amax", "amin"]

X = [[1.0, -2.0, 3.0, 0.5], [4.0, 0.0, -1.0, 2.0]]
SRC = [[0.5, 3.0, -1.0, 2.0, 3.0], [0.0, -2.0, 2.0, 2.0, 1.5]]
IDX = [[0, 1, 1, 3, 1], [2, 2, 0, 2, 2]]  # repeats; position (0, 2) and (1, 1)/(1, 3) untouched
TIES_SRC = [[3.0, 3.0, 3.0, 0.5, -2.0], [2.0, 2.0, 4.0, 2.0, -1.0]]  # ties with each other and with x


def t64(values):
    return distgrad.tensor(values, dtype=F64, requires_grad=True)


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_gradcheck(reduce, include_self):
    idx = distgrad.tensor(IDX)
    fn = lambda x, s: x.scatter_reduce(1, idx, s, reduce, include_self=include_self)  # noqa: E731
    x = t64([[1.0, -2.0, 3.0, 0.5], [4.0, 0.7, -1.0, 2.0]])
    s = t64([[0.5, 3.1, -1.2, 2.0, 2.6], [0.3, -2.0, 2.2, 1.4, 1.5]])  # no ties: max/min are smooth
    assert gradcheck(fn, (x, s))
    assert gradgradcheck(fn, (x, s))


@pytest.mark.parametrize("src", [SRC, TIES_SRC], ids=["plain", "ties"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_parity_with_torch(reduce, include_self, src):
    torch = pytest.importorskip("torch")
    x, s = t64(X), t64(src)
    tx = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    ts = torch.tensor(src, dtype=torch.float64, requires_grad=True)
    out = x.scatter_reduce(1, distgrad.tensor(IDX), s, reduce, include_self=include_self)
    tout = tx.scatter_reduce(1, torch.tensor(IDX), ts, reduce, include_self=include_self)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12)
    w = np.arange(1.0, 9.0).reshape(2, 4)
    (out * distgrad.tensor(w, dtype=F64)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15)
    if src is TIES_SRC and not include_self and reduce in ("amax", "amin"):
        return  # PyTorch's deviation, see test_extreme_ties_without_self_keep_the_whole_gradient
    np.testing.assert_allclose(s.grad.numpy(), ts.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_extreme_ties_without_self_keep_the_whole_gradient(reduce):
    # With include_self=False PyTorch still counts an old value equal to the result among the
    # tied elements (though it gets no gradient), so part of the gradient is lost; here the
    # gradient is shared only by the src elements that took part, and its total is kept.
    x = distgrad.tensor([0.5, 7.0], dtype=F64)
    s = t64([0.5, 0.5, 7.0])
    out = x.scatter_reduce(0, distgrad.tensor([0, 0, 1]), s, reduce, include_self=False)
    assert out.tolist() == [0.5, 7.0]
    out.sum().backward()
    assert s.grad.tolist() == [0.5, 0.5, 1.0]


@pytest.mark.parametrize("reduce", REDUCES)
def test_dim0_smaller_index_and_integers_match_torch(reduce):
    torch = pytest.importorskip("torch")
    x = np.arange(12).reshape(3, 4) - 5
    src = (np.arange(15).reshape(3, 5) * 7) % 11 - 4
    idx = np.array([[2, 0, 2, 1], [0, 0, 1, 1]])  # smaller than src and x apart from dim 0
    for include_self in (True, False):
        ours = distgrad.tensor(x).scatter_reduce(0, distgrad.tensor(idx), distgrad.tensor(src), reduce,
                                                 include_self=include_self)
        theirs = torch.tensor(x).scatter_reduce(0, torch.tensor(idx), torch.tensor(src), reduce,
                                                include_self=include_self)
        assert ours.dtype == distgrad.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        xf, sf = distgrad.tensor(x, dtype=F64), distgrad.tensor(src, dtype=F64)
        np.testing.assert_allclose(
            distgrad.scatter_reduce(xf, 0, distgrad.tensor(idx), sf, reduce, include_self=include_self).numpy(),
            torch.scatter_reduce(torch.tensor(x, dtype=torch.float64), 0, torch.tensor(idx),
                                 torch.tensor(src, dtype=torch.float64), reduce,
                                 include_self=include_self).numpy(), rtol=1e-12)


def test_empty_index_and_in_place():
    x = distgrad.tensor([1.0, 2.0])
    out = x.scatter_reduce(0, distgrad.tensor([], dtype=distgrad.int64), distgrad.tensor([]), "prod")
    assert out.tolist() == [1.0, 2.0] and out is not x
    y = distgrad.tensor([1.0, 2.0])
    assert y.scatter_reduce_(0, distgrad.tensor([1, 1]), distgrad.tensor([3.0, 4.0]), "amin") is y
    assert y.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
def test_index_reduce_parity_with_torch(reduce, include_self):
    torch = pytest.importorskip("torch")
    xv = [[1.0, 1.5, 0.0], [3.0, -1.0, 2.0], [0.5, 0.5, 4.0]]  # no old value ties a result
    sv = [[2.0, 2.0, 5.0], [-1.0, 3.0, 0.0], [4.0, 2.0, 1.0], [0.5, 0.0, 2.0]]
    idx = [0, 2, 0, 0]
    x, s = t64(xv), t64(sv)
    tx = torch.tensor(xv, dtype=torch.float64, requires_grad=True)
    ts = torch.tensor(sv, dtype=torch.float64, requires_grad=True)
    out = x.index_reduce(0, distgrad.tensor(idx), s, reduce, include_self=include_self)
    tout = tx.index_reduce(0, torch.tensor(idx), ts, reduce, include_self=include_self)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(s.grad.numpy(), ts.grad.numpy(), rtol=1e-12)
    dim1 = distgrad.index_reduce(x.detach().t(), 1, distgrad.tensor(idx), s.detach().t(), reduce,
                                 include_self=include_self)
    np.testing.assert_allclose(dim1.numpy(), tout.detach().numpy().T, rtol=1e-12)


def test_errors():
    x = distgrad.zeros(2, 3)
    idx = distgrad.tensor([[0, 1]])
    src = distgrad.ones(1, 2)
    with pytest.raises(RuntimeError, match="reduce argument must be"):
        x.scatter_reduce(1, idx, src, "max")
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.scatter_reduce(1, distgrad.tensor([[0, 3]]), src, "sum")
    with pytest.raises(RuntimeError, match="dtype"):
        x.scatter_reduce(1, idx.to(distgrad.int32), src, "sum")
    with pytest.raises(RuntimeError, match="src.dtype"):
        x.scatter_reduce(1, idx, src.to(F64), "sum")
    with pytest.raises(TypeError, match="src"):
        x.scatter_reduce(1, idx, 1.0, "sum")
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.scatter_reduce(1, distgrad.tensor([0, 1]), src, "sum")
    with pytest.raises(RuntimeError, match="Expected reduce"):
        x.index_reduce(0, distgrad.tensor([0]), distgrad.ones(1, 3), "sum")
    with pytest.raises(RuntimeError, match="source has shape"):
        x.index_reduce(0, distgrad.tensor([0]), distgrad.ones(2, 3), "prod")
    with pytest.raises(IndexError, match="out of bounds"):
        x.index_reduce(0, distgrad.tensor([5]), distgrad.ones(1, 3), "prod")
