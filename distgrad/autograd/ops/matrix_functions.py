"""Functions of matrices: matrix_exp, matrix_power, matrix norms, cond, matrix_rank, and products
(multi_dot, vecdot, cross), plus tensorinv / tensorsolve.

``matrix_exp`` is an op of its own (Pade-13 scaling and squaring forward;
backward the exponential of the block matrix ``[[A^T, G], [0, A^T]]``, whose
top-right block is the gradient, so double backward is the same op again).
The rest are composed of differentiable ops and need no backward.

Example::

    >>> import distgrad
    >>> distgrad.linalg.matrix_power(distgrad.tensor([[1.0, 1.0], [0.0, 1.0]]), 3)
    tensor([[1., 3.],
            [0., 1.]])
"""
import math

import numpy as np  # host-side only: machine epsilon, Pade coefficients, shape products

from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.arithmetic import broadcast_error, where
from distgrad.autograd.ops.decompositions import eigvalsh, svdvals
from distgrad.autograd.ops.join import stack
from distgrad.autograd.ops.linalg import matmul
from distgrad.autograd.ops.reduce import amax, amin, sum as sum_, vector_norm
from distgrad.autograd.ops.solvers import (check_float, check_matrix, check_same_dtype, check_square, inv, inv_ex,
                                           solve, torch_type_name)
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.ops.unary import abs as abs_
from distgrad.autograd.tensor import Tensor
from distgrad import dtypes

_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152  # the largest 1-norm for which Pade-13 meets double precision (Higham 2005)


