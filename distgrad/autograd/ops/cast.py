"""Copies and conversions: dtype casts, device moves, clone, contiguous.

Example::

    >>> import distgrad
    >>> x = distgrad.ones(2, requires_grad=True)
    >>> x.double().dtype
    distgrad.float64
"""
from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.tensor import Tensor


class ToCopy(ArrayFunction):
    """Cast to another dtype and/or move to another device; the gradient goes back the same way."""

    @staticmethod
    def forward(ctx, x, np_dtype, dev):
        ctx.src = (x.dtype, backend.device_of(x))
        if dev is not None:
            x = backend.to_device(x, dev)
        return x.astype(np_dtype, copy=True) if np_dtype is not None else x.copy()

    @staticmethod
    def backward(ctx, g):
        np_dtype, dev = ctx.src
        return to(g, dtypes.from_np(np_dtype), dev), None, None


class Clone(ArrayFunction):
    """A copy with its own storage."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class Contiguous(ArrayFunction):
    """A C-contiguous copy (only when the input is not already C-contiguous)."""

    node_name = "CloneBackward0"

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        return backend.get_array_module(x).ascontiguousarray(x)

    @staticmethod
    def backward(ctx, g):
        return g


def to(x, dtype=None, device=None, copy=False):
    """Return ``x`` with ``dtype`` on ``device``; ``x`` itself when nothing changes and not ``copy``."""
    np_dtype = None
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
        if dtype.np != x._data.dtype:
            np_dtype = dtype.np
    dev = None
    if device is not None:
        dev = backend.normalize_device(device)
        if dev == x.device:
            dev = None
    if np_dtype is None and dev is None:
        return clone(x) if copy else x
    return ToCopy.apply(x, np_dtype, dev)


def tensor_to(self, *args, **kwargs):
    """``Tensor.to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``, with ``copy=``."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (dtypes.dtype, type)) or (isinstance(a, str) and a in dtypes._NAMES):
            dtype = a
        elif isinstance(a, (str, backend.device, int)):
            device = a
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    return to(self, dtype, device, copy)


def clone(x, memory_format=None):
    """A copy of ``x`` with its own storage; gradients flow back to ``x``."""
    return Clone.apply(x)


def contiguous(x, memory_format=None):
    """``x`` itself when C-contiguous, else a contiguous copy."""
    if x._data.flags.c_contiguous:
        return x
    return Contiguous.apply(x)


def is_contiguous(x, memory_format=None):
    """True when ``x``'s array is C-contiguous (``Tensor.is_contiguous``)."""
    return bool(x._data.flags.c_contiguous)


def float_(x):
    """``x`` as float32 (``Tensor.float``)."""
    return to(x, dtypes.float32)


def double(x):
    """``x`` as float64 (``Tensor.double``)."""
    return to(x, dtypes.float64)


def half(x):
    """``x`` as float16 (``Tensor.half``)."""
    return to(x, dtypes.float16)


def long(x):
    """``x`` as int64 (``Tensor.long``)."""
    return to(x, dtypes.int64)


def int_(x):
    """``x`` as int32 (``Tensor.int``)."""
    return to(x, dtypes.int32)


def bool__(x):
    """``x`` as bool (``Tensor.bool``)."""
    return to(x, dtypes.bool_)


def cpu(x):
    """``x`` on the CPU, copied only when it lives elsewhere (``Tensor.cpu``)."""
    return to(x, device="cpu")


def cuda(x, device=None):
    """``x`` on a CUDA device: the current one, or ``device`` (an int or a device) (``Tensor.cuda``)."""
    return to(x, device="cuda" if device is None else (device if not isinstance(device, int) else f"cuda:{device}"))


def type_as(x, other):
    """``x`` cast to ``other``'s dtype (``Tensor.type_as``)."""
    return to(x, other.dtype)
