"""Elementwise functions beyond :mod:`distgrad.autograd.ops.unary`: the inverse trigonometric
functions, the hyperbolic functions and their inverses, ``exp2``, ``logaddexp``/``logaddexp2``,
``isposinf``/``isneginf``, ``atan2``, ``hypot``, ``copysign``, ``fmod``, ``frac``, ``sgn``,
``signbit``, ``nan_to_num``, ``deg2rad`` / ``rad2deg``.

Dtype rules are PyTorch's: integer input to a float function gives the default float dtype;
``hypot`` and ``frac`` refuse integers as PyTorch does; ``fmod`` and ``sgn`` keep integers.
Each backward is written once against ``xp`` (arrays in an ordinary pass, Tensors under
``create_graph``), so every differentiable function here has a second derivative.

Example::

    >>> import distgrad
    >>> distgrad.atan2(distgrad.tensor([1.0]), distgrad.tensor([-1.0]))
    tensor([2.3562])
    >>> distgrad.tensor([0.5]).atanh()
    tensor([0.5493])
"""
import math

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.arithmetic import as_operand, broadcast_error, maximum, promote, where
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.inplace import apply_inplace
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.ops.unary import _floating, sign, trunc
from distgrad.autograd.tensor import Tensor


def _xp(x):
    return backend.get_array_module(x)


def _hyperbolic(x):
    """sinh / cosh of an array or (under create_graph) a Tensor."""
    return (x.sinh(), x.cosh()) if isinstance(x, Tensor) else (_xp(x).sinh(x), _xp(x).cosh(x))


class Sinh(ArrayFunction):
    """``sinh(x)``; derivative ``cosh(x)``."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).sinh(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * _hyperbolic(x)[1]


class Cosh(ArrayFunction):
    """``cosh(x)``; derivative ``sinh(x)``."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).cosh(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * _hyperbolic(x)[0]


class Asinh(ArrayFunction):
    """``asinh(x)``; derivative ``1 / sqrt(x^2 + 1)``."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).arcsinh(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / xp_of(g).sqrt(x * x + 1)


class Acosh(ArrayFunction):
    """``acosh(x)`` (NaN below 1); derivative ``1 / sqrt(x^2 - 1)``."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).arccosh(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / xp_of(g).sqrt(x * x - 1)


class Atanh(ArrayFunction):
    """``atanh(x)`` (inf at +-1, NaN beyond); derivative ``1 / (1 - x^2)``."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).arctanh(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / (1 - x * x)


class Asin(ArrayFunction):
    """``asin(x)`` (NaN outside [-1, 1]); derivative ``1 / sqrt(1 - x^2)``."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).arcsin(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / xp_of(g).sqrt(1 - x * x)


class Acos(ArrayFunction):
    """``acos(x)``; derivative ``-1 / sqrt(1 - x^2)``."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).arccos(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return -g / xp_of(g).sqrt(1 - x * x)


class Atan(ArrayFunction):
    """``atan(x)``; derivative ``1 / (1 + x^2)``."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _xp(x).arctan(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / (1 + x * x)


def asin(input):
    """Inverse sine (``torch.asin``, alias ``arcsin``); NaN outside [-1, 1]."""
    return Asin.apply(_floating(input))


def acos(input):
    """Inverse cosine (``torch.acos``, alias ``arccos``); NaN outside [-1, 1]."""
    return Acos.apply(_floating(input))


def atan(input):
    """Inverse tangent (``torch.atan``, alias ``arctan``)."""
    return Atan.apply(_floating(input))


def sinh(input):
    """Hyperbolic sine (``torch.sinh``)."""
    return Sinh.apply(_floating(input))


def cosh(input):
    """Hyperbolic cosine (``torch.cosh``)."""
    return Cosh.apply(_floating(input))


def asinh(input):
    """Inverse hyperbolic sine (``torch.asinh``, alias ``arcsinh``)."""
    return Asinh.apply(_floating(input))


def acosh(input):
    """Inverse hyperbolic cosine (``torch.acosh``, alias ``arccosh``); NaN below 1."""
    return Acosh.apply(_floating(input))


def atanh(input):
    """Inverse hyperbolic tangent (``torch.atanh``, alias ``arctanh``)."""
    return Atanh.apply(_floating(input))


# --- binary functions ----------------------------------------------------------------------------

def _operands(op, a, b, floating):
    """Both arguments as tensors of PyTorch's result dtype (float when ``floating``), shapes checked."""
    if not isinstance(a, Tensor):
        a = as_operand(a, b)
    b = as_operand(b, a)
    a, b = promote(op, a, b)
    if not isinstance(a, Tensor):
        a = Tensor._make(_xp(b._data).asarray(a, dtype=b._data.dtype))
    if not isinstance(b, Tensor):
        b = Tensor._make(_xp(a._data).asarray(b, dtype=a._data.dtype))
    if floating and a._data.dtype.kind != "f":
        a, b = to(a, dtypes.get_default_dtype()), to(b, dtypes.get_default_dtype())
    err = broadcast_error(tuple(a.shape), tuple(b.shape))
    if err is not None:
        raise err
    return a, b


