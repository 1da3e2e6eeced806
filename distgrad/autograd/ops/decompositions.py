"""Matrix decompositions: cholesky, qr, svd / svdvals, eigh / eigvalsh, batched over leading dims.

Each backward is the standard matrix-calculus formula, written once against
``xp`` so that it also runs on Tensors (``create_graph=True``) and gives
second derivatives.  Singular vectors and eigenvectors are defined only up to
sign, so only functions that do not depend on that choice (``U diag(S) Vh``,
``|Q|``, projectors) have well-defined gradients; repeated singular values or
eigenvalues make the formulas divide by zero, as in PyTorch.

Example::

    >>> import distgrad
    >>> a = distgrad.tensor([[4.0, 2.0], [2.0, 3.0]])
    >>> distgrad.linalg.cholesky(a)
    tensor([[2.0000, 0.0000],
            [1.0000, 1.4142]])
"""
from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.return_types import return_type
from distgrad.autograd.ops.solvers import LinAlgError, check_float, check_matrix, check_square, eye_for, mT
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.tensor import Tensor
from distgrad.autograd import grad_mode

linalg_cholesky_ex = return_type("linalg_cholesky_ex", ["L", "info"])
linalg_qr = return_type("linalg_qr", ["Q", "R"])
svd_type = return_type("svd", ["U", "S", "V"])
linalg_svd = return_type("linalg_svd", ["U", "S", "Vh"])
linalg_eigh = return_type("linalg_eigh", ["eigenvalues", "eigenvectors"])


def _lapack_error(xp):
    return getattr(xp.linalg, "LinAlgError", ValueError)


def _diag_embed(v, eye):
    """``v`` (``(*, k)``) as diagonal matrices, for an array or a Tensor."""
    return xp_of(v).expand_dims(v, -1) * eye


def _failed_minor(a):
    """Per matrix of the batch ``a``: the order of the first leading minor that is not positive-definite."""
    import numpy as np  # the error path only: small host loops to report what LAPACK's info would be
    host = backend.to_device(a, backend.CPU).reshape((-1,) + a.shape[-2:])
    orders = []
    for m in host:
        order = 0
        for k in range(1, m.shape[-1] + 1):
            try:
                np.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                order = k
                break
        orders.append(order)
    return orders


class Cholesky(ArrayFunction):
    """``L`` with ``A = L L^T`` from the lower triangle of ``A`` (``LinalgCholeskyExBackward0``).

    Backward: ``gA = L^-T S L^-1`` with ``S`` the symmetric part of
    ``tril(L^T gL)`` (its diagonal halved), a symmetric gradient as PyTorch's.
    """

    node_name = "LinalgCholeskyExBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a, upper):
        xp = backend.get_array_module(a)
        try:
            low = xp.linalg.cholesky(a)
        except _lapack_error(xp):
            orders = _failed_minor(a)
            idx = next((i for i, v in enumerate(orders) if v), 0)
            prefix = f"(Batch element {idx}): " if a.ndim > 2 else ""
            raise LinAlgError(f"linalg.cholesky: {prefix}The factorization could not be completed because the "
                              f"input is not positive-definite (the leading minor of order {orders[idx] or 1} "
                              "is not positive-definite).") from None
        out = xp.swapaxes(low, -1, -2).copy() if upper else low
        ctx.upper = upper
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        xp = xp_of(g)
        low, gl = (mT(out), mT(g)) if ctx.upper else (out, g)
        p = xp.tril(xp.matmul(mT(low), gl))
        s = 0.5 * (p + mT(xp.tril(p, -1)))
        y = xp.linalg.solve(mT(low), s)             # L^-T S
        return mT(xp.linalg.solve(mT(low), mT(y))), None  # (L^-T (L^-T S)^T)^T = L^-T S L^-1


def cholesky(A, *, upper=False, out=None):
    """The Cholesky factor of each symmetric positive-definite matrix in ``A`` (``torch.linalg.cholesky``).

    Reads only the lower triangle of ``A``; ``upper=True`` returns ``L^T``.
    Raises :class:`~distgrad.linalg.LinAlgError` when ``A`` is not positive-definite.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.cholesky(distgrad.tensor([[9.0, 0.0], [0.0, 4.0]]), upper=True)
        tensor([[3., 0.],
                [0., 2.]])
    """
    if out is not None:
        raise TypeError("linalg.cholesky: the out= argument is not supported by distgrad")
    check_square("linalg.cholesky", A)
    return Cholesky.apply(A, bool(upper))


