"""Every public layer and public nn function says what it is (a docstring of its own)."""
import inspect

import pytest

from distgrad import nn
from distgrad.nn import functional as F
from distgrad.nn import init
from distgrad.nn import utils as nn_utils


def _public_layers():
    return sorted(name for name, obj in vars(nn).items()
                  if not name.startswith("_") and inspect.isclass(obj) and issubclass(obj, nn.Module))


def _public_functions(module):
    return sorted(name for name, obj in vars(module).items()
                  if not name.startswith("_") and inspect.isfunction(obj))


def _undocumented(objects):
    # a class's __doc__ is its own (Python does not inherit it), so a subclass without one shows up here
    return [name for name, obj in objects if not (obj.__doc__ or "").strip()]


def test_the_lists_are_not_empty():
    """Guard against a test that passes because it looks at nothing."""
    assert {"Linear", "Conv2d", "MultiheadAttention", "Module", "Sequential"} <= set(_public_layers())
    assert {"linear", "conv2d", "dropout", "cross_entropy", "layer_norm",
            "scaled_dot_product_attention"} <= set(_public_functions(F))


def test_every_public_layer_has_a_docstring():
    assert _undocumented((name, getattr(nn, name)) for name in _public_layers()) == []


@pytest.mark.parametrize("module", [F, init, nn_utils], ids=lambda m: m.__name__)
def test_every_public_function_has_a_docstring(module):
    assert _undocumented((name, getattr(module, name)) for name in _public_functions(module)) == []


def test_a_class_without_a_docstring_is_caught():
    class Undocumented(nn.Module):
        pass

    def undocumented():
        pass

    assert _undocumented([("Undocumented", Undocumented), ("undocumented", undocumented)]) == \
        ["Undocumented", "undocumented"]