def expm_array(a):
    """``exp(A)`` of a batch of square arrays by scaling and squaring with a degree-13 Pade approximant."""
    xp = backend.get_array_module(a)
    n = a.shape[-1]
    if n == 0 or a.size == 0:
        return a.copy()
    norm1 = xp.abs(a).sum(axis=-2).max(axis=-1)
    with np.errstate(divide="ignore"):
        s = xp.maximum(0, xp.ceil(xp.log2(norm1 / _THETA13))).astype(xp.int64)
    a = a / xp.expand_dims(xp.expand_dims(xp.asarray(2.0, dtype=a.dtype) ** s, -1), -1).astype(a.dtype)
    b = _PADE13
    eye = xp.eye(n, dtype=a.dtype)
    a2 = xp.matmul(a, a)
    a4 = xp.matmul(a2, a2)
    a6 = xp.matmul(a4, a2)
    u = xp.matmul(a, xp.matmul(a6, b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2
                  + b[1] * eye)
    v = xp.matmul(a6, b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
    r = xp.linalg.solve(v - u, v + u)
    steps = int(s.max()) if s.size else 0
    for i in range(steps):  # square each matrix as often as it was halved
        r = xp.where(xp.expand_dims(xp.expand_dims(s > i, -1), -1), xp.matmul(r, r), r)
    return r.astype(a.dtype, copy=False)


class MatrixExp(ArrayFunction):
    """The matrix exponential (``LinalgMatrixExpBackward0``).

    Backward: ``gA`` is the top-right block of ``exp([[A^T, G], [0, A^T]])``
    (the Frechet derivative of exp at ``A^T`` in direction ``G``).
    """

    node_name = "LinalgMatrixExpBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return expm_array(a)

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors
        xp = xp_of(g)
        n = a.shape[-1]
        at = xp.swapaxes(a, -1, -2)
        block = xp.concatenate([xp.concatenate([at, g], axis=-1),
                                xp.concatenate([g * 0, at], axis=-1)], axis=-2)
        big = xp.linalg.matrix_exp(block) if hasattr(xp.linalg, "matrix_exp") else expm_array(block)
        return big[..., :n, n:]


def matrix_exp(A):
    """The matrix exponential ``sum_k A^k / k!`` of each square matrix in ``A`` (``torch.linalg.matrix_exp``).

    Example::

        >>> import distgrad
        >>> distgrad.linalg.matrix_exp(distgrad.zeros(2, 2))
        tensor([[1., 0.],
                [0., 1.]])
    """
    check_square("linalg.matrix_exp", A)
    return MatrixExp.apply(A)


def matrix_power(A, n, *, out=None):
    """``A`` multiplied by itself ``n`` times; ``n = 0`` the identity, ``n < 0`` powers of ``inv(A)``.

    Integer matrices work for ``n >= 0`` (``torch.linalg.matrix_power``).

    Example::

        >>> import distgrad
        >>> distgrad.linalg.matrix_power(distgrad.tensor([[2.0, 0.0], [0.0, 1.0]]), -1)
        tensor([[0.5000, 0.0000],
                [0.0000, 1.0000]])
    """
    if out is not None:
        raise TypeError("linalg.matrix_power: the out= argument is not supported by distgrad")
    check_matrix("linalg.matrix_power", A)
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    n = int(n)
    if n == 0:
        xp = backend.get_array_module(A._data)
        eye = Tensor._make(xp.broadcast_to(xp.eye(A.shape[-1], dtype=A._data.dtype), A.shape).copy())
        everywhere = Tensor._make(xp.ones(A.shape, dtype=bool))
        return where(everywhere, eye, A)  # the identity, still a (zero-gradient) function of A, as in PyTorch
    if n < 0:
        A, n = inv(A), -n
    result, base = None, A
    while n:  # binary powering: log2(n) squarings
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result.clone() if result is A else result


def _matrix_dims(op, A, dim):
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        got = " ".join(str(d) for d in dim) if isinstance(dim, (tuple, list)) else str(dim)
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {got}")
    d0, d1 = (int(d) % A.ndim if -A.ndim <= int(d) < A.ndim else None for d in dim)
    if d0 is None or d1 is None:
        bad = dim[0] if d0 is None else dim[1]
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-A.ndim}, {A.ndim - 1}], "
                         f"but got {bad})")
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """A matrix norm of each matrix in ``A`` over the two dims ``dim`` (``torch.linalg.matrix_norm``).

    ``ord``: ``'fro'`` (Frobenius), ``'nuc'`` (sum of singular values), 2 / -2
    (largest / smallest singular value), 1 / -1 (max / min column abs-sum),
    ``inf`` / ``-inf`` (max / min row abs-sum).

    Example::

        >>> import distgrad
        >>> a = distgrad.tensor([[1.0, -2.0], [3.0, 4.0]])
        >>> distgrad.linalg.matrix_norm(a, 1), distgrad.linalg.matrix_norm(a, float("inf"))
        (tensor(6.), tensor(7.))
    """
    op = "linalg.matrix_norm"
    if out is not None:
        raise TypeError(f"{op}: the out= argument is not supported by distgrad")
    check_matrix(op, A)
    if dtype is not None:
        A = A.to(dtypes.as_dtype(dtype))
    check_float(op, A)
    d0, d1 = _matrix_dims(op, A, dim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc" or ord in (2, -2):
        s = svdvals(A.movedim((d0, d1), (-2, -1)))
        r = s.sum(-1) if ord == "nuc" else (amax if ord == 2 else amin)(s, -1)
        if keepdim:
            for d in sorted((d0, d1)):
                r = r.unsqueeze(d)
        return r
    if ord in (1, -1, float("inf"), float("-inf")):
        inner, outer = (d0, d1) if ord in (1, -1) else (d1, d0)  # 1: sum over rows, then the best column
        r = (amax if ord > 0 else amin)(sum_(abs_(A), inner, True), outer, True)
        return r if keepdim else r.squeeze((d0, d1))
    raise RuntimeError(f"{op}: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """A vector or matrix norm, as ``torch.linalg.norm`` picks it.

    With ``dim`` an int (or 1-tuple): :func:`~distgrad.linalg.vector_norm`
    (``ord`` None is 2); a 2-tuple: :func:`matrix_norm` (``ord`` None is
    ``'fro'``).  Without ``dim``: ``ord=None`` flattens ``A`` for the 2-norm,
    otherwise ``A`` must be 1-D (vector norm) or 2-D (matrix norm).

    Example::

        >>> import distgrad
        >>> distgrad.linalg.norm(distgrad.tensor([[1.0, 0.0], [0.0, 1.0]]), "nuc")
        tensor(2.)
    """
    if out is not None:
        raise TypeError("linalg.norm: the out= argument is not supported by distgrad")
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 1:
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dims)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                           f"Got {A.ndim}D.")
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)


def cond(A, p=None, *, out=None):
    """The condition number of each matrix in ``A`` in the ``p``-norm (``torch.linalg.cond``).

    ``p`` None or 2: ``s_max / s_min`` (-2: the inverse), any shape; the
    other matrix norms: ``norm(A) * norm(inv(A))`` for square ``A``, ``inf``
    for a singular one.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.cond(distgrad.tensor([[4.0, 0.0], [0.0, 2.0]]))
        tensor(2.)
    """
    if out is not None:
        raise TypeError("linalg.cond: the out= argument is not supported by distgrad")
    check_matrix("linalg.cond", A)
    check_float("linalg.cond", A)
    if p is None or p in (2, -2):
        s = svdvals(A)
        big, small = s[..., 0], s[..., -1]
        return big / small if p != -2 else small / big
    check_square("linalg.cond", A)
    inverse, info = inv_ex(A)
    value = matrix_norm(A, p) * matrix_norm(where(info.unsqueeze(-1).unsqueeze(-1) > 0, 0.0, inverse), p)
    return where(info > 0, float("inf"), value)


def _rank_tolerance(A, s_max, atol, rtol):
    eps = float(np.finfo(A._data.dtype).eps) * max(A.shape[-2:])
    if rtol is None:
        rtol = 0.0 if atol is not None else eps
    atol = 0.0 if atol is None else atol
    raw = [v._data if isinstance(v, Tensor) else v for v in (atol, rtol)]
    xp = backend.get_array_module(A._data)
    return xp.maximum(xp.asarray(raw[0], dtype=A._data.dtype), xp.asarray(raw[1], dtype=A._data.dtype) * s_max)


def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """The number of singular values above ``max(atol, rtol * s_max)`` (``torch.linalg.matrix_rank``).

    The default ``rtol`` is ``eps * max(m, n)`` (0 when only ``atol`` is
    given); ``tol`` is the older name of ``atol``; ``hermitian`` uses
    absolute eigenvalues.  Returns int64, without gradient.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.matrix_rank(distgrad.ones(3, 3))
        tensor(1)
    """
    if out is not None:
        raise TypeError("linalg.matrix_rank: the out= argument is not supported by distgrad")
    check_matrix("linalg.matrix_rank", A)
    check_float("linalg.matrix_rank", A)
    if tol is not None:
        atol = tol
    xp = backend.get_array_module(A._data)
    if A.shape[-1] == 0 or A.shape[-2] == 0:
        return Tensor._make(xp.zeros(A.shape[:-2], dtype=xp.int64))
    s = abs_(eigvalsh(A.detach()))._data if hermitian else svdvals(A.detach())._data
    tol = _rank_tolerance(A, s.max(axis=-1), atol, rtol)
    return Tensor._make((s > xp.expand_dims(tol, -1)).sum(axis=-1).astype(xp.int64))


def _chain_order(dims):
    """Optimal parenthesisation of a matrix chain (dims[i] x dims[i+1]): split table of the classic DP."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(tensors, *, out=None):
    """The product of a chain of matrices, multiplied in the cheapest order (``torch.linalg.multi_dot``).

    The first tensor may be a row vector (1-D) and the last a column vector;
    the rest are 2-D.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.multi_dot([distgrad.ones(2), distgrad.ones(2, 3), distgrad.ones(3)])
        tensor(6.)
    """
    if out is not None:
        raise TypeError("multi_dot(): the out= argument is not supported by distgrad")
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first_vec, last_vec = tensors[0].ndim == 1, tensors[-1].ndim == 1
    if tensors[0].ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {tensors[0].ndim}D")
    if tensors[-1].ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {tensors[-1].ndim}D")
    for i, t in enumerate(tensors[1:-1], 1):
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    mats = [tensors[0].unsqueeze(0) if first_vec else tensors[0]] + tensors[1:-1] + \
        [tensors[-1].unsqueeze(-1) if last_vec else tensors[-1]]
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(tensors[i].shape)} and "
                               f"{list(tensors[i + 1].shape)} cannot be multiplied")
        check_same_dtype("multi_dot()", mats[0], mats[i + 1], ("tensor 0", f"tensor {i + 1}"))
    split = _chain_order([mats[0].shape[0]] + [m.shape[1] for m in mats])

    def product(i, j):
        return mats[i] if i == j else matmul(product(i, split[i][j]), product(split[i][j] + 1, j))
    r = product(0, len(mats) - 1)
    if first_vec:
        r = r.squeeze(0)
    if last_vec:
        r = r.squeeze(-1)
    return r