def cholesky_ex(A, *, upper=False, check_errors=False):
    """``(L, info)``: like :func:`cholesky`, but a non-positive-definite matrix gives ``info > 0``.

    ``info`` (int32, one per matrix) is the order of the first leading minor
    that is not positive-definite; the factor of such a matrix is NaN here
    (PyTorch leaves LAPACK's partial result).

    Example::

        >>> import distgrad
        >>> distgrad.linalg.cholesky_ex(-distgrad.eye(2)).info
        tensor(1, dtype=distgrad.int32)
    """
    check_square("linalg.cholesky_ex", A)
    xp = backend.get_array_module(A._data)
    try:
        return linalg_cholesky_ex(Cholesky.apply(A, bool(upper)), Tensor._make(xp.zeros(A.shape[:-2], dtype=xp.int32)))
    except LinAlgError:
        if check_errors:
            raise
    info = xp.asarray(_failed_minor(A._data), dtype=xp.int32)
    flat = A._data.reshape((-1,) + A.shape[-2:])
    good = backend.to_device(info == 0, backend.CPU)
    res = xp.full(flat.shape, xp.nan, dtype=A._data.dtype)
    if good.any():
        low = xp.linalg.cholesky(flat[good])
        res[good] = xp.swapaxes(low, -1, -2) if upper else low
    return linalg_cholesky_ex(Tensor._make(res.reshape(A.shape)), Tensor._make(info.reshape(A.shape[:-2])))


def cholesky_legacy(input, upper=False):
    """``torch.cholesky`` / ``Tensor.cholesky`` (deprecated in PyTorch): :func:`cholesky`.

    Example::

        >>> import distgrad
        >>> distgrad.cholesky(distgrad.tensor([[4.0]]))
        tensor([[2.]])
    """
    return cholesky(input, upper=upper)


def _qr_backward_tall(xp, q, r, gq, gr):
    """gA for ``A = Q R`` with R square and invertible (m >= n): ``(gQ + Q copyltu(M)) R^-T``."""
    m = xp.matmul(r, mT(gr)) - xp.matmul(mT(gq), q)
    b = gq + xp.matmul(q, xp.tril(m) + mT(xp.tril(m, -1)))
    return mT(xp.linalg.solve(r, mT(b)))


class QR(ArrayFunction):
    """``A = Q R`` by Householder reflections (``LinalgQrBackward0``)."""

    node_name = "LinalgQrBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a, mode):
        xp = backend.get_array_module(a)
        ctx.mode = mode
        if mode == "r":
            r = xp.linalg.qr(a, mode="r")
            return xp.zeros((0,), dtype=a.dtype), r
        q, r = xp.linalg.qr(a, mode=mode)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(a, q, r)
        return q, r

    @staticmethod
    def backward(ctx, gq, gr):
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
                               "through linalg.qr.")
        a, q, r = ctx.saved_tensors
        m, n = a.shape[-2:]
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        xp = xp_of(gq if gq is not None else gr)
        gq = gq if gq is not None else q * 0
        gr = gr if gr is not None else r * 0
        if m >= n:
            return _qr_backward_tall(xp, q, r, gq, gr), None
        # wide: A = [X | Y], X = Q U square, Y = Q V; the extra columns only enter through V = Q^T Y
        y, u, gu, gv = a[..., m:], r[..., :m], gr[..., :m], gr[..., m:]
        gx = _qr_backward_tall(xp, q, u, gq + xp.matmul(y, mT(gv)), gu)
        return xp.concatenate([gx, xp.matmul(q, gv)], axis=-1), None


