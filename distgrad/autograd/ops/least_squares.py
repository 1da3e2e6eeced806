"""Least squares and pseudo-inverses: ``pinv``/``pinverse`` and ``lstsq``, with gradients.

``pinv`` cuts singular values below PyTorch's ``atol``/``rtol`` (or ``rcond``) tolerances;
``lstsq`` returns PyTorch's ``(solution, residuals, rank, singular_values)`` per driver.

Example::

    >>> import distgrad
    >>> distgrad.linalg.pinv(distgrad.tensor([[2.0, 0.0], [0.0, 0.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.0000]])
"""
import numpy as np  # host-side only: machine epsilon, errstate

from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.arithmetic import broadcast_error
from distgrad.autograd.ops.linalg import matmul
from distgrad.autograd.ops.return_types import return_type
from distgrad.autograd.ops.solvers import (check_float, check_matrix, check_same_dtype, check_square, eye_for,
                                           is_vector_rhs, mT, torch_type_name)
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.tensor import Tensor

linalg_lstsq = return_type("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


class Pinv(ArrayFunction):
    """Moore-Penrose pseudo-inverse with a singular-value cut-off (``LinalgPinvBackward0``).

    Backward is the closed form for a fixed rank,
    ``-P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A)``.
    """

    node_name = "LinalgPinvBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a, atol, rtol, hermitian):
        xp = backend.get_array_module(a)
        if hermitian:
            w, q = xp.linalg.eigh(a)
            s, left, right = xp.abs(w), q, xp.swapaxes(q, -1, -2) * 1
            sign = xp.sign(w)
        else:
            left, s, right = xp.linalg.svd(a, full_matrices=False)
            sign = 1
        smax = s.max(axis=-1, keepdims=True) if s.shape[-1] else xp.zeros(s.shape[:-1] + (1,), dtype=a.dtype)
        tol = xp.maximum(xp.expand_dims(xp.asarray(atol, dtype=a.dtype), -1),
                         xp.expand_dims(xp.asarray(rtol, dtype=a.dtype), -1) * smax)
        keep = s > tol
        sinv = xp.where(keep, sign / xp.where(keep, s, 1), 0)
        p = xp.matmul(xp.swapaxes(right, -1, -2) * xp.expand_dims(sinv, -2), xp.swapaxes(left, -1, -2))
        p = p.astype(a.dtype, copy=False)
        m, n = a.shape[-2:]
        ctx.eye_m, ctx.eye_n = eye_for(a, m), eye_for(a, n)
        ctx.save_for_backward(a, p)
        return p

    @staticmethod
    def backward(ctx, g):
        a, p = ctx.saved_tensors
        xp = xp_of(g)
        pt, gt = mT(p), mT(g)
        ga = -xp.matmul(xp.matmul(pt, g), pt)
        ga = ga + xp.matmul(gt - xp.matmul(a, xp.matmul(p, gt)), xp.matmul(p, pt))
        ga = ga + xp.matmul(xp.matmul(pt, p), gt - xp.matmul(xp.matmul(gt, p), a))
        return ga, None, None, None


def _tolerances(A, atol, rtol, rcond):
    if rcond is not None:
        rtol = rcond
    raw = [v._data if isinstance(v, Tensor) else v for v in (atol, rtol)]
    if raw[0] is not None and raw[1] is None:
        raw[1] = 0.0  # an explicit atol alone turns the default rtol off, as in PyTorch
    if raw[1] is None:
        raw[1] = float(np.finfo(A._data.dtype).eps) * max(A.shape[-2:])
    if raw[0] is None:
        raw[0] = 0.0
    return raw[0], raw[1]


def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """The pseudo-inverse of each matrix in ``A`` (``torch.linalg.pinv``).

    Singular values (absolute eigenvalues with ``hermitian=True``) not above
    ``max(atol, rtol * s_max)`` count as zero; the default ``rtol`` is
    ``eps * max(m, n)`` (none when only ``atol`` is given); ``rcond`` is the
    older name of ``rtol``.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.pinv(distgrad.tensor([[2.0, 0.0], [0.0, 0.0]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.0000]])
    """
    if out is not None:
        raise TypeError("linalg.pinv: the out= argument is not supported by distgrad")
    if A.ndim < 2 or A._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.pinv({torch_type_name(A)}{{{list(A.shape)}}}): expected a tensor with 2 or "
                           "more dimensions of float, double, cfloat or cdouble types")
    if hermitian:
        check_square("linalg.pinv", A)
    atol, rtol = _tolerances(A, atol, rtol, rcond)
    return Pinv.apply(A, atol, rtol, bool(hermitian))


