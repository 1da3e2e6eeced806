"""Indexing: x[key] for every key form (values against NumPy, views vs copies, gradients
with repeated indices), x[key] = v (in-place rules and gradients for both sides),
masked_fill, and the errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64


def rnd(*shape):
    return distgrad.randn(*shape, dtype=F64).requires_grad_()


# key -> whether it is basic (a view)
KEYS = [
    ((1,), True),
    ((-1,), True),
    ((slice(1, None),), True),
    ((slice(None, None, 2),), True),
    ((slice(None), 1), True),
    ((Ellipsis, 0), True),
    ((None, 1, slice(0, 3, 2)), True),
    ((0, Ellipsis, None), True),
    (([0, 2, 2],), False),
    ((slice(None), [1, 0]), False),
    (([0, 1], [2, 3]), False),
    (([[0], [1]], [0, 3]), False),
    ((1, [0, 0, 3]), False),
    (([0, 2], slice(None), [1, 1]), False),
    ((np.array([True, False, True]),), False),
    ((slice(None), np.array([True, False, True, True])), False),
    ((np.array([[True, False, True, False]] * 3),), False),
    ((None, [2, 1], Ellipsis), False),
    ((True,), False),
]


def _tensor_key(key):
    """The same key with arrays/lists turned into distgrad tensors."""
    out = []
    for k in key:
        if isinstance(k, (list, np.ndarray)):
            out.append(distgrad.tensor(np.asarray(k)))
        else:
            out.append(k)
    return tuple(out)


@pytest.mark.parametrize("i", range(len(KEYS)), ids=lambda i: repr(KEYS[i][0]))
def test_getitem(i):
    key, basic = KEYS[i]
    x = rnd(3, 4, 2)
    a = x.detach().numpy()
    for k in (key, _tensor_key(key)):
        out = x[k]
        np.testing.assert_array_equal(out.detach().numpy(), a[key])
        assert (out._base is not None) == basic
        assert gradcheck(lambda t: t[k], (x,))
        assert gradgradcheck(lambda t: t[k] ** 2, (x,))


def test_basic_index_is_a_view_sharing_the_version_counter():
    x = distgrad.zeros(3, 4)
    v = x[1]
    x.add_(1)
    assert v._version == x._version == 1 and v.tolist() == [1.0] * 4
    v[0] = 5.0
    assert x[1, 0].item() == 5.0
    c = x[[1]]
    x.add_(1)
    assert c._version == 0 and c[0, 0].item() == 5.0


def test_repeated_indices_accumulate_gradients():
    x = distgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


def test_zero_dim_int_tensor_selects_like_an_int():
    x = rnd(3, 2)
    out = x[distgrad.tensor(1)]
    assert out.shape == (2,) and out.grad_fn.name() == "SelectBackward0"


def test_index_grad_fn_names():
    x = rnd(3, 4)
    assert x[0].grad_fn.name() == "SelectBackward0"
    assert x[0, :].grad_fn.name() == "SelectBackward0"
    assert x[:, 1:].grad_fn.name() == "SliceBackward0"
    assert x[None].grad_fn.name() == "UnsqueezeBackward0"
    assert x[...].grad_fn.name() == "AliasBackward0"
    assert x[[0, 1]].grad_fn.name() == "IndexBackward0"


def test_getitem_errors():
    x = distgrad.ones(3, 4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x[5]
    with pytest.raises(IndexError, match="index -4 is out of bounds for dimension 0 with size 3"):
        x[-4]
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 1 with size 4"):
        x[:, distgrad.tensor([7])]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match=r"The shape of the mask \[2, 2\] at index 0 does not match"):
        x[distgrad.ones(2, 2, dtype=distgrad.bool)]
    with pytest.raises(IndexError, match="only integers, slices"):
        x[1.5]
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool"):
        x[distgrad.tensor([1.0])]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 0"):
        distgrad.tensor(1.0)[0]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]


# --- setitem -----------------------------------------------------------------------------------
SET_KEYS = [(1,), (slice(None), 2), (Ellipsis, slice(0, 2)), ([0, 2],), (slice(None), [3, 0]),
            (np.array([True, False, True]),)]


@pytest.mark.parametrize("key", SET_KEYS, ids=repr)
def test_setitem_gradients_for_both_sides(key):
    target = np.zeros((3, 4))[key].shape
    v_shape = target[-1:]  # broadcast along the leading dims

    def f(x, v):
        y = x * 1.0
        y[key] = v * 2
        return y * x

    x, v = rnd(3, 4), rnd(*v_shape)
    assert gradcheck(f, (x, v))
    assert gradgradcheck(f, (x, v))


def test_setitem_values_and_versions():
    x = distgrad.zeros(3, 4)
    x[0] = 1
    x[:, [1, 3]] = distgrad.tensor([5.0, 6.0])
    x[x > 5.5] = -1.0
    expected = np.zeros((3, 4))
    expected[0] = 1
    expected[:, [1, 3]] = [5.0, 6.0]
    expected[expected > 5.5] = -1
    np.testing.assert_array_equal(x.numpy(), expected)
    assert x._version == 3
    ints = distgrad.zeros(3, dtype=distgrad.int64)
    ints[1] = 2.7
    assert ints.tolist() == [0, 2, 0]
    y = distgrad.zeros(2, 3)
    y[0] = distgrad.ones(1, 3)  # leading size-1 dims of the value are dropped
    assert y.sum().item() == 3.0


def test_setitem_on_a_leaf_that_requires_grad_is_an_error():
    x = distgrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 2.0
    with distgrad.no_grad():
        x[0] = 2.0
    assert x.tolist() == [2.0, 1.0, 1.0]


def test_setitem_gradient_of_old_values_is_zero_where_written():
    x = distgrad.ones(4, requires_grad=True)
    v = distgrad.tensor(3.0, requires_grad=True)
    y = x * 2
    y[1:3] = v
    assert y.grad_fn.name() == "torch::autograd::CopySlices"
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 0.0, 2.0] and v.grad.item() == 2.0


def test_setitem_errors():
    a = distgrad.zeros(3)
    with pytest.raises(RuntimeError, match=r"shape mismatch: value tensor of shape \[3\] cannot be broadcast to "
                                           r"indexing result of shape \[2\]"):
        a[[0, 1]] = distgrad.ones(3)
    with pytest.raises(RuntimeError, match="Index put requires the source and destination dtypes match"):
        a[distgrad.tensor([0])] = distgrad.tensor([1])
    with pytest.raises(IndexError, match="out of bounds"):
        a[3] = 1.0
    with pytest.raises(TypeError, match="can't assign"):
        a[0] = "x"
    with pytest.raises(TypeError, match="can't assign a list"):  # PyTorch refuses sequences and arrays too
        a[:2] = [1.0, 2.0]
    with pytest.raises(TypeError, match="can't assign a ndarray"):
        a[:2] = np.ones(2)


# --- masked_fill -------------------------------------------------------------------------------
def test_masked_fill():
    x = rnd(2, 3)
    mask = distgrad.tensor([True, False, True])
    out = x.masked_fill(mask, -1.0)
    expected = np.where(mask.numpy(), -1.0, x.detach().numpy())
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    assert out.grad_fn.name() == "MaskedFillBackward0"
    assert gradcheck(lambda t: distgrad.masked_fill(t, mask, 0.5), (x,))
    assert gradgradcheck(lambda t: t.masked_fill(mask, 0.5) ** 2, (x,))
    v = distgrad.tensor(2.0, dtype=F64, requires_grad=True)
    assert gradcheck(lambda t, val: t.masked_fill(mask, val) * t, (x, v))
    ints = distgrad.tensor([1, 2, 3]).masked_fill(distgrad.tensor([False, True, False]), 9.7)
    assert ints.dtype == distgrad.int64 and ints.tolist() == [1, 9, 3]
    assert distgrad.zeros(3).masked_fill(distgrad.ones(2, 3, dtype=distgrad.bool), 1.0).shape == (2, 3)


def test_masked_fill_inplace_and_errors():
    y = distgrad.zeros(2, 2)
    assert y.masked_fill_(distgrad.tensor([True, False]), 3.0) is y
    assert y.tolist() == [[3.0, 0.0], [3.0, 0.0]] and y._version == 1
    with pytest.raises(RuntimeError, match="only supports boolean masks"):
        y.masked_fill(distgrad.ones(2), 1.0)
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        y.masked_fill(distgrad.tensor([True, False]), distgrad.ones(2))
    with pytest.raises(RuntimeError, match="broadcastable"):
        y.masked_fill(distgrad.ones(3, dtype=distgrad.bool), 1.0)
    with pytest.raises(RuntimeError, match="broadcastable"):
        y.masked_fill_(distgrad.ones(3, 2, 2, dtype=distgrad.bool), 1.0)
