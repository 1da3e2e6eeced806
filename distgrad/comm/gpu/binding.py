"""Which GPU this process uses: the CUDA device ``init_process_group`` makes current.

With one process per GPU, every rank must land on its own device before it
allocates anything, or all ranks crowd onto ``cuda:0``.  ``init_process_group``
checks its ``device_id`` argument here before it sets anything up, then binds
this process to ``device_id`` or to ``cuda:(local rank % GPUs)``, so scripts
need no ``set_device`` call.

Example::

    >>> from distgrad.comm.gpu import binding
    >>> binding.check_device_id(None) is None
    True
"""
from distgrad import backend


def check_device_id(device_id, where="init_process_group"):
    """The CUDA ordinal ``device_id`` (an int, ``"cuda:i"`` or a device) names, or None; raises when it cannot be used.

    ``init_process_group`` calls it before setting anything up, so a bad
    ``device_id`` changes nothing.
    """
    if device_id is None:
        return None
    dev = backend.device("cuda", device_id) if isinstance(device_id, int) and not isinstance(device_id, bool) \
        else backend.device(device_id)
    if dev.type != "cuda":
        raise ValueError(f"{where}: device_id must name a CUDA device, got {dev}")
    if not backend.cuda_is_available():
        raise RuntimeError(f"{where}: device_id={dev} was given but CUDA is not available")
    return backend.normalize_device(dev).index


def bind_local_device(local_rank, device_id=None):
    """Make this process's GPU current: ``device_id`` when given, else ``cuda:(local_rank % GPUs)``.

    Called by ``init_process_group``, so with one process per GPU every rank
    lands on its own GPU (``device="cuda"``, ``model.cuda()``) without a
    ``set_device`` call.  A process that already chose a device other than 0
    keeps it.  Returns the ordinal made current, or None (no CUDA).
    """
    idx = check_device_id(device_id)
    if not backend.cuda_is_available():
        return None
    cp = backend.cupy_module()
    if idx is None:
        if cp.cuda.runtime.getDevice() != 0:
            return cp.cuda.runtime.getDevice()
        idx = local_rank % backend.cuda_device_count()
    cp.cuda.Device(idx).use()
    return idx
