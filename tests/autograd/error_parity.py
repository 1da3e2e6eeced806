"""Shared helper for the op tests: a misuse raises the exception type PyTorch raises for it."""
import warnings

import pytest

import distgrad


def assert_raises_like_torch(case):
    """Run ``case(torch)`` and ``case(distgrad)``; both must raise, distgrad the same type (or a subclass).

    ``case`` takes the module first, so one function states the misuse for both libraries.
    PyTorch's deprecation warnings on the way are silenced.
    """
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as ref:
            case(torch)
        with pytest.raises(ref.type):
            case(distgrad)
