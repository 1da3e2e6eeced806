"""Never hang: fail fast on errors, time out stuck collectives, and say who is missing.

Three mechanisms, active once ``init_process_group`` ran under MPI with more
than one rank:

* **Fail fast.**  An uncaught exception on any rank (main thread or another
  thread) prints its traceback once, every line prefixed with the rank
  (``[rank 1] Traceback ...``), flushes stdout and stderr, then calls
  ``MPI_Abort`` so every rank stops and ``mpiexec`` exits non-zero within
  seconds instead of the other ranks waiting forever in their next collective.
* **Timeouts.**  A watchdog thread looks every 0.1 s at the operations this
  rank has issued and not completed (:meth:`Executor.pending`).  One that is
  older than its group's timeout (``init_process_group(timeout=...)``, else the
  ``DISTGRAD_TIMEOUT`` environment variable in seconds, else 300) is reported
  and the job aborted.
* **Who has not arrived.**  Before aborting, the timed-out rank asks every
  other rank of the group, over a private duplicate of ``COMM_WORLD``, how many
  collectives it has issued on that group and what it is doing; every rank's
  watchdog thread answers those questions (even while its main thread
  computes or sits in another collective).  The report names the ranks that
  never reached the collective, ranks that issued a different collective at
  that position, and ranks that did not answer.

At interpreter exit each rank waits (answering questions) on a non-blocking
barrier until every rank has finished its script, then stops the
communication threads before mpi4py finalises MPI; so a rank that skipped a
collective and ran to the end is reported as "finished its script" by the
rank that waits for it.

Example::

    $ DISTGRAD_TIMEOUT=3 distgrad-launch -n 2 train.py
    [rank 0] distgrad.comm: all_reduce #1 on group world (float32, shape [4]) did not complete within 3 s ...
    [rank 0]   ranks that have not arrived at this all_reduce: [1]
    [rank 0]   rank 1: finished its script and is waiting at exit for the other ranks
"""
import datetime
import os
import sys
import threading
import time
import traceback

TIMEOUT_VAR = "DISTGRAD_TIMEOUT"
DEFAULT_TIMEOUT = 300.0
_QUERY, _REPLY = 7001, 7002
_POLL = 0.1           # seconds between watchdog checks
_ANSWER_WINDOW = 2.0  # how long a timed-out rank waits for the others' answers

_print_lock = threading.Lock()
_printed = False


def resolve_timeout(value, where):
    """Seconds from a ``timedelta``, a number, or (None) ``$DISTGRAD_TIMEOUT`` / 300."""
    if value is None:
        text = os.environ.get(TIMEOUT_VAR)
        if text is None or text.strip() == "":
            return DEFAULT_TIMEOUT
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{where}: {TIMEOUT_VAR}={text!r} is not a number of seconds") from None
    elif isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        value = float(value)
    else:
        raise TypeError(f"{where}: timeout must be a datetime.timedelta or a number of seconds, got {value!r}")
    if not value > 0:
        raise ValueError(f"{where}: timeout must be positive, got {value} s")
    return value


def emit(rank, text):
    """Write ``text`` to stderr with every line prefixed by ``[rank N] `` and flush it."""
    lines = text.rstrip("\n").split("\n")
    out = "".join(f"[rank {rank}] {line}\n" for line in lines)
    try:
        sys.stdout.flush()
    except Exception:
        pass
    sys.stderr.write(out)
    sys.stderr.flush()


