"""``torch.utils.checkpoint``: trade compute for memory by recomputing a segment's forward during backward.

``checkpoint(fn, *args, use_reentrant=...)`` runs ``fn`` without recording a
graph, so none of its intermediate results stay alive, and records one node
whose backward runs ``fn`` again with grad enabled and backpropagates through
that fresh graph.  The gradients are those of ``fn`` itself; with
``preserve_rng_state`` (default) the recomputation replays the random numbers
of the first run, so dropout masks match.

``use_reentrant=True`` (PyTorch's old default, taken with a warning when the
argument is omitted, as PyTorch 2.13 does): the backward is a nested
``backward()`` that accumulates into every leaf ``fn`` used, so it works only
under ``backward()`` (``autograd.grad`` raises), gradients flow only if some
input requires grad, and keyword arguments are refused.

``use_reentrant=False`` (recommended): the node's inputs are every tensor that
requires grad and that ``fn``'s ops used, found while it runs (its arguments,
tensors nested in them, parameters and tensors it closes over;
:mod:`distgrad.autograd.recording`), so ``autograd.grad`` works, parameters
get gradients when no input requires grad, and ``fn`` may take keyword
arguments.  PyTorch implements this variant with saved-tensor hooks and so
keeps ``fn``'s own ops in the graph; here the graph holds one
``CheckpointBackward`` node instead, with the same gradients.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    >>> y = checkpoint(lambda t: (t.sin() * t).sum(), x, use_reentrant=False)
    >>> y.backward(); bool(distgrad.allclose(x.grad, x.sin() + x * x.cos()))
    True
"""
import contextlib
import warnings

from distgrad import random as _random
from distgrad.autograd import api, engine
from distgrad.autograd.function import Function
from distgrad.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from distgrad.autograd.recording import recording
from distgrad.autograd.tensor import Tensor


class CheckpointError(RuntimeError):
    """The recomputed forward differs from the first one (shapes or dtypes of its outputs)."""


def noop_context_fn():
    """The default ``context_fn``: no context around the forward or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


class _Replay:
    """The default generator's state at the first run, replayed around the recomputation."""

    def __init__(self, preserve):
        self.state = _random.get_rng_state() if preserve else None

    @contextlib.contextmanager
    def __call__(self):
        if self.state is None:
            yield
            return
        now = _random.get_rng_state()
        _random.set_rng_state(self.state)
        try:
            yield
        finally:
            _random.set_rng_state(now)


def _signature(outputs):
    return [(tuple(o.shape), o.dtype) if isinstance(o, Tensor) else None for o in outputs]


def _check_same(first, again, determinism_check):
    if determinism_check == "default" and _signature(first) != _signature(again):
        raise CheckpointError("torch.utils.checkpoint: Recomputed values for the following tensors have different "
                              f"metadata than during the forward pass: {_signature(first)} then {_signature(again)}")


class CheckpointFunction(Function):
    """The node of a checkpointed segment: forward already ran; backward recomputes and backpropagates."""

    node_name = "CheckpointFunctionBackward"

    @staticmethod
    def forward(ctx, plan, *tensors):
        ctx.plan = plan
        ctx.save_for_backward(*tensors)
        return plan.outputs

    @staticmethod
    def backward(ctx, *grads):
        plan, tensors = ctx.plan, ctx.saved_tensors
        return (None,) + plan.backward(tensors, grads)