def vecdot(x, y, *, dim=-1, out=None):
    """The dot product of vectors along ``dim``, batch dims broadcast (``torch.linalg.vecdot``).

    Example::

        >>> import distgrad
        >>> distgrad.linalg.vecdot(distgrad.tensor([[1.0, 2.0]]), distgrad.tensor([3.0, 4.0]))
        tensor([11.])
    """
    if out is not None:
        raise TypeError("linalg.vecdot: the out= argument is not supported by distgrad")
    if x._data.dtype != y._data.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{torch_type_name(x)} and y of type {torch_type_name(y)} instead")
    return (x * y).sum(dim)


def cross(input, other, *, dim=-1, out=None):
    """The 3-D cross product along ``dim`` of broadcast ``input`` and ``other`` (``torch.linalg.cross``).

    Example::

        >>> import distgrad
        >>> distgrad.linalg.cross(distgrad.tensor([1.0, 0.0, 0.0]), distgrad.tensor([0.0, 1.0, 0.0]))
        tensor([0., 0., 1.])
    """
    if out is not None:
        raise TypeError("linalg.cross: the out= argument is not supported by distgrad")
    if input.ndim != other.ndim and (input.ndim == 0 or other.ndim == 0):
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    shape = tuple(np.broadcast_shapes(tuple(input.shape), tuple(other.shape))) \
        if _broadcastable(input.shape, other.shape) else None
    if shape is None:
        raise broadcast_error(tuple(input.shape), tuple(other.shape))
    d = dim % len(shape) if -len(shape) <= dim < len(shape) else None
    if d is None:
        raise IndexError(f"linalg.cross: Dimension out of range (expected to be in range of [{-len(shape)}, "
                         f"{len(shape) - 1}], but got {dim})")
    a, b = input.expand(shape), other.expand(shape)
    if shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[dim] if input.ndim > d else 1} and {other.shape[dim] if other.ndim > d else 1}")
    a0, a1, a2 = (a.select(d, i) for i in range(3))
    b0, b1, b2 = (b.select(d, i) for i in range(3))
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def _broadcastable(s1, s2):
    try:
        np.broadcast_shapes(tuple(s1), tuple(s2))
        return True
    except ValueError:
        return False


