"""``distgrad.cuda``: which GPUs there are, which one is current, and their random seeds.

Shaped like ``torch.cuda``.  CUDA comes from CuPy (``pip install
distgrad[cuda]``); without CuPy, or without a driver and a GPU, every query
answers as PyTorch's does on a machine with no GPU: ``is_available()`` is
False, ``device_count()`` is 0, the memory counters are 0, seeding is a no-op,
and anything that needs a real device (``current_device``, ``set_device(0)``,
``get_device_name``, entering ``device(0)``) raises a RuntimeError saying
CUDA is not available.  ``synchronize()`` is a no-op there, so timing code
written for a GPU still runs on the CPU.

The current device is per thread, as in CUDA and PyTorch: ``set_device`` and
``with distgrad.cuda.device(i)`` choose where ``device="cuda"`` (no index)
puts new tensors and where CuPy launches kernels in this thread.

Example::

    >>> import distgrad
    >>> n = distgrad.cuda.device_count()
    >>> distgrad.cuda.is_available() == (n > 0)
    True
    >>> dev = "cuda" if distgrad.cuda.is_available() else "cpu"
    >>> distgrad.ones(2, device=dev).device.type == dev
    True
"""
from distgrad import backend, torch_alias
from distgrad import random as _random

__all__ = ["is_available", "device_count", "is_initialized", "current_device", "set_device", "device",
           "device_of", "synchronize", "manual_seed", "manual_seed_all", "seed", "seed_all", "initial_seed",
           "get_device_name", "get_device_capability", "memory_allocated", "memory_reserved", "empty_cache"]


def _cupy():
    return backend.cupy_module()


def _require(where):
    """Raise the RuntimeError every device-bound call gives without CUDA."""
    if not backend.cuda_is_available():
        reason = ("CuPy is not installed (pip install distgrad[cuda])" if _cupy() is None
                  else "CuPy found no CUDA device (no GPU, or no driver)")
        raise RuntimeError(f"distgrad.cuda.{where}: CUDA is not available: {reason}")
    return _cupy()


def _index(dev, where, optional=True):
    """A CUDA ordinal from an int, a "cuda[:i]" string or a device; None means the current device.

    Negative ordinals are returned as they are (PyTorch treats them as "no
    device": a no-op); a non-CUDA device is a ValueError.
    """
    if dev is None:
        if optional:
            return None
        raise TypeError(f"distgrad.cuda.{where}: expected a device, got None")
    if isinstance(dev, bool):
        raise TypeError(f"distgrad.cuda.{where}: expected a device or an int ordinal, got {dev!r}")
    if isinstance(dev, int):
        return dev
    if isinstance(dev, str):
        dev = backend.device(dev)
    if not isinstance(dev, backend.device):
        raise TypeError(f"distgrad.cuda.{where}: expected a device, a string or an int, got "
                        f"{type(dev).__name__}")
    if dev.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {dev}")
    return dev.index


def _resolve(dev, where):
    """The ordinal of ``dev`` (current device for None), checked against the devices present."""
    cp = _require(where)
    idx = _index(dev, where)
    if idx is None or idx < 0:
        return cp.cuda.runtime.getDevice()
    count = backend.cuda_device_count()
    if idx >= count:
        raise RuntimeError(f"distgrad.cuda.{where}: invalid device ordinal {idx}: {count} CUDA device(s) visible")
    return idx


# --- devices -------------------------------------------------------------------------------------------------

def is_available():
    """True when CuPy is installed and sees at least one CUDA device."""
    return backend.cuda_is_available()


def is_bf16_supported(including_emulation=True):
    """Whether the current CUDA device computes in bfloat16: False here, as distgrad has no bfloat16 tensors yet.

    PyTorch answers False without a GPU too, so programs choosing float16 or
    float32 from this (nanoGPT's ``dtype``) take the same branch.

    Example::

        >>> is_bf16_supported()
        False
    """
    return False


def device_count():
    """How many CUDA devices this process sees (0 without CuPy or without a GPU)."""
    return backend.cuda_device_count()


def is_initialized():
    """True when CUDA can be used in this process (CuPy loaded and a device present)."""
    return backend.cuda_is_available()


def current_device():
    """The ordinal of this thread's current CUDA device."""
    return _require("current_device").cuda.runtime.getDevice()


def set_device(device):
    """Make ``device`` (an int, ``"cuda:i"`` or a device) this thread's current CUDA device.

    A negative ordinal does nothing, as in PyTorch.

    Example::

        >>> import distgrad
        >>> if distgrad.cuda.is_available():
        ...     distgrad.cuda.set_device(0)
    """
    idx = _index(device, "set_device", optional=False)
    if idx is not None and idx < 0:
        return
    idx = _resolve(idx, "set_device")
    _cupy().cuda.Device(idx).use()


