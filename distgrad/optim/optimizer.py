"""``Optimizer``: the base class of every optimizer (param groups, state, hooks, checkpoints).

An optimizer holds ``param_groups`` (lists of parameters, each with its own
hyperparameters) and ``state`` (per-parameter buffers such as momentum, keyed
by the parameter tensor).  ``state_dict()`` / ``load_state_dict()`` use
PyTorch's layout: state keyed by each parameter's position, groups listing
positions instead of tensors, so checkpoints line up with PyTorch's.

Subclasses implement ``step()``; the helpers here validate every gradient
before anything is changed, so a step that fails leaves the model untouched.

Example::

    >>> import distgrad
    >>> w = distgrad.randn(3, requires_grad=True)
    >>> opt = distgrad.optim.SGD([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step(); opt.zero_grad()
    >>> w.grad is None
    True
"""
import copy
import functools
import warnings
from collections import OrderedDict, defaultdict
from itertools import chain

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.graph import RemovableHandle, add_hook
from distgrad.autograd.grad_mode import enable_grad
from distgrad.autograd.tensor import Tensor

_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()


class _RequiredParameter:
    """Marks a hyperparameter that every param group must give (e.g. a subclass's ``lr``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def register_optimizer_step_pre_hook(hook):
    """Call ``hook(optimizer, args, kwargs)`` before every optimizer's ``step``; returns a handle."""
    return add_hook(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """Call ``hook(optimizer, args, kwargs)`` after every optimizer's ``step``; returns a handle."""
    return add_hook(_global_step_post_hooks, hook)


def typename(obj):
    """PyTorch-style type name used in error messages (``distgrad.FloatTensor``, ``int`` ...)."""
    if isinstance(obj, Tensor):
        names = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                 "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
        return f"distgrad.{names[obj.dtype.name]}Tensor"
    cls = type(obj)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def scalar(value):
    """A hyperparameter as a Python number (a 1-element tensor lr is read with ``item()``)."""
    return value.item() if isinstance(value, Tensor) else value


def scalar_dtype():
    """The dtype of ``state['step']``: float64 when that is the default dtype, else float32."""
    return dtypes.float64 if dtypes.get_default_dtype() is dtypes.float64 else dtypes.float32


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


def _hook_step(func):
    """Wrap a class's ``step`` so that the global and per-optimizer step hooks run around it."""

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

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        self._patch_step_function()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors "
                            "or dicts, but got " + typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        self._scratch_buffers = {}
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
            cls.step = _hook_step(cls.step)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks"):
            self.__dict__.setdefault(name, OrderedDict())
        self.__dict__.setdefault("_scratch_buffers", {})
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
                g._data.fill(0)
                g._vc.value += 1

    def step(self, closure=None):
        """Update the parameters once; ``closure`` re-evaluates the model and returns the loss."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    # --- helpers for subclasses' step() ------------------------------------------------------
    @staticmethod
    def _closure_loss(closure):
        """Run ``closure`` with grad enabled (it calls backward) and return its loss."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _checked_work(self, hyper):
        """Validate every group before anything changes; return ``[(group, params_with_grad, hp)]``.

        ``hyper(group)`` reads a group's hyperparameters as plain numbers (raising
        on bad values here, not halfway through the update).
        """
        name = type(self).__name__
        work = []
        for group in self.param_groups:
            params = []
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                pd, gd = p._data, g._data
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
            work.append((group, params, hyper(group)))
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
        """A reusable uninitialised array shaped like ``like`` (one per slot, dtype and device).

        Updates write their temporaries here instead of allocating new arrays
        every step; the buffer grows to the largest parameter and is shared.
        """
        key = (slot, like.dtype, backend.device_of(like))
        buf = self._scratch_buffers.get(key)
        n = like.size
        if buf is None or buf.size < n:
            buf = backend.get_array_module(like).empty(n, dtype=like.dtype)
            self._scratch_buffers[key] = buf
        return buf[:n].reshape(like.shape)

    @staticmethod
    def _zeros_state(p, fill=0):
        """A new state tensor with ``p``'s shape, dtype and device, filled with ``fill``."""
        xp = p._xp()
        arr = xp.zeros_like(p._data) if fill == 0 else xp.full_like(p._data, fill)
        return Tensor._make(arr)

    @staticmethod
    def _step_state(p, on_param_device=False):
        """A new ``state['step']`` counter: a 0-d float tensor on the CPU (or on ``p``'s device)."""
        np_dtype = scalar_dtype().np
        if on_param_device:
            return Tensor._make(p._xp().zeros((), dtype=np_dtype))
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
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        result = {"state": state, "param_groups": groups}
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
        if "state" not in state_dict or "param_groups" not in state_dict:
            raise KeyError("optimizer state dict must have 'state' and 'param_groups' entries, "
                           f"got {sorted(map(str, state_dict))}")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = {}
        options = {}
        for group, saved in zip(groups, saved_groups):
            for saved_id, p in zip(saved["params"], group["params"]):
                id_map[saved_id] = p
                options[saved_id] = saved
        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                p = id_map[key]
                self._check_loaded_state(key, p, value)
                state[p] = self._cast_state(p, value, options[key])
            else:
                state[key] = value
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            self._fill_group_defaults(saved)
            new_groups.append(saved)
        for p, s in state.items():
            if isinstance(p, Tensor) and "step" in s and not isinstance(s["step"], Tensor):
                s["step"] = Tensor._make(backend.as_array(float(s["step"]), scalar_dtype().np))
        self.state = state
        self.param_groups = new_groups
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    def _check_loaded_state(self, key, p, value):
        if not isinstance(value, dict):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state of parameter {key} must be a "
                             f"dict, got {type(value).__name__}")
        for name in self._param_shaped_state:
            t = value.get(name)
            if isinstance(t, Tensor) and t._data.shape != p._data.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: state '{name}' of parameter {key} has "
                                 f"shape {list(t.shape)} but the parameter has shape {list(p.shape)}")

    @classmethod
    def _cast_state(cls, p, value, group, key=None):
        """Copy a loaded state value, moving tensors to ``p``'s device (and dtype, except ``step``)."""
        if isinstance(value, Tensor):
            if key == "step":
                if group.get("capturable") or group.get("fused"):
                    arr = backend.to_device(value._data, p.device).astype(dtypes.float32.np)
                else:
                    arr = value._data.copy()
            else:
                arr = backend.to_device(value._data, p.device)
                if p._data.dtype.kind == "f":
                    arr = arr.astype(p._data.dtype)
                else:
                    arr = arr.copy()
            return Tensor._make(arr)
        if isinstance(value, dict):
            return {k: cls._cast_state(p, v, group, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(cls._cast_state(p, v, group) for v in value)
        return copy.deepcopy(value)


__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook",
           "RemovableHandle"]
