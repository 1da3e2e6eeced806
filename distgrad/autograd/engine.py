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
import sys
import threading

import numpy as _np

from distgrad.autograd import anomaly
from distgrad.autograd import grad_mode
from distgrad.autograd.graph import AccumulateGrad
from distgrad.autograd.tensor import Tensor
from distgrad.backend import get_array_module

_state = grad_mode.state
_local = threading.local()


def queue_callback(fn):
    """Run ``fn()`` once the backward pass now running has finished (PyTorch's
    ``Variable._execution_engine.queue_callback``)."""
    tasks = getattr(_local, "tasks", None)
    if not tasks:
        raise RuntimeError("Final callbacks can only be installed during backward pass "
                           "(queue_callback was called outside of one).")
    tasks[-1].append(fn)


def accumulates_into_leaves():
    """True inside a backward pass that accumulates into every leaf it reaches (``backward()`` without ``inputs``).

    False inside ``autograd.grad`` or ``backward(inputs=...)``: a reentrant
    checkpoint, which can only accumulate, refuses to run there.
    """
    passes = getattr(_local, "whole", None)
    return bool(passes) and passes[-1]


def is_backward_running():
    """True inside a backward pass in this thread (in hooks and callbacks)."""
    return bool(getattr(_local, "tasks", None))


def _edge_of(t):
    return (t.grad_fn if t.grad_fn is not None else t._grad_accumulator()), t._output_nr


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
    return deps, seen


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


def run_backward(roots, grad_roots, retain_graph, create_graph, inputs=None, capture=False):
    """Backpropagate from ``roots`` seeded with ``grad_roots``.

    With ``capture`` the gradients of ``inputs`` are returned instead of being
    accumulated (``autograd.grad``); otherwise leaves accumulate into ``.grad``,
    only those in ``inputs`` when it is given.  Without ``create_graph``
    gradients travel as raw arrays (ops with ``array_backward`` never see a
    Tensor); with it they travel as Tensors so backward itself is recorded.
    """
    arrays = not create_graph
    root_nodes = []
    buffers = {}
    for i, (t, g) in enumerate(zip(roots, grad_roots)):
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        node, nr = _edge_of(t)
        if arrays:
            g = g._data
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node._num_outputs
            root_nodes.append(node)
        buf[nr] = g if buf[nr] is None else buf[nr] + g
    deps, seen = _count_dependencies(root_nodes)

    targets = needed = None
    captured = None
    if inputs is not None:
        targets = {}
        for k, t in enumerate(inputs):
            if not t._requires_grad:
                raise RuntimeError(f"One of the differentiated Tensors (input {k}) does not require grad")
            node, nr = _edge_of(t)
            targets.setdefault(node, []).append((nr, k, t))
        needed = _needed_nodes(root_nodes, deps, targets)
        captured = [None] * len(inputs)

    ready = [n for n in root_nodes if deps.get(n, 0) == 0]
    callbacks = []
    tasks = getattr(_local, "tasks", None)
    if tasks is None:
        tasks = _local.tasks = []
    tasks.append(callbacks)
    whole = getattr(_local, "whole", None)
    if whole is None:
        whole = _local.whole = []
    whole.append(inputs is None and not capture)
    prev_mode = _state.enabled
    _state.enabled = bool(create_graph)
    check_nan = anomaly.state.enabled and anomaly.state.check_nan
    # Backward formulas compute both branches of a where() (log(0), 0 ** -1 ...); the discarded
    # branch must not print warnings, as PyTorch prints none (NaNs that survive are what
    # anomaly detection reports).
    errstate = _np.errstate(divide="ignore", invalid="ignore", over="ignore")
    errstate.__enter__()
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if grads is None:
                grads = [None] * node._num_outputs
            if type(node) is AccumulateGrad:
                g = grads[0]
                del grads
                _leaf(node, g, targets, captured, capture, create_graph, arrays)
                continue
            ndict = node.__dict__
            if "_tensor_hooks" in ndict or "_retained" in ndict:
                _tensor_hooks(node, grads, arrays)
            if targets is not None:
                hit = targets.get(node)
                if hit is not None:
                    _deliver(hit, grads, captured, capture, arrays)
                if node not in needed:
                    continue
            for g in grads:
                if g is not None:
                    if node._pre_hooks or node._post_hooks or check_nan:
                        outs = _run_node(node, grads, check_nan, arrays)
                    else:
                        try:
                            outs = node._apply_backward(grads, arrays)
                        except Exception as exc:
                            if anomaly.state.enabled:
                                anomaly.with_forward_trace(node, exc)
                            raise
                    if not retain_graph:
                        node._saved = None
                    break
            else:
                outs = [None] * len(node._next)
            for (nxt, nr), g, shape in zip(node._next, outs, node._in_shapes):
                if nxt is None or (needed is not None and nxt not in needed and nxt not in targets):
                    continue
                if g is not None:
                    if g.shape != shape:
                        g = _fix_shape(node, g, shape, arrays)
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * nxt._num_outputs
                    cur = buf[nr]
                    buf[nr] = g if cur is None else cur + g
                d = deps[nxt] - 1
                deps[nxt] = d
                if d == 0:
                    ready.append(nxt)
            outs = g = None  # drop references so a leaf can keep its gradient without a copy
        _state.enabled = prev_mode
        while callbacks:
            callbacks.pop(0)()
    finally:
        errstate.__exit__(None, None, None)
        _state.enabled = prev_mode
        tasks.pop()
        whole.pop()
    if captured is not None and arrays:
        captured = [_wrap(g) for g in captured]
    return captured