def _tensor_other(op, other):
    """PyTorch's atan2 and hypot take only a Tensor as ``other`` (copysign and fmod also take numbers)."""
    if not isinstance(other, Tensor):
        raise TypeError(f"{op}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")


class Atan2(ArrayFunction):
    """``atan2(y, x)``; derivatives ``x / r^2`` and ``-y / r^2``."""

    array_backward = True

    @staticmethod
    def forward(ctx, y, x):
        ctx.save_for_backward(y, x)
        return _xp(y).arctan2(y, x)

    @staticmethod
    def backward(ctx, g):
        y, x = ctx.saved_tensors
        r2 = x * x + y * y
        return g * x / r2, -g * y / r2


class Hypot(ArrayFunction):
    """``sqrt(a^2 + b^2)`` without overflow; derivatives ``a / h`` and ``b / h``."""

    array_backward = True

    @staticmethod
    def forward(ctx, a, b):
        h = _xp(a).hypot(a, b)
        ctx.save_for_backward(a, b, h)
        return h

    @staticmethod
    def backward(ctx, g):
        a, b, h = ctx.saved_tensors
        return g * a / h, g * b / h


class Copysign(ArrayFunction):
    """``|a|`` with the sign of ``b``; derivative ``result / a`` (0 where ``a`` is 0), none for ``b``."""

    array_backward = True

    @staticmethod
    def forward(ctx, a, b):
        out = _xp(a).copysign(a, b)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        xp = xp_of(g)
        zero = a == 0
        # the sign source gets zeros, not None, as in PyTorch (other.grad exists after backward)
        return (xp.where(zero, 0.0, g * out / xp.where(zero, 1.0, a)),
                g * 0 if ctx.needs_input_grad[1] else None)


class Fmod(ArrayFunction):
    """C's ``fmod``: the remainder with the sign of the dividend; derivatives 1 and ``-trunc(a / b)``."""

    array_backward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _xp(a).fmod(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        q = a / b
        q = q.trunc() if isinstance(q, Tensor) else _xp(q).trunc(q)
        return g, -g * q


def atan2(input, other):
    """The angle of the point ``(other, input)``, in (-pi, pi] (``torch.atan2``, alias ``arctan2``).

    Example::

        >>> distgrad.atan2(distgrad.tensor([0.0, 1.0]), distgrad.tensor([-1.0, 0.0]))
        tensor([3.1416, 1.5708])
    """
    _tensor_other("atan2", other)
    return Atan2.apply(*_operands("atan2", input, other, True))


def hypot(input, other):
    """``sqrt(input^2 + other^2)``, floats only (``torch.hypot``).

    Example::

        >>> distgrad.hypot(distgrad.tensor([3.0]), distgrad.tensor([4.0]))
        tensor([5.])
    """
    _tensor_other("hypot", other)
    a, b = _operands("hypot", input, other, False)
    if a._data.dtype.kind != "f":
        raise NotImplementedError(f'"hypot_cpu" not implemented for \'{dtypes.torch_name(a.dtype)}\'')
    return Hypot.apply(a, b)


def copysign(input, other):
    """``|input|`` with the sign of ``other`` (a float result, as PyTorch's) (``torch.copysign``).

    Example::

        >>> distgrad.copysign(distgrad.tensor([1.0, -2.0]), -0.0)
        tensor([-1., -2.])
    """
    return Copysign.apply(*_operands("copysign", input, other, True))


def fmod(input, other):
    """The remainder of ``input / other`` with the dividend's sign (``torch.fmod``); integers stay integers.

    Example::

        >>> distgrad.fmod(distgrad.tensor([5, -5]), 3)
        tensor([ 2, -2])
    """
    a, b = _operands("fmod", input, other, False)
    if a._data.dtype.kind in "iub" and bool((b._data == 0).any()):
        raise RuntimeError("ZeroDivisionError")
    return Fmod.apply(a, b)


# --- composed and non-differentiable ---------------------------------------------------------------

def frac(input):
    """``input - trunc(input)``, floats only (``torch.frac``).

    Example::

        >>> distgrad.frac(distgrad.tensor([1.5, -2.25]))
        tensor([ 0.5000, -0.2500])
    """
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f'"frac_cpu" not implemented for \'{dtypes.torch_name(input.dtype)}\'')
    return input - trunc(input)


def sgn(input):
    """The sign of each element, 0 for NaN (``torch.sgn``: ``sign`` for real tensors, integers kept).

    Example::

        >>> distgrad.sgn(distgrad.tensor([-3, 0, 2]))
        tensor([-1,  0,  1])
    """
    return sign(input)


