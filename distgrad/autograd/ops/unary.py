"""Elementwise functions of one tensor: exp, log, trig, activations, clamp.

Each forward is one ``xp`` expression; each backward is one line of Tensor
math, so second derivatives come for free.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([0.0], requires_grad=True)
    >>> distgrad.sigmoid(x).backward()
    >>> x.grad
    tensor([0.2500])
"""
import math

import numpy as _np  # host-side only: errstate, to silence the overflow sigmoid_array expects

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.arithmetic import maximum, minimum
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.special import erf_array
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.tensor import Tensor
from distgrad.autograd.ops.zero_dependency import depends_on


def _xp(x):
    return backend.get_array_module(x)


def _floating(x):
    """Unary float functions turn integer input into the default float dtype, as PyTorch does."""
    if x._data.dtype.kind != "f":
        return to(x, dtypes.get_default_dtype())
    return x


class Neg(ArrayFunction):
    """``-x`` (``torch.neg``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(ArrayFunction):
    """``e ** x`` (``torch.exp``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        y = _xp(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * y


class Expm1(ArrayFunction):
    """``exp(x) - 1``, accurate near zero (``torch.expm1``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        y = _xp(x).expm1(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * (y + 1)


class Log(ArrayFunction):
    """Natural logarithm (``torch.log``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).log(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / x


class Log1p(ArrayFunction):
    """``log(1 + x)``, accurate near zero (``torch.log1p``)."""

    node_name = "Log1PBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).log1p(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / (x + 1)


class Sqrt(ArrayFunction):
    """Square root (``torch.sqrt``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        y = _xp(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g / (2 * y)


class Rsqrt(ArrayFunction):
    """``1 / sqrt(x)`` (``torch.rsqrt``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        y = 1 / _xp(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * -0.5 * y * y * y


class Sin(ArrayFunction):
    """Sine (``torch.sin``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).sin(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * xp_of(g).cos(x)


class Cos(ArrayFunction):
    """Cosine (``torch.cos``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).cos(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return -g * xp_of(g).sin(x)


class Tanh(ArrayFunction):
    """Hyperbolic tangent (``torch.tanh``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        y = _xp(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * (1 - y * y)


def sigmoid_array(x):
    """``1 / (1 + exp(-x))`` of a float array, in its dtype: the forward of every sigmoid.

    In float32/float64 it is four in-place passes; ``exp(-x)`` overflows to inf
    only where the answer rounds to 0 anyway (below about -88 / -709), and
    1 / inf is that 0 (the overflow warning is silenced).  float16 would
    overflow already at -11, so it takes the two-branch form with ``exp(-|x|)``.

    Example::

        >>> import numpy as np
        >>> sigmoid_array(np.array([-1000.0, 0.0, 1000.0]))
        array([0. , 0.5, 1. ])
    """
    xp = _xp(x)
    if x.dtype.itemsize < 4:
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
    t = xp.negative(x, out=xp.empty_like(x))  # out=: an array also for 0-d input (not a NumPy scalar)
    if backend.is_host_module(xp):
        with _np.errstate(over="ignore"):
            xp.exp(t, out=t)
    else:
        xp.exp(t, out=t)
    t += 1
    return xp.reciprocal(t, out=t)


class Sigmoid(ArrayFunction):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, without overflow for large ``|x|`` (``torch.sigmoid``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        y = sigmoid_array(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * y * (1 - y)


class Relu(ArrayFunction):
    """``max(x, 0)``; the gradient at 0 is 0 (``torch.relu``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        y = _xp(x).maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        if isinstance(g, Tensor):  # PyTorch's threshold_backward takes the result: its gradient requires grad
            return depends_on(g * (y > 0), y)
        return g * (y > 0)


class Abs(ArrayFunction):
    """Absolute value; the gradient at 0 is 0 (``torch.abs``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).abs(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * xp_of(g).sign(x)


class Clamp(ArrayFunction):
    """Limits ``x`` to ``[lo, hi]`` with number bounds; the gradient passes inside them (``torch.clamp``)."""

    node_name = "ClampBackward1"  # number bounds (ClampBackward0 is tensor bounds)
    array_backward = True

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = _xp(x)
        y = x
        if lo is not None:
            y = xp.maximum(y, xp.asarray(lo, dtype=x.dtype))
        if hi is not None:
            y = xp.minimum(y, xp.asarray(hi, dtype=x.dtype))
        if y is x:
            y = x.copy()
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        return y

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        lo, hi = ctx.bounds
        keep = None
        if lo is not None:
            keep = x >= lo
        if hi is not None:
            keep = (x <= hi) if keep is None else keep & (x <= hi)
        return (g if keep is None else xp_of(g).where(keep, g, 0.0)), None, None


class Erf(ArrayFunction):
    """The error function, computed to double precision with ``math.erf``-quality accuracy (``torch.erf``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erf_array(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * (2.0 / math.sqrt(math.pi)) * xp_of(g).exp(-(x * x))


# --- functional forms ----------------------------------------------------------------------
def neg(x):
    """``-x`` (``torch.neg``)."""
    return Neg.apply(x)


def exp(x):
    """``e ** x``; integer input becomes the default float dtype (``torch.exp``)."""
    return Exp.apply(_floating(x))


def expm1(x):
    """``exp(x) - 1``, accurate near zero (``torch.expm1``)."""
    return Expm1.apply(_floating(x))


def log(x):
    """Natural logarithm (``torch.log``)."""
    return Log.apply(_floating(x))


def log1p(x):
    """``log(1 + x)``, accurate near zero (``torch.log1p``)."""
    return Log1p.apply(_floating(x))


def log2(x):
    """Base-2 logarithm (``torch.log2``)."""
    return log(x) * (1.0 / math.log(2.0))


def log10(x):
    """Base-10 logarithm (``torch.log10``)."""
    return log(x) * (1.0 / math.log(10.0))


def sqrt(x):
    """Square root (``torch.sqrt``)."""
    return Sqrt.apply(_floating(x))


def rsqrt(x):
    """``1 / sqrt(x)`` (``torch.rsqrt``)."""
    return Rsqrt.apply(_floating(x))


def square(x):
    """``x * x`` (``torch.square``)."""
    return x * x


def reciprocal(x):
    """``1 / x`` (``torch.reciprocal``)."""
    return 1 / x


def sin(x):
    """Sine (``torch.sin``)."""
    return Sin.apply(_floating(x))


def cos(x):
    """Cosine (``torch.cos``)."""
    return Cos.apply(_floating(x))


def tan(x):
    """Tangent, as ``sin(x) / cos(x)`` (``torch.tan``)."""
    return sin(x) / cos(x)


def tanh(x):
    """Hyperbolic tangent (``torch.tanh``)."""
    return Tanh.apply(_floating(x))


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))`` (``torch.sigmoid``)."""
    return Sigmoid.apply(_floating(x))


def relu(x):
    """``max(x, 0)`` (``torch.relu``)."""
    return Relu.apply(x)


def abs(x):
    """Absolute value (``torch.abs``)."""
    return Abs.apply(x)


def erf(x):
    """The Gauss error function (``torch.erf``)."""
    return Erf.apply(_floating(x))


def clamp(input, min=None, max=None):
    """Limit values to ``[min, max]``; the gradient passes where the value was inside (bounds included)."""
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    if input._data.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
        input = to(input, dtypes.get_default_dtype())
    return Clamp.apply(input, min, max)


clip = clamp


negative = neg
