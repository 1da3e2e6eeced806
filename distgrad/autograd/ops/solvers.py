"""Linear solves: inv, solve, solve_triangular, triangular_solve and cholesky_solve, and the shared
checks and helpers of the linear-algebra ops (determinants.py and least_squares.py hold the rest).

Every op works on batches of matrices (the last two dims), broadcasting
batch dims where PyTorch does.  Backward formulas are written once against
``xp``: raw arrays in an ordinary backward, Tensors through
:mod:`~distgrad.autograd.ops.tensor_xp` under ``create_graph=True``, so
second derivatives come out of the same lines.  A singular or non-positive-
definite input raises :class:`LinAlgError` (a ``RuntimeError``), as
``torch.linalg.LinAlgError`` does.

Example::

    >>> import distgrad
    >>> a = distgrad.tensor([[2.0, 0.0], [0.0, 4.0]], requires_grad=True)
    >>> distgrad.linalg.solve(a, distgrad.tensor([2.0, 2.0]))
    tensor([1.0000, 0.5000], grad_fn=<SqueezeBackward1>)
"""

import numpy as np  # host-side only: shape broadcasting, machine epsilon, errstate

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.arithmetic import broadcast_error
from distgrad.autograd.ops.return_types import return_type
from distgrad.autograd.ops.tensor_xp import sum_to, xp_of
from distgrad.autograd.tensor import Tensor


class LinAlgError(RuntimeError):
    """A matrix that the op cannot handle: singular (inv, solve) or not positive-definite (cholesky).

    Like ``torch.linalg.LinAlgError`` it is a ``RuntimeError``, so code that
    catches either works unchanged.

    Example::

        >>> import distgrad
        >>> try:
        ...     distgrad.linalg.inv(distgrad.zeros(2, 2))
        ... except distgrad.linalg.LinAlgError as e:
        ...     print(type(e).__mro__[1].__name__)
        RuntimeError
    """


linalg_inv_ex = return_type("linalg_inv_ex", ["inverse", "info"])
triangular_solve_type = return_type("triangular_solve", ["solution", "cloned_coefficient"])


def torch_type_name(t):
    """PyTorch's scalar-type name of ``t``'s dtype (``Float``, ``Long``...), for error messages."""
    return dtypes.torch_name(t._data.dtype)


def check_float(op, t):
    """RuntimeError unless ``t`` is floating point (PyTorch's linalg refuses integer input)."""
    if t._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {torch_type_name(t)}")


def check_matrix(op, t, name="A"):
    """RuntimeError unless ``t`` has at least 2 dims."""
    if t.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions.")


def check_square(op, t, name="A"):
    """RuntimeError unless ``t`` is a float batch of square matrices."""
    check_matrix(op, t, name)
    check_float(op, t)
    if t.shape[-1] != t.shape[-2]:
        raise RuntimeError(f"{op}: {name} must be batches of square matrices, but they are "
                           f"{t.shape[-2]} by {t.shape[-1]} matrices")


def check_same_dtype(op, a, b, names=("A", "B")):
    """RuntimeError when two operands differ in dtype (PyTorch's linalg does not promote)."""
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"{op}: Expected {names[0]} and {names[1]} to have the same dtype, but found "
                           f"{names[0]} of type {torch_type_name(a)} and {names[1]} of type "
                           f"{torch_type_name(b)} instead")


def mT(x):
    """Swap the last two axes of an array or Tensor."""
    return xp_of(x).swapaxes(x, -1, -2)


def eye_for(a, n):
    """An ``n x n`` identity array with ``a``'s dtype, on ``a``'s device (a constant for formulas)."""
    return backend.get_array_module(a).eye(n, dtype=a.dtype)


def batch_shape(*shapes):
    """The broadcast of the batch parts (all but the last two dims) of matrix shapes."""
    try:
        return tuple(np.broadcast_shapes(*[tuple(s[:-2]) for s in shapes]))
    except ValueError:
        raise broadcast_error(tuple(shapes[0][:-2]), tuple(shapes[1][:-2])) from None


def _lu_zero_pivot(m):
    """1-based index of the first zero pivot of partially pivoted LU on one host matrix (0 when none)."""
    m = m.astype("float64", copy=True)
    n = m.shape[0]
    first = 0
    for k in range(n):
        p = k + int(abs(m[k:, k]).argmax())
        if m[p, k] == 0:
            first = first or k + 1
            continue
        m[[k, p]] = m[[p, k]]
        m[k + 1:, k:] -= (m[k + 1:, k] / m[k, k])[:, None] * m[k, k:][None, :]
    return first


