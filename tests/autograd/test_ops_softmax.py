"""softmax and log_softmax: values, numerical stability, dtype handling, first and second
derivatives, the implicit-dim warning and the integer-input error."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64


def rnd(*shape):
    return distgrad.randn(*shape, dtype=F64).requires_grad_()


def np_softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_values_and_gradients(name, dim):
    x = rnd(3, 4)
    fn = getattr(distgrad, name)
    out = fn(x, dim)
    ref = np_softmax(x.detach().numpy(), dim)
    np.testing.assert_allclose(out.detach().numpy(), ref if name == "softmax" else np.log(ref), rtol=1e-12)
    assert gradcheck(lambda t: fn(t, dim), (x,))
    assert gradgradcheck(lambda t: fn(t, dim), (x,))
    assert gradcheck(lambda t: getattr(t, name)(dim=dim) * t, (x,))


def test_grad_fn_names():
    x = rnd(2, 3)
    assert x.softmax(1).grad_fn.name() == "SoftmaxBackward0"
    assert x.log_softmax(1).grad_fn.name() == "LogSoftmaxBackward0"


def test_large_logits_do_not_overflow():
    x = distgrad.tensor([[1000.0, 1000.0, -1000.0], [-1e4, 0.0, 1e4]])
    np.testing.assert_allclose(distgrad.softmax(x, 1).numpy(), [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    ls = distgrad.log_softmax(x, 1).numpy()
    np.testing.assert_allclose(ls[0, :2], [-np.log(2)] * 2, rtol=1e-6)
    assert ls[1, 2] == 0.0 and np.isfinite(ls).all()


def test_minus_inf_entries_get_zero_probability_and_gradient():
    x = distgrad.tensor([0.0, float("-inf"), 1.0], dtype=F64, requires_grad=True)
    p = distgrad.softmax(x, 0)
    assert p[1].item() == 0.0
    p[2].backward()
    assert x.grad[1].item() == 0.0 and np.isfinite(x.grad.numpy()).all()


def test_dtype_argument_casts_first():
    x = distgrad.randn(2, 3)
    out = distgrad.softmax(x, 1, dtype=F64)
    assert out.dtype == F64
    assert distgrad.log_softmax(distgrad.tensor([1, 2, 3]), 0, dtype=distgrad.float32).dtype == distgrad.float32
    assert x.softmax(-1).dtype == distgrad.float32
    y = distgrad.randn(3, requires_grad=True)
    distgrad.softmax(y, 0, dtype=F64)[0].backward()
    assert y.grad.dtype == distgrad.float32


def test_integer_input_is_an_error():
    with pytest.raises(NotImplementedError, match="softmax"):
        distgrad.softmax(distgrad.tensor([1, 2]), 0)
    with pytest.raises(NotImplementedError, match="log_softmax"):
        distgrad.log_softmax(distgrad.tensor([1, 2]), 0)


def test_implicit_dim_warns_and_follows_pytorch_choice():
    x = distgrad.randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = distgrad.softmax(x)
    np.testing.assert_allclose(out.sum(1).numpy(), [1.0, 1.0], rtol=1e-6)
    with pytest.warns(UserWarning):
        v = distgrad.log_softmax(distgrad.randn(3))
    assert v.shape == (3,)


def test_zero_dim_and_dim_errors():
    s = distgrad.tensor(3.0, dtype=F64, requires_grad=True)
    assert distgrad.softmax(s, 0).item() == 1.0 and distgrad.log_softmax(s, -1).item() == 0.0
    assert gradcheck(lambda t: distgrad.softmax(t, 0) * t, (s,))
    with pytest.raises(IndexError, match="Dimension out of range"):
        distgrad.softmax(distgrad.ones(2, 3), 2)


def test_softmax_sums_to_one_along_dim():
    x = distgrad.randn(4, 5, 6)
    for d in range(3):
        np.testing.assert_allclose(x.softmax(d).sum(d).numpy(), np.ones([s for i, s in enumerate(x.shape) if i != d]),
                                   rtol=1e-5)