def signbit(input):
    """Whether the sign bit is set (True for -0.0), as a bool tensor (``torch.signbit``).

    Example::

        >>> distgrad.signbit(distgrad.tensor([-0.0, 0.0, -1.0]))
        tensor([ True, False,  True])
    """
    data = input._data
    return Tensor._make(_xp(data).signbit(data))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN -> ``nan``, +inf -> ``posinf``, -inf -> ``neginf`` (the dtype's largest / lowest by default).

    The gradient flows where the input is finite and is 0 elsewhere, as in PyTorch
    (``torch.nan_to_num``).

    Example::

        >>> distgrad.nan_to_num(distgrad.tensor([float("nan"), float("inf"), 1.0]), posinf=9.0)
        tensor([0., 9., 1.])
    """
    if input._data.dtype.kind != "f":
        return input.clone()
    finfo = _xp(input._data).finfo(input._data.dtype)
    posinf = float(finfo.max) if posinf is None else posinf
    neginf = float(finfo.min) if neginf is None else neginf
    out = where(input != input, nan, input)
    out = where(out == math.inf, posinf, out)
    return where(out == -math.inf, neginf, out)


def exp2(input):
    """``2 ** input`` (``torch.exp2``); integer input gives the default float dtype.

    Example::

        >>> distgrad.exp2(distgrad.tensor([3.0, -1.0]))
        tensor([8.0000, 0.5000])
    """
    return (_floating(input) * math.log(2.0)).exp()


def logaddexp(input, other):
    """``log(exp(input) + exp(other))`` without overflow (``torch.logaddexp``).

    Example::

        >>> distgrad.logaddexp(distgrad.tensor([1000.0]), distgrad.tensor([1000.0]))
        tensor([1000.6932])
    """
    a, b = _operands("logaddexp", input, other, True)
    hi = maximum(a, b)
    return hi + (-(a - b).abs()).exp().log1p()


def logaddexp2(input, other):
    """``log2(2 ** input + 2 ** other)`` without overflow (``torch.logaddexp2``).

    Example::

        >>> distgrad.logaddexp2(distgrad.tensor([3.0]), distgrad.tensor([3.0]))
        tensor([4.])
    """
    a, b = _operands("logaddexp2", input, other, True)
    return maximum(a, b) + (-(a - b).abs() * math.log(2.0)).exp().log1p() / math.log(2.0)


def isposinf(input):
    """Whether each element is +inf (``torch.isposinf``).

    Example::

        >>> distgrad.isposinf(distgrad.tensor([1.0, float("inf"), -float("inf")]))
        tensor([False,  True, False])
    """
    data = input._data
    return Tensor._make(_xp(data).isposinf(data) if data.dtype.kind == "f" else _xp(data).zeros(data.shape, bool))


def isneginf(input):
    """Whether each element is -inf (``torch.isneginf``).

    Example::

        >>> distgrad.isneginf(distgrad.tensor([1.0, float("inf"), -float("inf")]))
        tensor([False, False,  True])
    """
    data = input._data
    return Tensor._make(_xp(data).isneginf(data) if data.dtype.kind == "f" else _xp(data).zeros(data.shape, bool))


def deg2rad(input):
    """Degrees to radians (``torch.deg2rad``); integer input gives the default float dtype.

    Example::

        >>> distgrad.deg2rad(distgrad.tensor([180.0]))
        tensor([3.1416])
    """
    return _floating(input) * (math.pi / 180.0)


def rad2deg(input):
    """Radians to degrees (``torch.rad2deg``).

    Example::

        >>> distgrad.rad2deg(distgrad.tensor([math.pi]))
        tensor([180.])
    """
    return _floating(input) * (180.0 / math.pi)


# --- in-place forms --------------------------------------------------------------------------------

def _inplace(fn, name):
    def method(self, *args, **kwargs):
        if kwargs:
            return apply_inplace(self, lambda t, *a: fn(t, *a, **kwargs), args, name)
        return apply_inplace(self, fn, args, name)
    method.__name__ = name
    method.__doc__ = f"In-place :func:`{fn.__name__}` (``Tensor.{name}``)."
    return method


asin_ = _inplace(asin, "asin_")
acos_ = _inplace(acos, "acos_")
atan_ = _inplace(atan, "atan_")
exp2_ = _inplace(exp2, "exp2_")
sinh_ = _inplace(sinh, "sinh_")
cosh_ = _inplace(cosh, "cosh_")
asinh_ = _inplace(asinh, "asinh_")
acosh_ = _inplace(acosh, "acosh_")
atanh_ = _inplace(atanh, "atanh_")
atan2_ = _inplace(atan2, "atan2_")
hypot_ = _inplace(hypot, "hypot_")
copysign_ = _inplace(copysign, "copysign_")
fmod_ = _inplace(fmod, "fmod_")
frac_ = _inplace(frac, "frac_")
sgn_ = _inplace(sgn, "sgn_")
nan_to_num_ = _inplace(nan_to_num, "nan_to_num_")
deg2rad_ = _inplace(deg2rad, "deg2rad_")
rad2deg_ = _inplace(rad2deg, "rad2deg_")
