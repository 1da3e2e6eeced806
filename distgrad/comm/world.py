"""The world: ``init_process_group``, the default group, ``new_group`` and the rank queries.

``init_process_group()`` sets up communication among every process of the
job, however it was started:

* ``distgrad-launch -n N train.py``, ``mpiexec -n N python train.py`` or
  Slurm's ``srun python train.py``: the world is mpi4py's ``COMM_WORLD``.
* plain ``python train.py`` (or ``distgrad-launch -n 1``), or no mpi4py at all:
  a world of one process, where every call still works and gives the answer
  one process has, so a script debugs in one process unchanged.

It is idempotent: a second call with compatible arguments does nothing.  The
first call under MPI also starts the communication thread
(:mod:`distgrad.comm.executor`) and the watchdog (:mod:`distgrad.comm.watchdog`)
and installs the fail-fast exception hooks.

Every backend name PyTorch scripts use (``"mpi"``, ``"gloo"``, ``"nccl"``,
``"cpu:gloo,cuda:nccl"``) is accepted; CPU tensors travel over MPI, CUDA
tensors over NCCL, CUDA-aware MPI or host memory (:mod:`distgrad.comm.gpu.transport`).

Example::

    >>> import distgrad.comm as dist
    >>> dist.init_process_group(backend="mpi")
    >>> dist.get_rank(), dist.get_world_size()
    (0, 1)
    >>> evens = dist.new_group([0])
    >>> dist.get_world_size(evens)
    1
"""
import atexit
import collections
import os
import threading
import warnings

from distgrad.comm import env
from distgrad.comm import watchdog
from distgrad.comm.executor import Executor
from distgrad.comm.gpu import binding as gpu_binding
from distgrad.comm.gpu import transport as gpu_transport
from distgrad.comm.process_group import ProcessGroup
from distgrad.comm.selfcomm import SelfComm

_KNOWN_BACKENDS = ("mpi", "gloo", "nccl", "ucc", "undefined")


class _State:
    """Process-wide communication state."""

    def __init__(self):
        self.lock = threading.RLock()
        self.default = None          # the default ProcessGroup
        self.groups = {}             # name -> ProcessGroup this process belongs to
        self.created = collections.Counter()  # ranks tuple -> groups created with those ranks
        self.MPI = None
        self.executor = None
        self.watchdog = None
        self.local_rank = 0
        self.local_size = 1
        self.backend = "mpi"


_state = _State()


class _NonGroupMember:
    """What ``new_group`` returns on ranks outside the new group."""

    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


class _GroupMemberMeta(type):
    @property
    def WORLD(cls):
        """The default group (None before ``init_process_group``)."""
        return _state.default


class GroupMember(metaclass=_GroupMemberMeta):
    """``GroupMember.WORLD`` (the default group) and ``GroupMember.NON_GROUP_MEMBER``."""

    NON_GROUP_MEMBER = _NonGroupMember()


group = GroupMember  # PyTorch's alias: dist.group.WORLD


