"""Binary arithmetic with broadcasting and PyTorch's type promotion.

``add, sub, mul, div, pow, maximum, minimum, where`` plus the comparisons
(which return bool tensors and carry no gradient).  Backward formulas return
gradients of the broadcast shape; the engine sums them down to each input's
shape.

Example::

    >>> import distgrad
    >>> a = distgrad.tensor([1, 2, 3], dtype=distgrad.int32)
    >>> (a * 2.5).dtype
    distgrad.float32
"""
import numbers

import numpy as np

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.tensor import Tensor
from distgrad.creation import tensor

_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)
_ndarray = np.ndarray


def as_operand(x, like):
    """Leave tensors and Python scalars alone; turn arrays and lists into tensors on ``like``'s device."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, _SCALARS):
        return x.item() if isinstance(x, np.generic) else x
    if isinstance(x, numbers.Number):
        raise TypeError(f"unsupported operand of type {type(x).__name__} (complex numbers are not supported)")
    return tensor(x, device=like.device)


def same_device(op, a, b):
    """``(a, b)`` on one device: a CPU 0-d tensor joins the other's device, as in PyTorch; else RuntimeError."""
    if type(a._data) is not type(b._data) or a.device != b.device:
        if b._data.ndim == 0 and b.device.type == "cpu":
            return a, to(b, device=a.device)
        if a._data.ndim == 0 and a.device.type == "cpu":
            return to(a, device=b.device), b
        raise RuntimeError(f"{op}: expected all tensors to be on the same device, but found at least two "
                           f"devices, {a.device} and {b.device}!")
    return a, b


def promote(op, a, b):
    """Cast ``a``/``b`` (tensors or scalars, at least one a tensor) to the dtype PyTorch gives ``op``."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        a, b = same_device(op, a, b)
        if a._data.dtype == b._data.dtype:
            return a, b
        rt = dtypes.result_type(a, b)
        return to(a, rt), to(b, rt)
    t, s = (a, b) if isinstance(a, Tensor) else (b, a)
    kind = t._data.dtype.kind
    if kind != "f":
        if isinstance(s, float):
            t = to(t, dtypes.get_default_dtype())
        elif kind == "b" and not isinstance(s, bool):
            t = to(t, dtypes.int64)
    return (t, s) if isinstance(a, Tensor) else (s, t)


def broadcast_error(a, b):
    """PyTorch's RuntimeError for two shapes that do not broadcast (NumPy would raise ValueError)."""
    sa = a if isinstance(a, tuple) else tuple(getattr(a, "shape", ()))  # a tensor/array/number or a shape
    sb = b if isinstance(b, tuple) else tuple(getattr(b, "shape", ()))
    n = max(len(sa), len(sb))
    for i in range(n - 1, -1, -1):
        x = sa[i - n + len(sa)] if i - n + len(sa) >= 0 else 1
        y = sb[i - n + len(sb)] if i - n + len(sb) >= 0 else 1
        if x != y and x != 1 and y != 1:
            return RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                                f"non-singleton dimension {i}")
    return None


def _binary(cls, op, a, b):
    try:
        return _binary_unchecked(cls, op, a, b)
    except ValueError:
        err = broadcast_error(a, b)
        if err is None:
            raise
        raise err from None


def _binary_unchecked(cls, op, a, b):
    # fast paths: a float tensor with a Python number, or two CPU tensors of one dtype
    if a.__class__ is Tensor:
        tb = b.__class__
        if tb is float or tb is int:
            if a._data.dtype.kind == "f":
                return cls.apply(a, b)
        elif tb is Tensor:
            da, db = a._data, b._data
            if da.dtype is db.dtype and da.__class__ is _ndarray and db.__class__ is _ndarray:
                return cls.apply(a, b)
    if not isinstance(a, Tensor):
        a = as_operand(a, b)
    b = as_operand(b, a)
    a, b = promote(op, a, b)
    return cls.apply(a, b)