def _singular_infos(a):
    """Per matrix of the batch ``a``: LAPACK-style info (0 or the first zero pivot), as host ints."""
    host = backend.to_device(a, backend.CPU).reshape((-1,) + a.shape[-2:])
    return [_lu_zero_pivot(m) for m in host]


def _batch_prefix(shape, index):
    return f"(Batch element {index}): " if len(shape) > 2 else ""


def _raise_singular(op, a):
    infos = _singular_infos(a)
    idx = next((i for i, v in enumerate(infos) if v), 0)
    raise LinAlgError(f"{op}: {_batch_prefix(a.shape, idx)}The diagonal element {infos[idx] or 1} is zero, the "
                      "inversion could not be completed because the input matrix is singular.")


def _lapack_error(xp):
    return getattr(xp.linalg, "LinAlgError", ValueError)


def inv_array(a):
    """``xp.linalg.inv`` raising :class:`LinAlgError` with PyTorch's message for a singular matrix."""
    xp = backend.get_array_module(a)
    try:
        return xp.linalg.inv(a)
    except _lapack_error(xp):
        _raise_singular("linalg.inv", a)


class Inv(ArrayFunction):
    """Matrix inverse; backward ``-A^-T g A^-T`` (``LinalgInvExBackward0``)."""

    node_name = "LinalgInvExBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a):
        out = inv_array(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        xp = xp_of(g)
        yt = mT(y)
        return -xp.matmul(xp.matmul(yt, g), yt)


def inv(A):
    """The inverse of each square matrix in ``A`` (``torch.linalg.inv``).

    Raises :class:`LinAlgError` for a singular matrix and RuntimeError for
    integer or non-square input.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.inv(distgrad.tensor([[2.0, 0.0], [0.0, 4.0]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.2500]])
    """
    check_square("linalg.inv", A)
    return Inv.apply(A)


def inv_ex(A, *, check_errors=False):
    """``(inverse, info)``: like :func:`inv`, but a singular matrix gives ``info > 0`` instead of an error.

    ``info`` (int32, one per matrix) is the 1-based index of the first zero
    pivot, as LAPACK reports it; the inverse of such a matrix is NaN here
    (PyTorch leaves whatever LAPACK wrote there).

    Example::

        >>> import distgrad
        >>> distgrad.linalg.inv_ex(distgrad.zeros(2, 2)).info
        tensor(1, dtype=distgrad.int32)
    """
    check_square("linalg.inv_ex", A)
    xp = backend.get_array_module(A._data)
    try:
        out = Inv.apply(A)
        info = xp.zeros(A.shape[:-2], dtype=xp.int32)
    except LinAlgError:
        if check_errors:
            raise
        infos = xp.asarray(_singular_infos(A._data), dtype=xp.int32).reshape(A.shape[:-2])
        flat = A._data.reshape((-1,) + A.shape[-2:])
        good = backend.to_device(infos.reshape(-1) == 0, backend.CPU)
        res = xp.full(flat.shape, xp.nan, dtype=A._data.dtype)
        if good.any():
            res[good] = xp.linalg.inv(flat[good])
        out, info = Tensor._make(res.reshape(A.shape)), infos
    return linalg_inv_ex(out, Tensor._make(info))


def inverse(input):
    """``torch.inverse``: the same as :func:`inv`.

    Example::

        >>> import distgrad
        >>> distgrad.inverse(distgrad.tensor([[4.0]]))
        tensor([[0.2500]])
    """
    return inv(input)


class Solve(ArrayFunction):
    """``X`` with ``A X = B`` for matrix ``B``, batch dims broadcast (``LinalgSolveExBackward0``)."""

    node_name = "LinalgSolveExBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a, b):
        xp = backend.get_array_module(a)
        batch = batch_shape(a.shape, b.shape)
        ab, bb = xp.broadcast_to(a, batch + a.shape[-2:]), xp.broadcast_to(b, batch + b.shape[-2:])
        try:
            x = xp.linalg.solve(ab, bb)
        except _lapack_error(xp):
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is singular.") from None
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        xp = xp_of(g)
        gb = xp.linalg.solve(mT(a), g)
        ga = -xp.matmul(gb, mT(x)) if ctx.needs_input_grad[0] else None
        return (sum_to(ga, ctx.a_shape) if ga is not None else None,
                sum_to(gb, ctx.b_shape) if ctx.needs_input_grad[1] else None)


def is_vector_rhs(A, B):
    """PyTorch's rule for when ``B`` of ``solve(A, B)`` is a (batch of) vector(s) rather than matrices."""
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def solve_matrix(A, B):
    """``X`` with ``A X = B`` for a matrix (or batch of matrices) ``B``, without argument checks."""
    return Solve.apply(A, B)


def solve(A, B, *, left=True, out=None):
    """The solution ``X`` of ``A X = B`` (``left=True``) or ``X A = B`` (``torch.linalg.solve``).

    ``A`` is ``(*, n, n)``; ``B`` is ``(*, n, k)``, or a (batch of) vector(s)
    ``(*, n)`` / ``(n,)`` by PyTorch's rule; batch dims broadcast.  A
    singular ``A`` raises :class:`LinAlgError`.

    Example::

        >>> import distgrad
        >>> a = distgrad.tensor([[3.0, 1.0], [1.0, 2.0]])
        >>> distgrad.linalg.solve(a, distgrad.tensor([9.0, 8.0]))
        tensor([2., 3.])
    """
    if out is not None:
        raise TypeError("linalg.solve: the out= argument is not supported by distgrad")
    check_square("linalg.solve", A)
    if B.ndim < 1:
        raise RuntimeError("linalg.solve: The input tensor B must have at least 1 dimension.")
    check_same_dtype("linalg.solve", A, B)
    vector = is_vector_rhs(A, B)
    Bm = B.unsqueeze(-1) if vector else B
    n = A.shape[-1]
    if left and Bm.shape[-2] != n or not left and Bm.shape[-1] != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation {eq} "
                           f"({A.shape[-2]}x{n} and {Bm.shape[-2]}x{Bm.shape[-1]})")
    X = solve_matrix(A, Bm) if left else solve_matrix(A.mT, Bm.mT).mT
    return X.squeeze(-1) if vector else X