def _check_backend(backend, where):
    if backend is None:
        return
    if not isinstance(backend, str):
        raise TypeError(f"{where}: backend must be a string such as 'mpi', got {backend!r}")
    for part in backend.lower().split(","):
        name = part.split(":")[-1].strip()
        if name not in _KNOWN_BACKENDS:
            raise ValueError(f"{where}: unknown backend {backend!r}; distgrad runs the backends "
                             "'mpi', 'gloo' and 'nccl' (all over MPI)")


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Initialise the default process group (idempotent).

    ``timeout`` (a ``timedelta`` or seconds; default ``$DISTGRAD_TIMEOUT`` or
    300 s) bounds every collective; a collective that waits longer reports the
    ranks that did not arrive and aborts the job.  ``world_size``/``rank``, when
    given, must agree with what the MPI launcher set up.  ``init_method``,
    ``store`` and ``pg_options`` are accepted for compatibility: MPI already
    knows every process.  With CUDA, this process's GPU becomes current:
    ``device_id`` when given, else ``cuda:(local rank % GPUs)``.
    """
    where = "init_process_group"
    _check_backend(backend, where)
    gpu_binding.check_device_id(device_id, where)
    seconds = watchdog.resolve_timeout(timeout, where)
    with _state.lock:
        if _state.default is not None:
            _check_world_args(where, world_size, rank, _state.default.size(), _state.default.rank())
            return
        MPI = env.load_mpi()
        if MPI is None:
            _check_world_args(where, world_size, rank, 1, 0)
            _state.default = ProcessGroup(SelfComm(), [0], 0, "world", seconds)
        else:
            world = MPI.COMM_WORLD
            _check_world_args(where, world_size, rank, world.Get_size(), world.Get_rank())
            # Everything below is collective and blocking: make sure every rank got here first.
            watchdog.wait_for_everyone(MPI, seconds, where)
            if _state.executor is None:
                _start_mpi_machinery(MPI)
            comm = world.Dup()
            _state.default = ProcessGroup(comm, range(world.Get_size()), world.Get_rank(), "world", seconds,
                                          _state.executor, MPI)
        _state.groups = {"world": _state.default}
        _state.created = collections.Counter()
        gpu_binding.bind_local_device(_state.local_rank, device_id)  # one GPU per process: cuda:(local rank)


def _check_world_args(where, world_size, rank, actual_size, actual_rank):
    if world_size not in (None, -1) and world_size != actual_size:
        hint = ("; distgrad communicates through MPI: start the job with `distgrad-launch -n "
                f"{world_size} script.py` or mpiexec") if actual_size == 1 else ""
        raise ValueError(f"{where}: world_size={world_size} was requested, but this job has {actual_size} "
                         f"process(es){hint}")
    if rank not in (None, -1) and rank != actual_rank:
        raise ValueError(f"{where}: rank={rank} was requested, but MPI gave this process rank {actual_rank}")


def _start_mpi_machinery(MPI):
    """Once per process: the comm thread, the watchdog, the local rank and the fail-fast hooks."""
    world = MPI.COMM_WORLD
    # Order the node's ranks by the launcher's own local rank when it announces one, so that
    # get_local_rank() agrees with LOCAL_RANK (Open MPI numbers them by its mapping, not by rank).
    key = world.Get_rank()
    for var in ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"):
        if os.environ.get(var, "").isdigit():
            key = int(os.environ[var])
            break
    local = world.Split_type(MPI.COMM_TYPE_SHARED, key=key)
    _state.local_rank, _state.local_size = local.Get_rank(), local.Get_size()
    local.Free()
    ctrl = world.Dup()
    _state.MPI = MPI
    _state.executor = Executor(MPI)
    _state.watchdog = watchdog.Watchdog(MPI, ctrl, _state.executor, _lookup)
    atexit.register(_at_exit)
    if world.Get_size() > 1:
        watchdog.install_failfast(MPI, world.Get_rank())


def _lookup(name):
    return _state.groups.get(name)


def _at_exit():
    wd, ex = _state.watchdog, _state.executor
    if wd is None:
        return
    _state.watchdog = None
    wd.shutdown()
    ex.stop()


def is_initialized():
    """True once ``init_process_group`` ran (and until ``destroy_process_group``)."""
    return _state.default is not None


def is_available():
    """distgrad.comm is always available (a world of one without MPI)."""
    return True


def is_mpi_available():
    """True when mpi4py is installed."""
    return env.mpi_is_importable()


def is_nccl_available():
    """True when CuPy's NCCL binding is usable (GPU collectives then run over NCCL)."""
    return gpu_transport.nccl_module() is not None


def is_gloo_available():
    return False


def default_group():
    """The default ProcessGroup; ValueError (PyTorch's message) before ``init_process_group``."""
    pg = _state.default
    if pg is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return pg


def resolve(group, name):
    """The ProcessGroup a collective runs on, or None (with PyTorch's warning) on a non-member."""
    if group is GroupMember.NON_GROUP_MEMBER:
        rank = _state.default.rank() if _state.default is not None else -1
        warnings.warn(f"Running {name} on global rank {rank} which does not belong to the given group.",
                      stacklevel=3)
        return None
    if group is None:
        return default_group()
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"{name}: group must be a ProcessGroup from new_group() or None, got {group!r}")
    default_group()
    return group


def get_rank(group=None):
    """This process's rank in ``group`` (default: the world); -1 outside the group."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return resolve(group, "get_rank").rank()


def get_world_size(group=None):
    """How many processes ``group`` (default: the world) has; -1 outside the group."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return resolve(group, "get_world_size").size()


def get_local_rank():
    """This process's rank among the processes on its node (from MPI's shared-memory split)."""
    default_group()
    return _state.local_rank


def get_local_world_size():
    """How many processes of the job run on this node."""
    default_group()
    return _state.local_size


