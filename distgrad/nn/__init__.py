"""distgrad.nn: modules, layers, losses and initialisation, with PyTorch's API.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> model(distgrad.randn(3, 4)).shape
    distgrad.Size([3, 2])
"""
from distgrad.nn.module import Module  # noqa: F401
from distgrad.nn.parameter import Buffer, Parameter  # noqa: F401
