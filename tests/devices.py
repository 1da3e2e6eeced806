"""The devices tests run on, real and simulated.

Real: the CPU always, CUDA when CuPy sees a GPU.  Tests take the ``device``
fixture (defined in ``tests/conftest.py`` from :data:`DEVICES`) to run once
per device; the CUDA case is collected everywhere, so a run without a GPU
reports it as skipped rather than silently not having it.  :func:`to_host`
brings any array or tensor back to NumPy for comparisons.

Simulated, so the device logic is tested on a machine without a GPU:

* :class:`FakeCupy` has the parts of the ``cupy`` module that distgrad's
  device code calls: ``cuda.runtime`` (device count, current device,
  properties, synchronize), ``cuda.Device`` (``use()`` and the context
  manager), the default memory pool and ``random.default_rng``, whose
  generators have CuPy's method set (no ``normal``, no ``permutation``).
  Installed with ``monkeypatch.setattr(backend, "_cupy", FakeCupy(2))``.
* :func:`fake_gpu_arrays` makes :class:`FakeCudaArray` (a NumPy subclass)
  count as an array on ``cuda:0``: ``device_of`` reports it there,
  ``to_device`` moves to and from it, and, as CuPy does, a NumPy function or
  ufunc mixing it with a plain host array raises TypeError.

The simulated arrays still compute with NumPy, so they check distgrad's
bookkeeping (which device, which errors, which seeds), not CuPy itself; the
real thing is ``tests/test_device_parity.py`` on a GPU machine.

Example::

    def test_exp(device):
        x = distgrad.ones(3, device=device)
        assert to_host(x.exp()).tolist() == [math.e] * 3
"""
import types

import numpy as np
import pytest

import distgrad
from distgrad import backend

HAS_CUDA = distgrad.cuda.is_available()
NO_CUDA_REASON = "needs a CUDA GPU (CuPy with a visible device: pip install distgrad[cuda])"

requires_cuda = pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA_REASON)

DEVICES = ["cpu", pytest.param("cuda", marks=requires_cuda, id="cuda")]


def to_host(x):
    """A NumPy array holding ``x`` (a Tensor, a NumPy or CuPy array, or a number)."""
    if isinstance(x, distgrad.Tensor):
        x = x.detach()._data
    if backend.is_array(x):
        return backend.to_device(x, backend.CPU)
    return np.asarray(x)


# --- a simulated CuPy --------------------------------------------------------------------------------------

class FakeRuntime:
    """``cupy.cuda.runtime`` for ``n`` devices (``n=None``: the driver reports no device at all)."""

    def __init__(self, n):
        self.n = n
        self.current = 0
        self.synchronized = []

    def getDeviceCount(self):
        if self.n is None:
            raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
        return self.n

    def getDevice(self):
        return self.current

    def setDevice(self, i):
        if not 0 <= i < (self.n or 0):
            raise RuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {i}")
        self.current = i

    def deviceSynchronize(self):
        self.synchronized.append(self.current)

    def getDeviceProperties(self, i):
        return {"name": f"Fake GPU {i}".encode(), "major": 9, "minor": 0, "totalGlobalMem": 80 << 30}


class FakeDevice:
    """``cupy.cuda.Device(i)``: ``use()`` makes it current; as a context manager, until the block ends."""

    def __init__(self, runtime, index):
        self._rt = runtime
        self.id = index
        self._prev = []

    def use(self):
        self._rt.setDevice(self.id)

    def __enter__(self):
        self._prev.append(self._rt.current)
        self._rt.setDevice(self.id)
        return self

    def __exit__(self, *exc):
        self._rt.current = self._prev.pop()
        return False


class FakePool:
    """The default memory pool: bytes in use and held, per device."""

    def __init__(self, runtime):
        self._rt = runtime
        self.used = {}
        self.held = {}
        self.freed = 0

    def used_bytes(self):
        return self.used.get(self._rt.current, 0)

    def total_bytes(self):
        return self.held.get(self._rt.current, 0)

    def free_all_blocks(self):
        self.freed += 1
        self.held = dict(self.used)


class FakeRng:
    """A CuPy ``Generator``: NumPy's draws, but only the methods CuPy has."""

    def __init__(self, seed, device):
        self.seed = seed
        self.device = device
        self._np = np.random.default_rng(seed)

    def random(self, size=None, dtype=np.float64):
        return self._np.random(size).astype(dtype)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64):
        return self._np.uniform(low, high, size).astype(dtype)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return self._np.integers(low, high, size, dtype=dtype, endpoint=endpoint)

    def standard_normal(self, size=None, dtype=np.float64):
        return self._np.standard_normal(size).astype(dtype)


class _NeverInstantiated:
    """``cupy.ndarray``: no real array is ever one of these here."""


class FakeCupy:
    """The ``cupy`` module as far as distgrad's device code uses it."""

    ndarray = _NeverInstantiated
    int64 = np.int64

    def __init__(self, n):
        rt = FakeRuntime(n)
        self.runtime = rt
        self.pool = FakePool(rt)
        self.rngs = []
        self.cuda = types.SimpleNamespace(runtime=rt,
                                          Device=lambda i=None: FakeDevice(rt, rt.current if i is None else i))
        self.random = types.SimpleNamespace(default_rng=self._default_rng)

    def _default_rng(self, seed=None):
        rng = FakeRng(seed, self.runtime.current)
        self.rngs.append(rng)
        return rng

    def get_default_memory_pool(self):
        return self.pool


# --- arrays that live on a (simulated) GPU ------------------------------------------------------------------

def _has_host_array(obj):
    if type(obj) is np.ndarray:
        return True
    if isinstance(obj, (list, tuple)):
        return any(_has_host_array(o) for o in obj)
    return False


def _unwrap(obj):
    if isinstance(obj, FakeCudaArray):
        return obj.view(np.ndarray)
    if isinstance(obj, list):
        return [_unwrap(o) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_unwrap(o) for o in obj)
    return obj


def _wrap(out):
    if type(out) is np.ndarray:
        return out.view(FakeCudaArray)
    if isinstance(out, tuple):
        return tuple(_wrap(o) for o in out)
    return out


class FakeCudaArray(np.ndarray):
    """An array on ``cuda:0`` (once :func:`fake_gpu_arrays` is installed); refuses host operands like CuPy."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if _has_host_array(inputs) or _has_host_array(kwargs.get("out", ())):
            raise TypeError("Unsupported type <class 'numpy.ndarray'>")
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **kwargs))

    def __array_function__(self, func, types_, args, kwargs):
        if _has_host_array(args) or _has_host_array(list(kwargs.values())):
            raise TypeError("Unsupported type <class 'numpy.ndarray'>")
        return _wrap(func(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))


def on_fake_gpu(array):
    """A copy of ``array`` living on the simulated ``cuda:0``."""
    return np.array(array).view(FakeCudaArray)


def fake_gpu_arrays(monkeypatch):
    """Make :class:`FakeCudaArray` an array on ``cuda:0`` for distgrad's backend (one visible device)."""
    host_device_of, host_to_device = backend.device_of, backend.to_device

    def device_of(array):
        return backend.device("cuda", 0) if isinstance(array, FakeCudaArray) else host_device_of(array)

    def to_device(array, dev):
        if dev.type == "cuda":
            return array if isinstance(array, FakeCudaArray) else on_fake_gpu(array)
        return np.array(array) if isinstance(array, FakeCudaArray) else host_to_device(array, dev)

    monkeypatch.setattr(backend, "device_of", device_of)
    monkeypatch.setattr(backend, "to_device", to_device)
    monkeypatch.setattr(backend, "cuda_device_count", lambda: 1)
