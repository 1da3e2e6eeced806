"""``Optimizer``: the base class of every optimizer (param groups, the update loop, state, checkpoints).

An optimizer holds ``param_groups`` (lists of parameters, each with its own
hyperparameters) and ``state`` (per-parameter buffers such as momentum, keyed
by the parameter tensor).  ``state_dict()`` / ``load_state_dict()`` use
PyTorch's layout (see :mod:`distgrad.optim.optimizer_state`).

``Optimizer.step`` owns the loop every optimizer shares: it runs the closure,
checks every gradient before anything changes (so a step that fails leaves the
model untouched), reads each group's hyperparameters once, makes a
parameter's state on first use, counts ``state["step"]``, applies the update
rule to the raw arrays under ``no_grad`` and bumps the parameter's version.
A subclass gives only its rule:

- ``_hyper(group)``: the group's hyperparameters as plain numbers (once per group and step);
- ``_init_state(hyper, param, state)``: fill a parameter's empty ``state`` dict (optional);
- ``_update(hyper, param, grad, state)``: change the array ``param`` in place, calling
  ``bump_version`` on each state tensor it changes;

plus ``_counts_steps = True`` when ``state["step"]`` should go up before each update.

Example::

    >>> import distgrad
    >>> from distgrad.autograd.raw import array_of
    >>> class SignSGD(distgrad.optim.Optimizer):
    ...     def __init__(self, params, lr=0.01):
    ...         super().__init__(params, {"lr": lr})
    ...     @staticmethod
    ...     def _hyper(group):
    ...         return float(group["lr"])
    ...     def _update(self, lr, param, grad, state):
    ...         param -= lr * (grad > 0) - lr * (grad < 0)
    >>> w = distgrad.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SignSGD([w], lr=0.5)
    >>> (w * w).sum().backward(); opt.step(); opt.zero_grad()
    >>> w
    tensor([ 0.5000, -1.5000], requires_grad=True)
"""
import warnings
from collections import OrderedDict, defaultdict

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.graph import RemovableHandle, add_hook
from distgrad.autograd.grad_mode import enable_grad, no_grad
from distgrad.autograd.raw import array_of, bump_version
from distgrad.autograd.tensor import Tensor
from distgrad.optim import optimizer_state
from distgrad.optim.optimizer_state import scalar_dtype
from distgrad.optim.step_hooks import (hook_step, register_optimizer_step_post_hook,
                                       register_optimizer_step_pre_hook)


class _RequiredParameter:
    """Marks a hyperparameter that every param group must give (e.g. a subclass's ``lr``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def typename(obj):
    """PyTorch-style type name used in error messages (``distgrad.FloatTensor``, ``int`` ...)."""
    if isinstance(obj, Tensor):
        return f"distgrad.{dtypes.torch_name(obj.dtype)}Tensor"
    cls = type(obj)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def scalar(value):
    """A hyperparameter as a Python number (a 1-element tensor lr is read with ``item()``)."""
    return value.item() if isinstance(value, Tensor) else value


def check_lr_and_flags(lr, foreach=None, differentiable=False, fused=None):
    """Constructor checks every optimizer shares: the learning rate and the implementation switches."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if differentiable:
        raise NotImplementedError("differentiable=True is not supported: distgrad optimizers update parameters "
                                  "in place outside autograd")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


