"""The one module that knows NumPy from CuPy.

Every op is written once against an array module ``xp``; this module decides
which one (``numpy`` for CPU arrays, ``cupy`` for CUDA arrays), describes where
an array lives (:class:`device`) and moves arrays between devices.

Example::

    >>> import numpy as np
    >>> from distgrad.backend import get_array_module, device_of
    >>> get_array_module(np.zeros(3)) is np
    True
    >>> str(device_of(np.zeros(3)))
    'cpu'
"""
import numpy as np

try:  # CuPy is optional: the `cuda` extra installs it.
    import cupy as _cupy
except Exception:  # ImportError, or a CUDA runtime that fails to load
    _cupy = None


class device:
    """Where a tensor lives: ``device("cpu")``, ``device("cuda", 0)`` or ``device("cuda:1")``.

    Compares equal to another device or to its string form.

    Example::

        >>> device("cuda:1").index
        1
        >>> device("cpu") == "cpu"
        True
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a string or device, got {type!r}")
        if ":" in type:
            type, _, idx = type.partition(":")
            if index is not None:
                raise ValueError("device(): index given twice")
            try:
                index = int(idx)
            except ValueError:
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'") from None
        if type not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {type}")
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self.type = type
        self.index = index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, ValueError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))


CPU = device("cpu")


def cupy_module():
    """Return the cupy module, or None when CuPy is not installed or cannot load."""
    return _cupy


def cuda_is_available():
    """True when CuPy is importable and sees at least one CUDA device."""
    return cuda_device_count() > 0


def cuda_device_count():
    """How many CUDA devices CuPy sees (0 without CuPy or without a driver)."""
    if _cupy is None:
        return 0
    try:
        return _cupy.cuda.runtime.getDeviceCount()
    except Exception:
        return 0


def get_array_module(*arrays):
    """The array module (numpy or cupy) that owns ``arrays``; numpy when none is a CuPy array."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def is_array(obj):
    """True for a NumPy or CuPy ndarray."""
    return isinstance(obj, np.ndarray) or (_cupy is not None and isinstance(obj, _cupy.ndarray))


def _address(a):
    return a.data.ptr if _cupy is not None and isinstance(a, _cupy.ndarray) else a.__array_interface__["data"][0]


