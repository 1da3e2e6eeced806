"""``torch.accelerator``: which accelerator this process has (CUDA through CuPy, or none), device-neutrally.

Programs written for PyTorch 2.6+ ask ``torch.accelerator`` instead of
``torch.cuda`` so the same lines serve CUDA, MPS or XPU.  distgrad's only
accelerator is CUDA (CuPy); without one every answer is PyTorch's on a
CPU-only machine: ``is_available()`` False, ``current_accelerator()`` None,
``device_count()`` 0.

Example::

    >>> import distgrad
    >>> distgrad.accelerator.is_available() == distgrad.cuda.is_available()
    True
    >>> dev = distgrad.accelerator.current_accelerator() or distgrad.device("cpu")
    >>> dev.type in ("cpu", "cuda")
    True
"""
from distgrad import backend, cuda


def is_available():
    """Whether an accelerator (a CUDA device through CuPy) can be used."""
    return cuda.is_available()


def current_accelerator(check_available=False):
    """``device("cuda")`` when CUDA is available, else None (``check_available`` is PyTorch's flag; same answer)."""
    return backend.device("cuda") if cuda.is_available() else None


def device_count():
    """The number of accelerator devices (0 without CUDA)."""
    return cuda.device_count()


def _require():
    if not cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")


def current_device_index():
    """The current CUDA device's index; RuntimeError without an accelerator, as in PyTorch."""
    _require()
    return cuda.current_device()


def set_device_index(device):
    """Make ``device`` (an index, ``"cuda:i"`` or a device) current, as ``cuda.set_device``."""
    _require()
    cuda.set_device(device)


def synchronize(device=None):
    """Wait for the accelerator's queued work; RuntimeError without an accelerator, as in PyTorch."""
    _require()
    cuda.synchronize(device)
