"""The LU family: linalg.lu_factor(_ex), linalg.lu, lu_unpack, linalg.lu_solve, linalg.solve_ex.

``A = P L U`` with partial pivoting, as LAPACK's ``getrf`` computes it: at
step ``k`` the row with the largest ``|a[i, k]|`` (the first of equals) moves
up, and ``pivots[k]`` (1-based, int32) says which row that was.  NumPy has no
LU, so the factorization is written here against ``xp``: one vectorised
elimination step per column, over the whole batch at once.  A zero pivot is
skipped and reported in ``info`` (its 1-based column), as LAPACK does.

Gradients: :class:`LUFactor`'s backward is PyTorch's formula (square, wide and
tall matrices), written against ``xp`` so that it is itself differentiable.
``lu``, ``lu_unpack`` and ``lu_solve`` are composed from it and from
differentiable triangle and triangular-solve ops.

Example::

    >>> import distgrad
    >>> LU, pivots = distgrad.linalg.lu_factor(distgrad.tensor([[0.0, 2.0], [3.0, 4.0]]))
    >>> LU, pivots
    (tensor([[3., 4.],
            [0., 2.]]), tensor([2, 2], dtype=distgrad.int32))
"""
from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.return_types import return_type
from distgrad.autograd.ops.solvers import (LinAlgError, check_same_dtype, check_square,
                                           is_vector_rhs, mT, solve, solve_triangular, torch_type_name)
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.tensor import Tensor

linalg_lu_factor = return_type("linalg_lu_factor", ["LU", "pivots"])
linalg_lu_factor_ex = return_type("linalg_lu_factor_ex", ["LU", "pivots", "info"])
linalg_lu = return_type("linalg_lu", ["P", "L", "U"])
lu_unpack_type = return_type("lu_unpack", ["P", "L", "U"])
linalg_solve_ex = return_type("linalg_solve_ex", ["result", "info"])


def lu_factor_array(a):
    """``(LU, pivots, info)`` of a batch of matrices ``a`` (``getrf``'s results, pivots 1-based int32)."""
    xp = backend.get_array_module(a)
    lu = a.astype(a.dtype, copy=True)
    m, n = a.shape[-2:]
    k_max = min(m, n)
    batch = a.shape[:-2]
    flat = lu.reshape((-1, m, n))
    rows = xp.arange(flat.shape[0])
    pivots = xp.zeros((flat.shape[0], k_max), dtype=xp.int32)
    info = xp.zeros(flat.shape[0], dtype=xp.int32)
    for k in range(k_max):  # one elimination step per column, over the whole batch
        p = k + xp.argmax(xp.abs(flat[:, k:, k]), axis=1)
        pivots[:, k] = p + 1
        top = flat[rows, k].copy()
        flat[rows, k] = flat[rows, p]
        flat[rows, p] = top
        pivot = flat[:, k, k]
        zero = pivot == 0
        info = xp.where((info == 0) & zero, k + 1, info)
        factor = flat[:, k + 1:, k] / xp.where(zero, 1, pivot)[:, None]
        factor = xp.where(zero[:, None], 0, factor)  # a zero column stays zero (LAPACK skips its scaling)
        flat[:, k + 1:, k] = factor
        flat[:, k + 1:, k + 1:] -= factor[:, :, None] * flat[:, k, None, k + 1:]
    return flat.reshape(a.shape), pivots.reshape(batch + (k_max,)), info.reshape(batch)


def permutation_matrix(pivots, m, dtype):
    """``P`` (``(*, m, m)``, ``dtype``) of ``A = P L U`` from LAPACK's 1-based ``pivots``."""
    xp = backend.get_array_module(pivots)
    flat = pivots.reshape((-1, pivots.shape[-1])).astype(xp.int64) - 1
    perm = xp.broadcast_to(xp.arange(m), (flat.shape[0], m)).copy()
    rows = xp.arange(flat.shape[0])
    for k in range(flat.shape[1]):  # replay the row swaps: perm[i] is the row of A that is row i of P^T A
        j = flat[:, k]
        top = perm[rows, k].copy()
        perm[rows, k] = perm[rows, j]
        perm[rows, j] = top
    pt = (perm[:, :, None] == xp.arange(m)[None, None, :]).astype(dtype)
    return xp.swapaxes(pt, -1, -2).reshape(pivots.shape[:-1] + (m, m))


def _unit_lower(lu, k, eye):
    """``L`` (``(*, m, k)``) from the compact ``LU``: its strict lower part plus the unit diagonal."""
    xp = xp_of(lu)
    return xp.tril(lu[..., :, :k], -1) + eye


def _right_solve(xp, a, b):
    """``X`` with ``X a = b``."""
    return mT(xp.linalg.solve(mT(a), mT(b)))


