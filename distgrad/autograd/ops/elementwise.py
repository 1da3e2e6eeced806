"""Elementwise functions beyond :mod:`distgrad.autograd.ops.unary`: ``copysign``, ``fmod``,
``frac``, ``sgn``, ``signbit``, ``nan_to_num``, ``exp2``, ``logaddexp``/``logaddexp2`` and
``isposinf``/``isneginf`` (the trigonometric and hyperbolic ones are in
:mod:`distgrad.autograd.ops.trigonometric`).

Dtype rules are PyTorch's: integer input to a float function gives the default float dtype;
``frac`` refuses integers as PyTorch does; ``fmod`` and ``sgn`` keep integers.
Each backward is written once against ``xp`` (arrays in an ordinary pass, Tensors under
``create_graph``), so every differentiable function here has a second derivative.

Example::

    >>> import distgrad
    >>> distgrad.fmod(distgrad.tensor([5.5, -5.5]), 2)
    tensor([ 1.5000, -1.5000])
    >>> distgrad.tensor([float("nan"), 2.0]).nan_to_num()
    tensor([0., 2.])
"""
import math

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.arithmetic import as_operand, broadcast_error, maximum, promote, where
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.inplace import inplace_variant
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.ops.rounding import sign, trunc
from distgrad.autograd.ops.unary import _floating
from distgrad.autograd.tensor import Tensor


def _xp(x):
    return backend.get_array_module(x)


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


# --- in-place forms --------------------------------------------------------------------------------

copysign_ = inplace_variant(copysign, "copysign_")
fmod_ = inplace_variant(fmod, "fmod_")
frac_ = inplace_variant(frac, "frac_")
sgn_ = inplace_variant(sgn, "sgn_")
nan_to_num_ = inplace_variant(nan_to_num, "nan_to_num_")
exp2_ = inplace_variant(exp2, "exp2_")
