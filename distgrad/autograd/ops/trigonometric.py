"""Trigonometric and hyperbolic functions beyond :mod:`distgrad.autograd.ops.unary`: ``asin``,
``acos``, ``atan``, ``atan2``, ``hypot``, ``sinh``, ``cosh``, ``asinh``, ``acosh``, ``atanh``,
``deg2rad`` and ``rad2deg`` (with PyTorch's ``arc*`` aliases and in-place forms).

Integer input gives the default float dtype, as in PyTorch; ``hypot`` refuses integers and, with
``atan2``, takes only a Tensor as ``other``.  Each backward is written once against ``xp``, so
every function has a second derivative.

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
from distgrad.autograd.ops.elementwise import _operands
from distgrad.autograd.ops.inplace import inplace_variant
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.ops.unary import _floating
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

asin_ = inplace_variant(asin, "asin_")
acos_ = inplace_variant(acos, "acos_")
atan_ = inplace_variant(atan, "atan_")
sinh_ = inplace_variant(sinh, "sinh_")
cosh_ = inplace_variant(cosh, "cosh_")
asinh_ = inplace_variant(asinh, "asinh_")
acosh_ = inplace_variant(acosh, "acosh_")
atanh_ = inplace_variant(atanh, "atanh_")
atan2_ = inplace_variant(atan2, "atan2_")
hypot_ = inplace_variant(hypot, "hypot_")
deg2rad_ = inplace_variant(deg2rad, "deg2rad_")
rad2deg_ = inplace_variant(rad2deg, "rad2deg_")
