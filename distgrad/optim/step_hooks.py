"""Step hooks: code that runs around every ``Optimizer.step`` call.

Two kinds, as in PyTorch: global hooks, registered with
:func:`register_optimizer_step_pre_hook` / :func:`register_optimizer_step_post_hook`,
run for every optimizer (the DDP timeline uses them to time each step); and
per-optimizer hooks, registered with ``opt.register_step_pre_hook`` /
``opt.register_step_post_hook``.  The order is: global pre hooks, the
optimizer's pre hooks, ``step`` itself, the optimizer's post hooks, global post
hooks.  A pre hook may return ``(new_args, new_kwargs)`` to replace the call's
arguments.

The wrapping happens once per class (:func:`hook_step`, applied by
``Optimizer.__init__``), so ``step`` methods stay plain functions.

Example::

    >>> import distgrad
    >>> from distgrad.optim.step_hooks import register_optimizer_step_post_hook
    >>> calls = []
    >>> handle = register_optimizer_step_post_hook(lambda opt, args, kwargs: calls.append(type(opt).__name__))
    >>> w = distgrad.zeros(2, requires_grad=True)
    >>> distgrad.optim.SGD([w], lr=0.1).step()
    >>> handle.remove(); calls
    ['SGD']
"""
import functools
from collections import OrderedDict
from itertools import chain

from distgrad.autograd.graph import add_hook

_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """Call ``hook(optimizer, args, kwargs)`` before every optimizer's ``step``; returns a handle."""
    return add_hook(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """Call ``hook(optimizer, args, kwargs)`` after every optimizer's ``step``; returns a handle."""
    return add_hook(_global_step_post_hooks, hook)


def hook_step(func):
    """Wrap a class's ``step`` so that the global and per-optimizer step hooks run around it.

    The wrapper is marked ``hooked`` so that a subclass inheriting it is not wrapped twice.
    """

    @functools.wraps(func)
    def step(*args, **kwargs):
        self = args[0]
        for hook in chain(_global_step_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{func} must return None or a tuple of (new_args, new_kwargs), "
                                       f"but got {result}.")
                args, kwargs = result
        out = func(*args, **kwargs)
        for hook in chain(self._optimizer_step_post_hooks.values(), _global_step_post_hooks.values()):
            hook(self, args, kwargs)
        return out

    step.hooked = True
    return step


__all__ = ["register_optimizer_step_pre_hook", "register_optimizer_step_post_hook", "hook_step"]
