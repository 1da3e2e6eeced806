"""The overlap strategy of DistributedDataParallel: allreduce buckets while backward runs.

One :class:`Reducer` serves one DDP model.  Each parameter gets a
post-accumulate-grad hook; during a backward pass that DDP expects (the
forward ran with grad enabled, outside ``no_sync``):

1. the first hook queues :meth:`Reducer._finalize` to run when backward ends
   (``distgrad.autograd.queue_callback``) and, with
   ``find_unused_parameters``, marks the parameters that the forward graph
   does not reach as ready at once;
2. each hook copies its parameter's ``.grad``, divided by the world size,
   into the parameter's slot of its bucket's flat buffer (no copy when the
   gradient already *is* that slot, with ``gradient_as_bucket_view``);
3. when a bucket's last gradient arrives the bucket's allreduce is issued
   asynchronously on the communication thread
   (:mod:`distgrad.comm.executor`), which runs it while backward computes the
   remaining gradients.  Buckets are issued strictly in index order (a ready
   bucket waits for the ones before it), so every rank issues the same
   collectives in the same order whatever order its gradients arrive in.
   The last bucket (the first layers, whose gradients come last) is issued
   at the end of backward by the thread that then waits for it, which runs
   it inline when the communication thread is idle;
4. at the end of backward :meth:`_finalize` issues the buckets still missing
   (zeros for parameters that got no gradient), waits for all of them and
   writes the averages back into ``param.grad`` (or makes ``.grad`` a view of
   the bucket).

Ranks must agree on errors, never hang: the last bucket carries ``1 + P``
extra elements through its allreduce: how many ranks lacked a gradient for
some parameter, and per parameter how many ranks produced one.  So with no
extra collective every rank learns whether any rank is missing gradients
(then every rank raises the same error, naming the parameters and ranks) and
which parameters no rank used (their ``.grad`` is left untouched, as in
PyTorch).

Example (what DistributedDataParallel does)::

    >>> r = Reducer(params, names, group, cap_bytes=25 << 20)     # doctest: +SKIP
    >>> r.prepare_for_backward(output); loss.backward()           # doctest: +SKIP
"""
import time
import warnings
import weakref

from distgrad import backend
from distgrad.autograd import engine
from distgrad.autograd.raw import array_of, bump_version
from distgrad.autograd.tensor import Tensor
from distgrad.comm import timeline
from distgrad.comm.ddp.bucket import DEFAULT_FIRST_BUCKET_BYTES, Bucket, assign_buckets
from distgrad.comm.ddp.comm_hooks import GradBucket, HookWork
from distgrad.comm.objects import all_gather_object
from distgrad.comm.reduce_op import RedOpType

WHERE = "DistributedDataParallel"


def find_tensors(obj):
    """Every Tensor inside ``obj`` (nested tuples, lists and dict values), in order."""
    out, stack = [], [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, Tensor):
            out.append(o)
        elif isinstance(o, (list, tuple)):
            stack.extend(reversed(o))
        elif isinstance(o, dict):
            stack.extend(reversed(list(o.values())))
    return out


def reachable_leaves(tensors):
    """ids of the leaf tensors that backward from ``tensors`` can reach (iterative graph walk)."""
    found, seen, stack = set(), set(), []
    for t in tensors:
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
        elif t._requires_grad:
            found.add(id(t))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        leaf = getattr(node, "variable", None)   # an AccumulateGrad node: the sink of a leaf's gradient
        if leaf is not None:
            found.add(id(leaf))
            continue
        for nxt, _ in node.next_functions:
            if nxt is not None and id(nxt) not in seen:
                stack.append(nxt)
    return found


def _hook_for(reducer_ref, index):
    def hook(param):
        r = reducer_ref()
        if r is not None:
            r._on_grad(index, param)
    return hook


