"""How this process was started, and the lazily initialised MPI library.

distgrad communicates through mpi4py's ``COMM_WORLD``, whoever started the
processes: ``distgrad-launch``, plain ``mpiexec -n N python train.py`` (Open
MPI or MPICH) or Slurm's ``srun``.  Importing ``mpi4py.MPI`` initialises MPI,
and in a process that no MPI launcher started that means a "singleton init"
(slow, and on some systems it hangs trying to reach a launcher daemon).  So
before touching mpi4py this module looks at the variables every launcher sets
and only initialises MPI when one of them says this process belongs to an MPI
job.  Anything else is a world of one process, in which every collective still
works, so a script debugs in a single plain ``python`` process unchanged.

Example::

    >>> from distgrad.comm import env
    >>> env.launched_by_mpi({"OMPI_COMM_WORLD_SIZE": "4"})
    True
    >>> env.launched_by_mpi({})
    False
"""
import importlib.util
import os
import sys
import threading

# `distgrad-launch -n 1` runs the script inside the launcher process, with no MPI; the variable
# holds that process's id, so processes the script starts (perhaps under mpiexec) ignore it.
INPROCESS_VAR = "DISTGRAD_LAUNCH_INPROCESS"

# Variables that only an MPI launcher sets in the processes it starts.
_MPI_MARKERS = (
    "OMPI_COMM_WORLD_SIZE",   # Open MPI's mpiexec/mpirun/prterun
    "PMI_SIZE", "PMI_RANK",   # MPICH / Intel MPI (Hydra), Slurm with PMI-1/PMI-2
    "PMIX_RANK",              # any PMIx launcher, Slurm's --mpi=pmix among them
    "MPI_LOCALNRANKS",        # MPICH's Hydra
)

_lock = threading.Lock()
_mpi = None
_loaded = False


def launched_by_mpi(environ=None):
    """True when an MPI launcher (mpiexec, srun, distgrad-launch -n N>1) started this process.

    The launcher's in-process mode (``distgrad-launch -n 1``) wins over every
    other marker: that process is deliberately a world of one.
    """
    environ = os.environ if environ is None else environ
    if environ.get(INPROCESS_VAR) == str(os.getpid()):
        return False
    if any(k in environ for k in _MPI_MARKERS):
        return True
    # A Slurm job step started by srun; a batch script (no step id) is a plain process.
    if "SLURM_STEP_ID" in environ or "SLURM_STEPID" in environ:
        return _int(environ.get("SLURM_STEP_NUM_TASKS", environ.get("SLURM_NTASKS", "1"))) > 1
    return False


def launcher_world_size(environ=None):
    """The world size the launcher announced in the environment (1 when none did)."""
    environ = os.environ if environ is None else environ
    for key in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"):
        if key in environ:
            return _int(environ[key])
    return 1


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return 1


def mpi_is_importable():
    """True when mpi4py is installed (checked without initialising MPI)."""
    return importlib.util.find_spec("mpi4py") is not None


def load_mpi():
    """Return the ``mpi4py.MPI`` module, initialised with MPI_THREAD_MULTIPLE, or None.

    None means "no MPI here": this process was not started by an MPI launcher.
    A process that an MPI launcher started with several ranks but that cannot
    import mpi4py gets a RuntimeError, because silently running as a world of
    one would make every rank train alone.
    """
    global _mpi, _loaded
    with _lock:
        if _loaded:
            return _mpi
        if not launched_by_mpi():
            _loaded = True
            return None
        try:
            import mpi4py  # deferred: mpi4py is optional, and importing MPI initialises it
        except ImportError:
            if launcher_world_size() > 1:
                raise RuntimeError(
                    f"init_process_group: this process was started by an MPI launcher with "
                    f"{launcher_world_size()} ranks, but mpi4py is not installed; "
                    "install it with `pip install distgrad[mpi]`") from None
            _loaded = True
            return None
        if "mpi4py.MPI" not in sys.modules:
            # Our comm thread and watchdog call MPI concurrently with the user's thread.
            mpi4py.rc.threads = True
            mpi4py.rc.thread_level = "multiple"
        from mpi4py import MPI  # deferred: initialises MPI, after the thread level is set above
        if MPI.Query_thread() < MPI.THREAD_MULTIPLE:
            raise RuntimeError(
                "init_process_group: MPI was initialised without MPI_THREAD_MULTIPLE "
                f"(level {MPI.Query_thread()}); distgrad runs collectives on a communication "
                "thread and needs it. Do not set mpi4py.rc.thread_level before importing distgrad.comm")
        _mpi = MPI
        _loaded = True
        return _mpi


def loaded_mpi():
    """The MPI module if :func:`load_mpi` already initialised it, else None (never initialises)."""
    return _mpi
