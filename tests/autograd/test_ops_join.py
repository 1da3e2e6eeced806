"""Joining and splitting: cat/concat/concatenate and stack (values, promotion, gradients,
errors) and split/chunk/unbind/narrow/select (views, sizes, gradients, errors)."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64


def rnd(*shape):
    return distgrad.randn(*shape, dtype=F64).requires_grad_()


@pytest.mark.parametrize("dim", [0, 1, -1, -2])
@pytest.mark.parametrize("fn", [distgrad.cat, distgrad.concat, distgrad.concatenate])
def test_cat(fn, dim):
    a, b, c = rnd(2, 3), rnd(2, 3), rnd(2, 3)
    out = fn([a, b, c], dim)
    np.testing.assert_array_equal(out.detach().numpy(),
                                  np.concatenate([t.detach().numpy() for t in (a, b, c)], axis=dim))
    assert out.grad_fn.name() == "CatBackward0"
    assert gradcheck(lambda *ts: fn(ts, dim=dim), (a, b, c))
    assert gradgradcheck(lambda *ts: fn(list(ts), dim) ** 2, (a, b, c))


def test_cat_different_sizes_along_dim():
    a, b = rnd(2, 1), rnd(2, 4)
    out = distgrad.cat((a, b), 1)
    assert out.shape == (2, 5)
    assert gradcheck(lambda x, y: distgrad.cat([x, y], 1), (a, b))


def test_cat_promotes_and_skips_legacy_empty_tensors():
    a = distgrad.tensor([[1, 2]])
    b = distgrad.tensor([[0.5, 1.5]], dtype=F64)
    assert distgrad.cat([a, b]).dtype == F64
    e = distgrad.tensor([])
    assert distgrad.cat([a.float(), e, a.float()]).shape == (2, 2)
    x = rnd(2, 2)
    out = distgrad.cat([x, distgrad.zeros(0, dtype=F64)])
    out.sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_cat_only_some_inputs_require_grad():
    a, b = rnd(2), distgrad.ones(3, dtype=F64)
    assert gradcheck(lambda x: distgrad.cat([b, x, b]), (a,))


def test_cat_errors():
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0. Expected size 3 "
                                           "but got size 2 for tensor number 1 in the list."):
        distgrad.cat([distgrad.ones(2, 3), distgrad.ones(2, 2)])
    with pytest.raises(IndexError, match="Dimension out of range"):
        distgrad.cat([distgrad.ones(2, 3)], 2)
    with pytest.raises(RuntimeError, match="expected a non-empty list of Tensors"):
        distgrad.cat([])
    with pytest.raises(RuntimeError, match="zero-dimensional tensor \\(at position 0\\) cannot be concatenated"):
        distgrad.cat([distgrad.tensor(1.0), distgrad.tensor(2.0)])
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        distgrad.cat([distgrad.ones(2, 3), distgrad.ones(3)])
    with pytest.raises(TypeError, match="tuple of Tensors"):
        distgrad.cat(distgrad.ones(2))


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack(dim):
    a, b = rnd(2, 3), rnd(2, 3)
    out = distgrad.stack([a, b], dim)
    np.testing.assert_array_equal(out.detach().numpy(), np.stack([a.detach().numpy(), b.detach().numpy()], dim))
    assert out.grad_fn.name() == "StackBackward0"
    assert gradcheck(lambda x, y: distgrad.stack((x, y), dim=dim), (a, b))
    assert gradgradcheck(lambda x, y: distgrad.stack((x, y), dim=dim) ** 2, (a, b))


def test_stack_scalars_and_errors():
    assert distgrad.stack([distgrad.tensor(1.0), distgrad.tensor(2.0)]).tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but got \[2\] at entry 0 "
                                           r"and \[3\] at entry 1"):
        distgrad.stack([distgrad.ones(2), distgrad.ones(3)])
    with pytest.raises(IndexError, match="Dimension out of range"):
        distgrad.stack([distgrad.ones(2)], 2)


@pytest.mark.parametrize("size,expected", [(2, [2, 2, 1]), (5, [5]), (7, [5]), (1, [1] * 5), ([1, 4], [1, 4]),
                                           ([0, 5, 0], [0, 5, 0])])
def test_split(size, expected):
    x = rnd(5, 2)
    parts = x.split(size)
    assert [p.shape[0] for p in parts] == expected
    assert all(p._base is x for p in parts)
    np.testing.assert_array_equal(distgrad.cat(parts).detach().numpy(), x.detach().numpy())
    assert gradcheck(lambda t: distgrad.split(t, size)[-1] * 2, (x,))


def test_split_along_other_dims_and_names():
    x = rnd(2, 6)
    a, b = distgrad.split(x, [2, 4], dim=1)
    assert a.shape == (2, 2) and b.shape == (2, 4)
    assert a.grad_fn.name() == "SplitWithSizesBackward0"
    assert x.split(3, -1)[0].grad_fn.name() == "SplitBackward0"
    assert gradcheck(lambda t: distgrad.cat([p * (i + 1) for i, p in enumerate(t.split(4, 1))], 1), (x,))


@pytest.mark.parametrize("n,chunks,expected", [(6, 3, [2, 2, 2]), (5, 2, [3, 2]), (5, 3, [2, 2, 1]),
                                               (6, 4, [2, 2, 2]), (2, 5, [1, 1])])
def test_chunk(n, chunks, expected):
    x = rnd(n)
    parts = x.chunk(chunks)
    assert [p.shape[0] for p in parts] == expected
    assert gradcheck(lambda t: distgrad.chunk(t, chunks)[0] * 3, (x,))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind(dim):
    x = rnd(2, 3)
    parts = x.unbind(dim)
    assert len(parts) == x.shape[dim]
    for i, p in enumerate(parts):
        np.testing.assert_array_equal(p.detach().numpy(), np.take(x.detach().numpy(), i, axis=dim))
    assert parts[0].grad_fn.name() == "UnbindBackward0"
    assert gradcheck(lambda t: distgrad.stack([p * (i + 1) for i, p in enumerate(distgrad.unbind(t, dim))]), (x,))


def test_narrow_and_select():
    x = rnd(3, 5)
    np.testing.assert_array_equal(x.narrow(1, 1, 3).detach().numpy(), x.detach().numpy()[:, 1:4])
    np.testing.assert_array_equal(distgrad.narrow(x, 1, -2, 2).detach().numpy(), x.detach().numpy()[:, 3:5])
    assert x.narrow(0, 1, 2)._base is x
    assert gradcheck(lambda t: t.narrow(1, 2, 2), (x,))
    np.testing.assert_array_equal(x.select(1, -1).detach().numpy(), x.detach().numpy()[:, -1])
    assert gradcheck(lambda t: distgrad.select(t, 0, 1), (x,))


def test_split_family_errors():
    x = distgrad.ones(3, 4)
    with pytest.raises(RuntimeError, match=r"split_with_sizes expects split_sizes to sum exactly to 3"):
        x.split([1, 1])
    with pytest.raises(RuntimeError, match="chunk expects `chunks` to be greater than 0"):
        x.chunk(0)
    with pytest.raises(IndexError, match="start out of range"):
        x.narrow(1, 5, 1)
    with pytest.raises(RuntimeError, match=r"start \(2\) \+ length \(3\) exceeds dimension size \(4\)"):
        x.narrow(1, 2, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.unbind(2)
    with pytest.raises(IndexError, match="out of range"):
        x.select(0, 3)
    with pytest.raises(RuntimeError, match="narrow\\(\\) cannot be applied to a 0-dim tensor"):
        distgrad.tensor(1.0).narrow(0, 0, 1)


def test_split_pieces_is_one_node_with_split_gradients():
    from distgrad.autograd.ops.join import split_pieces
    x = distgrad.randn(5, 4, dtype=distgrad.float64, requires_grad=True)
    pieces = split_pieces(x, [1, 3], 1)
    assert [tuple(p.shape) for p in pieces] == [(5, 1), (5, 3)]
    assert pieces[0].grad_fn is pieces[1].grad_fn and pieces[0].grad_fn.name() == "SplitWithSizesBackward0"
    np.testing.assert_array_equal(pieces[1].detach().numpy(), x.detach().numpy()[:, 1:])
    fn = lambda a: tuple(p.sin() * (i + 1) for i, p in enumerate(split_pieces(a, [2, 1, 2])))  # noqa: E731
    assert gradcheck(fn, [x]) and gradgradcheck(fn, [x])
    only_last = lambda a: split_pieces(a, [2, 3])[1].exp()  # noqa: E731  (the unused piece gets zeros)
    assert gradcheck(only_last, [x]) and gradgradcheck(only_last, [x])
    with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly to 5"):
        split_pieces(x, [2, 2])
