"""gradcheck and gradgradcheck: they pass on correct derivatives, FAIL (GradcheckError,
or False with raise_exception=False) on a wrong backward or a wrong double backward,
and honour eps, atol and rtol."""
import sys

import pytest

import distgrad
from distgrad.autograd import Function, gradcheck, gradgradcheck

GradcheckError = sys.modules["distgrad.autograd.gradcheck"].GradcheckError


def f64(values, requires_grad=True):
    return distgrad.tensor(values, dtype=distgrad.float64, requires_grad=requires_grad)


class WrongBackward(Function):
    """x**2 whose backward is off by 10%."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2.2 * x * g


class WrongDoubleBackward(Function):
    """sin(x) with a right first derivative whose own derivative is wrong (cos treated as a constant
    times x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        c = x.detach().cos() / x.detach()  # same value as cos(x), wrong derivative
        return g * c * x


class SlightlyOff(Function):
    """3x whose backward is 3 + 1e-4: inside loose tolerances, outside tight ones."""

    @staticmethod
    def forward(ctx, x):
        return x * 3

    @staticmethod
    def backward(ctx, g):
        return g * (3 + 1e-4)


def test_GradcheckError_is_a_RuntimeError():
    assert issubclass(GradcheckError, RuntimeError)
    assert distgrad.autograd.GradcheckError is GradcheckError


def test_passes_on_correct_functions():
    x = f64([0.3, -1.2, 2.0])
    w = f64([[0.5, -0.1, 0.7], [0.2, 0.9, -0.4]])
    assert gradcheck(lambda a: (a.exp() * a.sin()).sum(), (x,))
    assert gradcheck(lambda a, b: (b @ a).tanh(), (x, w))
    assert gradcheck(distgrad.sigmoid, x)  # a single tensor instead of a tuple
    assert gradcheck(lambda a, b: (a * 2, a * b.sum()), (x, w))  # several outputs


def test_ignores_inputs_without_grad_and_non_tensor_args():
    x = f64([0.3, 1.2])
    c = f64([2.0, 3.0], requires_grad=False)
    assert gradcheck(lambda a, b, k: a * b * k, (x, c, 4.0))


def test_fails_on_wrong_backward():
    x = f64([0.5, -1.5, 2.0])
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        gradcheck(WrongBackward.apply, (x,))
    assert gradcheck(WrongBackward.apply, (x,), raise_exception=False) is False


def test_gradgradcheck_passes_on_correct_functions():
    x = f64([0.3, -1.2, 2.0])
    assert gradgradcheck(lambda a: a.tanh() * a, (x,))
    assert gradgradcheck(lambda a: (a ** 3).sum(), (x,))
    w = f64([[0.5, -0.1, 0.7]])
    assert gradgradcheck(lambda a, b: (b @ a).exp(), (x, w))


def test_gradgradcheck_fails_on_wrong_double_backward():
    x = f64([0.5, 1.0, 2.0])
    assert gradcheck(WrongDoubleBackward.apply, (x,))  # first derivative is right
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradgradcheck(WrongDoubleBackward.apply, (x,))
    assert gradgradcheck(WrongDoubleBackward.apply, (x,), raise_exception=False) is False


def test_gradgradcheck_with_explicit_grad_outputs():
    x = f64([0.5, 1.0])
    v = f64([1.0, -2.0])
    assert gradgradcheck(lambda a: a.sin() * a, (x,), (v,))


def test_atol_and_rtol_are_honoured():
    x = f64([1.0, 2.0])
    with pytest.raises(GradcheckError):
        gradcheck(SlightlyOff.apply, (x,), atol=1e-8, rtol=1e-8)
    assert gradcheck(SlightlyOff.apply, (x,), atol=1e-3, rtol=0.0)
    assert gradcheck(SlightlyOff.apply, (x,), atol=0.0, rtol=1e-3)


def test_eps_is_honoured():
    x = f64([1.0, 2.0])
    cube = lambda a: a ** 3  # central differences err by exactly eps**2 here
    assert gradcheck(cube, (x,), eps=1e-6)
    with pytest.raises(GradcheckError):
        gradcheck(cube, (x,), eps=0.1, atol=1e-5, rtol=1e-4)
    assert gradcheck(cube, (x,), eps=0.1, atol=0.02, rtol=0.0)


def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda a: a * 2, (f64([1.0], requires_grad=False),))


def test_warns_for_single_precision_inputs():
    x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="not a double precision"):
        assert gradcheck(lambda a: a * 2, (x,), eps=1e-2, atol=1e-2, rtol=1e-2)


def test_does_not_disturb_inputs_or_their_grads():
    x = f64([0.5, 1.5])
    gradcheck(lambda a: a.exp(), (x,))
    assert x.tolist() == [0.5, 1.5] and x.grad is None