def lu_backward(xp, p, l, u, gl, gu):
    """PyTorch's gradient of ``A`` for ``A = P L U`` from those of ``L`` and ``U`` (real matrices).

    Square: ``P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T``.  A wide ``U =
    [U1 U2]`` adds ``U2 = L^-1 (P^T A)_2``; a tall ``L = [L1; L2]`` adds ``L2 =
    (P^T A)_2 U^-1``; each changes the square formula by its own term.  The
    solves are general solves on exact triangles, so they are differentiable.
    """
    m, n = l.shape[-2], u.shape[-1]
    k = min(m, n)
    if m <= n:
        u1, gu1 = u[..., :, :k], gu[..., :, :k]
        lower = xp.matmul(mT(l), gl)
        if m < n:
            lower = lower - xp.matmul(gu[..., :, k:], mT(u[..., :, k:]))
        phi = xp.tril(lower, -1) + xp.triu(xp.matmul(gu1, mT(u1)))
        g = _right_solve(xp, mT(u1), phi)
        if m < n:
            g = xp.concatenate([g, gu[..., :, k:]], axis=-1)
        return xp.matmul(p, xp.linalg.solve(mT(l), g))
    l1, l2, gl1, gl2 = l[..., :k, :], l[..., k:, :], gl[..., :k, :], gl[..., k:, :]
    phi = xp.tril(xp.matmul(mT(l1), gl1), -1) + xp.triu(xp.matmul(gu, mT(u)) - xp.matmul(mT(l2), gl2))
    g = xp.concatenate([xp.linalg.solve(mT(l1), phi), gl2], axis=-2)
    return xp.matmul(p, _right_solve(xp, mT(u), g))


def _like(array, g):
    """A constant ``array`` in the form ``g`` travels in (a Tensor under ``create_graph``)."""
    return Tensor._make(array) if isinstance(g, Tensor) else array


class LUFactor(ArrayFunction):
    """``(LU, pivots, info)``: the compact LU of each matrix (``LinalgLuFactorExBackward0``); only LU has a gradient."""

    node_name = "LinalgLuFactorExBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a):
        xp = backend.get_array_module(a)
        lu, pivots, info = lu_factor_array(a)
        m, n = a.shape[-2:]
        k = min(m, n)
        ctx.p = permutation_matrix(pivots, m, a.dtype)
        ctx.eye = xp.eye(m, k, dtype=a.dtype)
        ctx.save_for_backward(lu)
        return lu, pivots, info

    @staticmethod
    def backward(ctx, g, unused_pivots_grad, unused_info_grad):
        lu, = ctx.saved_tensors
        xp = xp_of(g)
        k = min(lu.shape[-2:])
        l = _unit_lower(lu, k, _like(ctx.eye, g))
        u = xp.triu(lu[..., :k, :])
        gl, gu = xp.tril(g[..., :, :k], -1), xp.triu(g[..., :k, :])
        return lu_backward(xp, _like(ctx.p, g), l, u, gl, gu)


def _check_lu_input(A):
    if A.ndim < 2:
        raise RuntimeError(f"torch.lu_factor: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(A.shape)} instead")
    if A._data.dtype.kind != "f":
        raise NotImplementedError(f'"lu_cpu" not implemented for \'{torch_type_name(A)}\'')


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """``(LU, pivots, info)``: :func:`lu_factor` without the error for a singular matrix (``info > 0``).

    ``info`` (int32, one per matrix) is the 1-based column of the first zero
    pivot, 0 when there is none.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.lu_factor_ex(distgrad.zeros(2, 2)).info
        tensor(1, dtype=distgrad.int32)
    """
    if out is not None:
        raise TypeError("linalg.lu_factor_ex: the out= argument is not supported by distgrad")
    _check_lu_input(A)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    lu, pivots, info = LUFactor.apply(A)
    if check_errors:
        _raise_for_info("torch.linalg.lu_factor_ex", info, A)
    return linalg_lu_factor_ex(lu, pivots, info)