def qr(A, mode="reduced", *, out=None):
    """``(Q, R)`` with ``A = Q R``, ``Q`` orthonormal columns and ``R`` upper triangular (``torch.linalg.qr``).

    ``mode``: ``'reduced'`` (``Q`` is m x k, k = min(m, n)), ``'complete'``
    (``Q`` is m x m) or ``'r'`` (``R`` only; ``Q`` is empty and there is no
    gradient).  Signs follow LAPACK's Householder QR, as PyTorch's do.

    Example::

        >>> import distgrad
        >>> q, r = distgrad.linalg.qr(distgrad.tensor([[3.0, 1.0], [4.0, 2.0]]))
        >>> (q @ r).round()
        tensor([[3., 1.],
                [4., 2.]])
    """
    if out is not None:
        raise TypeError("linalg.qr: the out= argument is not supported by distgrad")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           "or 'complete'")
    check_matrix("linalg.qr", A)
    check_float("linalg.qr", A)
    return linalg_qr(*QR.apply(A, mode))


class SVD(ArrayFunction):
    """``A = U diag(S) Vh`` (``LinalgSvdBackward0``).

    Backward (reduced factors, ``F_ij = 1 / (s_j^2 - s_i^2)`` off the diagonal)::

        gA = U [diag(gS) + (F o (U^T gU - gU^T U)) S + S (F o (V^T gV - gV^T V))] V^T
             + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T)

    With ``full_matrices`` the columns beyond ``min(m, n)`` get no gradient,
    as in PyTorch.
    """

    node_name = "LinalgSvdBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a, full_matrices):
        xp = backend.get_array_module(a)
        u, s, vh = xp.linalg.svd(a, full_matrices=full_matrices)
        ctx.eye = eye_for(a, min(a.shape[-2:]))
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        xp = xp_of(next(g for g in (gu, gs, gvh) if g is not None))
        k = s.shape[-1]
        m, n = u.shape[-2], vh.shape[-1]
        u, vh = u[..., :k], vh[..., :k, :]  # full_matrices: the extra vectors are arbitrary, no gradient
        gu = gu[..., :k] if gu is not None else None
        gvh = gvh[..., :k, :] if gvh is not None else None
        eye = ctx.eye
        inner = _diag_embed(gs, eye) if gs is not None else None
        if gu is not None or gvh is not None:
            s2 = s * s
            f = 1 / (xp.expand_dims(s2, -2) - xp.expand_dims(s2, -1) + eye) * (1 - eye)  # Tensor first: ndarray op Tensor would leave the graph
            srow, scol = xp.expand_dims(s, -2), xp.expand_dims(s, -1)
            if gu is not None:
                utgu = xp.matmul(mT(u), gu)
                term = f * (utgu - mT(utgu)) * srow
                inner = term if inner is None else inner + term
            if gvh is not None:
                v, gv = mT(vh), mT(gvh)
                vtgv = xp.matmul(vh, gv)
                term = scol * (f * (vtgv - mT(vtgv)))
                inner = term if inner is None else inner + term
        ga = xp.matmul(xp.matmul(u, inner), vh)
        if gu is not None and m > k:
            ga = ga + xp.matmul((gu - xp.matmul(u, utgu)) / srow, vh)
        if gvh is not None and n > k:
            ga = ga + xp.matmul(u, mT(gv - xp.matmul(v, vtgv)) / scol)
        return ga, None


