"""``distgrad.linalg``: PyTorch's ``torch.linalg`` over batches of matrices, with gradients.

Every function takes batches (``(*, m, n)``, the last two dims are the
matrix), follows PyTorch's names, signatures, shapes and errors, and is
differentiable - twice, where PyTorch is.  The ops live in
:mod:`distgrad.autograd.ops.solvers` (inv, solve, solve_triangular, cholesky_solve),
:mod:`~distgrad.autograd.ops.determinants` (det, slogdet),
:mod:`~distgrad.autograd.ops.least_squares` (pinv, lstsq),
:mod:`~distgrad.autograd.ops.lu` (lu, lu_factor(_ex), lu_solve, solve_ex),
:mod:`~distgrad.autograd.ops.decompositions` (cholesky, qr, svd, eigh) and
:mod:`~distgrad.autograd.ops.matrix_functions` (matrix_exp, norms, products);
this module only gathers them under ``torch.linalg``'s names.

A singular matrix (``inv``, ``solve``) or one that is not positive-definite
(``cholesky``) raises :class:`LinAlgError`, a ``RuntimeError`` as in PyTorch.

Not available: the general (non-symmetric) ``eig`` / ``eigvals``, ``ldl_factor``,
``householder_product``, complex dtypes.

Example::

    >>> import distgrad
    >>> a = distgrad.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
    >>> distgrad.linalg.eigvalsh(a).sum().backward()   # the trace's gradient: the identity
    >>> a.grad.round()
    tensor([[1., 0.],
            [0., 1.]])
"""
from distgrad import torch_alias
from distgrad.autograd.ops.decompositions import (cholesky, cholesky_ex, eigh, eigvalsh, qr, svd,  # noqa: F401
                                                  svdvals)
from distgrad.autograd.ops.composites import linalg_vander as vander  # noqa: F401
from distgrad.autograd.ops.linalg import matmul  # noqa: F401
from distgrad.autograd.ops.matrix_functions import (cond, cross, matrix_exp, matrix_norm, matrix_power,  # noqa: F401
                                                    matrix_rank, multi_dot, norm, tensorinv, tensorsolve,
                                                    vecdot)
from distgrad.autograd.ops.reduce import vector_norm  # noqa: F401
from distgrad.autograd.ops.determinants import det, slogdet  # noqa: F401
from distgrad.autograd.ops.least_squares import lstsq, pinv  # noqa: F401
from distgrad.autograd.ops.lu import lu, lu_factor, lu_factor_ex, lu_solve, solve_ex  # noqa: F401
from distgrad.autograd.ops.layout import diagonal as _diagonal
from distgrad.autograd.ops.solvers import LinAlgError, inv, inv_ex, solve, solve_triangular  # noqa: F401



def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """``torch.linalg.diagonal``: :func:`distgrad.diagonal` with the last two dims as the default.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.diagonal(distgrad.arange(8.0).reshape(2, 2, 2))
        tensor([[0., 3.],
                [4., 7.]])
    """
    return _diagonal(A, offset, dim1, dim2)


__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv",
           "inv_ex", "lstsq", "lu", "lu_factor", "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm",
           "pinv", "qr", "slogdet", "solve", "solve_ex", "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve",
           "vander", "vecdot", "vector_norm"]

__getattr__ = torch_alias.missing_attribute(__name__)  # a missing name says so, with PyTorch's name
