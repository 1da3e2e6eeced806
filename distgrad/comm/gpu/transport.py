"""Which library a group's collectives on GPU (CuPy) arrays go through: NCCL, CUDA-aware MPI or host copies.

Each group chooses once, at its first GPU collective, with every rank taking
part so that they never call different libraries: ``nccl`` when CuPy's NCCL
binding works, else ``cuda-aware-mpi`` when the MPI library says it reads
device memory, else ``host`` (staged through host memory, always works); the
group takes the least capable choice of its ranks.  A group of one process
stays on the device (``local``).  ``DISTGRAD_GPU_TRANSPORT=nccl|mpi|host``
overrides the choice, which is logged once on the ``distgrad.comm`` logger.
Every transport gives the CPU path's results (:mod:`distgrad.comm.gpu.device_ops`).

Example::

    >>> from distgrad.comm.gpu import transport
    >>> transport.choose({"DISTGRAD_GPU_TRANSPORT": "host"}, nccl=None, cuda_aware=(True, "test"))
    ('host', 'DISTGRAD_GPU_TRANSPORT=host')
"""
import contextlib
import ctypes
import logging
import os
import sys
import threading
import weakref

from distgrad import backend
from distgrad.comm.gpu.device_ops import DeviceOps
from distgrad.comm.selfcomm import SelfComm

TRANSPORT_VAR = "DISTGRAD_GPU_TRANSPORT"
NCCL, CUDA_MPI, HOST, LOCAL = "nccl", "cuda-aware-mpi", "host", "local"
_LEVEL = {HOST: 0, CUDA_MPI: 1, NCCL: 2}
_BY_LEVEL = {v: k for k, v in _LEVEL.items()}
_CHOICES = ("auto", "nccl", "mpi", "host")

logger = logging.getLogger("distgrad.comm")

_lock = threading.Lock()
_channels = weakref.WeakKeyDictionary()  # ProcessGroup -> its GPU channel
_logged = set()                          # (transport, reason) lines this process has logged


# --- what this process can do ---------------------------------------------------------------------------

def nccl_module():
    """CuPy's NCCL binding (``cupy.cuda.nccl``) when it is installed and usable, else None."""
    cp = backend.cupy_module()
    if cp is None:
        return None
    try:
        from cupy.cuda import nccl  # deferred: cupy is optional
    except Exception:  # ImportError, or a libnccl that fails to load
        return None
    return nccl if getattr(nccl, "available", False) else None


def _nccl_version(nccl):
    try:
        return f"NCCL {nccl.get_version()} via cupy.cuda.nccl"
    except Exception:
        return "cupy.cuda.nccl"


