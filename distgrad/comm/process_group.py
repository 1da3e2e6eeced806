"""``ProcessGroup``: a set of ranks and the array-level collectives among them.

This is the layer under the Tensor API: every method takes NumPy (or CuPy)
arrays and knows nothing of Tensor or Module, so DistributedDataParallel can
hand it a flat gradient bucket.  A CuPy array's all-reduce, broadcast,
reduce, all-gather and reduce-scatter go over NCCL or CUDA-aware MPI when
the group has them (:mod:`distgrad.comm.gpu.transport`); everything else is
staged through host memory.  Ranks here (``root``, ``dst``, ``src``) are
ranks *within the group*.  Every method returns a :class:`Work`; with
``async_op=False`` it has already completed (or raised).

Example (a bucketed allreduce started from a hook, waited on later)::

    >>> import numpy as np, distgrad.comm as dist
    >>> dist.init_process_group()
    >>> pg = dist.default_group()
    >>> bucket = np.ones(1 << 20, dtype=np.float32)
    >>> work = pg.allreduce(bucket, dist.ReduceOp.AVG, async_op=True)
    >>> work.wait()
    True
"""
import collections
import threading

import numpy as np

from distgrad.comm import buffers
from distgrad.comm.buffers import Staged, describe, host_input
from distgrad.comm.executor import Op
from distgrad.comm.gpu import transport as gpu_transport
from distgrad.comm.prepared_allreduce import PreparedAllreduce
from distgrad.comm.reduce_op import RedOpType, check_reduction, mpi_datatype, mpi_op
from distgrad.comm.selfcomm import IN_PLACE as _SELF_IN_PLACE, Mailbox
from distgrad.comm.work import Work, completed_work