class _Plan:
    """One checkpointed call: how to run it again, and how its gradients come back."""

    def __init__(self, fn, args, kwargs, reentrant, replay, recompute_context, determinism_check):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.reentrant, self.replay = reentrant, replay
        self.recompute_context, self.determinism_check = recompute_context, determinism_check
        self.outputs = None

    def _rerun(self, args):
        with self.replay(), enable_grad(), self.recompute_context:
            out = self.fn(*args, **self.kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        _check_same(self.outputs, outs, self.determinism_check)
        return outs

    def backward(self, tensors, grads):
        if self.reentrant:
            return self._reentrant_backward(tensors, grads)
        outs = self._rerun(self.args)
        pairs = [(o, g) for o, g in zip(outs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if not pairs:
            return (None,) * len(tensors)
        return tuple(api.grad([o for o, _ in pairs], list(tensors), [g for _, g in pairs], allow_unused=True,
                              create_graph=is_grad_enabled()))  # differentiable under an outer create_graph

    def _reentrant_backward(self, tensors, grads):
        if not engine.accumulates_into_leaves():
            raise RuntimeError("When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or "
                               "passing an `inputs` parameter to .backward(). To resolve this error, you can either "
                               "set use_reentrant=False, or call .backward() without passing the `inputs` argument.")
        fresh, it = [], iter(tensors)
        args = []
        for a in self.args:
            if isinstance(a, Tensor):
                d = next(it).detach().requires_grad_(a.requires_grad)
                fresh.append(d)
                args.append(d)
            else:
                args.append(a)
        outs = self._rerun(args)
        pairs = [(o, g) for o, g in zip(outs, grads) if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        api.backward([o for o, _ in pairs], [g for _, g in pairs])
        return tuple(d.grad for d in fresh)


def _used_tensors(fn, args, kwargs, context):
    """Run ``fn`` without a graph; its outputs, and every tensor requiring grad that its ops read (in order)."""
    used = {}

    def note(op, op_args, outs):
        for a in op_args:
            if isinstance(a, Tensor) and a.requires_grad:
                used.setdefault(id(a), a)
    with recording(note), no_grad(), context:
        out = fn(*args, **kwargs)
    return out, list(used.values())


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn, determinism_check="default",
               debug=False, early_stop=True, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)``, recomputed during backward instead of keeping its activations.

    See the module docstring for the two variants.  ``context_fn`` returns the
    context managers for the first run and for the recomputation
    (``use_reentrant=False`` only); ``determinism_check="none"`` skips comparing
    the recomputed outputs' shapes and dtypes with the first run's.
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
                      "use_reentrant=False is recommended; omitting it keeps the old default, use_reentrant=True.",
                      stacklevel=2)
        use_reentrant = True
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got {determinism_check}")
    if debug:
        raise NotImplementedError("torch.utils.checkpoint: debug=True (operator traces on a determinism "
                                  "error) is not provided by distgrad")
    if use_reentrant:
        if context_fn is not noop_context_fn or debug:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        first, again = noop_context_fn()
    else:
        first, again = context_fn()
    plan = _Plan(function, args, kwargs, use_reentrant, _Replay(preserve_rng_state), again, determinism_check)
    if use_reentrant:
        with no_grad():
            out = function(*args)
        tensors = [a for a in args if isinstance(a, Tensor)]
        if not any(t.requires_grad for t in tensors):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)
    else:
        out, tensors = _used_tensors(function, args, kwargs, first)
    single = not isinstance(out, tuple)
    plan.outputs = (out,) if single else out
    result = CheckpointFunction.apply(plan, *tensors)
    result = result if isinstance(result, tuple) else (result,)
    return result[0] if single else tuple(result)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a Sequential or a list of callables) in ``segments`` chunks, checkpointing all but the last.

    Example::

        >>> import distgrad
        >>> net = distgrad.nn.Sequential(*[distgrad.nn.Linear(4, 4) for _ in range(4)])
        >>> out = checkpoint_sequential(net, 2, distgrad.randn(3, 4, requires_grad=True), use_reentrant=False)
        >>> out.shape
        distgrad.Size([3, 4])
    """
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
                      "explicitly. use_reentrant=False is recommended; omitting it keeps use_reentrant=True.",
                      stacklevel=2)
        use_reentrant = True
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = len(fns) // segments

    def run(start, end):
        def forward(x):
            for f in fns[start:end + 1]:
                x = f(x)
            return x
        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, preserve_rng_state=preserve)
    return run(end + 1, len(fns) - 1)(input)
