"""Run programs written for PyTorch unmodified: ``import torch`` (and every ``torch.X``) gives distgrad.

:func:`install` puts a finder first on ``sys.meta_path`` that answers every
import of ``torch`` or ``torch.<path>`` with distgrad's module ``distgrad.<path>``,
the same module object under both names, so ``isinstance`` checks, identity
and module state hold across the two spellings::

    import torch.nn as nn          # distgrad.nn
    from torch.nn.modules.linear import Linear   # distgrad.nn.Linear itself

A module distgrad does not have raises ``ModuleNotFoundError`` saying that
distgrad does not provide it yet, with PyTorch's name, and
:func:`missing_attribute` gives distgrad's packages a module ``__getattr__``
that says the same of a missing name (``torch.foo``) and imports a submodule
on first use, as PyTorch's ``torch`` does (``torch.utils.data`` without an import).

``python -m distgrad.run script.py args...`` and ``distgrad-launch --as-torch``
install the alias before the script runs.  It refuses to install where the
real PyTorch is already imported in the process: two libraries under one name
would be a silent mix.

Example::

    >>> import sys
    >>> from distgrad import torch_alias
    >>> torch_alias.torch_name("distgrad.nn.functional")
    'torch.nn.functional'
    >>> torch_alias.distgrad_name("torch.nn.functional")
    'distgrad.nn.functional'
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

ALIAS = "torch"
PACKAGE = "distgrad"


def distgrad_name(name):
    """distgrad's module for PyTorch's module ``name`` (``torch.nn`` -> ``distgrad.nn``)."""
    return PACKAGE + name[len(ALIAS):]


def torch_name(name):
    """PyTorch's name for distgrad's module ``name`` (``distgrad.nn`` -> ``torch.nn``)."""
    return ALIAS + name[len(PACKAGE):] if name == PACKAGE or name.startswith(PACKAGE + ".") else name


def _not_provided(name):
    return ModuleNotFoundError(f"No module named {name!r}: distgrad does not provide {name} yet "
                               f"(it runs this program in place of PyTorch; {distgrad_name(name)} does not exist)",
                               name=name)


class _AliasLoader(importlib.abc.Loader):
    """Hands back the distgrad module itself; the import system then files it under the torch name."""

    def __init__(self, module):
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        module.__spec__ = self.spec  # the import system set the alias spec; the module keeps its own


class TorchFinder(importlib.abc.MetaPathFinder):
    """``sys.meta_path`` entry mapping ``torch`` and ``torch.*`` onto ``distgrad`` and ``distgrad.*``."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        real = distgrad_name(fullname)
        try:
            module = importlib.import_module(real)
        except ModuleNotFoundError as e:
            if e.name is not None and (real == e.name or real.startswith(e.name + ".")):
                raise _not_provided(fullname) from None
            raise
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), is_package=hasattr(module, "__path__"))


_FINDER = TorchFinder()


def installed():
    """Whether :func:`install` has run in this process.

    Example::

        >>> installed()   # nothing installed it in this process
        False
    """
    return _FINDER in sys.meta_path


def install():
    """Make ``import torch`` give distgrad from now on, in this process (idempotent).

    Raises RuntimeError when the real PyTorch is already imported here.

    Example (not run: it changes what ``import torch`` means for the whole process)::

        >>> install()                      # doctest: +SKIP
        >>> import torch; torch is distgrad  # doctest: +SKIP
        True
    """
    if installed():
        return
    present = sys.modules.get(ALIAS)
    if present is not None and not getattr(present, "__name__", "").startswith(PACKAGE):
        raise RuntimeError("distgrad cannot stand in for torch: the real PyTorch is already imported in this process "
                           f"({getattr(present, '__file__', present)!r}); start the program through "
                           "`python -m distgrad.run` before anything imports torch")
    sys.meta_path.insert(0, _FINDER)
    importlib.import_module(ALIAS)


def missing_attribute(module_name):
    """A module ``__getattr__`` for ``module_name``: import a submodule on first use, else say it is missing.

    Example::

        >>> getter = missing_attribute("distgrad")
        >>> getter("not_a_pytorch_name")
        Traceback (most recent call last):
        ...
        AttributeError: module 'distgrad' has no attribute 'not_a_pytorch_name': distgrad does not provide torch.not_a_pytorch_name yet
    """
    def __getattr__(name):
        if name.startswith("__"):  # protocol probes (``__wrapped__``, ``__test__``...) get the plain error
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        if hasattr(sys.modules.get(module_name), "__path__"):  # a package: its submodules load on first use
            submodule = f"{module_name}.{name}"
            if importlib.util.find_spec(submodule) is not None:
                return importlib.import_module(submodule)
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}: distgrad does not provide "
                             f"{torch_name(module_name)}.{name} yet")
    return __getattr__


def standalone_module(name, doc, attrs):
    """A module object ``name`` holding ``attrs``, filed in ``sys.modules`` so that ``import name`` finds it.

    For PyTorch modules distgrad keeps as namespaces rather than files
    (``torch.nn.modules.linear``, ``torch.backends.cudnn``); its missing names
    say so through :func:`missing_attribute`.

    Example::

        >>> mod = standalone_module("distgrad._example_namespace", "An example.", {"answer": 42})
        >>> import distgrad._example_namespace as again
        >>> again is mod, again.answer
        (True, 42)
    """
    mod = types.ModuleType(name, doc)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    for key, value in attrs.items():
        setattr(mod, key, value)
    mod.__getattr__ = missing_attribute(name)
    sys.modules[name] = mod
    return mod
