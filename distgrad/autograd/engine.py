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

from distgrad.autograd import anomaly
from distgrad.autograd import function as _function
from distgrad.autograd import grad_mode
from distgrad.autograd.function import AccumulateGrad

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
    needed = set()
    for node in reversed(order):
        if node in targets or any(n in needed for n, _ in node._next if n is not None):
            needed.add(node)
    return needed


def run_backward(roots, grad_roots, retain_graph, create_graph, inputs=None, capture=False):
    """Backpropagate from ``roots`` seeded with ``grad_roots``.

    With ``capture`` the gradients of ``inputs`` are returned instead of being
    accumulated (``autograd.grad``); otherwise leaves accumulate into ``.grad``,
    only those in ``inputs`` when it is given.
    """
    root_nodes = []
    buffers = {}
    for i, (t, g) in enumerate(zip(roots, grad_roots)):
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        node, nr = _edge_of(t)
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
    prev_mode = _state.enabled
    _state.enabled = bool(create_graph)
    check_nan = anomaly.state.enabled and anomaly.state.check_nan
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if grads is None:
                grads = [None] * node._num_outputs
            if type(node) is AccumulateGrad:
                g = grads[0]
                del grads
                _leaf(node, g, targets, captured, capture, create_graph)
                continue
            if node.__dict__.get("_tensor_hooks") or node.__dict__.get("_retained"):
                _tensor_hooks(node, grads)
            if targets is not None:
                hit = targets.get(node)
                if hit is not None:
                    _deliver(hit, grads, captured, capture)
                if node not in needed:
                    continue
            if all(g is None for g in grads):
                outs = [None] * len(node._next)
            else:
                outs = _run_node(node, grads, check_nan)
                if not retain_graph:
                    node._release()
            for (nxt, nr), g, shape in zip(node._next, outs, node._in_shapes):
                if nxt is None or (needed is not None and nxt not in needed):
                    continue
                if g is not None:
                    g = _validate(node, g, shape, nxt, nr)
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * nxt._num_outputs
                    cur = buf[nr]
                    buf[nr] = g if cur is None else cur + g
                d = deps[nxt] - 1
                deps[nxt] = d
                if d == 0:
                    ready.append(nxt)
        _state.enabled = prev_mode
        while callbacks:
            callbacks.pop(0)()
    finally:
        _state.enabled = prev_mode
        tasks.pop()
    return captured


def _tensor_hooks(node, grads):
    hooks = node.__dict__.get("_tensor_hooks") or {}
    for nr, table in hooks.items():
        g = grads[nr]
        if g is None:
            continue
        for h in list(table.values()):
            r = h(g)
            if r is not None:
                g = r
        grads[nr] = g
    for nr, ref in (node.__dict__.get("_retained") or {}).items():
        t = ref()
        g = grads[nr]
        if t is not None and g is not None:
            t._grad = g.detach().clone() if t._grad is None else t._grad + g.detach()


def _deliver(hits, grads, captured, capture):
    for nr, k, t in hits:
        g = grads[nr]
        if g is None:
            continue
        if capture:
            captured[k] = g if captured[k] is None else captured[k] + g
        else:  # backward(inputs=[non_leaf]) accumulates into that tensor's .grad
            t._grad = g.detach().clone() if t._grad is None else t._grad + g.detach()


def _run_node(node, grads, check_nan):
    if node._pre_hooks:
        for h in list(node._pre_hooks.values()):
            r = h(tuple(grads))
            if r is not None:
                grads = list(r)
    try:
        outs = node._apply_backward(grads)
    except Exception as exc:
        if anomaly.state.enabled:
            anomaly.with_forward_trace(node, exc)
        raise
    if node._post_hooks:
        for h in list(node._post_hooks.values()):
            r = h(tuple(outs), tuple(grads))
            if r is not None:
                outs = list(r)
    if check_nan:
        for i, g in enumerate(outs):
            if g is not None and g.dtype.is_floating_point:
                xp = g._xp()
                if bool(xp.isnan(g._data).any()):
                    raise anomaly.nan_error(node, i)
    return outs


def _validate(node, g, shape, nxt, nr):
    if not isinstance(g, _function.Tensor):
        raise TypeError(f"{node.name()}.backward returned {type(g).__name__} for an input; "
                        "expected a Tensor or None")
    data = g._data
    if data.shape != shape:
        from distgrad.autograd.ops.reduce import sum_to
        try:
            g = sum_to(g, shape)
        except ValueError:
            raise RuntimeError(
                f"Function {node.name()} returned an invalid gradient - got {list(data.shape)} "
                f"but expected shape compatible with {list(shape)}") from None
    return g


def _leaf(node, g, targets, captured, capture, create_graph):
    var = node.variable
    if var._hooks and g is not None:
        for h in list(var._hooks.values()):
            r = h(g)
            if r is not None:
                g = r
    if targets is not None:
        hit = targets.get(node)
        if hit is None:
            return
        if capture:
            _deliver(hit, [g], captured, True)
            return
    if g is None:
        return
    if g._data.dtype != var._data.dtype:
        g = g.to(var.dtype)
    old = var._grad
    if old is None:
        if create_graph:
            var._grad = g
        elif sys.getrefcount(g) <= 2 and sys.getrefcount(g._data) <= 2 and g._data.base is None:
            var._grad = g  # nobody else holds this gradient: keep it instead of copying it
        else:
            var._grad = _function.Tensor._make(g._data.copy())
    elif create_graph or old._requires_grad or g._requires_grad:
        var._grad = old + g
    else:
        old._data += g._data
    if var._post_acc_hooks:
        for h in list(var._post_acc_hooks.values()):
            h(var)
