"""``PreparedAllreduce``: one buffer's allreduce, set up once and started every step.

What MPI calls a persistent request (``MPI_Allreduce_init`` then
``MPI_Start``): a buffer that is reduced again and again, such as a
DistributedDataParallel gradient bucket, should not pay for the argument
checks, the datatype and op lookup and the staging decision on every call.
:meth:`distgrad.comm.ProcessGroup.prepare_allreduce` resolves all of that
once and returns a :class:`PreparedAllreduce`; :meth:`~PreparedAllreduce.start`
then only numbers the collective and queues it.

A contiguous host buffer of a type MPI reduces natively gets a prebuilt MPI
call.  Any other buffer (a CuPy array, float16 or bool, a non-contiguous
view, a world of one process without MPI) is started through
:meth:`ProcessGroup.allreduce`, so it takes the same GPU transport (NCCL,
CUDA-aware MPI) or host staging as any allreduce, with the same results.

Example::

    >>> import numpy as np, distgrad.comm as dist
    >>> dist.init_process_group()
    >>> bucket = np.arange(4.0)
    >>> prepared = dist.default_group().prepare_allreduce(bucket, dist.ReduceOp.SUM)
    >>> prepared.start(async_op=False).is_completed()
    True
    >>> bucket
    array([0., 1., 2., 3.])
"""
import time

import numpy as np

from distgrad import backend
from distgrad.comm.reduce_op import RedOpType, check_reduction, mpi_datatype, mpi_op, wire_dtype

_SPIN_S = 1e-3    # how long an early rank polls for the others before it sleeps between polls
_SLEEP_S = 5e-5   # the pause between polls after that (Linux adds ~50 us)


def sleep_until_all_arrive(comm):
    """Return once every rank of ``comm`` has called this: a non-blocking barrier, polled with sleeps.

    A blocking MPI collective spins while it waits for a late rank.  When
    ranks share cores, the early rank's communication thread, spinning beside
    its own backward pass, takes CPU from the late rank it waits for.  Ranks
    that arrive together pass within the short polling window and never
    sleep.  Figures: BENCHMARKS.md, "Waiting for late ranks".
    """
    req = comm.Ibarrier()
    spin_until = time.perf_counter() + _SPIN_S
    while time.perf_counter() < spin_until:
        if req.Test():
            return
    while not req.Test():
        time.sleep(_SLEEP_S)


_DTYPES = ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16",
           "float32", "float64", "complex64", "complex128")


def _dtype_code(dtype):
    """A dtype as one int64, so the ranks can compare theirs with one allgather."""
    return int.from_bytes(dtype.str.encode()[:8].ljust(8, b" "), "little", signed=True)


class PreparedAllreduce:
    """An in-place allreduce of the buffer registered with :meth:`ProcessGroup.prepare_allreduce`.

    ``group`` is the ProcessGroup, ``buffer`` the array reduced in place,
    ``op`` the checked reduction, ``name`` the name the collective carries in
    logs, the timeline and timeout messages.  ``comm``, ``MPI`` and
    ``in_place`` are the group's communicator, mpi4py module (None without
    MPI) and in-place marker, handed over by the group.

    Example::

        >>> import numpy as np, distgrad.comm as dist
        >>> dist.init_process_group()
        >>> prepared = dist.default_group().prepare_allreduce(np.ones(3), dist.ReduceOp.AVG)
        >>> work = prepared.start()          # asynchronous: overlap it with other work
        >>> work.wait(), prepared.buffer
        (True, array([1., 1., 1.]))
    """

    __slots__ = ("group", "buffer", "op", "name", "_run", "_finish", "_detail")

    def __init__(self, group, buffer, op, name, sleep_while_waiting, comm, MPI, in_place):
        where = f"{name} (rank {group.ranks[group.rank()]})"
        if not backend.is_array(buffer):
            raise TypeError(f"{where}: prepare_allreduce needs a NumPy or CuPy array, got {type(buffer).__name__}")
        self.group = group
        self.buffer = buffer
        self.op = check_reduction(where, op, buffer.dtype)
        self.name = name
        self._detail = f"{buffer.dtype}, {buffer.size} elements"
        self._run = self._finish = None
        if MPI is None or buffer.__class__ is not np.ndarray or not buffer.flags.c_contiguous:
            return   # start() takes ProcessGroup.allreduce: the GPU transport, or the world of one
        try:
            native = wire_dtype(buffer.dtype, reducing=True) == buffer.dtype
        except TypeError:
            native = False   # no MPI type: allreduce raises its own error at start()
        if not native:
            return   # float16 and bool are staged (reduced in float32 / uint8) by allreduce
        spec = [buffer.reshape(-1), mpi_datatype(MPI, buffer.dtype)]
        mop = mpi_op(MPI, self.op, buffer.dtype)
        if sleep_while_waiting:
            def run(comm=comm, in_place=in_place, spec=spec, mop=mop):
                sleep_until_all_arrive(comm)
                comm.Allreduce(in_place, spec, mop)
        else:
            def run(comm=comm, in_place=in_place, spec=spec, mop=mop):
                comm.Allreduce(in_place, spec, mop)
        self._run = run
        if self.op == RedOpType.AVG:
            def finish(flat=spec[0], size=group.size()):
                flat /= size
            self._finish = finish

    def start(self, async_op=True):
        """Start the allreduce of the registered buffer; returns its :class:`Work`.

        Collective: every rank of the group starts its prepared allreduce in
        the same order as its other collectives.  With ``async_op=False`` the
        Work has already completed.  The buffer holds the result once
        ``wait()`` returns; do not write into it before.
        """
        run = self._run
        if run is None:
            return self.group.allreduce(self.buffer, self.op, async_op=async_op, name=self.name)
        return self.group.issue(self.name, run, self._finish, self._detail, async_op)

    def check_peers(self):
        """Collective: raise ValueError on every rank unless all ranks registered the same size and dtype.

        A prepared allreduce whose buffers differ between ranks would
        exchange mismatched data, or hang; call this once after preparing
        when the sizes come from rank-local state.
        """
        group = self.group
        mine = np.array([int(self.buffer.size), _dtype_code(self.buffer.dtype)], dtype=np.int64)
        everyone = np.zeros(2 * group.size(), dtype=np.int64)
        group.allgather_into(everyone, mine, name=f"{self.name} (size check)")
        pairs = everyone.reshape(-1, 2)
        if (pairs == pairs[0]).all():
            return
        dtypes = {_dtype_code(np.dtype(d)): str(np.dtype(d)) for d in _DTYPES}
        seen = ", ".join(f"rank {group.ranks[r]} has {n} elements of {dtypes.get(int(c), 'another dtype')}"
                         for r, (n, c) in enumerate(pairs))
        raise ValueError(f"{self.name}: the ranks of group {group.name} prepared different buffers ({seen}); "
                         "every rank must register the same number of elements and dtype")

    def __repr__(self):
        return f"<PreparedAllreduce {self.name} on group {self.group.name}: {self._detail}, {self.op.name}>"