class ProcessGroup:
    """The ranks ``ranks`` (global ranks, in group-rank order) and their communicator.

    ``comm`` is an mpi4py communicator, or a :class:`SelfComm` in a world of
    one process without MPI (then ``MPI`` and ``executor`` are None and every
    operation runs inline).  ``name`` identifies the group in messages and in
    the watchdog's questions to other ranks; ``timeout`` is in seconds.
    """

    def __init__(self, comm, ranks, global_rank, name, timeout, executor=None, MPI=None):
        self._comm = comm
        self.ranks = list(ranks)
        self._size = len(self.ranks)
        self._global_rank = global_rank
        self._rank = self.ranks.index(global_rank)
        self.name = name
        self.timeout = timeout
        self._executor = executor
        self._MPI = MPI
        self._in_place = MPI.IN_PLACE if MPI is not None else _SELF_IN_PLACE
        self._lock = threading.Lock()
        self._seq = 0
        self._history = collections.deque(maxlen=256)  # (seq, collective name), for the watchdog
        self._mailbox = Mailbox() if MPI is None else None
        self._destroyed = False

    # --- identity -------------------------------------------------------------------------
    def rank(self):
        """This process's rank within the group."""
        return self._rank

    def size(self):
        """How many processes the group has."""
        return self._size

    def group_rank(self, global_rank):
        """The group rank of a global rank (ValueError when it is not a member)."""
        try:
            return self.ranks.index(global_rank)
        except ValueError:
            raise ValueError(f"Global rank {global_rank} is not part of group {self.name}") from None

    def entered(self):
        """How many collectives this process has issued on the group so far."""
        return self._seq

    def collective_at(self, seq):
        """The name of collective number ``seq`` on this group, if still remembered."""
        with self._lock:  # the watchdog thread reads while the caller's thread appends
            history = list(self._history)
        for s, name in history:
            if s == seq:
                return name
        return None

    def __repr__(self):
        return f"<ProcessGroup {self.name} rank={self._rank} size={self._size}>"

    # --- plumbing -----------------------------------------------------------------------------
    def _where(self, name):
        return f"{name} (rank {self._global_rank})"

    def _check_live(self, name):
        if self._destroyed:
            raise RuntimeError(f"{self._where(name)}: process group {self.name} was destroyed")

    def _check_root(self, name, root, what):
        if not isinstance(root, (int, np.integer)) or isinstance(root, bool):
            raise TypeError(f"{self._where(name)}: {what} must be an int rank, got {root!r}")
        if not 0 <= root < self._size:
            raise ValueError(f"{self._where(name)}: {what} {root} is out of range; group {self.name} has "
                             f"ranks 0..{self._size - 1}")

    def _check_count(self, name, what, got, expected):
        if got != expected:
            raise ValueError(f"{self._where(name)}: {what} has {got} elements, expected {expected} "
                             f"(group {self.name} has {self._size} ranks)")

    def _check_list(self, name, what, arrays):
        if len(arrays) != self._size:
            raise ValueError(f"{self._where(name)}: {what} has {len(arrays)} entries, expected one per rank "
                             f"of group {self.name} ({self._size})")

    def _dt(self, wire):
        return mpi_datatype(self._MPI, wire.dtype) if self._MPI is not None else None

    def _op(self, op, np_dtype):
        return mpi_op(self._MPI, op, np_dtype) if self._MPI is not None else None

    def _vspec(self, flat, counts):
        return [flat, (counts, buffers.displacements(counts)), self._dt(flat)]

    def issue(self, name, run, finish=None, detail="", async_op=False, numbered=True):
        """Issue one collective built by the caller: ``run()`` (the call over every member), then ``finish()``.

        This is the single path every collective of the group takes: it is
        numbered (so the watchdog can tell ranks apart that disagree),
        queued in issue order on the communication thread (inline without
        MPI), watched for its timeout and returned as a :class:`Work`,
        already completed unless ``async_op``.  ``detail`` describes the data
        in messages.  The array-level methods below and
        :class:`PreparedAllreduce` build their ``run`` and call this.

        Example::

            >>> import distgrad.comm as dist
            >>> dist.init_process_group()
            >>> dist.default_group().issue("no-op", lambda: None).is_completed()
            True
        """
        if self._destroyed:  # inline: this runs once per bucket per step
            self._check_live(name)
        op = Op(name, self, run=run, finish=finish, detail=detail)
        if numbered:
            with self._lock:
                op.seq = self._seq
                self._seq += 1
                self._history.append((op.seq, name))
        if self._executor is None:
            exc = self._executor_free_run(op)
            op.work._complete(exc)
        else:
            self._executor.submit(op, sync=not async_op)
        if not async_op:
            op.work.wait()
        return op.work

    def run_numbered(self, name, fn):
        """Run ``fn`` (an MPI call over every member) on the comm thread, counted as a collective."""
        return self.issue(name, fn)

    def run_unnumbered(self, name, fn):
        """Run ``fn`` (an MPI call over only some members) on the comm thread, in order."""
        return self.issue(name, fn, numbered=False)

    def _on_gpu(self, method, array, name, *args):
        """``method``'s Work over the group's GPU transport when ``array`` is a device array, else None.

        The one place a collective picks NCCL, CUDA-aware MPI or host
        staging: None (also for reductions NCCL lacks) means "run the host
        path below".  The caller tests ``array.__class__ is not np.ndarray``
        first, so NumPy arrays pay nothing.
        """
        ops = gpu_transport.device_ops(self, array, name)
        return None if ops is None else getattr(ops, method)(*args)

    def prepare_allreduce(self, buffer, op=RedOpType.SUM, name="prepared all_reduce", sleep_while_waiting=False):
        """Register ``buffer`` for repeated in-place allreduces; returns a :class:`PreparedAllreduce`.

        Like MPI's persistent requests (``MPI_Allreduce_init``): the checks,
        the MPI datatype and op, the communicator and the in-place marker are
        resolved here, once, so each ``start()`` only numbers and queues the
        call.  Made for buffers reduced every step, such as DDP's gradient
        buckets.  ``buffer`` keeps its identity: write new values into it
        between starts.  ``sleep_while_waiting`` makes a rank that arrives
        early wait for the others with a sleeping poll instead of MPI's
        spinning (kinder to ranks that share cores).  Local: no
        communication happens until ``start()``.

        Example::

            >>> import numpy as np, distgrad.comm as dist
            >>> dist.init_process_group()
            >>> grads = np.ones(4, dtype=np.float32)
            >>> prepared = dist.default_group().prepare_allreduce(grads, dist.ReduceOp.AVG)
            >>> for step in range(3):
            ...     grads[...] = step
            ...     prepared.start().wait()
            True
            True
            True
            >>> grads
            array([2., 2., 2., 2.], dtype=float32)
        """
        return PreparedAllreduce(self, buffer, op, name, sleep_while_waiting, self._comm, self._MPI, self._in_place)

    @staticmethod
    def _executor_free_run(op):
        try:
            op.run()
            if op.finish is not None:
                op.finish()
        except Exception as e:
            return e
        return None

    # --- collectives --------------------------------------------------------------------------
    def allreduce(self, array, op=RedOpType.SUM, async_op=False, name="all_reduce"):
        """Reduce ``array`` over the group, in place on every rank."""
        if array.__class__ is not np.ndarray:
            work = self._on_gpu("allreduce", array, name, array, op, async_op)
            if work is not None:
                return work
        op = check_reduction(self._where(name), op, array.dtype)
        st = Staged(array, reducing=True)
        mop, size = self._op(op, array.dtype), self._size

        def run():
            self._comm.Allreduce(self._in_place, [st.wire, self._dt(st.wire)], mop)

        def finish():
            if op == RedOpType.AVG:
                st.wire /= size
            st.commit()
        return self.issue(name, run, finish, describe(array), async_op)

    def broadcast(self, array, root, async_op=False, name="broadcast"):
        """Copy group rank ``root``'s ``array`` into every rank's ``array``."""
        if array.__class__ is not np.ndarray:
            work = self._on_gpu("broadcast", array, name, array, root, async_op)
            if work is not None:
                return work
        self._check_root(name, root, "src")
        is_root = self._rank == root
        st = Staged(array, copy_in=is_root)

        def run():
            self._comm.Bcast([st.wire, self._dt(st.wire)], root)
        return self.issue(name, run, None if is_root else st.commit, describe(array), async_op)

    def reduce(self, array, root, op=RedOpType.SUM, async_op=False, name="reduce"):
        """Reduce ``array`` over the group into group rank ``root``'s ``array`` (others unchanged)."""
        if array.__class__ is not np.ndarray:
            work = self._on_gpu("reduce", array, name, array, root, op, async_op)
            if work is not None:
                return work
        self._check_root(name, root, "dst")
        op = check_reduction(self._where(name), op, array.dtype)
        is_root = self._rank == root
        st = Staged(array, reducing=True)
        mop, size = self._op(op, array.dtype), self._size

        def run():
            spec = [st.wire, self._dt(st.wire)]
            if is_root:
                self._comm.Reduce(self._in_place, spec, mop, root)
            else:
                self._comm.Reduce(spec, None, mop, root)

        def finish():
            if is_root:
                if op == RedOpType.AVG:
                    st.wire /= size
                st.commit()
        return self.issue(name, run, finish, describe(array), async_op)

    def allgather_into(self, output, input, async_op=False, name="all_gather_into_tensor"):
        """Gather every rank's ``input`` into ``output`` (``size * input.size`` elements, rank order)."""
        if input.__class__ is not np.ndarray:
            work = self._on_gpu("allgather_into", input, name, output, input, async_op)
            if work is not None:
                return work
        buffers.check_same_dtype(self._where(name), [output, input])
        self._check_count(name, "output", int(output.size), self._size * int(input.size))
        send = host_input(input)
        st = Staged(output, copy_in=False)

        def run():
            self._comm.Allgather([send, self._dt(send)], [st.wire, self._dt(st.wire)])
        return self.issue(name, run, st.commit, describe(input), async_op)

    def allgather(self, outputs, input, async_op=False, name="all_gather"):
        """Gather rank ``i``'s ``input`` into ``outputs[i]`` on every rank (sizes may differ per rank)."""
        self._check_list(name, "the output list", outputs)
        buffers.check_same_dtype(self._where(name), list(outputs) + [input])
        self._check_count(name, f"input (output list entry {self._rank} must match it)",
                          int(input.size), int(outputs[self._rank].size))
        send = host_input(input)
        counts = [int(o.size) for o in outputs]
        flat = np.empty(sum(counts), dtype=send.dtype)

        def run():
            self._comm.Allgatherv([send, self._dt(send)], self._vspec(flat, counts))
        return self.issue(name, run, lambda: buffers.scatter_into(outputs, flat), describe(input), async_op)

    def reduce_scatter_block(self, output, input, op=RedOpType.SUM, async_op=False,
                             name="reduce_scatter_tensor"):
        """Reduce ``input`` (``size`` equal blocks) over the group; rank ``i`` gets block ``i``."""
        if input.__class__ is not np.ndarray:
            work = self._on_gpu("reduce_scatter_block", input, name, output, input, op, async_op)
            if work is not None:
                return work
        buffers.check_same_dtype(self._where(name), [output, input])
        op = check_reduction(self._where(name), op, input.dtype)
        self._check_count(name, "input", int(input.size), self._size * int(output.size))
        send = host_input(input, reducing=True)
        st = Staged(output, reducing=True, copy_in=False)
        mop, size = self._op(op, input.dtype), self._size

        def run():
            self._comm.Reduce_scatter_block([send, self._dt(send)], [st.wire, self._dt(st.wire)], mop)

        def finish():
            if op == RedOpType.AVG:
                st.wire /= size
            st.commit()
        return self.issue(name, run, finish, describe(input), async_op)

    def reduce_scatter(self, output, inputs, op=RedOpType.SUM, async_op=False, name="reduce_scatter"):
        """Reduce the lists ``inputs`` element-wise over the group; rank ``i`` gets ``inputs[i]``'s sum."""
        self._check_list(name, "the input list", inputs)
        buffers.check_same_dtype(self._where(name), [output] + list(inputs))
        op = check_reduction(self._where(name), op, output.dtype)
        self._check_count(name, f"output (input list entry {self._rank} must match it)",
                          int(output.size), int(inputs[self._rank].size))
        send, counts = buffers.concat(inputs, reducing=True)
        st = Staged(output, reducing=True, copy_in=False)
        mop, size = self._op(op, output.dtype), self._size

        def run():
            self._comm.Reduce_scatter([send, self._dt(send)], [st.wire, self._dt(st.wire)], counts, mop)

        def finish():
            if op == RedOpType.AVG:
                st.wire /= size
            st.commit()
        return self.issue(name, run, finish, describe(output), async_op)

    def alltoall(self, outputs, inputs, async_op=False, name="all_to_all"):
        """Send ``inputs[j]`` to rank ``j``; ``outputs[i]`` receives what rank ``i`` sent here."""
        self._check_list(name, "the output list", outputs)
        self._check_list(name, "the input list", inputs)
        buffers.check_same_dtype(self._where(name), list(outputs) + list(inputs))
        send, scounts = buffers.concat(inputs)
        rcounts = [int(o.size) for o in outputs]
        flat = np.empty(sum(rcounts), dtype=send.dtype)
        if self._size == 1:
            self._check_count(name, "output list entry 0", rcounts[0], scounts[0])

        def run():
            self._comm.Alltoallv(self._vspec(send, scounts), self._vspec(flat, rcounts))
        return self.issue(name, run, lambda: buffers.scatter_into(outputs, flat), describe(send), async_op)

    def alltoallv(self, output, input, out_counts, in_counts, async_op=False, name="all_to_all_single"):
        """Send ``in_counts[j]`` consecutive elements of ``input`` to rank ``j``; receive ``out_counts[i]``
        elements from rank ``i`` into consecutive places of ``output``."""
        buffers.check_same_dtype(self._where(name), [output, input])
        self._check_list(name, "the input split sizes", in_counts)
        self._check_list(name, "the output split sizes", out_counts)
        self._check_count(name, "input (the input split sizes add up to a different number)",
                          int(input.size), sum(in_counts))
        self._check_count(name, "output (the output split sizes add up to a different number)",
                          int(output.size), sum(out_counts))
        if self._size == 1:
            self._check_count(name, "output split 0", out_counts[0], in_counts[0])
        send = host_input(input)
        st = Staged(output, copy_in=False)
        scounts, rcounts = [int(c) for c in in_counts], [int(c) for c in out_counts]

        def run():
            self._comm.Alltoallv(self._vspec(send, scounts), self._vspec(st.wire, rcounts))
        return self.issue(name, run, st.commit, describe(input), async_op)

    def gather(self, input, outputs, root, async_op=False, name="gather"):
        """Collect every rank's ``input`` into ``outputs`` (a list per rank) on group rank ``root``."""
        self._check_root(name, root, "dst")
        is_root = self._rank == root
        send = host_input(input)
        if is_root:
            if outputs is None:
                raise ValueError(f"{self._where(name)}: the destination rank needs a gather_list")
            self._check_list(name, "gather_list", outputs)
            buffers.check_same_dtype(self._where(name), list(outputs) + [input])
            self._check_count(name, f"input (gather_list entry {self._rank} must match it)",
                              int(input.size), int(outputs[self._rank].size))
            counts = [int(o.size) for o in outputs]
            flat = np.empty(sum(counts), dtype=send.dtype)
        elif outputs:
            raise ValueError(f"{self._where(name)}: gather_list must be given only on the destination rank")

        def run():
            recv = self._vspec(flat, counts) if is_root else None
            self._comm.Gatherv([send, self._dt(send)], recv, root)
        finish = (lambda: buffers.scatter_into(outputs, flat)) if is_root else None
        return self.issue(name, run, finish, describe(input), async_op)

    def scatter(self, output, inputs, root, async_op=False, name="scatter"):
        """Group rank ``root`` sends ``inputs[i]`` to rank ``i``, which receives it in ``output``."""
        self._check_root(name, root, "src")
        is_root = self._rank == root
        if is_root:
            if inputs is None:
                raise ValueError(f"{self._where(name)}: the source rank needs a scatter_list")
            self._check_list(name, "scatter_list", inputs)
            buffers.check_same_dtype(self._where(name), list(inputs) + [output])
            self._check_count(name, f"output (scatter_list entry {self._rank} must match it)",
                              int(output.size), int(inputs[self._rank].size))
            send, counts = buffers.concat(inputs)
        elif inputs:
            raise ValueError(f"{self._where(name)}: scatter_list must be given only on the source rank")
        st = Staged(output, copy_in=False)

        def run():
            sendspec = self._vspec(send, counts) if is_root else None
            self._comm.Scatterv(sendspec, [st.wire, self._dt(st.wire)], root)
        return self.issue(name, run, st.commit, describe(output), async_op)

    def barrier(self, async_op=False, name="barrier"):
        """Wait until every rank of the group has reached the barrier."""
        return self.issue(name, lambda: self._comm.Barrier(), None, "", async_op)

    # --- point to point -----------------------------------------------------------------------
    def _check_tag(self, name, tag):
        if not isinstance(tag, (int, np.integer)) or isinstance(tag, bool) or tag < 0:
            raise ValueError(f"{self._where(name)}: tag must be a non-negative int, got {tag!r}")
        if self._MPI is not None and tag > self._MPI.COMM_WORLD.Get_attr(self._MPI.TAG_UB):
            raise ValueError(f"{self._where(name)}: tag {tag} exceeds MPI's TAG_UB")

    def send(self, array, dst, tag=0, name="send"):
        """Start sending ``array`` to group rank ``dst``; returns a Work (never blocks)."""
        self._check_live(name)
        self._check_root(name, dst, "dst")
        self._check_tag(name, tag)
        wire = host_input(array)
        if self._executor is None:
            self._mailbox.post_send(int(tag), wire)
            return completed_work(name)
        op = Op(name, self, post=lambda: self._comm.Isend([wire, self._dt(wire)], dst, tag),
                peer=self.ranks[dst], detail=describe(array) + f", tag {tag}")
        return self._executor.submit(op, sync=False)

    def recv(self, array, src=None, tag=0, name="recv"):
        """Start receiving into ``array`` from group rank ``src`` (None: any rank); returns a Work."""
        self._check_live(name)
        if src is not None:
            self._check_root(name, src, "src")
        self._check_tag(name, tag)
        st = Staged(array, copy_in=False)
        if self._executor is None:
            work = _LocalRecvWork(name, src, tag)

            def deliver(data):
                st.wire[...] = data.reshape(-1).view(st.wire.dtype)
                st.commit()
                work._source = 0
                work._complete()
            self._mailbox.post_recv(int(tag), deliver)
            return work
        MPI = self._MPI
        source = MPI.ANY_SOURCE if src is None else src
        op = Op(name, self, post=lambda: self._comm.Irecv([st.wire, self._dt(st.wire)], source, tag),
                finish=st.commit, peer=None if src is None else self.ranks[src],
                detail=describe(array) + f", tag {tag}")
        op.on_source = lambda s: setattr(op.work, "_source", s)
        return self._executor.submit(op, sync=False)


class _LocalRecvWork(Work):
    """A receive from this process itself; waiting for one that no send can ever match is an error."""

    def __init__(self, name, src, tag):
        super().__init__(name)
        self._tag = tag

    def wait(self, timeout=None):
        if not self.is_completed():
            raise RuntimeError(f"{self._name}: no message with tag {self._tag} was sent to this process, and "
                               "in a world of one process nothing else can send it (this would wait forever)")
        return super().wait(timeout)