class device:
    """Context manager that makes ``device`` current inside the ``with`` block and restores the previous one.

    ``None`` or a negative ordinal make it a no-op.

    Example::

        >>> import distgrad
        >>> with distgrad.cuda.device(-1):   # a no-op on any machine
        ...     pass
    """

    def __init__(self, device):
        idx = _index(device, "device")
        self.idx = -1 if idx is None else idx
        self.prev_idx = -1

    def __enter__(self):
        if self.idx < 0:
            return self
        cp = _cupy()
        idx = _resolve(self.idx, "device")
        self.prev_idx = cp.cuda.runtime.getDevice()
        if idx != self.prev_idx:
            cp.cuda.runtime.setDevice(idx)
        return self

    def __exit__(self, *exc):
        if self.idx >= 0 and self.prev_idx >= 0:
            _cupy().cuda.runtime.setDevice(self.prev_idx)
        return False


class device_of(device):
    """Context manager that makes the device of tensor ``obj`` current (a no-op for a CPU tensor).

    Example::

        >>> import distgrad
        >>> with distgrad.cuda.device_of(distgrad.zeros(1)):   # a CPU tensor: no-op
        ...     pass
    """

    def __init__(self, obj):
        dev = obj.device
        super().__init__(dev.index if dev.type == "cuda" else -1)


def synchronize(device=None):
    """Wait until every kernel queued on ``device`` (default: the current one) has finished.

    A no-op without CUDA, so timing code written for a GPU also runs on the CPU.
    """
    if not backend.cuda_is_available():
        return
    idx = _resolve(device, "synchronize")
    backend.synchronize(backend.device("cuda", idx))


def get_device_name(device=None):
    """The name of a CUDA device, e.g. ``'NVIDIA H100 80GB HBM3'``."""
    idx = _resolve(device, "get_device_name")
    name = _cupy().cuda.runtime.getDeviceProperties(idx)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def get_device_capability(device=None):
    """The ``(major, minor)`` compute capability of a CUDA device."""
    idx = _resolve(device, "get_device_capability")
    props = _cupy().cuda.runtime.getDeviceProperties(idx)
    return int(props["major"]), int(props["minor"])


# --- memory --------------------------------------------------------------------------------------------------

def _pool_bytes(device, what):
    """Bytes CuPy's default memory pool has in use (``used``) or holds (``total``) on a device; 0 without CUDA."""
    if not backend.cuda_is_available():
        return 0
    idx = _resolve(device, what)
    cp = _cupy()
    with cp.cuda.Device(idx):  # the pool counts per device, for the current one
        pool = cp.get_default_memory_pool()
        return int(pool.used_bytes() if what == "memory_allocated" else pool.total_bytes())


def memory_allocated(device=None):
    """Bytes of GPU memory tensors occupy on ``device`` now (0 without CUDA)."""
    return _pool_bytes(device, "memory_allocated")


def memory_reserved(device=None):
    """Bytes of GPU memory the caching allocator holds on ``device``, in use or cached (0 without CUDA)."""
    return _pool_bytes(device, "memory_reserved")


def empty_cache():
    """Give the cached, unused GPU memory back to the driver (a no-op without CUDA)."""
    if backend.cuda_is_available():
        _cupy().get_default_memory_pool().free_all_blocks()


# --- random numbers ------------------------------------------------------------------------------------------

def manual_seed(seed):
    """Seed the random numbers drawn on the current CUDA device (a no-op without CUDA).

    ``distgrad.manual_seed`` already seeds every device along with the CPU;
    this reseeds only the current GPU.

    Example::

        >>> import distgrad
        >>> distgrad.cuda.manual_seed(0)
    """
    seed = int(seed)
    if not backend.cuda_is_available():
        return
    _random.default_generator.cuda_manual_seed(seed, current_device())


def manual_seed_all(seed):
    """Seed the random numbers drawn on every CUDA device (a no-op without CUDA)."""
    seed = int(seed)
    for idx in range(device_count()):
        _random.default_generator.cuda_manual_seed(seed, idx)


def seed():
    """Seed the current CUDA device with a fresh non-deterministic number (a no-op without CUDA)."""
    if backend.cuda_is_available():
        _random.default_generator.cuda_manual_seed(_random.fresh_seed(), current_device())


def seed_all():
    """Seed every CUDA device with one fresh non-deterministic number (a no-op without CUDA)."""
    if backend.cuda_is_available():
        manual_seed_all(_random.fresh_seed())


def initial_seed():
    """The seed of the current CUDA device's random numbers."""
    return _random.default_generator.cuda_initial_seed(current_device())

__getattr__ = torch_alias.missing_attribute(__name__)  # cuda.amp loads on first use, as in PyTorch
