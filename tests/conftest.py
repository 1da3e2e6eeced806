"""Shared test set-up: float64 helpers and a fixed seed per test."""
import pytest

import distgrad


@pytest.fixture(autouse=True)
def _seed():
    distgrad.manual_seed(0)
    yield
