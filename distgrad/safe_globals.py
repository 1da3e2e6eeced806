"""The allowlist of ``weights_only`` loading: which globals a checkpoint's pickle may name.

A pickle rebuilds objects by naming globals (``torch._utils._rebuild_tensor_v2``,
``collections.OrderedDict``) and calling them; a crafted pickle can name
``os.system`` instead.  ``distgrad.load`` (``weights_only=True``, the default)
therefore resolves a name only if it is allowed: the defaults (tensors,
storages, dtypes, ``Size``, ``device``, ``OrderedDict``, ``Counter``, ``set``,
``bytearray``, ``complex``, bytes as ``_codecs.encode``: PyTorch's defaults) or
what the caller allows with :func:`add_safe_globals` or the :class:`safe_globals`
context manager.  Nothing is imported to resolve a name, except distgrad's own
modules for PyTorch's spellings of distgrad classes (``torch.nn.modules.linear.Linear``
is allowed once ``distgrad.nn.Linear`` is).  Names in ``os``, ``sys``, ``posix``
and ``nt`` are refused even if allowed.

Example::

    >>> import distgrad
    >>> with safe_globals([distgrad.nn.Linear]):
    ...     distgrad.nn.Linear in get_safe_globals()
    True
    >>> distgrad.nn.Linear in get_safe_globals()
    False
"""
import collections
import importlib
import pickle
import threading

from distgrad import torch_alias
from distgrad import torch_storage

BLOCKED_MODULES = ("os", "sys", "posix", "nt", "subprocess", "builtins.eval", "builtins.exec")

_lock = threading.Lock()
_user = []  # allowed objects or (object, "module.name") pairs, in the order given
_defaults = None

# PyTorch names that PyTorch allows by default but distgrad cannot rebuild yet, with what they stand for
_UNSUPPORTED = {
    "torch._utils._rebuild_sparse_tensor": "a sparse tensor",
    "torch._utils._rebuild_qtensor": "a quantized tensor",
    "torch._utils._rebuild_meta_tensor_no_storage": "a meta tensor",
    "torch._utils._rebuild_nested_tensor": "a nested tensor",
    "torch._utils._rebuild_wrapper_subclass": "a tensor subclass",
    "torch._utils._rebuild_tensor_v3": "a tensor of a dtype stored by name",
    "torch._utils._rebuild_device_tensor_from_numpy": "a tensor of a device saved as NumPy",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor": "a tensor of a non-CPU device",
    "torch.serialization._get_layout": "a tensor layout (sparse tensors)",
}


def _encode(text, encoding="utf-8"):
    """``_codecs.encode`` as protocol-2 pickles use it for bytes (``encode(text, 'latin1')``), and no other codec.

    The real function looks codecs up by name, which can import modules; a file gets
    only the text codecs here.
    """
    if encoding not in _TEXT_CODECS or not isinstance(text, str):
        raise ValueError(f"_codecs.encode: only str with one of {sorted(_TEXT_CODECS)} is allowed, "
                         f"got {type(text).__name__} with {encoding!r:.40}")
    return text.encode(encoding)


_TEXT_CODECS = ("latin1", "latin-1", "utf-8", "utf8", "ascii")


def _default_names():
    global _defaults
    if _defaults is None:
        names = {"collections.OrderedDict": collections.OrderedDict, "collections.Counter": collections.Counter,
                 "builtins.set": set, "builtins.frozenset": frozenset, "builtins.bytearray": bytearray,
                 "builtins.complex": complex, "_codecs.encode": _encode}
        names.update(torch_storage.torch_names())
        names.update(torch_storage.distgrad_names())
        _defaults = names
    return _defaults


def _name_of(obj):
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        raise TypeError(f"add_safe_globals: {obj!r:.60} has no __module__/__qualname__; "
                        "give it as (object, 'module.name')")
    return f"{module}.{name}"


def _check_entry(entry):
    if isinstance(entry, tuple):
        if len(entry) != 2:
            raise ValueError(f"Expected tuple of length 2 (global, str of callable full path), "
                             f"but got tuple of length: {len(entry)}")
        if type(entry[1]) is not str:
            raise TypeError(f"Expected second item in tuple to be str of callable full path, "
                            f"but got: {type(entry[1])}")
    else:
        _name_of(entry)
    return entry


