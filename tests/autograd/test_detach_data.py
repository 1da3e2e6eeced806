"""``detach()``, ``detach_()`` and ``.data``: all share storage with the original;
``detach()`` also shares its version counter (so in-place changes through it are
caught by autograd), ``.data`` does not (so they are not), as in PyTorch."""
import numpy as np
import pytest

import distgrad


def leaf(values):
    return distgrad.tensor(values, requires_grad=True)


def test_detach_shares_storage_and_leaves_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert np.shares_memory(d.numpy(), y.detach().numpy())
    d.add_(1)
    assert y.tolist() == [3.0, 5.0]
    assert y.requires_grad and y.grad_fn is not None  # the original is untouched


def test_detach_shares_the_version_counter():
    x = leaf([1.0, 2.0])
    d = x.detach()
    assert d._version == x._version == 0
    d.add_(1)
    assert d._version == 1 and x._version == 1
    assert x.tolist() == [2.0, 3.0]


def test_inplace_through_detach_is_detected():
    a = leaf([1.0, 2.0])
    y = a.exp()
    y.detach().mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_data_shares_storage_but_not_the_version_counter():
    x = leaf([1.0, 2.0])
    d = x.data
    assert not d.requires_grad and d.is_leaf
    d.add_(1)
    assert x.tolist() == [2.0, 3.0]
    assert d._version == 1 and x._version == 0


def test_inplace_through_data_is_not_detected():
    a = leaf([1.0, 2.0])
    y = a.exp()
    y.data.mul_(2)
    y.sum().backward()  # silently uses the changed values, as PyTorch does
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_data_allows_inplace_on_a_leaf_that_requires_grad():
    w = leaf([1.0, 2.0])
    w.data.sub_(0.5)  # the classic manual SGD step
    assert w.tolist() == [0.5, 1.5] and w.requires_grad and w.is_leaf


def test_data_setter_swaps_storage():
    z = leaf([1.0, 2.0])
    z.data = distgrad.tensor([5.0, 6.0, 7.0])
    assert z.shape == (3,) and z.tolist() == [5.0, 6.0, 7.0]
    assert z.requires_grad and z.is_leaf
    z.data = distgrad.ones(2, dtype=distgrad.float64)
    assert z.dtype is distgrad.float64
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        z.data = [1, 2]


def test_data_setter_then_backward_uses_new_values():
    z = leaf([1.0, 2.0])
    z.data = distgrad.tensor([3.0, 4.0])
    (z * z).sum().backward()
    assert z.grad.tolist() == [6.0, 8.0]


def test_detach_in_place():
    y = leaf([1.0]) * 2
    assert y.detach_() is y
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    x = leaf([1.0])
    x.detach_()
    assert not x.requires_grad


def test_detach_in_place_refuses_views():
    v = (leaf([1.0, 2.0]) * 2).view(2)
    with pytest.raises(RuntimeError, match="Can't detach views in-place. Use detach\\(\\) instead."):
        v.detach_()


def test_gradient_stops_at_detach():
    x = leaf([2.0])
    y = x * x
    z = y.detach() * x + y
    z.sum().backward()
    assert x.grad.tolist() == [4.0 + 4.0]  # d/dx of (const 4)*x + x^2


def test_detach_of_integer_and_constant_tensors():
    i = distgrad.tensor([1, 2])
    assert i.detach().tolist() == [1, 2]
    c = distgrad.ones(2)
    assert not c.detach().requires_grad
