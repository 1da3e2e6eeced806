"""Shared test set-up: float64 helpers, a fixed seed per test and the per-device fixture."""
import pytest

import distgrad
from devices import DEVICES


@pytest.fixture(autouse=True)
def _seed():
    distgrad.manual_seed(0)
    yield


@pytest.fixture(params=DEVICES)
def device(request):
    """Run the test once per device: "cpu", and "cuda" (skipped without a GPU)."""
    return request.param
