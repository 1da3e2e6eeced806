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

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.tensor import Tensor


def _xp(x):
    return backend.get_array_module(x)


def _floating(x):
    """Unary float functions turn integer input into the default float dtype, as PyTorch does."""
    if x._data.dtype.kind != "f":
        return to(x, dtypes.get_default_dtype())
    return x


class Neg(ArrayFunction):
    array_backward = True

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(ArrayFunction):
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


class Sigmoid(ArrayFunction):
    array_backward = True

    @staticmethod
    def forward(ctx, x):
        xp = _xp(x)
        # exp of a non-positive number only: no overflow warnings for large |x|
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * y * (1 - y)


class Relu(ArrayFunction):
    array_backward = True

    @staticmethod
    def forward(ctx, x):
        y = _xp(x).maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * (y > 0)


class Abs(ArrayFunction):
    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).abs(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * xp_of(g).sign(x)


class Sign(ArrayFunction):
    array_backward = True

    @staticmethod
    def forward(ctx, x):
        return _xp(x).sign(x)

    @staticmethod
    def backward(ctx, g):
        return g * 0


class _Rounding(ArrayFunction):
    """floor/ceil/round/trunc: piecewise constant, zero gradient."""

    array_backward = True

    @staticmethod
    def backward(ctx, g):
        return g * 0


class Floor(_Rounding):
    @staticmethod
    def forward(ctx, x):
        return _xp(x).floor(x)


class Ceil(_Rounding):
    @staticmethod
    def forward(ctx, x):
        return _xp(x).ceil(x)


class Round(_Rounding):
    @staticmethod
    def forward(ctx, x, decimals):
        return _xp(x).round(x, decimals)

    @staticmethod
    def backward(ctx, g):
        return g * 0, None


class Trunc(_Rounding):
    @staticmethod
    def forward(ctx, x):
        return _xp(x).trunc(x)


class Clamp(ArrayFunction):
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
    array_backward = True

    """The error function, computed to double precision with ``math.erf``-quality accuracy."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erf_array(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * (2.0 / math.sqrt(math.pi)) * xp_of(g).exp(-(x * x))


def erf_array(x):
    """erf on an array: SciPy when installed, else a series / continued-fraction pair in float64."""
    xp = _xp(x)
    if xp.__name__ == "numpy":
        try:
            from scipy.special import erf as _erf
            return _erf(x).astype(x.dtype, copy=False)
        except ImportError:
            pass
    else:
        try:
            from cupyx.scipy.special import erf as _erf
            return _erf(x).astype(x.dtype, copy=False)
        except ImportError:
            pass
    z = xp.asarray(x, dtype=xp.float64)
    a = xp.abs(z)
    # |x| < 2.5: Maclaurin series sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    small = xp.minimum(a, 2.5)
    term = small.copy()
    total = small.copy()
    sq = small * small
    for n in range(1, 60):
        term = term * (-sq) / n
        total = total + term / (2 * n + 1)
    series = total * (2.0 / math.sqrt(math.pi))
    # |x| >= 2.5: erfc by its continued fraction (Lentz), 1 - erfc
    big = xp.maximum(a, 2.5)
    f = big.copy()
    for k in range(60, 0, -1):
        f = big + (k / 2.0) / f
    erfc = xp.exp(-big * big) / (f * math.sqrt(math.pi))
    out = xp.where(a < 2.5, series, 1.0 - erfc)
    return (xp.sign(z) * out).astype(x.dtype, copy=False)


# --- functional forms ----------------------------------------------------------------------
def neg(x):
    return Neg.apply(x)


def exp(x):
    return Exp.apply(_floating(x))


def expm1(x):
    return Expm1.apply(_floating(x))


def log(x):
    return Log.apply(_floating(x))


def log1p(x):
    return Log1p.apply(_floating(x))


def log2(x):
    return log(x) * (1.0 / math.log(2.0))


def log10(x):
    return log(x) * (1.0 / math.log(10.0))


def sqrt(x):
    return Sqrt.apply(_floating(x))


def rsqrt(x):
    return Rsqrt.apply(_floating(x))


def square(x):
    return x * x


def reciprocal(x):
    return 1 / x


def sin(x):
    return Sin.apply(_floating(x))


def cos(x):
    return Cos.apply(_floating(x))


def tan(x):
    return sin(x) / cos(x)


def tanh(x):
    return Tanh.apply(_floating(x))


def sigmoid(x):
    return Sigmoid.apply(_floating(x))


def relu(x):
    return Relu.apply(x)


def abs(x):
    return Abs.apply(x)


def sign(x):
    return Sign.apply(x)


def floor(x):
    return Floor.apply(x) if x._data.dtype.kind == "f" else x.clone()


def ceil(x):
    return Ceil.apply(x) if x._data.dtype.kind == "f" else x.clone()


def round(x, decimals=0):
    return Round.apply(x, decimals) if x._data.dtype.kind == "f" else x.clone()


def trunc(x):
    return Trunc.apply(x) if x._data.dtype.kind == "f" else x.clone()


def erf(x):
    return Erf.apply(_floating(x))


def clamp(input, min=None, max=None):
    """Limit values to ``[min, max]``; the gradient passes where the value was inside (bounds included)."""
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        from distgrad.autograd.ops.arithmetic import maximum, minimum
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
