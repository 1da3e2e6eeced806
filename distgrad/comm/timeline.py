"""A Chrome-trace timeline of data-parallel training: ``DISTGRAD_TIMELINE=trace.json``.

Set the variable before the script builds its DistributedDataParallel model
and every rank records, in memory, when it ran

* ``forward`` and ``backward`` (from the gradient of the model's output to the
  end of the reducer's work), ``DDP sync`` (waiting for the last allreduces and
  writing the averaged gradients back) and ``broadcast buffers``;
* each gradient bucket's ``allreduce``, from the moment the reducer launched it
  (during backward) to the moment the communication thread completed it;
* every ``optimizer.step()`` (through the optimizers' global step hooks).

At exit (or at an explicit :func:`save`, which is collective) rank 0 gathers
every rank's events and writes one JSON file for ``chrome://tracing`` or
https://ui.perfetto.dev: one process per rank (``pid`` = rank) with a
``compute`` row and a ``communication`` row, so allreduces running under
backward are visible as overlap.  Clocks are aligned by a barrier when
recording starts.  With the variable unset nothing is recorded: the hot
paths test one module attribute (:func:`current` is None).

Example::

    $ DISTGRAD_TIMELINE=trace.json distgrad-launch -n 2 train.py
    >>> from distgrad.comm import timeline                      # doctest: +SKIP
    >>> timeline.start("trace.json"); ...; timeline.save()      # doctest: +SKIP
"""
import atexit
import contextlib
import json
import os
import sys
import threading
import time

from distgrad.comm.objects import gather_object
from distgrad.comm.world import resolve
from distgrad.optim import optimizer as opt

ENV_VAR = "DISTGRAD_TIMELINE"
COMPUTE, COMM = 0, 1
_THREAD_NAMES = {COMPUTE: "compute", COMM: "communication"}

_current = None
_lock = threading.Lock()
_atexit_registered = False


class Timeline:
    """The events one rank recorded: ``(name, tid, start_us, end_us, args)`` tuples.

    Times are microseconds since ``origin`` (a ``perf_counter`` reading taken
    right after a barrier, so all ranks share the zero).
    """

    def __init__(self, path, group):
        self.path = path
        self.group = group
        self.rank = group.ranks[group.rank()]
        self.events = []
        self._opt_starts = {}
        self._handles = []
        group.barrier(name="timeline start")
        self.origin = time.perf_counter()

    def now(self):
        """Microseconds since the (barrier-aligned) origin."""
        return (time.perf_counter() - self.origin) * 1e6

    def add(self, name, tid, start, end, args=None):
        """Record one complete event (``list.append`` is atomic, so any thread may call this)."""
        self.events.append((name, tid, start, end, args))

    @contextlib.contextmanager
    def span(self, name, tid=COMPUTE, args=None):
        """Record the time the ``with`` body takes as event ``name``."""
        t0 = self.now()
        try:
            yield
        finally:
            self.add(name, tid, t0, self.now(), args)

    # --- optimizer steps, through the global step hooks -------------------------------------------
    def _hook_optimizers(self):

        def pre(optimizer, args, kwargs):
            self._opt_starts[id(optimizer)] = self.now()

        def post(optimizer, args, kwargs):
            t0 = self._opt_starts.pop(id(optimizer), None)
            if t0 is not None:
                self.add(f"optimizer step ({type(optimizer).__name__})", COMPUTE, t0, self.now())
        self._handles = [opt.register_optimizer_step_pre_hook(pre), opt.register_optimizer_step_post_hook(post)]

    def _unhook(self):
        for h in self._handles:
            h.remove()
        self._handles = []

    def chrome_events(self):
        """This rank's events (and its row names) as Chrome trace-event dicts."""
        pid = self.rank
        out = [{"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": f"rank {pid}"}},
               {"name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0, "args": {"sort_index": pid}}]
        for tid, label in _THREAD_NAMES.items():
            out.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": label}})
        for name, tid, start, end, args in list(self.events):
            ev = {"name": name, "cat": "comm" if tid == COMM else "compute", "ph": "X", "pid": pid, "tid": tid,
                  "ts": round(start, 3), "dur": round(max(end - start, 0.0), 3)}
            if args:
                ev["args"] = args
            out.append(ev)
        return out


def current():
    """The recording Timeline, or None (the common case: recording is off)."""
    return _current


def start(path=None, group=None):
    """Start recording on every rank of ``group`` (default: the world); collective.

    ``path`` defaults to ``$DISTGRAD_TIMELINE``; with neither this does nothing
    and returns None.  Recording that already runs is kept.
    """
    global _current, _atexit_registered
    path = path or os.environ.get(ENV_VAR)
    if not path:
        return None
    pg = resolve(group, "timeline.start")
    with _lock:
        if _current is not None:
            return _current
        tl = Timeline(path, pg)
        tl._hook_optimizers()
        _current = tl
        if not _atexit_registered:
            _atexit_registered = True
            atexit.register(_save_at_exit)
    return tl


def maybe_start(group):
    """Start recording when ``$DISTGRAD_TIMELINE`` is set (DistributedDataParallel calls this)."""
    if _current is None and os.environ.get(ENV_VAR):
        return start(group=group)
    return _current


def stop():
    """Stop recording and drop the events (without writing them)."""
    global _current
    with _lock:
        tl, _current = _current, None
    if tl is not None:
        tl._unhook()
    return tl


def save(path=None):
    """Write the merged trace (collective over the recording group); returns the path written.

    Every rank must call it.  Rank 0 of the group gathers every rank's events
    and writes ``path`` (default: the path recording started with).  When the
    process group is already destroyed, each rank writes its own
    ``<path>.rank<N>.json`` instead.  Recording continues afterwards.
    """
    tl = _current
    if tl is None:
        raise RuntimeError(f"distgrad.comm.timeline.save: nothing is being recorded; set {ENV_VAR}=trace.json "
                           "before building DistributedDataParallel, or call timeline.start(path)")
    path = path or tl.path
    pg = tl.group
    events = tl.chrome_events()
    if pg.size() == 1:
        _write(path, events)
        return path
    if pg._destroyed:
        own = f"{path}.rank{tl.rank}.json"
        _write(own, events)
        return own
    is_root = pg.rank() == 0
    parts = [None] * pg.size() if is_root else None
    gather_object(events, parts, group=pg, group_dst=0)
    if not is_root:
        return None
    _write(path, [ev for part in parts for ev in part])
    return path


def _write(path, events):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump({"traceEvents": events, "displayTimeUnit": "ms"}, f)
    os.replace(tmp, path)


def _save_at_exit():
    if _current is None:
        return
    try:
        written = save()
        if written:
            print(f"distgrad timeline written to {written}", file=sys.stderr)
    except Exception as e:  # exit must go on; say why there is no trace
        print(f"distgrad timeline: could not write the trace: {e}", file=sys.stderr)
    stop()
