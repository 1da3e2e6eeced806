"""Every public op in ``distgrad.autograd.ops`` says what it computes.

An op is a :class:`~distgrad.autograd.function.Function` subclass or a plain
function composed of ops; its docstring is the first thing a reader (and
``help()``) sees, so a public one without it fails here.  Classes do not
inherit ``__doc__``, so a subclass that only renames its node still needs one.
"""
import importlib
import inspect
import pkgutil

import pytest

import distgrad.autograd.ops as ops_pkg
from distgrad.autograd.function import Function
from distgrad.autograd.ops.arithmetic import Pow
from distgrad.autograd.ops.unary import Erf

MODULES = sorted(info.name for info in pkgutil.iter_modules(ops_pkg.__path__))


def _public_ops(module):
    """(name, object) for the public Function subclasses and functions ``module`` defines itself."""
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj) or (inspect.isclass(obj) and issubclass(obj, Function)):
            yield name, obj


def _own_docstring(obj):
    """``obj``'s own docstring: a class's ``__doc__`` is looked up in its ``__dict__`` (never inherited)."""
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
    return (doc or "").strip()


def test_ops_modules_found():
    assert {"arithmetic", "unary", "reduce", "shape"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_public_ops_have_docstrings(name):
    module = importlib.import_module(f"{ops_pkg.__name__}.{name}")
    missing = [op for op, obj in _public_ops(module) if not _own_docstring(obj)]
    assert missing == [], f"{module.__name__}: public ops without a docstring: {', '.join(missing)}"


def test_pow_and_erf_are_documented():
    assert "a ** b" in Pow.__doc__
    assert "error function" in Erf.__doc__
