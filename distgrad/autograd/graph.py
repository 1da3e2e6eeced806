"""The backward graph's node types and hooks (``torch.autograd.graph``).

A tensor's ``grad_fn`` is a :class:`Node`: the :class:`BackwardNode` its
Function recorded (:mod:`distgrad.autograd.backward_node`), or, for a leaf
that requires grad, the :class:`AccumulateGrad` its gradients end in.  Nodes
take hooks (``register_hook``, ``register_prehook``); this module also holds
``register_multi_grad_hook`` and the saved-tensor hooks PyTorch keeps here.
This module knows nothing of Tensor, so the Tensor class can import it.

Example::

    >>> import distgrad
    >>> x = distgrad.ones(2, requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.grad_fn.next_functions[0][0].name()
    'MulBackward0'
"""
from distgrad.autograd.saved_hooks import (disable_saved_tensors_hooks, save_on_cpu,  # noqa: F401
                                           saved_tensors_hooks)


class RemovableHandle:
    """Returned by ``register_*hook``; ``remove()`` takes the hook out again.

    Example::

        >>> h = distgrad.ones(1, requires_grad=True).register_hook(lambda g: g)
        >>> h.remove()
    """

    _next_id = 0

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(hooks, fn):
    """Insert ``fn`` into the dict ``hooks`` and return its handle."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


class Node:
    """A node of the backward graph: a tensor's ``grad_fn``.

    ``next_functions`` lists, per tensor input, ``(node, output_nr)`` of where
    the gradient goes next (``(None, 0)`` for inputs that need no gradient).
    """

    _pre_hooks = None       # register_prehook: fn(grad_outputs) -> new grad_outputs or None
    _post_hooks = None      # register_hook: fn(grad_inputs, grad_outputs) -> new grad_inputs or None
    _trace = None           # forward stack, recorded under anomaly detection
    _next = ()
    _num_outputs = 1

    @property
    def next_functions(self):
        return self._next

    def name(self):
        return type(self).__name__

    @property
    def metadata(self):
        d = self.__dict__.get("_metadata")
        if d is None:
            d = self._metadata = {}
        return d

    def register_hook(self, fn):
        """Run ``fn(grad_inputs, grad_outputs)`` after this node; it may return new grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = {}
        return add_hook(self._post_hooks, fn)

    def register_prehook(self, fn):
        """Run ``fn(grad_outputs)`` before this node; it may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = {}
        return add_hook(self._pre_hooks, fn)

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad(Node):
    """The sink of a leaf tensor that requires grad: adds the arriving gradient to ``.grad``."""

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "torch::autograd::AccumulateGrad"


class _Handles:
    """One handle over several: ``remove()`` removes every hook ``register_multi_grad_hook`` added."""

    def __init__(self, handles):
        self.handles = handles

    def remove(self):
        for h in self.handles:
            h.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """Call ``fn`` once per backward pass over the gradients of several tensors (``torch.autograd.graph``'s).

    ``mode="all"``: ``fn(grads)`` with one entry per tensor (None for a tensor the
    pass gave no gradient), once the pass has computed them (distgrad calls it when
    the pass ends).  ``mode="any"``: ``fn(grad)`` with the first of them computed.

    Example::

        >>> import distgrad
        >>> a, b = distgrad.ones(1, requires_grad=True), distgrad.ones(1, requires_grad=True)
        >>> h = register_multi_grad_hook((a, b), lambda gs: print([g is not None for g in gs]))
        >>> (a * 2).sum().backward()
        [True, False]
    """
    from distgrad.autograd import engine  # deferred: the engine imports this module
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = tuple(tensors)
    pending = {}

    def flush():
        grads = pending.pop("grads", None)
        pending.pop("any", None)
        if grads is not None:
            fn(grads)

    def hook_for(i):
        def hook(grad):
            if mode == "any":
                if "any" not in pending:
                    pending["any"] = True
                    engine.queue_callback(flush)
                    fn(grad)
                return None
            if "grads" not in pending:
                pending["grads"] = [None] * len(tensors)
                engine.queue_callback(flush)
            pending["grads"][i] = grad
            return None
        return hook
    return _Handles([t.register_hook(hook_for(i)) for i, t in enumerate(tensors)])