def tensorinv(A, ind=2, *, out=None):
    """The inverse of ``A`` seen as a linear map from its last dims to its first ``ind`` dims.

    The result has shape ``A.shape[ind:] + A.shape[:ind]`` and
    ``tensordot(tensorinv(A), A, ind)`` is the identity (``torch.linalg.tensorinv``).

    Example::

        >>> import distgrad
        >>> distgrad.linalg.tensorinv(distgrad.eye(4).reshape(4, 2, 2), ind=1).shape
        distgrad.Size([2, 2, 4])
    """
    if out is not None:
        raise TypeError("linalg.tensorinv: the out= argument is not supported by distgrad")
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = int(np.prod(A.shape[:ind])), int(np.prod(A.shape[ind:]))
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    return inv(A.reshape(rows, cols)).reshape(tuple(A.shape[ind:]) + tuple(A.shape[:ind]))


def tensorsolve(A, B, dims=None, *, out=None):
    """``X`` with ``tensordot(A, X, X.ndim) = B`` (``torch.linalg.tensorsolve``).

    ``A`` has shape ``B.shape + X.shape``; ``dims`` first moves those dims of
    ``A`` to the end.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.tensorsolve(2 * distgrad.eye(4).reshape(4, 2, 2), distgrad.ones(4)).shape
        distgrad.Size([2, 2])
    """
    if out is not None:
        raise TypeError("linalg.tensorsolve: the out= argument is not supported by distgrad")
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        A = A.movedim(tuple(dims), tuple(range(A.ndim - len(dims), A.ndim)))
    x_shape = tuple(A.shape[B.ndim:])
    rows, cols = B.numel(), int(np.prod(x_shape))
    if tuple(A.shape[:B.ndim]) != tuple(B.shape) or rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {cols} != {rows}")
    return solve(A.reshape(rows, cols), B.reshape(rows)).reshape(x_shape)
