"""Gather and scatter along a dim: gather, scatter/scatter_add (+ in-place), index_select,
index_add, take_along_dim -- values against NumPy, gradients (first and second order,
repeated indices accumulate), exact integer accumulation, and the errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64


def rnd(*shape):
    return distgrad.randn(*shape, dtype=F64).requires_grad_()


IDX = distgrad.tensor([[0, 2, 2], [1, 0, 1]])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather(dim):
    x = rnd(3, 3)
    index = IDX if dim != 0 else distgrad.tensor([[0, 2, 1], [2, 2, 0]])
    a = x.detach().numpy()
    a = a if dim == 0 else a[:2]  # gather reads only the part of the input the index covers
    np.testing.assert_array_equal(x.gather(dim, index).detach().numpy(),
                                  np.take_along_axis(a, index.numpy(), axis=dim))
    assert gradcheck(lambda t: distgrad.gather(t, dim, index), (x,))
    assert gradgradcheck(lambda t: distgrad.gather(t, dim, index) ** 2, (x,))


def test_gather_with_a_smaller_index_and_repeated_entries():
    x = rnd(3, 4)
    index = distgrad.tensor([[3, 3]])
    out = x.gather(1, index)
    assert out.tolist() == [[x[0, 3].item()] * 2]
    out.sum().backward()
    assert x.grad[0, 3].item() == 2.0 and x.grad.sum().item() == 2.0


def test_scatter_and_scatter_add():
    x, src = rnd(2, 4), rnd(2, 3)
    index = distgrad.tensor([[0, 3, 1], [2, 2, 0]])
    expected = x.detach().numpy().copy()
    for i in range(2):
        for j in range(3):
            expected[i, index[i, j].item()] += src.detach().numpy()[i, j]
    np.testing.assert_allclose(x.scatter_add(1, index, src).detach().numpy(), expected)
    assert gradcheck(lambda a, s: distgrad.scatter_add(a, 1, index, s), (x, src))
    assert gradgradcheck(lambda a, s: distgrad.scatter_add(a, 1, index, s) ** 2, (x, src))
    distinct = distgrad.tensor([[0, 3, 1], [2, 1, 0]])
    out = distgrad.scatter(x, 1, distinct, src)
    assert out[0, 3].item() == src[0, 1].item() and out[0, 2].item() == x[0, 2].item()
    assert gradcheck(lambda a, s: a.scatter(1, distinct, s), (x, src))
    assert gradcheck(lambda a: a.scatter(1, distinct, 7.0) * a, (x,))
    assert distgrad.zeros(2, 3).scatter(1, distgrad.tensor([[2], [0]]), value=7.0).tolist() == \
        [[0.0, 0.0, 7.0], [7.0, 0.0, 0.0]]
    assert distgrad.zeros(3).scatter(0, distgrad.tensor([1, 1]), distgrad.ones(2), reduce="add").tolist() == \
        [0.0, 2.0, 0.0]


def test_integer_scatter_add_and_index_add_are_exact():
    big = 2 ** 60 + 1  # beyond float64's integer range: no detour through floating point
    out = distgrad.zeros(3, dtype=distgrad.int64).scatter_add(0, distgrad.tensor([2, 0, 2, 2]),
                                                              distgrad.tensor([big, 5, 1, 2]))
    assert out.tolist() == [5, 0, big + 3]
    assert distgrad.tensor([1, 2, 3]).index_add(0, distgrad.tensor([0, 0]), distgrad.tensor([10, 20])).tolist() \
        == [31, 2, 3]
    small = distgrad.tensor([1, 2], dtype=distgrad.int32).scatter_add(0, distgrad.tensor([1]),
                                                                     distgrad.tensor([7], dtype=distgrad.int32))
    assert small.dtype == distgrad.int32 and small.tolist() == [1, 9]


def test_scatter_inplace_variants():
    x = distgrad.zeros(3)
    assert x.scatter_(0, distgrad.tensor([2]), 1.0) is x and x.tolist() == [0.0, 0.0, 1.0]
    x.scatter_add_(0, distgrad.tensor([2, 0]), distgrad.ones(2))
    assert x.tolist() == [1.0, 0.0, 2.0] and x._version == 2


def test_index_select_and_index_add():
    x = rnd(3, 4)
    index = distgrad.tensor([3, 0, 3])
    np.testing.assert_array_equal(x.index_select(1, index).detach().numpy(), x.detach().numpy()[:, [3, 0, 3]])
    assert x.index_select(0, distgrad.tensor([2])).grad_fn.name() == "IndexSelectBackward0"
    assert gradcheck(lambda t: distgrad.index_select(t, 1, index), (x,))
    assert gradgradcheck(lambda t: t.index_select(0, distgrad.tensor([1, 1])) ** 2, (x,))
    src = rnd(3, 3)
    expected = x.detach().numpy().copy()
    np.add.at(expected, (slice(None), [3, 0, 3]), 2 * src.detach().numpy())
    np.testing.assert_allclose(x.index_add(1, index, src, alpha=2).detach().numpy(), expected)
    assert gradcheck(lambda a, s: distgrad.index_add(a, 1, index, s, alpha=2), (x, src))
    y = distgrad.zeros(3)
    y.index_add_(0, distgrad.tensor([0, 0]), distgrad.ones(2))
    assert y.tolist() == [2.0, 0.0, 0.0]


def test_take_along_dim():
    x = rnd(3, 4)
    idx = distgrad.argsort(x.detach(), dim=1)
    np.testing.assert_array_equal(distgrad.take_along_dim(x, idx, 1).detach().numpy(),
                                  np.sort(x.detach().numpy(), axis=1))
    flat = x.take_along_dim(distgrad.tensor([11, 0]))
    assert flat.tolist() == [x[2, 3].item(), x[0, 0].item()]
    assert gradcheck(lambda t: t.take_along_dim(distgrad.tensor([[1], [0], [3]]), dim=1), (x,))
    assert distgrad.take_along_dim(x, distgrad.tensor([[0, 1]]), 1).shape == (3, 2)  # broadcast


def test_gather_scatter_errors():
    x = distgrad.ones(2, 3)
    with pytest.raises(RuntimeError, match="Expected dtype int64 for index"):
        x.gather(1, distgrad.tensor([[0]], dtype=distgrad.int32))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(1, distgrad.tensor([0]))
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 1 with size 3"):
        x.gather(1, distgrad.tensor([[3]]))
    with pytest.raises(RuntimeError, match="Size does not match at dimension 0"):
        x.gather(1, distgrad.zeros(3, 1, dtype=distgrad.int64))
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.gather(2, distgrad.tensor([[0]]))
    with pytest.raises(RuntimeError, match="self.dtype to be equal to src.dtype"):
        x.scatter_add(1, distgrad.tensor([[0]]), distgrad.ones(1, 1, dtype=F64))
    with pytest.raises(IndexError, match="out of bounds"):
        x.index_select(1, distgrad.tensor([5]))
    with pytest.raises(IndexError, match="Index is supposed to be a vector"):
        x.index_select(1, distgrad.tensor([[0]]))
    with pytest.raises(RuntimeError, match="int32/int64"):
        x.index_select(1, distgrad.tensor([0.0]))
