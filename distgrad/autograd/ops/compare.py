"""Comparisons and logic: ``eq ne lt le gt ge``, ``logical_*``, ``bitwise_*``, ``equal``,
``allclose``, ``isclose``.  Results are bool tensors (or Python bools) and carry no gradient;
operands are promoted as PyTorch does before comparing.

Example::

    >>> import distgrad
    >>> distgrad.tensor([1, 2, 3]) >= 2
    tensor([False,  True,  True])
"""
from distgrad import backend
from distgrad.autograd.ops.arithmetic import as_operand, broadcast_error, promote
from distgrad.autograd.tensor import Tensor


def _compare(ufunc_name, a, b):
    if not isinstance(a, Tensor):
        a = as_operand(a, b)
    b = as_operand(b, a)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        a, b = promote(ufunc_name, a, b)
    xa = a._data if isinstance(a, Tensor) else a
    xb = b._data if isinstance(b, Tensor) else b
    xp = backend.get_array_module(xa, xb)
    try:
        return Tensor._make(xp.asarray(getattr(xp, ufunc_name)(xa, xb)))
    except ValueError:
        err = broadcast_error(a, b)
        if err is None:
            raise
        raise err from None


def eq(a, b):
    """Elementwise ``a == b`` as a bool tensor (``torch.eq``)."""
    return _compare("equal", a, b)


def ne(a, b):
    """Elementwise ``a != b`` as a bool tensor (``torch.ne``)."""
    return _compare("not_equal", a, b)


def lt(a, b):
    """Elementwise ``a < b`` as a bool tensor (``torch.lt``)."""
    return _compare("less", a, b)


def le(a, b):
    """Elementwise ``a <= b`` as a bool tensor (``torch.le``)."""
    return _compare("less_equal", a, b)


def gt(a, b):
    """Elementwise ``a > b`` as a bool tensor (``torch.gt``)."""
    return _compare("greater", a, b)


def ge(a, b):
    """Elementwise ``a >= b`` as a bool tensor (``torch.ge``)."""
    return _compare("greater_equal", a, b)


def logical_and(a, b):
    """Elementwise logical AND of the truth values (``torch.logical_and``)."""
    return _compare("logical_and", a, b)


def logical_or(a, b):
    """Elementwise logical OR of the truth values (``torch.logical_or``)."""
    return _compare("logical_or", a, b)


def logical_xor(a, b):
    """Elementwise logical XOR of the truth values (``torch.logical_xor``)."""
    return _compare("logical_xor", a, b)


def logical_not(a):
    """Elementwise logical NOT, as a bool tensor (``torch.logical_not``)."""
    return Tensor._make(a._xp().logical_not(a._data))


def _bitwise(name, a, b):
    if a._data.dtype.kind == "f":
        raise RuntimeError(f"{name} is only supported for integer and bool tensors, got {a.dtype}")
    return _compare(name, a, b)


def bitwise_and(a, b):
    """Elementwise ``a & b`` on integer or bool tensors (``torch.bitwise_and``)."""
    return _bitwise("bitwise_and", a, b)


def bitwise_or(a, b):
    """Elementwise ``a | b`` on integer or bool tensors (``torch.bitwise_or``)."""
    return _bitwise("bitwise_or", a, b)


def bitwise_xor(a, b):
    """Elementwise ``a ^ b`` on integer or bool tensors (``torch.bitwise_xor``)."""
    return _bitwise("bitwise_xor", a, b)


def bitwise_not(a):
    """Elementwise ``~a`` on integer or bool tensors (``torch.bitwise_not``)."""
    if a._data.dtype.kind == "f":
        raise RuntimeError(f"bitwise_not is only supported for integer and bool tensors, got {a.dtype}")
    return Tensor._make(a._xp().invert(a._data))


def equal(a, b):
    """True when both tensors have the same shape and elements."""
    return a.shape == b.shape and bool(eq(a, b)._data.all())


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element satisfies ``|a - b| <= atol + rtol * |b|`` (``torch.allclose``)."""
    xp = backend.get_array_module(a._data)
    return bool(xp.allclose(a._data, as_operand(b, a)._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise ``|a - b| <= atol + rtol * |b|`` as a bool tensor (``torch.isclose``)."""
    xp = backend.get_array_module(a._data)
    return Tensor._make(xp.isclose(a._data, as_operand(b, a)._data, rtol=rtol, atol=atol, equal_nan=equal_nan))