def svd(A, full_matrices=True, *, driver=None, out=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``, ``S`` descending (``torch.linalg.svd``).

    ``full_matrices=False`` gives the reduced factors (k = min(m, n)
    columns).  The signs of singular vectors are arbitrary; differentiate
    functions that do not depend on them.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.svd(distgrad.tensor([[3.0, 0.0], [0.0, -2.0]])).S
        tensor([3., 2.])
    """
    if out is not None:
        raise TypeError("linalg.svd: the out= argument is not supported by distgrad")
    check_matrix("linalg.svd", A)
    check_float("linalg.svd", A)
    return linalg_svd(*SVD.apply(A, bool(full_matrices)))


def svd_legacy(input, some=True, compute_uv=True):
    """``torch.svd``: ``(U, S, V)`` with ``input = U diag(S) V^T`` (V, not Vh); ``some=False`` gives full U and V.

    With ``compute_uv=False`` U and V are zeros, as PyTorch returns them.

    Example::

        >>> import distgrad
        >>> u, s, v = distgrad.svd(distgrad.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
        >>> s, u.shape, v.shape
        (tensor([2., 1.]), distgrad.Size([3, 2]), distgrad.Size([2, 2]))
    """
    check_matrix("svd", input)
    check_float("svd", input)
    if not compute_uv:
        m, n = input.shape[-2], input.shape[-1]
        u = input.new_zeros(*input.shape[:-2], m, m)  # PyTorch's shapes for compute_uv=False
        v = input.new_zeros(*input.shape[:-2], n, n)
        return svd_type(u, svdvals(input), v)
    u, s, vh = svd(input, full_matrices=not some)
    return svd_type(u, s, vh.mT)


def _needs_grad(t):
    return grad_mode.is_grad_enabled() and t.requires_grad


def svdvals(A, *, driver=None, out=None):
    """The singular values of each matrix in ``A``, descending (``torch.linalg.svdvals``).

    Differentiable also where singular values repeat: the gradient is ``U diag(gS) Vh``.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.svdvals(distgrad.tensor([[0.0, 2.0], [1.0, 0.0]]))
        tensor([2., 1.])
    """
    if out is not None:
        raise TypeError("linalg.svdvals: the out= argument is not supported by distgrad")
    check_matrix("linalg.svdvals", A)
    check_float("linalg.svdvals", A)
    if _needs_grad(A):
        return SVD.apply(A, False)[1]  # through SVD so that double backward sees U and Vh move too
    xp = backend.get_array_module(A._data)
    return Tensor._make(xp.linalg.svd(A._data, compute_uv=False))


class Eigh(ArrayFunction):
    """``A = Q diag(L) Q^T`` for symmetric ``A`` (``LinalgEighBackward0``).

    Backward: ``gA = Q (diag(gL) + skew(Q^T gQ) / E) Q^T`` with
    ``E_ij = L_j - L_i`` off the diagonal: a symmetric gradient, as PyTorch's.
    """

    node_name = "LinalgEighBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a, uplo):
        xp = backend.get_array_module(a)
        w, q = xp.linalg.eigh(a, UPLO=uplo)
        ctx.eye = eye_for(a, a.shape[-1])
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(w, q)
        return w, q

    @staticmethod
    def backward(ctx, gw, gq):
        w, q = ctx.saved_tensors
        xp = xp_of(gw if gw is not None else gq)
        eye = ctx.eye
        inner = _diag_embed(gw, eye) if gw is not None else None
        if gq is not None:
            e = xp.expand_dims(w, -2) - xp.expand_dims(w, -1) + eye
            qtgq = xp.matmul(mT(q), gq)
            term = (0.5 * (qtgq - mT(qtgq))) / e * (1 - eye)  # Tensor first: ndarray op Tensor would leave the graph
            inner = term if inner is None else inner + term
        return xp.matmul(xp.matmul(q, inner), mT(q)), None


def _check_uplo(UPLO):
    if UPLO not in ("L", "U", "l", "u"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO.upper()


def eigh(A, UPLO="L", *, out=None):
    """``(eigenvalues, eigenvectors)`` of symmetric matrices, eigenvalues ascending (``torch.linalg.eigh``).

    Only the triangle named by ``UPLO`` (``'L'`` or ``'U'``) is read.
    Eigenvectors are defined up to sign.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.eigh(distgrad.tensor([[2.0, 1.0], [1.0, 2.0]])).eigenvalues
        tensor([1., 3.])
    """
    if out is not None:
        raise TypeError("linalg.eigh: the out= argument is not supported by distgrad")
    uplo = _check_uplo(UPLO)
    check_square("linalg.eigh", A)
    return linalg_eigh(*Eigh.apply(A, uplo))


def eigvalsh(A, UPLO="L", *, out=None):
    """The eigenvalues of symmetric matrices, ascending (``torch.linalg.eigvalsh``).

    Example::

        >>> import distgrad
        >>> distgrad.linalg.eigvalsh(distgrad.tensor([[2.0, 0.0], [0.0, -1.0]]))
        tensor([-1.,  2.])
    """
    if out is not None:
        raise TypeError("linalg.eigvalsh: the out= argument is not supported by distgrad")
    uplo = _check_uplo(UPLO)
    check_square("linalg.eigvalsh", A)
    if _needs_grad(A):
        return Eigh.apply(A, uplo)[0]
    xp = backend.get_array_module(A._data)
    return Tensor._make(xp.linalg.eigvalsh(A._data, UPLO=uplo))
