"""A NumPy-named namespace over differentiable Tensor ops, for backward formulas.

A built-in op that sets ``array_backward = True`` writes its backward once
against ``xp = xp_of(grad)``.  In an ordinary backward pass the engine hands
it raw arrays, so ``xp`` is NumPy (or CuPy) and the formula runs at array
speed; under ``create_graph=True`` it hands it Tensors, so ``xp`` is this
module and the same formula records a graph, giving higher derivatives.

Example::

    >>> import numpy as np, distgrad
    >>> from distgrad.autograd.ops.tensor_xp import xp_of
    >>> xp_of(np.zeros(2)) is np
    True
    >>> xp_of(distgrad.zeros(2)).__name__
    'distgrad.autograd.ops.tensor_xp'
"""
import sys

from distgrad.backend import get_array_module
from distgrad.autograd.tensor import Tensor


def xp_of(x):
    """The namespace for ``x``: this module for a Tensor, else the array's own module."""
    if isinstance(x, Tensor):
        return _self
    return get_array_module(x)


def where(cond, a, b):
    """``numpy.where`` for Tensors: :func:`distgrad.where`."""
    from distgrad.autograd.ops.arithmetic import where as _where  # deferred: arithmetic imports xp_of from here
    return _where(cond, a, b)


def exp(x):
    """``numpy.exp`` for Tensors."""
    return x.exp()


def log(x):
    """``numpy.log`` for Tensors."""
    return x.log()


def log1p(x):
    """``numpy.log1p`` for Tensors."""
    return x.log1p()


def sin(x):
    """``numpy.sin`` for Tensors."""
    return x.sin()


def cos(x):
    """``numpy.cos`` for Tensors."""
    return x.cos()


def sign(x):
    """``numpy.sign`` for Tensors."""
    return x.sign()


def sqrt(x):
    """``numpy.sqrt`` for Tensors."""
    return x.sqrt()


def abs(x):  # noqa: A001  (NumPy's name)
    """``numpy.abs`` for Tensors."""
    return x.abs()


def maximum(a, b):
    """``numpy.maximum`` for Tensors: :func:`distgrad.maximum`."""
    from distgrad.autograd.ops.arithmetic import maximum as _maximum  # deferred: arithmetic imports xp_of from here
    return _maximum(a, b)


def broadcast_to(x, shape):
    """``numpy.broadcast_to`` for Tensors: ``Tensor.expand``."""
    return x.expand(shape)


def sum(x, axis=None, keepdims=False):  # noqa: A001  (NumPy's name)
    """``numpy.sum`` for Tensors (``axis``/``keepdims`` spelled the NumPy way)."""
    return x.sum(axis if axis is not None else None, keepdim=keepdims)


def swapaxes(x, a, b):
    """``numpy.swapaxes`` for Tensors: ``Tensor.transpose``."""
    return x.transpose(a, b)


def transpose(x, axes):
    """``numpy.transpose`` for Tensors: ``Tensor.permute``."""
    return x.permute(axes)


def expand_dims(x, axis):
    """``numpy.expand_dims`` for Tensors: ``Tensor.unsqueeze``."""
    return x.unsqueeze(axis)


def matmul(a, b):
    """``numpy.matmul`` for Tensors: ``a @ b``."""
    return a @ b


def zeros_like(x):
    """``numpy.zeros_like`` for Tensors, kept in the graph as ``x * 0``."""
    return x * 0


def tril(x, k=0):
    """``numpy.tril`` for Tensors: ``Tensor.tril``."""
    return x.tril(k)


def triu(x, k=0):
    """``numpy.triu`` for Tensors: ``Tensor.triu``."""
    return x.triu(k)


def concatenate(arrays, axis=0):
    """``numpy.concatenate`` for Tensors: :func:`distgrad.cat`."""
    from distgrad.autograd.ops.join import cat  # deferred: join imports Tensor ops that import this module
    return cat(list(arrays), axis)


def prod(x, axis=None, keepdims=False):  # (NumPy's name)
    """``numpy.prod`` over one ``axis`` for Tensors: ``Tensor.prod``."""
    return x.prod(axis, keepdim=keepdims)


class linalg:  # noqa: N801  (NumPy's name: ``xp.linalg.solve`` reads the same for arrays and Tensors)
    """``numpy.linalg`` for Tensors: the differentiable ops of :mod:`distgrad.linalg`.

    Backward formulas of the linear-algebra ops call these, so their own
    derivatives (double backward) go through the same ops again.
    """

    @staticmethod
    def inv(a):
        """``numpy.linalg.inv``: :func:`distgrad.linalg.inv`."""
        from distgrad.autograd.ops.solvers import inv  # deferred: solvers imports this module
        return inv(a)

    @staticmethod
    def solve(a, b):
        """``numpy.linalg.solve`` with a matrix ``b``: :func:`distgrad.linalg.solve`."""
        from distgrad.autograd.ops.solvers import solve  # deferred: solvers imports this module
        return solve(a, b)

    @staticmethod
    def solve_triangular(a, b, upper, left=True):
        """A triangular solve (NumPy has none): :func:`distgrad.linalg.solve_triangular`."""
        from distgrad.autograd.ops.solvers import solve_triangular  # deferred: solvers imports this module
        return solve_triangular(a, b, upper=upper, left=left)

    @staticmethod
    def det(a):
        """``numpy.linalg.det``: :func:`distgrad.linalg.det`."""
        from distgrad.autograd.ops.determinants import det  # deferred: determinants imports this module
        return det(a)

    @staticmethod
    def svd(a, full_matrices=True):
        """``numpy.linalg.svd`` (``U, S, Vh``): :func:`distgrad.linalg.svd`."""
        from distgrad.autograd.ops.decompositions import svd  # deferred: decompositions imports this module
        return tuple(svd(a, full_matrices=full_matrices))

    @staticmethod
    def matrix_exp(a):
        """The matrix exponential (NumPy has none): :func:`distgrad.linalg.matrix_exp`."""
        from distgrad.autograd.ops.matrix_functions import matrix_exp  # deferred: it imports this module
        return matrix_exp(a)


_self = sys.modules[__name__]


def sum_to(g, shape):
    """Sum ``g`` (array or Tensor) down to ``shape``, undoing broadcasting."""
    shape = tuple(shape)
    gshape = g.shape
    if tuple(gshape) == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise ValueError(f"cannot sum {tuple(gshape)} to {shape}")
    axes = list(range(lead))
    for i, s in enumerate(shape):
        gs = gshape[lead + i]
        if s == 1 and gs != 1:
            axes.append(lead + i)
        elif s != gs:
            raise ValueError(f"cannot sum {tuple(gshape)} to {shape}")
    xp = xp_of(g)
    out = xp.sum(g, axis=tuple(axes), keepdims=True) if axes else g
    return out.reshape(shape)