def _substitute(t, b, upper):
    """Back/forward substitution on a triangular batch (used when LAPACK refuses a zero diagonal)."""
    xp = backend.get_array_module(t)
    n = t.shape[-1]
    x = xp.zeros(xp.broadcast_shapes(t.shape[:-2], b.shape[:-2]) + b.shape[-2:], dtype=b.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in (range(n - 1, -1, -1) if upper else range(n)):
            rest = xp.matmul(t[..., i:i + 1, :], x)  # the rows not yet solved are still 0
            x[..., i, :] = (b[..., i, :] - rest[..., 0, :]) / t[..., i, i:i + 1]
    return x


class SolveTriangular(ArrayFunction):
    """``X`` with ``T X = B`` for the triangle ``T`` of ``A`` (``LinalgSolveTriangularBackward0``)."""

    node_name = "LinalgSolveTriangularBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a, b, upper, unitriangular):
        xp = backend.get_array_module(a)
        ctx.upper, ctx.unit, ctx.eye = upper, unitriangular, eye_for(a, a.shape[-1])
        t = triangle(a, upper, unitriangular, ctx.eye)
        batch = batch_shape(a.shape, b.shape)
        try:
            x = xp.linalg.solve(xp.broadcast_to(t, batch + t.shape[-2:]), xp.broadcast_to(b, batch + b.shape[-2:]))
        except _lapack_error(xp):
            x = _substitute(t, b, upper)  # a zero on the diagonal: inf/nan, as PyTorch gives
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        xp = xp_of(g)
        t = triangle(a, ctx.upper, ctx.unit, ctx.eye)
        gb = xp.linalg.solve(mT(t), g)  # a general solve on the exact triangle: the same X, differentiable
        ga = None
        if ctx.needs_input_grad[0]:
            ga = -xp.matmul(gb, mT(x))
            ga = xp.triu(ga, 1 if ctx.unit else 0) if ctx.upper else xp.tril(ga, -1 if ctx.unit else 0)
            ga = sum_to(ga, ctx.a_shape)
        return ga, (sum_to(gb, ctx.b_shape) if ctx.needs_input_grad[1] else None), None, None


def triangle(a, upper, unitriangular, eye):
    """The upper or lower triangle of ``a`` (array or Tensor), with a unit diagonal if asked."""
    xp = xp_of(a)
    t = xp.triu(a) if upper else xp.tril(a)
    return t * (1 - eye) + eye if unitriangular else t


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """The solution of ``T X = B`` (or ``X T = B`` with ``left=False``) for the triangle ``T`` of ``A``.

    Only the upper (``upper=True``) or lower triangle of ``A`` is read; with
    ``unitriangular`` its diagonal is taken as ones (``torch.linalg.solve_triangular``).

    Example::

        >>> import distgrad
        >>> a = distgrad.tensor([[2.0, 1.0], [0.0, 4.0]])
        >>> distgrad.linalg.solve_triangular(a, distgrad.tensor([[4.0], [8.0]]), upper=True)
        tensor([[1.],
                [2.]])
    """
    if out is not None:
        raise TypeError("linalg.solve_triangular: the out= argument is not supported by distgrad")
    check_square("linalg.solve_triangular", A)
    check_matrix("linalg.solve_triangular", B, "B")
    check_same_dtype("linalg.solve_triangular", A, B)
    n = A.shape[-1]
    if left and B.shape[-2] != n or not left and B.shape[-1] != n:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({A.shape[-2]}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    if left:
        return SolveTriangular.apply(A, B, bool(upper), bool(unitriangular))
    return SolveTriangular.apply(A.mT, B.mT, not upper, bool(unitriangular)).mT


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """The legacy ``torch.triangular_solve``: ``(solution, cloned_coefficient)`` of ``op(T) X = b``, with
    ``op`` the transpose when ``transpose`` and ``T`` the upper (or lower) triangle of ``A``.

    Prefer :func:`distgrad.linalg.solve_triangular` (arguments reversed, no copy of ``A``), as
    PyTorch advises; this form exists so programs written against it run.

    Example::

        >>> import distgrad
        >>> A = distgrad.tensor([[2.0, 1.0], [0.0, 3.0]])
        >>> distgrad.triangular_solve(distgrad.tensor([[1.0], [2.0]]), A).solution
        tensor([[0.1667],
                [0.6667]])
    """
    T = A.mT if transpose else A
    x = solve_triangular(T, b, upper=(not upper) if transpose else upper, unitriangular=unitriangular)
    return triangular_solve_type(x, A.clone())


class CholeskySolve(ArrayFunction):
    """``X`` with ``L L^T X = B`` from the lower triangle of ``L`` (``CholeskySolveBackward0``).

    Backward as PyTorch's: ``gB = (L L^T)^-1 g`` and, with ``C = gB X^T + X gB^T``,
    ``gL = -C L`` (``-L C`` for an upper factor), the gradient of the full ``L``.
    """

    node_name = "CholeskySolveBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, b, factor, upper):
        xp = backend.get_array_module(b)
        low = xp.swapaxes(xp.triu(factor), -1, -2) if upper else xp.tril(factor)
        batch = batch_shape(b.shape, factor.shape)
        low_b = xp.broadcast_to(low, batch + low.shape[-2:])
        y = xp.linalg.solve(low_b, xp.broadcast_to(b, batch + b.shape[-2:]))
        x = xp.linalg.solve(xp.swapaxes(low_b, -1, -2), y)
        ctx.upper, ctx.b_shape, ctx.l_shape = upper, b.shape, factor.shape
        ctx.save_for_backward(factor, x)
        return x

    @staticmethod
    def backward(ctx, g):
        factor, x = ctx.saved_tensors
        xp = xp_of(g)
        a = xp.matmul(mT(factor), factor) if ctx.upper else xp.matmul(factor, mT(factor))
        gb = xp.linalg.solve(a, g)
        gl = None
        if ctx.needs_input_grad[1]:
            c = xp.matmul(gb, mT(x))
            c = c + mT(c)
            gl = sum_to(-xp.matmul(factor, c) if ctx.upper else -xp.matmul(c, factor), ctx.l_shape)
        return (sum_to(gb, ctx.b_shape) if ctx.needs_input_grad[0] else None), gl, None


def cholesky_solve(B, L, upper=False):
    """The solution of ``A X = B`` given the Cholesky factor ``L`` of ``A`` (``torch.cholesky_solve``).

    Two triangular solves with the lower (``upper=True``: upper) triangle of
    ``L``; gradients flow to ``B`` and, as in PyTorch, to all of ``L``.

    Example::

        >>> import distgrad
        >>> L = distgrad.tensor([[2.0, 0.0], [1.0, 1.0]])
        >>> distgrad.cholesky_solve(distgrad.tensor([[4.0], [3.0]]), L)   # A = L L^T = [[4, 2], [2, 2]]
        tensor([[0.5000],
                [1.0000]])
    """
    check_matrix("cholesky_solve", B, "b")
    check_square("cholesky_solve", L)
    check_same_dtype("cholesky_solve", B, L, ("b", "A"))
    if B.shape[-2] != L.shape[-1]:
        raise RuntimeError(f"cholesky_solve: Incompatible matrix sizes for cholesky_solve: each A matrix is "
                           f"{L.shape[-1]} by {L.shape[-1]} but each b matrix is {B.shape[-2]} by {B.shape[-1]}")
    return CholeskySolve.apply(B, L, bool(upper))