def mpi_cuda_support(MPI):
    """``(True/False, how we know)``: can this MPI library read and write GPU memory?

    Asks the library mpi4py loaded (``dlsym`` on mpi4py's extension module
    finds the symbols of the libmpi it links): Open MPI's
    ``MPIX_Query_cuda_support()`` and MPICH's ``MPIX_GPU_query_support(CUDA)``.
    A library with neither query is taken as not CUDA-aware.
    """
    if MPI is None:
        return False, "no MPI (a world of one process)"
    try:
        lib = ctypes.CDLL(MPI.__file__)
    except OSError as e:
        return False, f"could not open the MPI library to ask it ({e})"
    query = getattr(lib, "MPIX_Query_cuda_support", None)
    if query is not None:
        query.restype, query.argtypes = ctypes.c_int, []
        value = int(query())
        return value == 1, f"MPIX_Query_cuda_support() = {value}"
    query = getattr(lib, "MPIX_GPU_query_support", None)
    if query is not None:
        flag = ctypes.c_int(0)
        query.restype, query.argtypes = ctypes.c_int, [ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        rc = int(query(0, ctypes.byref(flag)))  # 0 is MPIX_GPU_SUPPORT_CUDA
        return rc == 0 and flag.value == 1, f"MPIX_GPU_query_support(CUDA) = {flag.value} (rc {rc})"
    return False, "the MPI library has no CUDA-awareness query"


def choose(environ, nccl, cuda_aware):
    """This process's best transport and why: ``(name, reason)``.

    ``environ`` holds ``DISTGRAD_GPU_TRANSPORT``; ``nccl`` is the module from
    :func:`nccl_module` (or None); ``cuda_aware`` is :func:`mpi_cuda_support`'s answer.
    """
    want = environ.get(TRANSPORT_VAR, "auto").strip().lower() or "auto"
    if want not in _CHOICES:
        raise ValueError(f"{TRANSPORT_VAR}={environ.get(TRANSPORT_VAR)!r}: expected one of {', '.join(_CHOICES)}")
    if want == "host":
        return HOST, f"{TRANSPORT_VAR}=host"
    notes = []
    if want in ("auto", "nccl"):
        if nccl is not None:
            return NCCL, _nccl_version(nccl)
        notes.append("cupy.cuda.nccl is not available")
    if want != "host":  # auto, mpi, or nccl that is missing: the next transport down
        aware, how = cuda_aware
        if aware or want == "mpi":
            return CUDA_MPI, how if aware else f"{TRANSPORT_VAR}=mpi ({how})"
        notes.append(f"MPI is not CUDA-aware: {how}")
    return HOST, "; ".join(notes)


# --- one channel per group ------------------------------------------------------------------------------

class Channel:
    """A group's agreed GPU transport and what it needs (the NCCL communicator, its stream)."""

    def __init__(self, transport, reason, comm=None, MPI=None, nccl=None, device=None):
        self.transport = transport
        self.reason = reason
        self.comm = comm          # MPI communicator, SelfComm, or NcclCommunicator
        self.MPI = MPI            # for MPI datatypes and ops (None: no MPI calls are made)
        self.nccl = nccl          # the cupy.cuda.nccl module on the nccl transport
        self.device = device      # the CUDA ordinal the NCCL communicator belongs to
        self.stream = None        # the NCCL communication stream (made on first use)

    def __repr__(self):
        return f"<GPU channel {self.transport}: {self.reason}>"


def _agree(pg, level):
    """The least of every group rank's ``level`` (runs a small MPI allreduce on the comm thread)."""
    MPI = pg._MPI
    result = []

    def run():
        result.append(pg._comm.allreduce(level, op=MPI.MIN))
    pg.run_unnumbered("gpu transport agreement", run)
    return result[0]


def _open_nccl(pg, nccl, device):
    """An NCCL communicator for ``pg`` on CUDA device ``device``: unique id from group rank 0, over MPI."""
    out = []

    def run():
        uid = nccl.get_unique_id() if pg.rank() == 0 else None
        uid = pg._comm.bcast(uid, root=0)
        with _on_device(device):  # NCCL binds the communicator to the current device
            out.append(nccl.NcclCommunicator(pg.size(), uid, pg.rank()))
    pg.run_unnumbered("nccl communicator setup", run)
    return out[0]


def _on_device(index):
    cp = backend.cupy_module()
    return cp.cuda.Device(index) if cp is not None and index is not None else contextlib.nullcontext()


def channel(pg, array):
    """The channel of group ``pg`` (chosen with the other ranks at the first GPU collective)."""
    ch = _channels.get(pg)
    if ch is not None:
        return ch
    with _lock:
        ch = _channels.get(pg)
        if ch is None:
            ch = _channels[pg] = _make_channel(pg, array)
    _log_once(pg, ch)
    return ch


def _make_channel(pg, array):
    forced = os.environ.get(TRANSPORT_VAR, "auto").strip().lower() not in ("", "auto")
    if pg.size() == 1 and not forced:
        return Channel(LOCAL, "a group of one process: nothing to send", SelfComm())
    MPI = pg._MPI
    nccl = nccl_module()
    name, reason = choose(os.environ, nccl, mpi_cuda_support(MPI))
    if MPI is not None:
        agreed = _BY_LEVEL[_agree(pg, _LEVEL[name])]
        if agreed != name:
            reason = f"the least capable rank of the group has only {agreed} (this rank: {name}, {reason})"
            name = agreed
    if name == NCCL:
        device = backend.device_of(array).index
        if MPI is not None:
            comm = _open_nccl(pg, nccl, device)
        else:
            with _on_device(device):
                comm = nccl.NcclCommunicator(1, nccl.get_unique_id(), 0)
        return Channel(NCCL, reason, comm, MPI, nccl, device)
    if name == CUDA_MPI:
        return Channel(CUDA_MPI, reason, pg._comm if MPI is not None else SelfComm(), MPI)
    return Channel(HOST, reason)


def _log_once(pg, ch):
    key = (ch.transport, ch.reason)
    with _lock:
        if key in _logged:
            return
        _logged.add(key)
    line = (f"distgrad.comm: collectives on GPU tensors in group {pg.name} ({pg.size()} rank"
            f"{'s' if pg.size() != 1 else ''}) use {ch.transport} ({ch.reason})")
    logger.info(line)
    if not logger.hasHandlers() and pg.rank() == 0:
        print(line, file=sys.stderr, flush=True)


def release(pg):
    """Drop ``pg``'s channel, destroying its NCCL communicator (``destroy_process_group`` calls it)."""
    with _lock:
        ch = _channels.pop(pg, None)
    if ch is not None and ch.transport == NCCL:
        ch.comm.destroy()


def reset():
    """Forget every group's channel and what was logged (for tests)."""
    with _lock:
        channels = list(_channels.keys())
    for pg in channels:
        release(pg)
    with _lock:
        _logged.clear()


# --- the entry point ProcessGroup calls for a device array -------------------------------------------------

def is_device_array(array):
    """True for the arrays this module moves: CuPy arrays."""
    cp = backend.cupy_module()
    return cp is not None and isinstance(array, cp.ndarray)


def device_ops(pg, array, name):
    """The :class:`DeviceOps` that run collective ``name`` on ``array`` over ``pg``'s GPU transport.

    None when ``array`` is not a device array or the group's transport is
    ``host``: then the caller stages the call through host memory.
    """
    if not is_device_array(array):
        return None
    ch = channel(pg, array)
    if ch.transport == HOST:
        return None
    return DeviceOps(pg, ch, name)
