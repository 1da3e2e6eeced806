"""Module hooks: code that runs around a module's forward and backward.

Forward pre-hooks may rewrite the arguments, forward hooks may replace the
output.  Full backward hooks see the gradients w.r.t. the module's inputs and
outputs: the inputs and outputs are passed through an identity node whose
backward reports the gradients flowing through it, as PyTorch does.

Example::

    >>> import distgrad
    >>> m = distgrad.nn.Linear(2, 2)
    >>> shapes = []
    >>> h = m.register_forward_hook(lambda mod, args, out: shapes.append(tuple(out.shape)))
    >>> _ = m(distgrad.ones(5, 2)); h.remove(); _ = m(distgrad.ones(1, 2))
    >>> shapes
    [(5, 2)]
"""
import warnings

from distgrad.autograd import grad_mode
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.graph import RemovableHandle
from distgrad.autograd.tensor import Tensor


def insert_hook(table, fn, prepend=False):
    """Add ``fn`` to the dict ``table`` (first when ``prepend``) and return its removable handle."""
    handle = RemovableHandle(table)
    if prepend:
        rest = list(table.items())
        table.clear()
        table[handle.id] = fn
        table.update(rest)
    else:
        table[handle.id] = fn
    return handle


class _HookIdentity(ArrayFunction):
    """Passes tensors through unchanged; its backward hands their gradients to a callback."""

    node_name = "BackwardHookFunctionBackward"

    @staticmethod
    def forward(ctx, callback, *arrays):
        ctx.callback = callback
        ctx.set_materialize_grads(False)
        return tuple(arrays)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.callback(grads))


class BackwardHookState:
    """The gradients of one forward call, shared by its input and output identity nodes."""

    def __init__(self, module):
        self.module = module
        self.n_args = 0
        self.input_positions = None  # positions of the args that require grad, or None
        self.grad_outputs = None

    def wrap_inputs(self, args):
        self.n_args = len(args)
        if not grad_mode.state.enabled:
            return args
        pos = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not pos:
            return args
        self.input_positions = pos
        new = _HookIdentity.apply(self._on_input_grads, *[args[i] for i in pos])
        args = list(args)
        for i, t in zip(pos, new):
            args[i] = t
        return tuple(args)

    def wrap_outputs(self, out):
        if not grad_mode.state.enabled:
            return out
        single = isinstance(out, Tensor)
        outs = (out,) if single else out
        if not isinstance(outs, tuple):
            return out
        pos = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not pos:
            return out
        new = _HookIdentity.apply(self._on_output_grads, *[outs[i] for i in pos])
        outs = list(outs)
        for i, t in zip(pos, new):
            outs[i] = t
        return outs[0] if single else tuple(outs)

    def _on_output_grads(self, grads):
        module = self.module
        for hook in list(module._backward_pre_hooks.values()):
            res = hook(module, grads)
            if res is not None:
                res = tuple(res) if isinstance(res, (tuple, list)) else (res,)
                if len(res) != len(grads):
                    raise RuntimeError(f"Backward pre hook returned an invalid number of grad_output, got "
                                       f"{len(res)}, but expected {len(grads)}")
                grads = res
        self.grad_outputs = grads
        if self.input_positions is None and module._backward_hooks:
            warnings.warn("Full backward hook is firing when gradients are computed with respect to module "
                          "outputs since no inputs require gradients.", UserWarning, stacklevel=2)
            none = (None,) * self.n_args
            for hook in list(module._backward_hooks.values()):
                res = hook(module, none, grads)
                if res is not None and any(r is not None for r in res):
                    raise RuntimeError("Backward hook for Modules where no input requires gradient should "
                                       "always return None or None for all gradients.")
        return grads

    def _on_input_grads(self, grads):
        module = self.module
        full = [None] * self.n_args
        for i, g in zip(self.input_positions, grads):
            full[i] = g
        full = tuple(full)
        for hook in list(module._backward_hooks.values()):
            res = hook(module, full, self.grad_outputs)
            if res is not None:
                res = tuple(res) if isinstance(res, (tuple, list)) else (res,)
                if len(res) != len(full):
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got "
                                       f"{len(res)}, but expected {len(full)}")
                full = res
        return tuple(full[i] for i in self.input_positions)


class ModuleHooks:
    """The hook half of :class:`~distgrad.nn.Module`: registration and the hooked call path."""

    def _call_with_hooks(self, args, kwargs):
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, "
                                           f"new_kwargs), but got {res}.")
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        state = None
        if self._backward_hooks or self._backward_pre_hooks:
            state = BackwardHookState(self)
            args = state.wrap_inputs(args)
        try:
            out = self.forward(*args, **kwargs)
        except Exception:
            for hid, hook in list(self._forward_hooks.items()):
                if hid in self._forward_hooks_always_called:
                    if hid in self._forward_hooks_with_kwargs:
                        hook(self, args, kwargs, None)
                    else:
                        hook(self, args, None)
            raise
        for hid, hook in list(self._forward_hooks.items()):
            if hid in self._forward_hooks_with_kwargs:
                res = hook(self, args, kwargs, out)
            else:
                res = hook(self, args, out)
            if res is not None:
                out = res
        if state is not None:
            out = state.wrap_outputs(out)
        return out

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Run ``hook(module, args)`` before ``forward``; a returned value replaces ``args``.

        With ``with_kwargs=True`` it is ``hook(module, args, kwargs) -> (args, kwargs) or None``.

        Example::

            >>> m = distgrad.nn.Identity()
            >>> h = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
            >>> m(distgrad.ones(1))
            tensor([2.])
        """
        handle = insert_hook(self._forward_pre_hooks, hook, prepend)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """Run ``hook(module, args, output)`` after ``forward``; a returned value replaces the output.

        Example::

            >>> m = distgrad.nn.Identity()
            >>> seen = []
            >>> h = m.register_forward_hook(lambda mod, args, out: seen.append(out.shape))
            >>> _ = m(distgrad.ones(2)); seen
            [distgrad.Size([2])]
        """
        handle = insert_hook(self._forward_hooks, hook, prepend)
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        if always_call:
            self._forward_hooks_always_called.add(handle.id)
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        """Run ``hook(module, grad_input, grad_output)`` once the gradients of the inputs are known.

        ``grad_input`` holds the gradients w.r.t. the positional inputs (None
        where an input is not a tensor that requires grad); a returned tuple
        replaces them.

        Example::

            >>> m = distgrad.nn.Linear(2, 1)
            >>> h = m.register_full_backward_hook(lambda mod, gi, go: print(tuple(go[0].shape)))
            >>> m(distgrad.ones(3, 2, requires_grad=True)).sum().backward()
            (3, 1)
        """
        return insert_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Run ``hook(module, grad_output)`` before the module's backward; it may return new grad_output."""
        return insert_hook(self._backward_pre_hooks, hook, prepend)