def _wrap(g):
    return None if g is None else Tensor._make(g)


def _unwrap(g):
    return g._data if isinstance(g, Tensor) else g


def _call_hooks(table, g, arrays):
    """Run tensor hooks (which see and return Tensors) on one gradient."""
    t = _wrap(g) if arrays else g
    for h in list(table.values()):
        r = h(t)
        if r is not None:
            _check_hook_result(h, t, r)
            t = r
    return t._data if arrays else t


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


def _tensor_hooks(node, grads, arrays):
    hooks = node.__dict__.get("_tensor_hooks") or {}
    for nr, table in hooks.items():
        if grads[nr] is not None and table:
            grads[nr] = _call_hooks(table, grads[nr], arrays)
    for nr, ref in (node.__dict__.get("_retained") or {}).items():
        t = ref()
        g = grads[nr]
        if t is not None and g is not None:
            _store_grad(t, g, arrays)


def _store_grad(t, g, arrays):
    """Accumulate ``g`` into the ``.grad`` of a non-leaf (retain_grad, backward(inputs=...))."""
    g = _wrap(g.copy()) if arrays else g.detach().clone()
    t._grad = g if t._grad is None else t._grad + g


def _deliver(hits, grads, captured, capture, arrays):
    for nr, k, t in hits:
        g = grads[nr]
        if g is None:
            continue
        if capture:
            captured[k] = g if captured[k] is None else captured[k] + g
        else:  # backward(inputs=[non_leaf]) accumulates into that tensor's .grad
            _store_grad(t, g, arrays)


def _run_node(node, grads, check_nan, arrays):
    if node._pre_hooks:
        gs = [_wrap(g) for g in grads] if arrays else grads
        for h in list(node._pre_hooks.values()):
            r = h(tuple(gs))
            if r is not None:
                gs = list(r)
        grads = [_unwrap(g) for g in gs] if arrays else gs
    try:
        outs = node._apply_backward(grads, arrays)
    except Exception as exc:
        if anomaly.state.enabled:
            anomaly.with_forward_trace(node, exc)
        raise
    if node._post_hooks:
        outs_t = [_wrap(g) for g in outs] if arrays else list(outs)
        grads_t = [_wrap(g) for g in grads] if arrays else grads
        for h in list(node._post_hooks.values()):
            r = h(tuple(outs_t), tuple(grads_t))
            if r is not None:
                outs_t = list(r)
        outs = [_unwrap(g) for g in outs_t] if arrays else outs_t
    if check_nan:
        for i, g in enumerate(outs):
            data = _unwrap(g)
            if data is not None and data.dtype.kind == "f":
                if bool(get_array_module(data).isnan(data).any()):
                    raise anomaly.nan_error(node, i)
    return outs


def _fix_shape(node, g, shape, arrays):
    """Sum a gradient of broadcast shape down to its input's shape, or say what is wrong."""
    # deferred: tensor_xp imports tensor, which imports this engine
    from distgrad.autograd.ops.tensor_xp import sum_to
    try:
        return sum_to(g, shape)
    except ValueError:
        raise RuntimeError(
            f"Function {node.name()} returned an invalid gradient - got {list(g.shape)} "
            f"but expected shape compatible with {list(shape)}") from None


def _leaf(node, g, targets, captured, capture, create_graph, arrays):
    var = node.variable
    if var._hooks and g is not None:
        g = _call_hooks(var._hooks, g, arrays)
    if targets is not None:
        hit = targets.get(node)
        if hit is None:
            return
        if capture:
            _deliver(hit, [g], captured, True, arrays)
            return
    if g is None:
        return
    if arrays:
        if g.dtype != var._data.dtype:
            g = g.astype(var._data.dtype)
        old = var._grad
        if old is None:
            # keep the array when nothing else can see it, else copy it
            if g.base is None and sys.getrefcount(g) <= 3:
                var._grad = Tensor._make(g)
            else:
                var._grad = Tensor._make(g.copy())
        elif old._requires_grad:
            var._grad = old + Tensor._make(g)
        else:
            old._data += g
    else:
        if g._data.dtype != var._data.dtype:
            g = g.to(var.dtype)
        old = var._grad
        var._grad = g if old is None else old + g
    if var._post_acc_hooks:
        for h in list(var._post_acc_hooks.values()):
            h(var)
