"""The backward engine.

Given root tensors and their gradients, it counts how many edges point at
each node, then runs nodes from a ready stack: a node runs once every
gradient headed for it has arrived and been summed.  No recursion, so a
100,000-op chain is fine.  Saved tensors are released right after their node
has run unless ``retain_graph``.  Leaves accumulate into ``.grad`` and then
fire their post-accumulate hooks, which is where data parallelism starts its
allreduces; callbacks queued during the pass run once it has finished.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    >>> distgrad.autograd.grad((x * x).sum(), x)
    (tensor([2., 4.]),)
"""
import threading

import numpy as _np

from distgrad.autograd import anomaly
from distgrad.autograd import grad_mode
from distgrad.autograd.gradients import ARRAYS, TENSORS, unwrap_tensor
from distgrad.autograd.graph import AccumulateGrad
from distgrad.autograd.tensor import Tensor
from distgrad.autograd.wiring import edge_of
from distgrad.backend import get_array_module

_state = grad_mode.state
_local = threading.local()


def run_backward(roots, grad_roots, retain_graph, create_graph, inputs=None, capture=False):
    """Backpropagate from ``roots`` seeded with ``grad_roots``.

    With ``capture`` the gradients of ``inputs`` are returned instead of being
    accumulated (``autograd.grad``); otherwise leaves accumulate into ``.grad``,
    only those in ``inputs`` when it is given.  Without ``create_graph``
    gradients travel as raw arrays (ops with ``array_backward`` never see a
    Tensor); with it they travel as Tensors so backward itself is recorded.
    """
    run = BackwardPass(TENSORS if create_graph else ARRAYS, retain_graph, capture, inputs)
    ready = run.seed(roots, grad_roots)
    run.restrict_to(inputs)
    arrived, accumulate, apply, send = run.buffers.pop, run.accumulate, run.apply, run.send
    with run.running():
        while ready:
            node = ready.pop()
            grads = arrived(node, None) or [None] * node._num_outputs  # the summed gradients of its outputs
            if type(node) is AccumulateGrad:
                accumulate(node, grads)
            else:  # no local holds the results, so a leaf can keep its gradient without a copy
                send(node, apply(node, grads), ready)
        run.run_callbacks()
    return run.results()


def _passes():
    """This thread's stack of running backward passes (a hook may start another one)."""
    passes = getattr(_local, "passes", None)
    if passes is None:
        passes = _local.passes = []
    return passes


def queue_callback(fn):
    """Run ``fn()`` once the backward pass now running has finished (PyTorch's
    ``Variable._execution_engine.queue_callback``)."""
    passes = _passes()
    if not passes:
        raise RuntimeError("Final callbacks can only be installed during backward pass "
                           "(queue_callback was called outside of one).")
    passes[-1].callbacks.append(fn)


def accumulates_into_leaves():
    """True inside a backward pass that accumulates into every leaf it reaches (``backward()`` without ``inputs``).

    False inside ``autograd.grad`` or ``backward(inputs=...)``: a reentrant
    checkpoint, which can only accumulate, refuses to run there.
    """
    passes = _passes()
    return bool(passes) and passes[-1].whole


def is_backward_running():
    """True inside a backward pass in this thread (in hooks and callbacks)."""
    return bool(_passes())


def _count_dependencies(roots):
    deps = {}
    stack = list(roots)
    seen = set(roots)
    while stack:
        node = stack.pop()
        for nxt, _ in node._next:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return deps


def _needed_nodes(roots, deps, targets):
    """The nodes on some path from a root to a target (the rest need not run)."""
    remaining = dict(deps)
    order = []
    ready = [r for r in roots if remaining.get(r, 0) == 0]
    while ready:
        node = ready.pop()
        order.append(node)
        for nxt, _ in node._next:
            if nxt is None:
                continue
            remaining[nxt] -= 1
            if remaining[nxt] == 0:
                ready.append(nxt)
    # a target's own backward runs only if another target lies beyond it: as in PyTorch, autograd.grad with
    # respect to a non-leaf stops at it and leaves its node (and saved tensors) for a later backward
    needed = set()
    for node in reversed(order):
        if any(n in needed or n in targets for n, _ in node._next if n is not None):
            needed.add(node)
    return needed


class _Running:
    """The extent of one pass: on this thread's stack, grad mode set, NumPy's warnings quiet."""

    def __init__(self, run):
        self.run = run

    def __enter__(self):
        _passes().append(self.run)
        self.run.prev_mode = _state.enabled
        _state.enabled = not self.run.arrays  # backward is recorded exactly when gradients travel as Tensors
        # Backward formulas compute both branches of a where() (log(0), 0 ** -1 ...); the discarded
        # branch must not print warnings, as PyTorch prints none (NaNs that survive are what
        # anomaly detection reports).
        self.errstate = _np.errstate(divide="ignore", invalid="ignore", over="ignore")
        self.errstate.__enter__()

    def __exit__(self, *exc):
        self.errstate.__exit__(None, None, None)
        _state.enabled = self.run.prev_mode
        _passes().pop()