def _raise_for_info(op, info, A):
    flat = backend.to_device(info._data, backend.CPU).reshape(-1)
    bad = [i for i, v in enumerate(flat) if v]
    if bad:
        where = f"(Batch element {bad[0]}): " if A.ndim > 2 else ""
        k = int(flat[bad[0]])
        raise LinAlgError(f"{op}: {where}U[{k},{k}] is zero and using it on lu_solve would result in a division "
                          "by zero. If you still want to perform the factorization, consider calling "
                          "linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def lu_factor(A, *, pivot=True, out=None):
    """``(LU, pivots)``: the LU factorization with partial pivoting of each matrix in ``A`` (``torch.linalg.lu_factor``).

    ``LU`` holds ``L`` (below the diagonal; its unit diagonal is implied) and
    ``U``; ``pivots`` (1-based, int32) are LAPACK's row swaps.  A matrix with
    a zero pivot raises :class:`LinAlgError` (use :func:`lu_factor_ex` or
    :func:`lu` for those).  Differentiable in ``A``.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.lu_factor(distgrad.tensor([[4.0, 3.0], [6.0, 3.0]])).pivots
        tensor([2, 2], dtype=distgrad.int32)
    """
    if out is not None:
        raise TypeError("linalg.lu_factor: the out= argument is not supported by distgrad")
    lu, pivots, info = lu_factor_ex(A, pivot=pivot)
    _raise_for_info("torch.linalg.lu_factor", info, A)
    return linalg_lu_factor(lu, pivots)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """``(P, L, U)`` from :func:`lu_factor`'s compact form (``torch.lu_unpack``); ``L`` and ``U`` are differentiable.

    With ``unpack_data=False`` L and U are empty; with ``unpack_pivots=False`` P is.

    Example::

        >>> import distgrad
        >>> P, L, U = distgrad.lu_unpack(*distgrad.linalg.lu_factor(distgrad.tensor([[0.0, 1.0], [2.0, 3.0]])))
        >>> P
        tensor([[0., 1.],
                [1., 0.]])
    """
    if out is not None:
        raise TypeError("lu_unpack: the out= argument is not supported by distgrad")
    xp = backend.get_array_module(LU_data._data)
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    empty = Tensor._make(xp.zeros((0,), dtype=LU_data._data.dtype))
    if unpack_pivots:
        if LU_pivots._data.dtype != xp.int32:
            raise RuntimeError(f"lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype. "
                               f"Got {torch_type_name(LU_pivots)} instead")
        P = Tensor._make(permutation_matrix(LU_pivots._data, m, LU_data._data.dtype))
    else:
        P = empty
    if not unpack_data:
        return lu_unpack_type(P, empty, empty)
    L = _unit_lower(LU_data, k, Tensor._make(xp.eye(m, k, dtype=LU_data._data.dtype)))
    return lu_unpack_type(P, L, LU_data[..., :k, :].triu())


def lu(A, *, pivot=True, out=None):
    """``(P, L, U)`` with ``A = P L U`` (``torch.linalg.lu``): ``L`` unit lower, ``U`` upper; works for singular ``A``.

    Example::

        >>> import distgrad
        >>> P, L, U = distgrad.linalg.lu(distgrad.tensor([[1.0, 2.0], [3.0, 4.0]]))
        >>> (P @ L @ U).tolist()
        [[1.0, 2.0], [3.0, 4.0]]
    """
    if out is not None:
        raise TypeError("linalg.lu: the out= argument is not supported by distgrad")
    lu_, pivots, _ = lu_factor_ex(A, pivot=pivot)
    P, L, U = lu_unpack(lu_, pivots)
    return linalg_lu(P, L, U)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """``X`` with ``A X = B`` (``A^T X = B`` with ``adjoint``; ``X A = B`` with ``left=False``) from ``A``'s :func:`lu_factor`.

    Composed of the permutation and two triangular solves, so it is
    differentiable in ``LU`` and ``B`` (``torch.linalg.lu_solve``).

    Example::

        >>> import distgrad
        >>> A = distgrad.tensor([[3.0, 1.0], [1.0, 2.0]])
        >>> distgrad.linalg.lu_solve(*distgrad.linalg.lu_factor(A), distgrad.tensor([[9.0], [8.0]]))
        tensor([[2.],
                [3.]])
    """
    if out is not None:
        raise TypeError("linalg.lu_solve: the out= argument is not supported by distgrad")
    check_square("linalg.lu_solve", LU, "LU")
    if B.ndim < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 dimensions.")
    check_same_dtype("linalg.lu_solve", LU, B, ("LU", "B"))
    n = LU.shape[-1]
    if left and B.shape[-2] != n or not left and B.shape[-1] != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation {eq} "
                           f"({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    P, L, U = lu_unpack(LU, pivots)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return lu_solve(LU, pivots, B.mT, adjoint=not adjoint).mT
    if adjoint:  # A^T = U^T L^T P^T:  X = P L^-T U^-T B
        y = solve_triangular(U.mT, B, upper=False)
        return P @ solve_triangular(L.mT, y, upper=True, unitriangular=True)
    y = solve_triangular(L, P.mT @ B, upper=False, unitriangular=True)
    return solve_triangular(U, y, upper=True)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """``(result, info)``: :func:`distgrad.linalg.solve` that reports a singular ``A`` in ``info`` instead of raising.

    ``info`` is the 1-based column of the first zero pivot of ``A``'s LU (0
    when ``A`` is invertible); a singular system's result is whatever the
    elimination gives (inf or NaN), as PyTorch's.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.solve_ex(distgrad.eye(2), distgrad.ones(2)).info
        tensor(0, dtype=distgrad.int32)
    """
    if out is not None:
        raise TypeError("linalg.solve_ex: the out= argument is not supported by distgrad")
    check_square("linalg.solve_ex", A)
    try:  # the common case: LAPACK's solve, which factors A once
        X = solve(A, B, left=left)
        return linalg_solve_ex(X, Tensor._make(backend.get_array_module(A._data).zeros(A.shape[:-2], dtype="int32")))
    except LinAlgError:
        if check_errors:
            raise LinAlgError("torch.linalg.solve_ex: The solver failed because the input matrix is singular.") \
                from None
    LU_, pivots, info = lu_factor_ex(A)  # a singular A: info from the factorization, its result by elimination
    vector = is_vector_rhs(A, B)
    X = lu_solve(LU_, pivots, B.unsqueeze(-1) if vector else B, left=left)
    return linalg_solve_ex(X.squeeze(-1) if vector else X, info)
