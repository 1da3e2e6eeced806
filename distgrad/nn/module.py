"""``Module``: the base class of every layer and model.

A Module owns Parameters, buffers (non-learnable state such as BatchNorm's
running mean) and sub-Modules, all registered simply by assigning them to
attributes.  From that registry come ``parameters()``, ``state_dict()``,
``to(device)``, ``train()/eval()`` and the printed tree of the model, with
PyTorch's names and key layout so checkpoints and scripts carry over.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.fc(x).relu()
    >>> net = Net()
    >>> list(net.state_dict())
    ['fc.weight', 'fc.bias']
    >>> net(distgrad.ones(3, 4)).shape
    distgrad.Size([3, 2])
"""
from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.grad_mode import no_grad
from distgrad.autograd.ops import cast
from distgrad.autograd.tensor import Tensor
from distgrad.nn import conversion
from distgrad.nn import hooks
from distgrad.nn import state
from distgrad.nn.parameter import Buffer, Parameter


def _add_indent(text, spaces):
    """Indent every line of ``text`` but the first (for nested module reprs)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * spaces
    return lines[0] + "\n" + "\n".join(pad + line for line in lines[1:])


class Module(hooks.ModuleHooks):
    """Base class for all neural-network layers and models (``torch.nn.Module``).

    Subclasses call ``super().__init__()`` first, assign their Parameters and
    sub-Modules as attributes, and define ``forward``; calling the module runs
    the forward hooks around ``forward``.
    """

    training: bool
    call_super_init = False
    dump_patches = False
    _version = 1

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments: {args} {kwargs}")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = {}
        d["_forward_pre_hooks_with_kwargs"] = set()
        d["_forward_hooks"] = {}
        d["_forward_hooks_with_kwargs"] = set()
        d["_forward_hooks_always_called"] = set()
        d["_backward_hooks"] = {}
        d["_backward_pre_hooks"] = {}

    _HOOK_ID_SETS = ("_non_persistent_buffers_set", "_forward_pre_hooks_with_kwargs", "_forward_hooks_with_kwargs",
                     "_forward_hooks_always_called")

    def __setstate__(self, state):
        """Restore a pickled module (``torch.load`` of a whole model), distgrad's or PyTorch's.

        PyTorch keeps the hook-option registries as dicts where distgrad keeps sets, and
        older files lack some entries; both are brought to this module's layout.
        """
        self.__dict__.update(state)
        d = self.__dict__
        for name in self._HOOK_ID_SETS:
            d[name] = set(d.get(name) or ())
        for name in ("_parameters", "_buffers", "_modules", "_forward_pre_hooks", "_forward_hooks",
                     "_backward_hooks", "_backward_pre_hooks"):
            d.setdefault(name, {})
        d.setdefault("training", True)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    # --- calling --------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        d = self.__dict__
        try:
            hooked = d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_backward_hooks"] \
                or d["_backward_pre_hooks"]
        except KeyError:
            raise AttributeError(f"{type(self).__name__}: Module.__init__() was never called; call "
                                 "super().__init__() at the start of __init__") from None
        if not hooked:
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    # --- registration -------------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(distgrad.nn.Parameter or None expected)")
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(distgrad.nn.Module or None expected)")
            modules[name] = value
            return
        buffers = d.get("_buffers")
        if isinstance(value, Buffer):
            if buffers is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            self._forget(name)
            self.register_buffer(name, value, value.persistent)
            return
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(distgrad.Tensor or None expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def _forget(self, name):
        """Drop ``name`` from every registry before it is registered again under another kind."""
        d = self.__dict__
        d.pop(name, None)
        d["_parameters"].pop(name, None)
        d["_modules"].pop(name, None)
        d["_buffers"].pop(name, None)
        d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            table = d.get(registry)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            table = d.get(registry)
            if table is not None and name in table:
                del table[name]
                d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        names = set(dir(type(self))) | set(self.__dict__)
        names |= set(self._parameters) | set(self._modules) | set(self._buffers)
        return sorted(n for n in names if not n[:1].isdigit())

    def _check_name(self, kind, name):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain "."')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')

    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter, or None for an absent one) under ``name``."""
        self._check_name("parameter", name)
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(distgrad.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                             "created explicitly. To express 'weight' as a function of another Tensor, compute "
                             "the value in the forward() method.")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add a tensor of state that is not learned (saved in ``state_dict`` when ``persistent``).

        Example::

            >>> m = distgrad.nn.Module()
            >>> m.register_buffer("count", distgrad.zeros(1))
            >>> m.count
            tensor([0.])
        """
        self._check_name("buffer", name)
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(distgrad Tensor or None required)")
        if isinstance(tensor, Buffer):
            tensor = tensor.detach()  # a plain Tensor over the same storage and version counter
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Add a child module under ``name`` (None leaves an empty slot)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name("module", name)
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The module at dotted path ``target`` (``""`` is self).

        Example::

            >>> net = distgrad.nn.Sequential(distgrad.nn.Linear(2, 2))
            >>> net.get_submodule("0")
            Linear(in_features=2, out_features=2, bias=True)
        """
        mod = self
        if target == "":
            return mod
        for item in target.split("."):
            if item not in mod._modules:
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = mod._modules[item]
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def _get_attr_at(self, target, registry, kind):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        value = getattr(mod, name)
        if name not in mod.__dict__[registry]:
            raise AttributeError(f"`{name}` is not {kind}")
        return value

    def get_parameter(self, target):
        """The parameter at dotted path ``target`` (e.g. ``"0.weight"``)."""
        return self._get_attr_at(target, "_parameters", "an nn.Parameter")

    def get_buffer(self, target):
        """The buffer at dotted path ``target``."""
        return self._get_attr_at(target, "_buffers", "a buffer")

    # --- iteration ----------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Yield ``(dotted_name, module)`` for self and every descendant (each module once)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """Yield ``(name, module)`` for the direct children (each module once)."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        seen = set()
        for mod_prefix, mod in mods:
            for name, value in mod.__dict__[registry].items():
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(dotted_name, parameter)``; a parameter shared by two modules is listed once.

        Example::

            >>> [n for n, _ in distgrad.nn.Linear(2, 3).named_parameters()]
            ['weight', 'bias']
        """
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # --- modes and gradients ---------------------------------------------------------------
    def compile(self, *args, **kwargs):
        """``Module.compile``: nothing to do (distgrad has no compiler; see ``distgrad.compile``), returns None."""
        return None

    def train(self, mode=True):
        """Set training mode on self and every descendant (dropout and batch norm read it)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        """Evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters: to None (default) or to zeros in place."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                with no_grad():
                    g.zero_()

    # --- state_dict ---------------------------------------------------------------------------
    def _tree(self, prefix=""):
        """Yield ``(prefix, module)`` through ``_modules`` without removing shared modules."""
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m._tree(prefix + name + ".")

    def _local_state(self):
        for name, p in self._parameters.items():
            if p is not None:
                yield name, p, True
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                yield name, b, False

    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """An ordered dict of every parameter and persistent buffer under its dotted name.

        The tensors share storage with the model (detached unless ``keep_vars``).

        Example::

            >>> list(distgrad.nn.Sequential(distgrad.nn.Linear(1, 1)).state_dict())
            ['0.weight', '0.bias']
        """
        return state.state_dict(self, destination, prefix, keep_vars)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy parameters and buffers from ``state_dict`` into this module.

        Everything is checked first (missing keys and unexpected ones when
        ``strict``, wrong shapes and non-tensors always); on any error a
        RuntimeError lists them all and the module is left unchanged.  Returns
        ``(missing_keys, unexpected_keys)``.  ``assign=True`` adopts the given
        tensors instead of copying into the existing ones.

        Example::

            >>> a, b = distgrad.nn.Linear(2, 2), distgrad.nn.Linear(2, 2)
            >>> b.load_state_dict(a.state_dict())
            <All keys matched successfully>
        """
        return state.load_state_dict(self, state_dict, strict, assign)

    # --- conversion ---------------------------------------------------------------------------
    def _apply(self, fn):
        """Convert every parameter, gradient and buffer with ``fn``, keeping Parameter objects."""
        return conversion.apply_to_tensors(self, fn)

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant and then on self (e.g. custom init)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs):
        """Move to a device and/or cast floating-point parameters and buffers to a dtype, in place.

        Example::

            >>> distgrad.nn.Linear(2, 2).to(distgrad.float64).weight.dtype
            distgrad.float64
        """
        device, dtype = conversion.parse_to(args, kwargs)

        def convert(t):
            return cast.to(t, dtype if t.is_floating_point() else None, device)
        return self._apply(convert)

    def _cast_floats(self, dtype):
        return self._apply(lambda t: cast.to(t, dtype) if t.is_floating_point() else t)

    def float(self):
        return self._cast_floats(dtypes.float32)

    def double(self):
        return self._cast_floats(dtypes.float64)

    def half(self):
        return self._cast_floats(dtypes.float16)

    def type(self, dst_type):
        return self._apply(lambda t: cast.to(t, dst_type))

    def cpu(self):
        return self._apply(lambda t: cast.to(t, device="cpu"))

    def cuda(self, device=None):
        dev = "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device)
        dev = backend.normalize_device(dev)
        return self._apply(lambda t: cast.to(t, device=dev))

    # --- printing -----------------------------------------------------------------------------
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """The layer's own settings, shown inside the parentheses of its repr."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _add_indent(repr(m), 2) for name, m in self._modules.items()]
        body = extra_lines + child_lines
        if not body:
            return self._get_name() + "()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{self._get_name()}({extra_lines[0]})"
        return self._get_name() + "(\n  " + "\n  ".join(body) + "\n)"