def add_safe_globals(safe_globals):
    """Allow these globals in every ``weights_only`` load from now on (``torch.serialization.add_safe_globals``).

    Each entry is an object (a class or function, known by its ``__module__`` and
    ``__qualname__``) or an ``(object, "module.name")`` pair for an object pickled
    under another name.  Allow only what you trust: an allowed class can be
    created, and an allowed function called, with any arguments the file holds.

    Example::

        >>> import distgrad
        >>> add_safe_globals([distgrad.nn.Linear]); remove_safe_globals([distgrad.nn.Linear])
    """
    if not isinstance(safe_globals, (list, tuple, set)):
        raise TypeError(f"add_safe_globals: expected a list, got {type(safe_globals).__name__}")
    entries = [_check_entry(e) for e in safe_globals]
    with _lock:
        _user.extend(e for e in entries if e not in _user)


def remove_safe_globals(safe_globals):
    """Disallow globals that :func:`add_safe_globals` allowed."""
    with _lock:
        for e in safe_globals:
            while e in _user:
                _user.remove(e)


def get_safe_globals():
    """The globals allowed beyond the defaults, as given to :func:`add_safe_globals`.

    Example::

        >>> get_safe_globals()
        []
    """
    with _lock:
        return list(_user)


def clear_safe_globals():
    """Forget every global :func:`add_safe_globals` allowed."""
    with _lock:
        _user.clear()


class safe_globals:
    """Allow globals for the loads inside a ``with`` block only (``torch.serialization.safe_globals``).

    Example::

        >>> import collections
        >>> with safe_globals([collections.namedtuple]):
        ...     len(get_safe_globals())
        1
    """

    def __init__(self, safe_globals):
        if not isinstance(safe_globals, (list, tuple, set)):
            raise TypeError(f"safe_globals: expected a list, got {type(safe_globals).__name__}")
        self.safe_globals = [_check_entry(e) for e in safe_globals]
        self._added = []

    def __enter__(self):
        with _lock:
            self._added = [e for e in self.safe_globals if e not in _user]
            _user.extend(self._added)
        return self

    def __exit__(self, *exc):
        remove_safe_globals(self._added)
        return False


def _user_names():
    out = {}
    for e in get_safe_globals():
        obj, name = e if isinstance(e, tuple) else (e, _name_of(e))
        out[name] = obj
    return out


def _through_alias(full):
    """distgrad's object for PyTorch's spelling ``torch.<module>.<name>`` of it, importing only distgrad modules."""
    module, _, name = full.rpartition(".")
    if module != torch_alias.ALIAS and not module.startswith(torch_alias.ALIAS + "."):
        return None
    try:
        mod = importlib.import_module(torch_alias.distgrad_name(module))
    except ImportError:
        return None
    try:
        return getattr(mod, name)
    except AttributeError:
        return None


def _display(full):
    return full[len("builtins."):] if full.startswith("builtins.") else full


def refuse(full, why):
    """The error for a global a ``weights_only`` load will not resolve."""
    return pickle.UnpicklingError(
        f"Weights only load failed: {why}. If you trust the file, allow the global with "
        f"distgrad.serialization.add_safe_globals([{_display(full)}]) or inside "
        f"distgrad.serialization.safe_globals([{_display(full)}]), or load it with weights_only=False, "
        "which runs whatever code the file names")


def resolve(module, name):
    """The object a ``weights_only`` pickle may use for the global ``module.name``, or an UnpicklingError.

    Example::

        >>> resolve("collections", "OrderedDict")
        <class 'collections.OrderedDict'>
    """
    full = f"{module}.{name}"
    root = module.split(".")[0]
    if root in BLOCKED_MODULES or full in BLOCKED_MODULES:
        raise pickle.UnpicklingError(
            f"Weights only load failed: the file names {full}, which is blocked even when allowed "
            "(it can run programs or change the interpreter); only weights_only=False, which would "
            "run it, loads such a file")
    defaults = _default_names()
    if full in defaults:
        return defaults[full]
    user = _user_names()
    if full in user:
        return user[full]
    if full in _UNSUPPORTED:
        raise pickle.UnpicklingError(f"Weights only load failed: the checkpoint holds {_UNSUPPORTED[full]} "
                                     f"({full}), which distgrad cannot load yet")
    candidate = _through_alias(full)
    if candidate is not None and any(candidate is v for v in user.values()):
        return candidate
    raise refuse(full, f"the global {full} is not allowed by default")


def is_allowed_object(obj):
    """Whether ``obj`` came from an allowed global (what REDUCE, NEWOBJ and BUILD may use)."""
    return any(obj is v for v in _default_names().values()) or \
        any(obj is (e[0] if isinstance(e, tuple) else e) for e in get_safe_globals())