def view_indices(base, view):
    """The C-order flat index into ``base`` of every element of ``view``, a view of base's memory.

    Used to rewrite history when a view is modified in place: the write lands at
    these positions of the base.  Raises RuntimeError when ``view`` is not an
    element-aligned view of ``base`` or two of its elements share one location
    (an expanded tensor), as PyTorch refuses writes there.

    Example::

        >>> b = np.arange(6.0).reshape(2, 3)
        >>> view_indices(b, b[:, 1:]).tolist()
        [[1, 2], [4, 5]]
    """
    xp = get_array_module(base)
    item = base.itemsize
    offset = _address(view) - _address(base)
    if view.itemsize != item or offset % item or any(s % item for s in view.strides + base.strides):
        raise RuntimeError("in-place write through a view whose elements do not line up with its base's")

    def positions(shape, strides, start):
        pos = xp.full(shape, start, dtype=xp.int64)
        for axis, (n, s) in enumerate(zip(shape, strides)):
            pos += (xp.arange(n, dtype=xp.int64) * (s // item)).reshape((n,) + (1,) * (len(shape) - axis - 1))
        return pos

    where = positions(view.shape, view.strides, offset // item).reshape(-1)
    if base.flags.c_contiguous:
        flat = where
    else:
        layout = positions(base.shape, base.strides, 0).reshape(-1)
        order = xp.argsort(layout)
        found = xp.searchsorted(layout[order], where)
        found = xp.minimum(found, layout.size - 1)
        if not bool((layout[order][found] == where).all()):
            raise RuntimeError("in-place write through a view that reaches outside its base")
        flat = order[found]
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= base.size):
        raise RuntimeError("in-place write through a view that reaches outside its base")
    if xp.unique(flat).size != flat.size:
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")
    return flat.reshape(view.shape)


def device_of(array):
    """The :class:`device` an array lives on."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return device("cuda", array.device.id)
    return CPU


def normalize_device(dev):
    """Turn None, a string, an int (a CUDA ordinal) or a device into a :class:`device`.

    A bare ``"cuda"`` means the current CUDA device, as in PyTorch.
    """
    if dev is None:
        return CPU
    if isinstance(dev, int):
        dev = device("cuda", dev)
    elif not isinstance(dev, device):
        dev = device(dev)
    if dev.type == "cuda":
        if not cuda_is_available():
            raise RuntimeError(
                f"device '{dev}' was requested but CUDA is not available "
                "(install distgrad[cuda] on a machine with an NVIDIA GPU)")
        if dev.index is None:
            dev = device("cuda", _cupy.cuda.runtime.getDevice())
        elif dev.index >= cuda_device_count():
            raise RuntimeError(f"device '{dev}' does not exist: {cuda_device_count()} CUDA device(s) visible")
    return dev


def to_device(array, dev):
    """Return ``array`` on ``dev`` (a :class:`device`), copying only when it has to move."""
    if dev.type == "cpu":
        if isinstance(array, np.ndarray):
            return array
        return _cupy.asnumpy(array)
    with _cupy.cuda.Device(dev.index):
        if isinstance(array, _cupy.ndarray):
            # cupy.asarray would hand back an array of another GPU as it is; copy makes it on this one
            return array if array.device.id == dev.index else _cupy.copy(array)
        return _cupy.asarray(array)


def array_module_for(dev):
    """The array module that holds arrays on ``dev``."""
    return np if dev.type == "cpu" else _cupy


def as_array(data, np_dtype=None, dev=CPU):
    """Build an array on ``dev`` from array-like ``data`` (lists, scalars, arrays), copying it."""
    xp = array_module_for(dev)
    if dev.type == "cpu":
        if _cupy is not None and isinstance(data, _cupy.ndarray):
            data = _cupy.asnumpy(data)
        return np.array(data, dtype=np_dtype)
    with _cupy.cuda.Device(dev.index):
        return xp.array(data, dtype=np_dtype)


def from_dlpack(obj):
    """An array sharing memory with ``obj`` (anything with ``__dlpack__``: a NumPy or CuPy array, a
    PyTorch tensor ...): a NumPy array for host memory, a CuPy array for CUDA memory."""
    kind = obj.__dlpack_device__()[0] if hasattr(obj, "__dlpack_device__") else 1
    if kind in (1, 3):  # kDLCPU, kDLCUDAHost (pinned host memory)
        return np.from_dlpack(obj)
    if kind in (2, 13) and _cupy is not None:  # kDLCUDA, kDLCUDAManaged
        return _cupy.from_dlpack(obj)
    raise RuntimeError(f"from_dlpack: DLPack device type {kind} is not supported here "
                       f"({'CuPy is not installed' if _cupy is None else 'only CPU and CUDA memory'})")


def synchronize(dev=None):
    """Wait for all queued work on a CUDA device (a no-op without CuPy)."""
    if _cupy is None or not cuda_is_available():
        return
    if dev is None:
        _cupy.cuda.runtime.deviceSynchronize()
        return
    with _cupy.cuda.Device(normalize_device(dev).index):
        _cupy.cuda.runtime.deviceSynchronize()


def is_host_module(xp):
    """True when ``xp`` is NumPy, whose arrays live in host memory.

    Code that reads an array's value on the host (no device sync) or that sets
    NumPy-only floating-point error handling (``numpy.seterr``) asks this
    instead of naming the module.

    Example::

        >>> is_host_module(np)
        True
    """
    return xp is np


_SPECIAL_FUNCTIONS = {}


def special_function(xp, name):
    """SciPy's ``special.<name>`` for ``xp``'s arrays, or None when it is not installed.

    NumPy arrays get ``scipy.special``, CuPy arrays ``cupyx.scipy.special``;
    ops fall back to their own formula on None.  The answer is cached per
    ``(xp, name)``, so the hot path pays one dict lookup.

    Example::

        >>> f = special_function(np, "erf")
        >>> f is None or round(float(f(1.0)), 4) == 0.8427
        True
    """
    key = (xp, name)
    try:
        return _SPECIAL_FUNCTIONS[key]
    except KeyError:
        pass
    fn = None
    try:
        if xp is np:
            import scipy.special as special  # deferred: SciPy is optional and slow to import
        else:
            import cupyx.scipy.special as special  # deferred: CuPy is optional
        fn = getattr(special, name, None)
    except ImportError:
        pass
    _SPECIAL_FUNCTIONS[key] = fn
    return fn


def cpu_capability():
    """The widest SIMD instruction set NumPy's kernels use here, named as PyTorch names it.

    ``"AVX512"``, ``"AVX2"``, or ``"DEFAULT"`` on x86-64; on ARM ``"SVE256"`` or ``"DEFAULT"``
    (``torch.backends.cpu.get_cpu_capability()``).

    Example::

        >>> cpu_capability() in ("AVX512", "AVX2", "SVE256", "DEFAULT")
        True
    """
    try:
        from numpy._core import _multiarray_umath  # deferred: NumPy's private module, read only here (NumPy 2)
    except ImportError:
        from numpy.core import _multiarray_umath  # deferred: the same module's NumPy 1 name
    features = getattr(_multiarray_umath, "__cpu_features__", {})
    if features.get("AVX512F") and features.get("AVX512BW") and features.get("AVX512VL"):
        return "AVX512"
    if features.get("AVX2") and features.get("FMA3"):
        return "AVX2"
    if features.get("SVE"):
        return "SVE256"
    return "DEFAULT"