class Add(ArrayFunction):
    """``a + b`` on broadcast arrays (``torch.add``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(ArrayFunction):
    """``a - b`` on broadcast arrays (``torch.sub``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(ArrayFunction):
    """``a * b`` on broadcast arrays (``torch.mul``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, a, b):
        # save only what a needed gradient uses, so in-place changes to the other are allowed (as in PyTorch)
        need = ctx.needs_input_grad
        ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None,
                g * a if ctx.needs_input_grad[1] else None)


class Div(ArrayFunction):
    """True division ``a / b`` on broadcast arrays (``torch.div``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)  # a only for b's gradient
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g / b if ctx.needs_input_grad[0] else None
        gb = -g * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(ArrayFunction):
    """``a ** b`` for a tensor base; ``b`` a tensor or a number (``torch.pow``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        xp = xp_of(g)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            if isinstance(b, (int, float)):
                ga = g * 0.0 if b == 0 else g * b * a ** (b - 1)
            else:
                ga = xp.where(b == 0, 0.0, g * b * a ** (b - 1))
        if ctx.needs_input_grad[1]:
            gb = xp.where((a == 0) & (b >= 0), 0.0, g * out * xp.log(a))
        return ga, gb


class PowTensor(Pow):
    """``a ** b`` with a tensor exponent: PyTorch names its node PowBackward1."""

    node_name = "PowBackward1"


class RPow(ArrayFunction):
    """``s ** x`` for a number ``s`` and a tensor exponent."""

    node_name = "PowBackward2"

    @staticmethod
    def forward(ctx, x, s):
        out = backend.get_array_module(x).asarray(s, dtype=x.dtype) ** x
        ctx.save_for_backward(out)
        ctx.s = s
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g * out * float(np.log(ctx.s)) if ctx.s > 0 else where(out == 0, 0.0, g * out * float(np.log(abs(ctx.s)))), None


class Maximum(ArrayFunction):
    """Elementwise larger of ``a`` and ``b``; ties split the gradient in half (``torch.maximum``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, a, b):
        xp = backend.get_array_module(a, b)
        ctx.save_for_backward(a, b)
        return xp.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xp = xp_of(g)
        # ties split the gradient evenly, as PyTorch does
        share = xp.where(a == b, 0.5, 1.0)
        return xp.where(a >= b, g * share, 0.0), xp.where(b >= a, g * share, 0.0)


class Minimum(ArrayFunction):
    """Elementwise smaller of ``a`` and ``b``; ties split the gradient in half (``torch.minimum``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, a, b):
        xp = backend.get_array_module(a, b)
        ctx.save_for_backward(a, b)
        return xp.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xp = xp_of(g)
        share = xp.where(a == b, 0.5, 1.0)
        return xp.where(a <= b, g * share, 0.0), xp.where(b <= a, g * share, 0.0)


class Where(ArrayFunction):
    """``a`` where ``cond`` holds, else ``b`` (``torch.where``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return backend.get_array_module(cond).where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        cond, = ctx.saved_tensors
        xp = xp_of(g)
        return (None,
                xp.where(cond, g, 0.0) if ctx.needs_input_grad[1] else None,
                xp.where(cond, 0.0, g) if ctx.needs_input_grad[2] else None)


class _NonDifferentiable(ArrayFunction):
    """Base for ops whose float outputs carry no gradient (floor division, remainder)."""

    @classmethod
    def _mark(cls, ctx, out):
        ctx.mark_non_differentiable(out)
        return out


class FloorDivide(_NonDifferentiable):
    """``a // b``, rounded towards minus infinity; not differentiable (``torch.floor_divide``)."""

    @staticmethod
    def forward(ctx, a, b):
        return FloorDivide._mark(ctx, backend.get_array_module(a).floor_divide(a, b))


class Remainder(ArrayFunction):
    """``a % b`` with the divisor's sign, as Python's ``%`` (``torch.remainder``)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b if ctx.needs_input_grad[1] else None)
        return backend.get_array_module(a).remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        # Tensor.floor is rounding.floor (bound to Tensor after this module loads), reached through the Tensor
        return g, (-g * (a / b).floor() if ctx.needs_input_grad[1] else None)


def add(input, other, alpha=1):
    """``input + alpha * other``."""
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Add, "add", input, other)


def sub(input, other, alpha=1):
    """``input - alpha * other``."""
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Sub, "sub", input, other)


def rsub(input, other, alpha=1):
    """``other - alpha * input``."""
    return sub(other, input, alpha)


def mul(input, other):
    """``input * other``; either may be a number (``torch.mul``)."""
    return _binary(Mul, "mul", input, other)


def _float_operands(a, b):
    """True division of two integer operands gives the default float dtype."""
    if isinstance(a, Tensor) and a._data.dtype.kind != "f" and (
            not isinstance(b, Tensor) or b._data.dtype.kind != "f") and not isinstance(b, float):
        a = to(a, dtypes.get_default_dtype())
    return a


def div(input, other, rounding_mode=None):
    """``input / other``; ``rounding_mode`` 'trunc' or 'floor' rounds the quotient."""
    if rounding_mode is None:
        if not isinstance(input, Tensor):
            input = as_operand(input, other)
        other = as_operand(other, input)
        if isinstance(input, Tensor):
            input = _float_operands(input, other)
        else:
            other = _float_operands(other, input)
        return _binary(Div, "div", input, other)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        res = div(input, other).trunc()  # rounding.trunc, through the Tensor (bound after this module)
        if isinstance(input, Tensor) and input._data.dtype.kind in "iu":
            res = to(res, input.dtype)
        return res
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")


def true_divide(input, other):
    """``input / other`` as a float (``torch.true_divide``, an alias of :func:`div`)."""
    return div(input, other)


def floor_divide(input, other):
    """``input // other``, rounded towards minus infinity (``torch.floor_divide``)."""
    return _binary(FloorDivide, "floor_divide", input, other)


class RemainderTensor(Remainder):
    """``a % b`` with a tensor divisor: PyTorch names its node RemainderBackward1."""

    node_name = "RemainderBackward1"


def remainder(input, other):
    """``input % other`` with the divisor's sign (``torch.remainder``)."""
    return _binary(RemainderTensor if isinstance(other, Tensor) else Remainder, "remainder", input, other)


def pow(input, exponent):
    """``input ** exponent``; either side may be a number."""
    if not isinstance(input, Tensor):
        exponent = as_operand(exponent, None)
        if isinstance(input, _SCALARS):
            if exponent._data.dtype.kind != "f" and isinstance(input, float):
                exponent = to(exponent, dtypes.get_default_dtype())
            return RPow.apply(exponent, float(input) if exponent._data.dtype.kind == "f" else input)
        input = as_operand(input, exponent)
    return _binary(PowTensor if isinstance(exponent, Tensor) else Pow, "pow", input, exponent)


def maximum(input, other):
    """Elementwise maximum of two tensors (``torch.maximum``)."""
    return _binary(Maximum, "maximum", input, other)


def minimum(input, other):
    """Elementwise minimum of two tensors (``torch.minimum``)."""
    return _binary(Minimum, "minimum", input, other)


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other`` (either may be a number)."""
    if not isinstance(condition, Tensor):
        raise TypeError("where(): argument 'condition' must be a bool Tensor")
    if condition._data.dtype.kind != "b":
        condition = to(condition, dtypes.bool_)
    like = input if isinstance(input, Tensor) else (other if isinstance(other, Tensor) else condition)
    input, other = as_operand(input, like), as_operand(other, like)
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = tensor(input, device=condition.device)
    input, other = promote("where", input, other)
    if not isinstance(other, Tensor):
        other = Tensor._make(backend.get_array_module(input._data).asarray(other, dtype=input._data.dtype))
    if not isinstance(input, Tensor):
        input = Tensor._make(backend.get_array_module(other._data).asarray(input, dtype=other._data.dtype))
    try:
        return Where.apply(condition, input, other)
    except ValueError:
        err = broadcast_error(condition, input) or broadcast_error(
            np.broadcast_shapes(condition.shape, input.shape), other)
        if err is None:
            raise
        raise err from None


subtract = sub
multiply = mul
divide = div