def abort(MPI, code=1):
    """Stop the whole job now: MPI_Abort, falling back to killing this process."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    try:
        MPI.COMM_WORLD.Abort(code)
    finally:
        os._exit(code)


def _report_once(rank, text):
    """Print the first fatal report of this process; later ones (other threads) stay silent."""
    global _printed
    with _print_lock:
        if _printed:
            return
        _printed = True
        emit(rank, text)


def install_failfast(MPI, rank):
    """Make an uncaught exception on this rank print a rank-prefixed traceback and abort the job."""
    prev_hook = sys.excepthook

    def excepthook(exc_type, exc, tb):
        if issubclass(exc_type, SystemExit):  # never reaches here in CPython; be safe anyway
            return prev_hook(exc_type, exc, tb)
        _report_once(rank, "".join(traceback.format_exception(exc_type, exc, tb)))
        abort(MPI)

    def thread_excepthook(args):
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        _report_once(rank, f"Exception in thread {name}:\n{text}")
        abort(MPI)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


def wait_for_everyone(MPI, seconds, what):
    """Barrier over COMM_WORLD that aborts the job after ``seconds`` instead of hanging.

    Guards the blocking communicator set-up of ``init_process_group``, which
    runs before (or without) the watchdog thread.
    """
    world = MPI.COMM_WORLD
    req = world.Ibarrier()
    deadline = time.monotonic() + seconds
    pause = 1e-4
    while not req.Test():
        if time.monotonic() > deadline:
            _report_once(world.Get_rank(), f"distgrad.comm: {what} waited {seconds:g} s for the other ranks, "
                         "which did not all call it (set by init_process_group(timeout=...) or "
                         f"{TIMEOUT_VAR}).\n  aborting the whole job (MPI_Abort) so that no rank hangs")
            abort(MPI)
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


class Watchdog:
    """The per-process thread that times out stuck operations and answers other ranks' questions.

    ``executor`` gives the pending operations; ``lookup(name)`` finds this
    process's ProcessGroup by name (None if it is not a member).
    """

    def __init__(self, MPI, ctrl, executor, lookup):
        self._MPI = MPI
        self._ctrl = ctrl
        self._rank = ctrl.Get_rank()
        self._executor = executor
        self._lookup = lookup
        self._exiting = False
        self._stop = threading.Event()
        self._outgoing = []
        self._thread = threading.Thread(target=self._loop, name="distgrad-watchdog", daemon=True)
        self._thread.start()

    # --- the thread ----------------------------------------------------------------------------
    def _loop(self):
        while not self._stop.wait(_POLL):
            self._serve()
            now = time.monotonic()
            for op in self._executor.pending():
                if now - op.t0 > op.timeout:
                    self._timed_out(op, now - op.t0)
                    return

    def _serve(self):
        """Answer every question waiting for this rank; drop finished answer sends."""
        MPI, ctrl = self._MPI, self._ctrl
        status = MPI.Status()
        while ctrl.Iprobe(MPI.ANY_SOURCE, _QUERY, status):
            src = status.Get_source()
            question = ctrl.recv(source=src, tag=_QUERY)
            self._outgoing.append(ctrl.isend(self._answer(question), dest=src, tag=_REPLY))
        self._outgoing = [r for r in self._outgoing if not r.Test()]

    def _answer(self, question):
        group_name, seq = question
        reply = {"doing": self._doing()}
        group = self._lookup(group_name)
        if group is not None:
            reply["entered"] = group.entered()
            reply["op"] = group.collective_at(seq) if seq is not None else None
        return reply

    def _doing(self):
        if self._exiting:
            return "finished its script and is waiting at exit for the other ranks"
        pending = self._executor.pending()
        if pending:
            op = pending[0]
            return f"is waiting in {op.describe()} (for {time.monotonic() - op.t0:.1f} s)"
        return "is running its own code, not inside any distgrad communication"

    # --- a timeout -----------------------------------------------------------------------------
    def _ask(self, ranks, group_name, seq):
        """Send the question to ``ranks`` and collect answers for up to a couple of seconds."""
        MPI, ctrl = self._MPI, self._ctrl
        for r in ranks:
            self._outgoing.append(ctrl.isend((group_name, seq), dest=r, tag=_QUERY))
        answers = {}
        deadline = time.monotonic() + _ANSWER_WINDOW
        status = MPI.Status()
        while len(answers) < len(ranks) and time.monotonic() < deadline:
            self._serve()  # another rank may be timing out and asking us at the same time
            if ctrl.Iprobe(MPI.ANY_SOURCE, _REPLY, status):
                src = status.Get_source()
                answers[src] = ctrl.recv(source=src, tag=_REPLY)
            else:
                time.sleep(0.005)
        return answers

    def _timed_out(self, op, age):
        group = op.group
        lines = [f"distgrad.comm: {op.describe()} did not complete within {op.timeout:g} s "
                 f"(waited {age:.1f} s; set by init_process_group(timeout=...) or {TIMEOUT_VAR})."]
        if op.seq is not None:
            others = [r for r in group.ranks if r != self._rank]
        elif op.peer is not None:
            others = [op.peer]
        else:
            others = [r for r in group.ranks if r != self._rank]
        answers = self._ask(others, group.name, op.seq)
        if op.seq is not None:
            missing = [r for r in others if r in answers and answers[r].get("entered", 0) <= op.seq]
            lines.append(f"  ranks that have not arrived at this {op.name}: {missing}")
            for r in missing:
                lines.append(f"  rank {r}: {answers[r]['doing']}")
            for r in others:
                a = answers.get(r)
                if a is not None and r not in missing and a.get("op") not in (None, op.name):
                    lines.append(f"  rank {r} issued {a['op']} as collective #{op.seq} on group {group.name}: "
                                 "the ranks called different collectives in different orders")
        else:
            for r in others:
                if r in answers:
                    lines.append(f"  rank {r}: {answers[r]['doing']}")
        silent = [r for r in others if r not in answers]
        if silent:
            lines.append(f"  ranks that did not answer within {_ANSWER_WINDOW:g} s (dead, or stuck outside "
                         f"Python): {silent}")
        lines.append("  aborting the whole job (MPI_Abort) so that no rank hangs")
        _report_once(self._rank, "\n".join(lines))
        abort(self._MPI)

    # --- exit ---------------------------------------------------------------------------------
    def shutdown(self):
        """At exit: wait for every rank to finish its script (still answering), then stop the threads."""
        if self._MPI.Is_finalized():  # the script finalised MPI itself
            return
        self._exiting = True
        req = self._ctrl.Ibarrier()
        while not req.Test():
            time.sleep(0.02)
        self._stop.set()
        self._thread.join(5.0)
        for r in self._outgoing:
            r.Wait()
        self._outgoing = []