def get_node_local_rank(fallback_rank=None):
    """PyTorch's helper: ``$LOCAL_RANK``, else ``fallback_rank``, else RuntimeError."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow "
                       "`get_node_local_rank` to work, assuming you are not running in a multi-device "
                       "context and want the code to run locally instead.")


def get_group_rank(group, global_rank):
    """The rank within ``group`` of the process with world rank ``global_rank``."""
    return resolve(group, "get_group_rank").group_rank(global_rank)


def get_global_rank(group, group_rank):
    """The world rank of ``group``'s rank ``group_rank``."""
    pg = resolve(group, "get_global_rank")
    if not 0 <= group_rank < pg.size():
        raise ValueError(f"Group rank {group_rank} is not part of group {pg.name}")
    return pg.ranks[group_rank]


def get_process_group_ranks(group):
    """The world ranks of ``group``'s members, in group-rank order."""
    return list(resolve(group, "get_process_group_ranks").ranks)


def get_backend(group=None):
    """The backend name: always ``"mpi"``."""
    resolve(group, "get_backend")
    return "mpi"


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None):
    """A sub-group of the world ranks ``ranks`` (default: all); collectives take it as ``group=``.

    As in PyTorch every rank must call it, in the same order, unless
    ``use_local_synchronization=True``, when only the members do.  Ranks
    outside the group get ``GroupMember.NON_GROUP_MEMBER``.
    """
    where = "new_group"
    _check_backend(backend, where)
    world = default_group()
    seconds = world.timeout if timeout is None else watchdog.resolve_timeout(timeout, where)
    n = world.size()
    if ranks is None:
        ranks = list(range(n))
    ranks = list(ranks)
    for r in ranks:
        if not isinstance(r, int) or isinstance(r, bool):
            raise TypeError(f"{where}: ranks must be ints, got {r!r}")
        if not 0 <= r < n:
            raise ValueError(f"{where}: rank {r} is out of range; the world has ranks 0..{n - 1}")
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"{where}: ranks {ranks} contain duplicates")
    if not ranks:
        raise ValueError(f"{where}: ranks must not be empty")
    ranks = sorted(ranks)
    me = world.rank()
    member = me in ranks
    with _state.lock:
        if use_local_synchronization and not member:
            return GroupMember.NON_GROUP_MEMBER
        key = tuple(ranks)
        _state.created[key] += 1
        name = str(ranks) if _state.created[key] == 1 else f"{ranks}#{_state.created[key]}"
        MPI = _state.MPI if world._executor is not None else None
        if MPI is None:
            pg = ProcessGroup(SelfComm(), ranks, me, name, seconds)
        else:
            comm = _make_comm(world, MPI, ranks, member, use_local_synchronization, _state.created[key])
            if comm is None:
                return GroupMember.NON_GROUP_MEMBER
            pg = ProcessGroup(comm, ranks, me, name, seconds, _state.executor, MPI)
        _state.groups[name] = pg
        return pg


def _make_comm(world, MPI, ranks, member, local_sync, tag):
    """Build the sub-communicator on the comm thread, ordered with the world's other collectives."""
    out = []
    if local_sync:
        def run():
            g = MPI.COMM_WORLD.Get_group().Incl(ranks)
            out.append(world._comm.Create_group(g, tag))
        world.run_unnumbered("new_group", run)
    else:
        def run():
            out.append(world._comm.Split(0 if member else MPI.UNDEFINED, world.rank()))
        world.run_numbered("new_group", run)
    comm = out[0]
    return None if comm == MPI.COMM_NULL else comm


def destroy_process_group(group=None):
    """Release ``group`` (default: the world and every sub-group) after its pending operations.

    MPI itself stays initialised (it cannot start twice in one process), so a
    later ``init_process_group`` builds a fresh default group.
    """
    with _state.lock:
        if group is GroupMember.NON_GROUP_MEMBER:
            return
        if group is None or group is _state.default:
            default_group()
            doomed = list(_state.groups.values())
            _state.default = None
            _state.groups = {}
        else:
            if not isinstance(group, ProcessGroup) or _state.groups.get(group.name) is not group:
                raise ValueError("Invalid process group specified")
            doomed = [group]
            del _state.groups[group.name]
        if _state.executor is not None:
            _state.executor.drain()
        for pg in doomed:
            pg._destroyed = True
            gpu_transport.release(pg)  # its NCCL communicator, if it opened one
            if pg._MPI is not None:
                pg._comm.Free()
