"""The devices the test suites run on: the CPU always, each CUDA device when CuPy sees one.

Tests take the ``device`` fixture (defined in ``tests/conftest.py`` from
:data:`DEVICES`) to run once per device; the CUDA case is collected
everywhere, so a run without a GPU reports it as skipped rather than
silently not having it.  :func:`to_host` brings any array or tensor back
to NumPy for comparisons.

Example::

    def test_exp(device):
        x = distgrad.ones(3, device=device)
        assert to_host(x.exp()).tolist() == [math.e] * 3
"""
import numpy as np
import pytest

import distgrad
from distgrad import backend

HAS_CUDA = distgrad.cuda.is_available()
NO_CUDA_REASON = "needs a CUDA GPU (CuPy with a visible device: pip install distgrad[cuda])"

requires_cuda = pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA_REASON)

DEVICES = ["cpu", pytest.param("cuda", marks=requires_cuda, id="cuda")]


def to_host(x):
    """A NumPy array holding ``x`` (a Tensor, a NumPy or CuPy array, or a number)."""
    if isinstance(x, distgrad.Tensor):
        x = x.detach()._data
    if backend.is_array(x):
        return backend.to_device(x, backend.CPU)
    return np.asarray(x)