class BackwardPass:
    """The state of one backward pass and the steps the engine loop takes over it.

    ``kind`` (:mod:`distgrad.autograd.gradients`) says how gradients travel,
    raw arrays or Tensors; it is chosen once, here, for the whole pass.
    """

    __slots__ = ("kind", "arrays", "retain_graph", "capture", "whole", "buffers", "deps", "roots", "targets",
                 "needed", "captured", "callbacks", "prev_mode", "check_nan")

    def __init__(self, kind, retain_graph, capture, inputs):
        self.kind = kind
        self.arrays = kind.arrays
        self.retain_graph = retain_graph
        self.capture = capture
        self.whole = inputs is None and not capture  # accumulates into every leaf it reaches
        self.buffers = {}      # node -> the gradients for its outputs that have arrived so far
        self.deps = {}         # node -> edges into it still to run
        self.roots = []
        self.targets = None    # under ``inputs``: node -> [(output_nr, input index, tensor)]
        self.needed = None     # under ``inputs``: the nodes on a path to a target
        self.captured = None   # under ``capture``: one gradient per input
        self.callbacks = []
        self.prev_mode = None  # grad mode before the pass (set when it starts running)
        self.check_nan = anomaly.state.enabled and anomaly.state.check_nan

    # --- before the loop -----------------------------------------------------------------
    def seed(self, roots, grad_roots):
        """Put each root's gradient at its node; return the nodes ready to run."""
        for i, (t, g) in enumerate(zip(roots, grad_roots)):
            if not t._requires_grad:
                raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
            node, nr = edge_of(t)
            if node not in self.buffers:
                self.roots.append(node)
            self._add(node, nr, self.kind.seed(g))
        self.deps = _count_dependencies(self.roots)
        return [n for n in self.roots if self.deps.get(n, 0) == 0]

    def restrict_to(self, inputs):
        """Under ``inputs``: stop where no input lies further on, and gather the inputs' gradients."""
        if inputs is None:
            return
        targets = self.targets = {}
        for k, t in enumerate(inputs):
            if not t._requires_grad:
                raise RuntimeError(f"One of the differentiated Tensors (input {k}) does not require grad")
            node, nr = edge_of(t)
            targets.setdefault(node, []).append((nr, k, t))
        self.needed = _needed_nodes(self.roots, self.deps, targets)
        self.captured = [None] * len(inputs)

    def running(self):
        """The ``with`` block the loop runs in (see :class:`_Running`)."""
        return _Running(self)

    # --- the loop's steps ------------------------------------------------------------------
    def apply(self, node, grads):
        """Run ``node``'s backward: one gradient per next function, or None if nothing past it is needed.

        Tensor hooks, retain_grad and ``inputs`` see the node's gradients first.
        """
        ndict = node.__dict__
        if "_tensor_hooks" in ndict or "_retained" in ndict:
            self._tensor_hooks(node, grads)
        targets = self.targets
        if targets is not None:
            hit = targets.get(node)
            if hit is not None:
                self._deliver(hit, grads)
            if node not in self.needed:
                return None
        for g in grads:
            if g is not None:
                break
        else:
            return [None] * len(node._next)
        if node._pre_hooks or node._post_hooks or self.check_nan:
            outs = self._apply_hooked(node, grads)
        else:
            outs = node._apply_backward(grads, self.arrays)
        if not self.retain_graph:
            node._saved = None
        return outs

    def send(self, node, outs, ready):
        """Hand ``outs`` to the next functions; those whose last gradient this was become ready.

        ``outs`` is None when nothing past ``node`` is needed (see :meth:`apply`).
        """
        if outs is None:
            return
        needed, targets, deps, buffers = self.needed, self.targets, self.deps, self.buffers
        for (nxt, nr), g, shape in zip(node._next, outs, node._in_shapes):
            if nxt is None or (needed is not None and nxt not in needed and nxt not in targets):
                continue
            if g is not None:
                if g.shape != shape:
                    g = _fix_shape(node, g, shape)
                buf = buffers.get(nxt)  # self._add, inlined: this is the engine's innermost loop
                if buf is None:
                    buf = buffers[nxt] = [None] * nxt._num_outputs
                cur = buf[nr]
                buf[nr] = g if cur is None else cur + g
            d = deps[nxt] - 1
            deps[nxt] = d
            if d == 0:
                ready.append(nxt)

    def accumulate(self, node, grads):
        """A leaf's gradient: through its hooks into ``.grad`` (or into the results, under ``capture``)."""
        g = grads[0]
        grads[0] = None  # this frame holds the only reference, so .grad can keep the array
        var = node.variable
        if var._hooks and g is not None:
            g = self._call_hooks(var._hooks, g)
        if self.targets is not None:
            hit = self.targets.get(node)
            if hit is None:
                return
            if self.capture:
                self._deliver(hit, [g])
                return
        if g is None:
            return
        self.kind.accumulate(var, g)
        if var._post_acc_hooks:
            for h in list(var._post_acc_hooks.values()):
                h(var)

    # --- after the loop --------------------------------------------------------------------
    def run_callbacks(self):
        """The callbacks queued during the pass, in order, with grad mode as it was before it."""
        _state.enabled = self.prev_mode
        callbacks = self.callbacks
        while callbacks:
            callbacks.pop(0)()

    def results(self):
        """``autograd.grad``'s gradients (None for ``backward``)."""
        return None if self.captured is None else self.kind.results(self.captured)

    # --- helpers ---------------------------------------------------------------------------
    def _add(self, node, nr, g):
        buf = self.buffers.get(node)
        if buf is None:
            buf = self.buffers[node] = [None] * node._num_outputs
        cur = buf[nr]
        buf[nr] = g if cur is None else cur + g

    def _call_hooks(self, table, g):
        """Run tensor hooks (which see and return Tensors) on one gradient."""
        t = self.kind.wrap(g)
        for h in list(table.values()):
            r = h(t)
            if r is not None:
                _check_hook_result(h, t, r)
                t = r
        return self.kind.unwrap(t)

    def _tensor_hooks(self, node, grads):
        hooks = node.__dict__.get("_tensor_hooks") or {}
        for nr, table in hooks.items():
            if grads[nr] is not None and table:
                grads[nr] = self._call_hooks(table, grads[nr])
        for nr, ref in (node.__dict__.get("_retained") or {}).items():
            t = ref()
            g = grads[nr]
            if t is not None and g is not None:
                self.kind.store(t, g)

    def _deliver(self, hits, grads):
        captured = self.captured
        for nr, k, t in hits:
            g = grads[nr]
            if g is None:
                continue
            if self.capture:
                captured[k] = g if captured[k] is None else captured[k] + g
            else:  # backward(inputs=[non_leaf]) accumulates into that tensor's .grad
                self.kind.store(t, g)

    def _apply_hooked(self, node, grads):
        """``node``'s backward with its pre- and post-hooks, and the NaN check of anomaly mode."""
        wrap, unwrap = self.kind.wrap, self.kind.unwrap
        if node._pre_hooks:
            gs = [wrap(g) for g in grads]
            for h in list(node._pre_hooks.values()):
                r = h(tuple(gs))
                if r is not None:
                    gs = list(r)
            grads = [unwrap(g) for g in gs]
        outs = node._apply_backward(grads, self.arrays)
        if node._post_hooks:
            outs_t = [wrap(g) for g in outs]
            grads_t = [wrap(g) for g in grads]
            for h in list(node._post_hooks.values()):
                r = h(tuple(outs_t), tuple(grads_t))
                if r is not None:
                    outs_t = list(r)
            outs = [unwrap(g) for g in outs_t]
        if self.check_nan:
            for i, g in enumerate(outs):
                data = unwrap_tensor(g)
                if data is not None and data.dtype.kind == "f":
                    if bool(get_array_module(data).isnan(data).any()):
                        raise anomaly.nan_error(node, i)
        return outs


def _check_hook_result(hook, old, new):
    """A hook may replace a gradient only by one of the same kind (PyTorch's check)."""
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(new, Tensor):
        raise TypeError(f"expected Tensor, but hook '{name}' returned '{type(new).__name__}'")
    if new._data.dtype != old._data.dtype or new.device != old.device:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was {old.dtype} on {old.device}, "
                           f"got {new.dtype} on {new.device})")
    if new._data.shape != old._data.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value (was {list(old.shape)}, "
                           f"got {list(new.shape)})")


def _fix_shape(node, g, shape):
    """Sum a gradient of broadcast shape down to its input's shape, or say what is wrong."""
    # deferred: tensor_xp imports tensor, which imports this engine
    from distgrad.autograd.ops.tensor_xp import sum_to
    try:
        return sum_to(g, shape)
    except ValueError:
        raise RuntimeError(
            f"Function {node.name()} returned an invalid gradient - got {list(g.shape)} "
            f"but expected shape compatible with {list(shape)}") from None
