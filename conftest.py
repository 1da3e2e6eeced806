"""Repository-level pytest set-up: names the docstring examples assume (``pytest --doctest-modules distgrad``)."""
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    import distgrad
    doctest_namespace.update(distgrad=distgrad, nn=distgrad.nn, F=distgrad.nn.functional, np=np, torch=distgrad)
    distgrad.manual_seed(0)