def pinverse(input, rcond=1e-15):
    """``torch.pinverse``: :func:`pinv` with ``rtol=rcond``.

    Example::

        >>> import distgrad
        >>> distgrad.pinverse(distgrad.tensor([[4.0]]))
        tensor([[0.2500]])
    """
    return pinv(input, rtol=rcond)


_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution of ``A X = B`` with PyTorch's ``(solution, residuals, rank, singular_values)``.

    The solution is ``pinv(A) @ B`` (the minimum-norm solution, what every
    LAPACK driver returns for full-rank input), so its gradient is the pseudo-
    inverse's.  Which of the other fields are filled follows PyTorch's CPU
    drivers (default ``'gelsy'``): ``residuals`` (squared column norms of
    ``A X - B``) only for ``m > n`` with full-rank matrices and a driver other
    than gelsy; ``rank`` for all but gels; ``singular_values`` for gelsd and
    gelss.  The rank here comes from the singular values with cut-off
    ``rcond * s_max`` (gelsy estimates it from a pivoted QR; the two agree
    except on nearly rank-deficient input).

    Example::

        >>> import distgrad
        >>> a = distgrad.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
        >>> distgrad.linalg.lstsq(a, distgrad.tensor([[1.0], [2.0], [3.0]])).solution
        tensor([[1.],
                [2.]])
    """
    driver = "gelsy" if driver is None else driver
    if driver not in _DRIVERS:
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    check_matrix("torch.linalg.lstsq", A)
    check_float("torch.linalg.lstsq", A)
    check_same_dtype("torch.linalg.lstsq", A, B, ("input", "other"))
    if not (0 <= A.ndim - B.ndim <= 1):
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to other.dim() and "
                           "(input.dim() - other.dim()) <= 1")
    vector = is_vector_rhs(A, B)
    if A.ndim - B.ndim == 1 and not vector:  # PyTorch then matches A's batch dims against B's leading dims
        err = broadcast_error(tuple(A.shape[:-2]), tuple(B.shape[:-1]))
        if err is not None:
            raise err
    Bm = B.unsqueeze(-1) if vector else B
    if Bm.shape[-2] != A.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    m, n = A.shape[-2:]
    rtol = float(np.finfo(A._data.dtype).eps) * max(m, n) if rcond is None or rcond < 0 else float(rcond)
    X = matmul(Pinv.apply(A, 0.0, 0.0 if driver == "gels" else rtol, False), Bm)
    xp = backend.get_array_module(A._data)
    s = xp.linalg.svd(A._data, compute_uv=False)
    rank = (s > rtol * s.max(axis=-1, keepdims=True)).sum(-1).astype(xp.int64) if min(m, n) else \
        xp.zeros(A.shape[:-2], dtype=xp.int64)
    empty = Tensor._make(xp.zeros((0,), dtype=A._data.dtype))
    residuals = empty
    if driver != "gelsy" and m > n and bool((rank == n).all()):
        r = matmul(A, X) - Bm
        residuals = (r * r).sum(-2)
    return linalg_lstsq(X.squeeze(-1) if vector else X, residuals,
                        Tensor._make(xp.zeros((0,), dtype=xp.int64)) if driver == "gels" else Tensor._make(rank),
                        Tensor._make(s) if driver in ("gelsd", "gelss") else empty)
