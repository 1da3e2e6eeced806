"""The communication thread: runs every MPI operation of this process, in order.

Why a thread: MPI's non-blocking collectives do not progress on their own
(an ``MPI_Iallreduce`` left alone during 50 ms of compute still costs the
whole allreduce at ``Wait``; see BENCHMARKS.md, "Communication progress").
So collectives run as *blocking* MPI calls on this thread (mpi4py releases
the GIL inside them), fed through a queue in issue order, and an
``async_op=True`` collective started from a gradient hook overlaps the rest
of backward.  Point-to-point operations are posted as ``Isend``/``Irecv`` and
polled with ``Test``, so an ``irecv`` waiting for its sender never blocks a
later ``isend``.  A synchronous collective issued while nothing is pending
runs on the caller's thread, saving the hand-off.  Every operation stays in
a pending table until it completes; the watchdog reads it.

Example::

    >>> ex = Executor(MPI)                                 # doctest: +SKIP
    >>> work = ex.submit(Op("all_reduce", group, run=lambda: ...), sync=False)  # doctest: +SKIP
    >>> work.wait()                                        # doctest: +SKIP
    True
"""
import collections
import threading
import time

from distgrad.comm.work import COMM_THREADS, Work

_MIN_SLEEP = 2e-5   # first pause between Test polls of point-to-point requests
_MAX_SLEEP = 1e-3   # cap: an idle poll costs little, a late completion costs at most this
_STOP = object()


class Op:
    """One communication operation, as the executor and the watchdog see it.

    A collective has ``run`` (the blocking MPI call); a point-to-point
    operation has ``post`` (returns the MPI request).  ``finish`` runs after
    either completes (write staged buffers back, divide for AVG).
    ``group`` is the ProcessGroup, ``seq`` the collective's number on it
    (None for point-to-point), ``peer`` the other rank of a point-to-point
    operation, ``detail`` a short description of the data.
    """

    __slots__ = ("name", "group", "seq", "detail", "run", "post", "finish", "work", "t0",
                 "timeout", "req", "peer", "on_source")

    def __init__(self, name, group, run=None, post=None, finish=None, detail="", peer=None,
                 result=None, on_source=None):
        self.name = name
        self.group = group
        self.seq = None
        self.detail = detail
        self.run = run
        self.post = post
        self.finish = finish
        self.peer = peer
        self.on_source = on_source
        self.work = Work(name, result)
        self.t0 = 0.0
        self.timeout = group.timeout if group is not None else float("inf")
        self.req = None

    def describe(self):
        """E.g. ``all_reduce #3 on group world (float32, 1024 elements)``."""
        what = self.name if self.seq is None else f"{self.name} #{self.seq}"
        where = f" on group {self.group.name}" if self.group is not None else ""
        peer = f" with rank {self.peer}" if self.peer is not None else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{what}{where}{peer}{detail}"


class Executor:
    """Runs :class:`Op` objects on one communication thread, in submission order."""

    def __init__(self, MPI):
        self._MPI = MPI
        self._cv = threading.Condition()
        self._queue = collections.deque()
        self._pending = {}            # id(op) -> op, in submission order
        self._exec_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="distgrad-comm", daemon=True)
        self._thread.start()

    # --- submitting -----------------------------------------------------------------------
    def submit(self, op, sync):
        """Queue ``op`` (or run it right here when it is synchronous and nothing is pending)."""
        op.t0 = time.monotonic()
        with self._cv:
            self._pending[id(op)] = op
            inline = sync and op.post is None and len(self._pending) == 1 and not self._queue
            if inline:
                # Nothing runs now (an op stays pending until it finished and the comm
                # thread releases this lock before that), so this never blocks.
                self._exec_lock.acquire()
            else:
                self._queue.append(op)
                self._cv.notify_all()
        if inline:
            try:
                exc = self._run(op)
            finally:
                self._exec_lock.release()
            self._done(op, exc)
        return op.work

    def pending(self):
        """The operations issued and not completed yet, oldest first."""
        with self._cv:
            return list(self._pending.values())

    def drain(self):
        """Block until every operation issued so far has completed."""
        with self._cv:
            while self._pending:
                self._cv.wait(0.05)

    def stop(self, timeout=5.0):
        """Finish the thread (after the queue empties)."""
        with self._cv:
            self._queue.append(_STOP)
            self._cv.notify_all()
        self._thread.join(timeout)

    # --- the thread -------------------------------------------------------------------------
    def _loop(self):
        COMM_THREADS.add(threading.get_ident())
        active = []
        sleep = _MIN_SLEEP
        while True:
            with self._cv:
                while not self._queue:
                    if active:
                        self._cv.wait(sleep)
                        break
                    self._cv.wait()
                batch = list(self._queue)
                self._queue.clear()
            for op in batch:
                if op is _STOP:
                    while active:  # let posted sends/receives finish before leaving
                        self._poll(active)
                        time.sleep(_MAX_SLEEP)
                    return
                if op.post is not None:
                    try:
                        op.req = op.post()
                    except BaseException as e:
                        self._done(op, e)
                        continue
                    active.append(op)
                else:
                    with self._exec_lock:
                        exc = self._run(op)
                    self._done(op, exc)
            if active:
                progressed = self._poll(active)
                sleep = _MIN_SLEEP if (batch or progressed) else min(sleep * 2, _MAX_SLEEP)

    def _poll(self, active):
        """Test every posted point-to-point request once; complete the finished ones."""
        MPI = self._MPI
        progressed = False
        for op in list(active):
            status = MPI.Status()
            try:
                done = op.req.Test(status)
            except BaseException as e:
                active.remove(op)
                self._done(op, e)
                continue
            if not done:
                continue
            progressed = True
            active.remove(op)
            if op.on_source is not None:
                op.on_source(status.Get_source())
            exc = None
            if op.finish is not None:
                try:
                    op.finish()
                except BaseException as e:
                    exc = e
            self._done(op, exc)
        return progressed

    @staticmethod
    def _run(op):
        try:
            op.run()
            if op.finish is not None:
                op.finish()
        except BaseException as e:  # handed to whoever waits on the Work
            return e
        return None

    def _done(self, op, exc):
        with self._cv:
            self._pending.pop(id(op), None)
            self._cv.notify_all()
        op.work._complete(exc)
