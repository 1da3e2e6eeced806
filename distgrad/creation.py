"""Making tensors: ``tensor``, ``as_tensor``, ``from_numpy``, ``zeros``, ``ones``, ``full``,
``eye``, ``arange``, ``linspace``, ``rand``, ``randn``, ``randint``, ``randperm`` and ``*_like``.

dtypes follow PyTorch: Python floats give the default dtype (float32), ints give
int64, bools give bool, and NumPy arrays keep their dtype.

Example::

    >>> import distgrad
    >>> distgrad.tensor([[1, 2], [3, 4]]).dtype
    distgrad.int64
    >>> distgrad.zeros(2, 3).shape
    distgrad.Size([2, 3])
"""
import math

import numpy as np

from distgrad import backend
from distgrad import dtypes
from distgrad import random
from distgrad.autograd.tensor import Tensor


def _sizes(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"expected a sequence of integers as a size, got {size!r}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _finish(data, requires_grad):
    t = Tensor._make(data)
    if requires_grad:
        t.requires_grad = True
    return t


def _infer_np_dtype(obj):
    """The NumPy dtype PyTorch would infer for nested Python data.

    Python bools, ints and floats count as bool, int64 and the default float;
    NumPy scalars, arrays and tensors inside the data count with their own
    dtype; the result is all of them promoted together (as PyTorch does).
    """
    result = None
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, (list, tuple)):
            stack.extend(o)
            continue
        if isinstance(o, Tensor):
            d = o.dtype
        elif isinstance(o, (np.generic, np.ndarray)) or backend.is_array(o):
            d = dtypes.from_np(o.dtype)
        elif isinstance(o, (bool, int, float)):
            d = dtypes.scalar_dtype(o)
        elif isinstance(o, complex):
            raise TypeError("distgrad does not support complex tensors")
        elif isinstance(o, (str, bytes)):
            raise TypeError(f"new(): invalid data type '{type(o).__name__}'")
        else:
            raise RuntimeError(f"Could not infer dtype of {type(o).__name__}")
        result = d if result is None else dtypes.promote_types(result, d)
    return (result or dtypes.get_default_dtype()).np


def _ragged_error(data):
    """The error for nested sequences whose lengths do not line up, with PyTorch's message."""
    shape = []
    o = data
    while isinstance(o, (list, tuple)):
        shape.append(len(o))
        if not o:
            break
        o = o[0]

    def walk(o, d):
        if d == len(shape):
            return None
        if not isinstance(o, (list, tuple)):
            return TypeError("not a sequence")
        if len(o) != shape[d]:
            return ValueError(f"expected sequence of length {shape[d]} at dim {d} (got {len(o)})")
        for item in o:
            err = walk(item, d + 1)
            if err is not None:
                return err
        return None

    return walk(data, 0)