class Reducer:
    """Buckets the gradients of ``params`` and averages them over ``group`` during backward.

    ``params`` are the parameters that require grad, in registration order,
    ``names`` their qualified names (for error messages).
    """

    def __init__(self, params, names, group, cap_bytes, first_cap_bytes=DEFAULT_FIRST_BUCKET_BYTES,
                 find_unused_parameters=False, gradient_as_bucket_view=False, static_graph=False):
        self.params = list(params)
        self.names = list(names)
        self.group = group
        self.world_size = group.size()
        self.find_unused = bool(find_unused_parameters)
        self.as_view = bool(gradient_as_bucket_view)
        self.static_graph = bool(static_graph)
        n = len(self.params)
        order = list(range(n - 1, -1, -1))
        groups = assign_buckets([self.params[i] for i in order], cap_bytes, first_cap_bytes)
        self.buckets = []
        for k, positions in enumerate(groups):
            idx = [order[p] for p in positions]
            extra = 1 + n if k == len(groups) - 1 else 0
            self.buckets.append(Bucket(k, [self.params[i] for i in idx], idx, extra))
        self._loc = [None] * n
        for b in self.buckets:
            for j, i in enumerate(b.indices):
                self._loc[i] = (b, j)
        self._prepare_allreduces()
        self.comm_hook = None
        self.comm_state = None
        self._scale = self.world_size   # gradients are divided by this on their way into the bucket
        ref = weakref.ref(self)
        self._handles = [p.register_post_accumulate_grad_hook(_hook_for(ref, i)) for i, p in enumerate(self.params)]
        weakref.finalize(self, _remove_handles, self._handles)
        self.last_sync = None         # how the last reduction went (buckets done before backward ended, wait)
        self._static_unused = None    # static_graph: the unused parameters found in the first iteration
        self._warned_unused = False
        self._used_unsynced = [False] * n  # got a gradient in a no_sync backward since the last reduction
        self._reset()
        self.expect = False
        if self.as_view:
            self._adopt_existing_grads()

    # --- per-iteration state ---------------------------------------------------------------------
    def _reset(self):
        n = len(self.params)
        self.expect = False            # a forward prepared a backward that should reduce
        self._in_backward = False      # the first hook of that backward has run
        self._ready = [False] * n
        self._got = [False] * n        # got a real gradient (not a zero stand-in)
        self._seen = [None] * n        # (grad tensor, its version) when copied, for the misuse check
        self._next = 0                 # next bucket to launch
        self._forced = False           # this rank filled in missing gradients with zeros
        self._missing = []             # parameters without a gradient (no find_unused_parameters)
        self._unused = ()              # unreachable from the outputs (find_unused_parameters)
        self._bwd_start = None
        for b in self.buckets:
            b.reset()

    def _adopt_existing_grads(self):
        for i, p in enumerate(self.params):
            if p._grad is not None:
                b, j = self._loc[i]
                b.views[j][...] = array_of(p._grad)
                p._grad = Tensor._make(b.views[j])

    def prepare_for_backward(self, outputs):
        """Called by the forward that precedes a reducing backward, with its output."""
        if self._in_backward or any(self._ready):
            stale = [self.names[i] for i, r in enumerate(self._ready) if not r]
            self._abandon()
            raise RuntimeError(
                f"{WHERE}: Expected to have finished reduction in the prior iteration before starting a new one. "
                "The previous backward pass stopped before DDP finished reducing gradients (an exception in "
                "backward?); the parameters still waiting were: " + ", ".join(stale[:10]) +
                (" ..." if len(stale) > 10 else "") + ". The gradients of that iteration were not averaged.")
        self._reset()
        self.expect = True
        tensors = find_tensors(outputs) if (self.find_unused or self.static_graph or timeline._current) else ()
        if self.find_unused or (self.static_graph and self._static_unused is None):
            reached = reachable_leaves(tensors)
            self._unused = tuple(i for i, p in enumerate(self.params) if id(p) not in reached)
            if self.static_graph:
                self._static_unused = self._unused
            elif not self._unused and not self._warned_unused:
                self._warned_unused = True
                warnings.warn(
                    f"{WHERE}: find_unused_parameters=True was specified in DDP constructor, but did not find any "
                    "unused parameters in the forward pass. This flag results in an extra traversal of the "
                    "autograd graph every iteration, which can adversely affect performance. If your model indeed "
                    "never has any unused parameters in the forward pass, consider turning this flag off.",
                    stacklevel=4)
        elif self.static_graph:
            self._unused = self._static_unused
        if timeline._current is not None:
            for t in tensors:
                if t.grad_fn is not None:
                    t.register_hook(self._mark_backward_start)

    def _mark_backward_start(self, grad):
        tl = timeline._current
        if tl is not None and self._bwd_start is None and self.expect:
            self._bwd_start = tl.now()

    def _abandon(self):
        """Drop a half-finished reduction: let its launched allreduces finish first."""
        for b in self.buckets:
            if b.work is not None:
                try:
                    b.work.wait()
                except Exception:
                    pass
        self._reset()

    # --- the hooks -------------------------------------------------------------------------------
    def _on_grad(self, i, param):
        if not self.expect:
            self._used_unsynced[i] = True   # a no_sync backward: the engine accumulates locally
            return
        if not self._in_backward:
            self._start_backward()
        if self._ready[i]:
            raise RuntimeError(
                f"{WHERE}: Expected to mark a variable ready only once. Parameter '{self.names[i]}' received a "
                "gradient twice in one iteration: it is used in more than one backward pass (retain_graph=True, "
                "or a reentrant checkpoint) or outside the module's forward. Use no_sync() for the extra passes, "
                "or static_graph=True when the same set of parameters is reused the same way every iteration.")
        self._got[i] = True
        self._mark(i, param._grad)

    def _start_backward(self):
        self._in_backward = True
        engine.queue_callback(self._finalize)
        tl = timeline._current
        if tl is not None and self._bwd_start is None:
            self._bwd_start = tl.now()
        for i in self._unused:
            if not self._ready[i]:
                self._mark(i, self.params[i]._grad)

    def _mark(self, i, grad):
        """Put parameter ``i``'s gradient (None: zeros) divided by the world size into its bucket slot."""
        b, j = self._loc[i]
        view = b.views[j]
        if grad is None:
            view.fill(0)
        else:
            g = array_of(grad)
            if g is view:
                if self._scale != 1:
                    view /= self._scale
            elif self._scale == 1:
                view[...] = g
            else:
                backend.get_array_module(view).divide(g, self._scale, out=view)
            self._seen[i] = (grad, grad._version)
        self._ready[i] = True
        b.pending -= 1
        if b.pending == 0:
            self._launch_ready()

    def _launch_ready(self, final=False):
        """Launch the ready buckets in index order.

        The last bucket waits for ``final`` (the end of backward): nothing is
        left to overlap it with, and launched from the thread that waits for
        it, it runs right there when the communication thread is idle,
        without a hand-off each way.
        """
        buckets = self.buckets
        last = len(buckets) - 1
        while self._next <= last and buckets[self._next].pending == 0:
            if self._next == last and not final:
                return
            self._launch(buckets[self._next], sync=self._next == last)
            self._next += 1

    def _launch(self, b, sync=False):
        if b.extra:
            self._fill_meta(b)
        tl = timeline._current
        t0 = tl.now() if tl is not None else 0.0
        if self.comm_hook is not None:
            b.work = HookWork(self.comm_hook(self.comm_state, GradBucket(b, b.index == len(self.buckets) - 1)), b)
        else:
            b.work = b.allreduce.start(async_op=not sync)
        if tl is not None:
            args = {"bucket": b.index, "params": len(b.params), "MB": round(b.nbytes / 2 ** 20, 3)}

            def done(_fut, b=b, t0=t0, args=args):
                tl.add(f"allreduce bucket {b.index}", timeline.COMM, t0, tl.now(), args)
            fut = b.work.get_future()
            if hasattr(fut, "add_done_callback"):
                fut.add_done_callback(done)

    def _prepare_allreduces(self):
        """Register each bucket's flat buffer with the group once, so a launch is one cheap ``start()``.

        The group resolves datatype, op and staging at registration
        (:meth:`ProcessGroup.prepare_allreduce`).  An early rank waits for the
        others sleeping, so that it does not spin a core away from them.
        """
        for b in self.buckets:
            b.allreduce = self.group.prepare_allreduce(b.flat, RedOpType.SUM, name=f"DDP allreduce of bucket {b.index}",
                                                       sleep_while_waiting=True)

    def _fill_meta(self, b):
        """The last bucket's trailing elements: [this rank lacked gradients, per-parameter used flags]."""
        flags = [1.0 if self._forced else 0.0]
        flags += [1.0 if (g or u) else 0.0 for g, u in zip(self._got, self._used_unsynced)]
        b.meta[...] = backend.as_array(flags, b.flat.dtype, backend.device_of(b.flat))

    def register_comm_hook(self, state, hook):
        """Reduce each bucket with ``hook(state, GradBucket)`` (see :mod:`distgrad.comm.ddp.comm_hooks`)."""
        if self.comm_hook is not None:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be called once.")
        if not callable(hook):
            raise TypeError(f"{WHERE}.register_comm_hook: hook must be callable as hook(state, bucket), got "
                            f"{type(hook).__name__}")
        if self._in_backward:
            raise RuntimeError(f"{WHERE}.register_comm_hook: cannot register a hook during backward")
        self.comm_hook, self.comm_state = hook, state
        self._scale = 1

    def reduce_gradients(self):
        """Average every parameter's current ``.grad`` over the group now, as a backward pass would.

        Collective.  For gradients that were not produced by a backward pass
        through the DDP model, and for timing the synchronisation on its own
        (``benchmarks/bench_ddp.py``).  Parameters without a gradient count as
        unused, with the same rules (and error) as in backward.
        """
        if self._in_backward:
            raise RuntimeError(f"{WHERE}: reduce_gradients() cannot run inside a backward pass that DDP reduces")
        self._reset()
        self.expect = True
        self._in_backward = True
        for i in range(len(self.params) - 1, -1, -1):
            grad = self.params[i]._grad
            if grad is not None:
                self._got[i] = True
                self._mark(i, grad)
        self._finalize()

    # --- the end of backward -------------------------------------------------------------------
    def _finalize(self):
        tl = timeline._current
        t_end = tl.now() if tl is not None else 0.0
        bwd_start = self._bwd_start
        try:
            for i in range(len(self.params)):
                if not self._ready[i]:
                    if not (self.find_unused or self.static_graph):
                        self._missing.append(i)
                        self._forced = True
                    self._mark(i, self.params[i]._grad)
            # how much communication backward hid: buckets already reduced, and the wait for the rest
            done = sum(1 for b in self.buckets[:-1] if b.work.is_completed())
            t0 = time.perf_counter()
            self._launch_ready(final=True)
            for b in self.buckets:
                b.work.wait()
            self.last_sync = {"buckets": len(self.buckets), "done_before_backward_end": done,
                              "launched_during_backward": len(self.buckets) - 1, "wait_s": time.perf_counter() - t0}
        except BaseException:
            self._abandon()
            raise
        if self.comm_hook is not None:   # the hook reduced the gradients only: the bookkeeping too
            self.group.allreduce(self.buckets[-1].meta, RedOpType.SUM, name="DDP bookkeeping allreduce")
        meta = backend.to_device(self.buckets[-1].meta, backend.CPU)
        lacking = int(round(float(meta[0])))
        used = [int(round(float(v))) for v in meta[1:]]
        try:
            if lacking:
                self._raise_missing(lacking)
            self._check_untouched()
            self._write_back(used)
        finally:
            self._used_unsynced = [False] * len(self.params)
            self._reset()
        if tl is not None:
            tl.add("backward", timeline.COMPUTE, t_end if bwd_start is None else bwd_start, t_end)
            tl.add("DDP sync (wait + write back)", timeline.COMPUTE, t_end, tl.now())

    def _raise_missing(self, lacking):
        mine = [self.names[i] for i in self._missing]
        everyone = [None] * self.world_size
        all_gather_object(everyone, mine, group=self.group)
        lines = [f"  rank {self.group.ranks[r]}: {', '.join(names)}" for r, names in enumerate(everyone) if names]
        raise RuntimeError(
            f"{WHERE}: Expected every parameter to receive a gradient in this backward pass, but {lacking} rank(s) "
            "had parameters that were not used in producing loss:\n" + "\n".join(lines) + "\n"
            "Pass find_unused_parameters=True to DistributedDataParallel to reduce such parameters as zeros, or "
            "make sure every parameter takes part in the loss on every rank (and that all forward outputs are "
            "used). The gradients of this step were not averaged.")

    def _check_untouched(self):
        for i, seen in enumerate(self._seen):
            if seen is None:
                continue
            grad, version = seen
            p = self.params[i]
            if p._grad is not grad or grad._version != version:
                raise RuntimeError(
                    f"{WHERE}: the gradient of parameter '{self.names[i]}' was modified or replaced after DDP's "
                    "gradient hook took it and before the reduction finished (another hook or an in-place "
                    "operation on .grad during backward); the averaged gradient would overwrite that change. "
                    "Modify gradients after backward() returns.")

    def _write_back(self, used):
        for b in self.buckets:
            for j, i in enumerate(b.indices):
                if used[i] == 0:
                    continue   # no rank used it: leave .grad as it was (PyTorch keeps it None)
                p = self.params[i]
                view = b.views[j]
                g = p._grad
                if self.as_view:
                    if g is None or array_of(g) is not view:
                        p._grad = Tensor._make(view)
                    else:
                        bump_version(g)
                elif g is None or g._requires_grad:
                    p._grad = Tensor._make(view.copy())
                else:
                    array_of(g)[...] = view
                    bump_version(g)


def _remove_handles(handles):
    for h in handles:
        h.remove()