_HOOK_DICTS = ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
               "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
               "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks")


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts
            (param groups: ``{"params": [...], "lr": ...}``).
        defaults: the hyperparameters a group gets when it does not set them.

    Example::

        >>> import distgrad
        >>> a, b = distgrad.zeros(2, requires_grad=True), distgrad.zeros(2, requires_grad=True)
        >>> opt = distgrad.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.5]
    """

    # State entries with the parameter's shape, checked by load_state_dict (set by subclasses).
    _param_shaped_state = ()
    # True: step() adds 1 to the tensor state["step"] (made by _init_state) before each update.
    _counts_steps = False

    def __init__(self, params, defaults):
        self.defaults = defaults
        for name in _HOOK_DICTS:
            setattr(self, name, OrderedDict())
        self._patch_step_function()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors "
                            "or dicts, but got " + typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        self._scratch_buffers = {}
        self._scratch_views = {}
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def _patch_step_function(self):
        cls = type(self)
        if not getattr(cls.step, "hooked", False):
            cls.step = hook_step(cls.step)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in _HOOK_DICTS:
            self.__dict__.setdefault(name, OrderedDict())
        self.__dict__.setdefault("_scratch_buffers", {})
        self.__dict__.setdefault("_scratch_views", {})
        self._patch_step_function()
        self.defaults.setdefault("differentiable", False)

    def __repr__(self):
        # PyTorch's layout: each group opens with a newline, each option line ends with one.
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            text += "".join(f"    {key}: {group[key]}\n" for key in sorted(group) if key != "params")
        return text + ")"

    # --- param groups ----------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with ``"params"`` and optional hyperparameters).

        Useful for fine-tuning: unfreeze layers and add them with their own lr.

        Example::

            >>> import distgrad
            >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=0.1)
            >>> opt.add_param_group({"params": [distgrad.zeros(1, requires_grad=True)], "lr": 0.01})
            >>> len(opt.param_groups)
            2
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        if "params" not in param_group:
            raise KeyError("param_group must have a 'params' entry (the tensors to optimize)")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        if names and len(names) != len(tensors):
            raise ValueError("all optimizer params should be with/without names. Some param names are missing")
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + typename(p))
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group)
        group["params"] = tensors
        if names:
            group["param_names"] = names
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError("parameter group didn't specify a value of required optimization "
                                 f"parameter {name}")
            group.setdefault(name, default)
        if len({id(p) for p in tensors}) != len(tensors):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this "
                          "will cause an error; see github.com/pytorch/pytorch/issues/40967 for more "
                          "information", stacklevel=3)
        seen = set()
        for g in self.param_groups:
            seen.update(id(p) for p in g["params"])
            if ("param_names" in group) != ("param_names" in g):
                kind = "with names" if "param_names" in group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {kind} to the optimizer")
        if any(id(p) in seen for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        # The caller's dict is updated too, as in PyTorch, so it sees the filled-in defaults.
        param_group.clear()
        param_group.update(group)
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized tensors: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                    continue
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g._requires_grad = False
                array_of(g).fill(0)
                bump_version(g)

    # --- the update loop -----------------------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a gradient once; returns the closure's loss (or None).

        ``closure`` re-evaluates the model (it calls ``backward``) and returns the loss.

        Example::

            >>> import distgrad
            >>> w = distgrad.ones(2, requires_grad=True)
            >>> opt = distgrad.optim.SGD([w], lr=0.5)
            >>> def closure():
            ...     opt.zero_grad()
            ...     loss = (w * w).sum()
            ...     loss.backward()
            ...     return loss
            >>> float(opt.step(closure)), w
            (2.0, tensor([0., 0.], requires_grad=True))
        """
        loss = self._closure_loss(closure)
        work = self._checked_work()
        states, counts_steps = self.state, self._counts_steps
        init_state, update = self._init_state, self._update
        array, bump = array_of, bump_version  # locals: the loop below runs once per parameter
        with no_grad():
            for params, hyper in work:
                stateful = self._keeps_state(hyper)
                for p in params:
                    param = array(p)
                    state = None
                    if stateful:
                        state = states[p]
                        if not state:
                            init_state(hyper, param, state)
                        if counts_steps:
                            step_t = state["step"]
                            count = array(step_t)
                            count += 1
                            bump(step_t)
                    update(hyper, param, array(p._grad), state)
                    bump(p)
        return loss

    # --- what a subclass gives the loop -------------------------------------------------------
    def _hyper(self, group):
        """``group``'s hyperparameters as plain numbers, read once per group and step (raise on bad values).

        Whatever it returns is handed to ``_init_state`` and ``_update`` as ``hyper``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def _keeps_state(self, hyper):
        """False when a group's parameters need no state (SGD without momentum): ``state`` is then None."""
        return True

    def _init_state(self, hyper, param, state):
        """Fill ``state``, the empty state dict of the parameter whose array is ``param``."""

    def _update(self, hyper, param, grad, state):
        """Apply the update rule in place to the array ``param``, given its gradient array ``grad``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    # --- helpers for the loop and the rules ------------------------------------------------------
    @staticmethod
    def _closure_loss(closure):
        """Run ``closure`` with grad enabled (it calls backward) and return its loss."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _checked_work(self):
        """Validate every group before anything changes; return ``[(params_with_grad, hyper)]``.

        ``_hyper(group)`` reads a group's hyperparameters as plain numbers (raising
        on bad values here, not halfway through the update).
        """
        name = type(self).__name__
        hyper = self._hyper
        work = []
        for group in self.param_groups:
            params = []
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                pd, gd = array_of(p), array_of(g)
                if gd.shape != pd.shape:
                    raise RuntimeError(f"{name}.step: the gradient of a parameter of shape {list(pd.shape)} has "
                                       f"shape {list(gd.shape)}; nothing was updated")
                if gd.dtype != pd.dtype:
                    raise RuntimeError(f"{name}.step: the gradient ({g.dtype}) of a parameter of shape "
                                       f"{list(pd.shape)} does not match its dtype {p.dtype}; nothing was updated")
                if type(gd) is not type(pd) or backend.device_of(gd) != backend.device_of(pd):
                    raise RuntimeError(f"{name}.step: the gradient of a parameter of shape {list(pd.shape)} is "
                                       f"on {g.device} but the parameter is on {p.device}; nothing was updated")
                if pd.dtype.kind != "f":
                    raise RuntimeError(f"{name}.step: can only update floating-point parameters, got {p.dtype}")
                params.append(p)
            work.append((params, hyper(group)))
        return work

    def _effective_grad(self, param, grad, weight_decay, maximize):
        """``grad + weight_decay * param``, negated when maximizing: the direction every rule uses.

        Returns ``grad`` itself when neither applies; otherwise the result lives in scratch slot 0,
        so the user's ``.grad`` is never modified.
        """
        if weight_decay == 0 and not maximize:
            return grad
        xp = backend.get_array_module(param)
        g = self._scratch(param, 0)
        if weight_decay != 0:
            xp.multiply(param, weight_decay, out=g)
            if maximize:
                xp.subtract(g, grad, out=g)
            else:
                xp.add(grad, g, out=g)
        else:
            xp.negative(grad, out=g)
        return g

    def _scratch(self, like, slot=0):
        """A reusable uninitialised array shaped like ``like`` (one buffer per slot, dtype and device).

        Updates write their temporaries here instead of allocating new arrays
        every step; the buffer grows to the largest parameter and is shared.
        The view for each shape is kept, so a step after the first makes none.
        """
        key = (slot, like.shape, like.dtype, backend.device_of(like))
        view = self._scratch_views.get(key)
        if view is None:
            view = self._scratch_views[key] = self._scratch_view(like, slot)
        return view

    def _scratch_view(self, like, slot):
        """A new view of the shared buffer of ``slot``, growing the buffer when ``like`` is larger."""
        key = (slot, like.dtype, backend.device_of(like))
        buf = self._scratch_buffers.get(key)
        n = like.size
        if buf is None or buf.size < n:
            buf = backend.get_array_module(like).empty(n, dtype=like.dtype)
            self._scratch_buffers[key] = buf
            self._scratch_views.clear()  # views of the old buffer would keep it alive
        return buf[:n].reshape(like.shape)

    @staticmethod
    def _zeros_state(param, fill=0):
        """A new state tensor with the array ``param``'s shape, dtype and device, filled with ``fill``."""
        xp = backend.get_array_module(param)
        return Tensor._make(xp.zeros_like(param) if fill == 0 else xp.full_like(param, fill))

    @staticmethod
    def _step_state(param, on_param_device=False):
        """A new ``state['step']`` counter: a 0-d float tensor on the CPU (or on the array ``param``'s device)."""
        np_dtype = scalar_dtype().np
        if on_param_device:
            return Tensor._make(backend.get_array_module(param).zeros((), dtype=np_dtype))
        return Tensor._make(backend.as_array(0.0, np_dtype))

    def _fill_group_defaults(self, group):
        """Give a loaded group the options that older state dicts may lack (subclasses extend it)."""

    # --- hooks -----------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook):
        """Call ``hook(optimizer, args, kwargs)`` before each ``step``; it may return new ``(args, kwargs)``."""
        return add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """Call ``hook(optimizer, args, kwargs)`` after each ``step``."""
        return add_hook(self._optimizer_step_post_hooks, hook)

    @staticmethod
    def _add_ordered_hook(hooks, hook, prepend):
        handle = add_hook(hooks, hook)
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """Call ``hook(optimizer)`` before ``state_dict()`` builds its result."""
        return self._add_ordered_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """Call ``hook(optimizer, state_dict)`` after ``state_dict()``; a returned dict replaces it."""
        return self._add_ordered_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """Call ``hook(optimizer, state_dict)`` before loading; a returned dict is loaded instead."""
        return self._add_ordered_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """Call ``hook(optimizer)`` after ``load_state_dict()`` has loaded the state."""
        return self._add_ordered_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # --- checkpoints -----------------------------------------------------------------------------
    def state_dict(self):
        """The optimizer's state: ``{"state": {index: {...}}, "param_groups": [{..., "params": [index]}]}``.

        Parameters are replaced by their position across all groups, so the
        dict can be loaded into an optimizer built over another copy of the model.

        Example::

            >>> import distgrad
            >>> w = distgrad.zeros(2, requires_grad=True)
            >>> distgrad.optim.SGD([w], lr=0.1).state_dict()["param_groups"][0]["params"]
            [0]
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        result = optimizer_state.pack(self)
        for hook in self._optimizer_state_dict_post_hooks.values():
            out = hook(self, result)
            if out is not None:
                result = out
        return result

    def load_state_dict(self, state_dict):
        """Load a dict made by ``state_dict()``; on any mismatch raise and change nothing.

        State tensors are copied and cast to their parameter's dtype and device
        (``step`` counters keep their own dtype).
        """
        state_dict = dict(state_dict)
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            out = hook(self, state_dict)
            if out is not None:
                state_dict = out
        optimizer_state.load(self, state_dict)
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)


__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook",
           "RemovableHandle"]