def _host(obj):
    if isinstance(obj, Tensor):
        return backend.to_device(obj._data, backend.CPU)
    if isinstance(obj, (list, tuple)):
        return [_host(o) for o in obj]
    return obj


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays or tensors)."""
    dev = backend.normalize_device(device) if device is not None else (
        data.device if isinstance(data, Tensor) else backend.device_of(data) if backend.is_array(data)
        else backend.CPU)
    if dtype is not None:
        np_dtype = dtypes.as_dtype(dtype).np
    elif isinstance(data, Tensor) or backend.is_array(data):
        np_dtype = data.dtype.np if isinstance(data, Tensor) else data.dtype
        dtypes.from_np(np_dtype)
    elif isinstance(data, np.generic):
        np_dtype = data.dtype
    else:
        np_dtype = _infer_np_dtype(data)
    src = data._data if isinstance(data, Tensor) else data
    if isinstance(src, (list, tuple)):
        src = _host(src)
    try:
        arr = backend.as_array(src, np_dtype, dev)
    except ValueError:
        err = _ragged_error(data) if isinstance(data, (list, tuple)) else None
        if err is None:
            raise
        raise err from None
    return _finish(arr, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like :func:`tensor`, but shares memory with a tensor or array when dtype and device allow."""
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device)
    if backend.is_array(data):
        dev = backend.normalize_device(device) if device is not None else backend.device_of(data)
        np_dtype = dtypes.as_dtype(dtype).np if dtype is not None else data.dtype
        if backend.device_of(data) == dev and np_dtype == data.dtype:
            dtypes.from_np(np_dtype)
            return Tensor._make(data)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray):
    """A tensor sharing memory with a NumPy array (writes to one show in the other)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dtypes.from_np(ndarray.dtype)
    return Tensor._make(ndarray)


def legacy_tensor_data(args):
    """What ``Tensor(...)`` holds: ``Tensor(data)`` copies data as float, ``Tensor(*sizes)`` is empty."""
    dt = dtypes.get_default_dtype().np
    if not args:
        return np.empty((0,), dtype=dt)
    if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
        a = args[0]
        if isinstance(a, Tensor):
            return a._data
        return np.array(_host(a), dtype=dt)
    return np.empty(_sizes(args), dtype=dt)


def _make_full(size, fill, dtype, device, requires_grad):
    dev = backend.normalize_device(device)
    xp = backend.array_module_for(dev)
    np_dtype = dtypes.as_dtype(dtype).np if dtype is not None else dtypes.get_default_dtype().np
    if dev.type == "cpu":
        data = np.full(size, fill, dtype=np_dtype) if fill is not None else np.empty(size, dtype=np_dtype)
    else:
        with backend.cupy_module().cuda.Device(dev.index):
            data = xp.full(size, fill, dtype=np_dtype) if fill is not None else xp.empty(size, dtype=np_dtype)
    return _finish(data, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of zeros of the given size."""
    return _make_full(_sizes(size), 0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of ones of the given size."""
    return _make_full(_sizes(size), 1, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None):
    """An uninitialized tensor of the given size."""
    return _make_full(_sizes(size), None, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor filled with ``fill_value``; the dtype follows the value (bool, int64, default float)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value)
    return _make_full(_sizes((size,)), fill_value, dtype, device, requires_grad)


def _like(input, dtype, device):
    return (dtype if dtype is not None else input.dtype), (device if device is not None else input.device)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    d, dev = _like(input, dtype, device)
    return _make_full(input.shape, 0, d, dev, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    d, dev = _like(input, dtype, device)
    return _make_full(input.shape, 1, d, dev, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    d, dev = _like(input, dtype, device)
    return _make_full(input.shape, None, d, dev, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    d, dev = _like(input, dtype, device)
    return _make_full(input.shape, fill_value, d, dev, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The n x m identity matrix."""
    for name, v in (("n", n), ("m", m)):
        if v is not None and v < 0:
            raise RuntimeError(f"eye: {name} must be greater or equal to 0, got {v}")
    dev = backend.normalize_device(device)
    xp = backend.array_module_for(dev)
    np_dtype = dtypes.as_dtype(dtype).np if dtype is not None else dtypes.get_default_dtype().np
    return _finish(xp.eye(n, n if m is None else m, dtype=np_dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` up to (not including) ``end`` by ``step``; int64 when all are integers."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if vals[2] == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (vals[2] > 0 and vals[1] < vals[0]) or (vals[2] < 0 and vals[1] > vals[0]):
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign "
                           f"(start={vals[0]}, end={vals[1]}, step={vals[2]})")
    if dtype is None:
        dtype = dtypes.int64 if all(isinstance(v, (int, np.integer)) for v in vals) else dtypes.get_default_dtype()
    dt = dtypes.as_dtype(dtype)
    n = max(0, math.ceil((vals[1] - vals[0]) / vals[2]))
    dev = backend.normalize_device(device)
    xp = backend.array_module_for(dev)
    data = (vals[0] + xp.arange(n, dtype=np.float64 if dt.is_floating_point else np.int64) * vals[2])
    return _finish(data.astype(dt.np), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    dev = backend.normalize_device(device)
    xp = backend.array_module_for(dev)
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    if int(steps) < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    return _finish(xp.linspace(float(start), float(end), int(steps)).astype(dt.np), requires_grad)


def _random(fill, size, dtype, device, requires_grad, generator):
    dev = backend.normalize_device(device)
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    if not dt.is_floating_point:  # PyTorch raises NotImplementedError (a RuntimeError) here too
        raise NotImplementedError(f"\"{fill}\" not implemented for '{dt.name}'")
    size = _sizes(size)
    if fill == "uniform":
        data = random.uniform_array(size, 0.0, 1.0, dt.np, dev, generator)
    else:
        data = random.normal_array(size, 0.0, 1.0, dt.np, dev, generator)
    return _finish(data, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Samples from U(0, 1)."""
    return _random("uniform", size, dtype, device, requires_grad, generator)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Samples from N(0, 1)."""
    return _random("normal", size, dtype, device, requires_grad, generator)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers drawn uniformly from [low, high); ``randint(high, size)`` starts at 0."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    dev = backend.normalize_device(device)
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    if int(low) >= int(high):
        raise RuntimeError(f"randint: random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    data = random.integers_array(_sizes((size,)), int(low), int(high), dt.np, dev, generator)
    return _finish(data, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1."""
    dev = backend.normalize_device(device)
    data = random.permutation_array(int(n), dev, generator)
    if dtype is not None:
        data = data.astype(dtypes.as_dtype(dtype).np)
    return _finish(data, requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    d, dev = _like(input, dtype, device)
    return rand(input.shape, dtype=d, device=dev, requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):
    d, dev = _like(input, dtype, device)
    return randn(input.shape, dtype=d, device=dev, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None, requires_grad=False):
    d, dev = _like(input, dtype, device)
    return randint(low, high, input.shape, dtype=d, device=dev, requires_grad=requires_grad)


# --- Tensor.new_*: new tensors with the dtype and device of an existing one ------------------------

def _new_kw(self, dtype, device):
    return (self.dtype if dtype is None else dtype), (self.device if device is None else device)


def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    """Zeros of ``size`` with ``self``'s dtype and device unless given (``Tensor.new_zeros``).

    Example::

        >>> distgrad.ones(2, dtype=distgrad.float64).new_zeros(3).dtype
        distgrad.float64
    """
    d, dev = _new_kw(self, dtype, device)
    return zeros(*size, dtype=d, device=dev, requires_grad=requires_grad)


def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    """Ones of ``size`` with ``self``'s dtype and device unless given (``Tensor.new_ones``)."""
    d, dev = _new_kw(self, dtype, device)
    return ones(*size, dtype=d, device=dev, requires_grad=requires_grad)


def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor of ``size`` with ``self``'s dtype and device (``Tensor.new_empty``)."""
    d, dev = _new_kw(self, dtype, device)
    return empty(*size, dtype=d, device=dev, requires_grad=requires_grad)


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """``fill_value`` everywhere, with ``self``'s dtype and device unless given (``Tensor.new_full``).

    Example::

        >>> distgrad.zeros(1).new_full((2,), 3)
        tensor([3., 3.])
    """
    d, dev = _new_kw(self, dtype, device)
    return full(size, fill_value, dtype=d, device=dev, requires_grad=requires_grad)


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    """A copy of ``data`` with ``self``'s dtype and device unless given (``Tensor.new_tensor``).

    Example::

        >>> distgrad.zeros(1, dtype=distgrad.float64).new_tensor([1, 2])
        tensor([1., 2.], dtype=distgrad.float64)
    """
    d, dev = _new_kw(self, dtype, device)
    if isinstance(data, Tensor):
        data = data.detach().cpu().numpy()
    return tensor(data, dtype=d, device=dev, requires_grad=requires_grad)
