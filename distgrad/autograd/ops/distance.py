"""Distances: ``cdist`` (all pairs of rows), ``pdist`` (pairs within one set of rows),
``pairwise_distance`` and ``cosine_similarity`` (row by row), as in PyTorch.

``Cdist`` has its own op: the forward works on arrays (the 2-norm through one
matmul for large inputs, as PyTorch's ``compute_mode`` does), and the backward
is Tensor math - for p = 2 two matmuls, otherwise one broadcast difference - so
it is itself differentiable.  Where a distance is 0 its gradient is 0, as in
PyTorch, not NaN.  The row-wise two are composed of existing ops.

Example::

    >>> import distgrad
    >>> a = distgrad.tensor([[0.0, 0.0], [3.0, 4.0]])
    >>> distgrad.cdist(a, a)
    tensor([[0., 5.],
            [5., 0.]])
"""
import math

import numpy as np

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.arithmetic import broadcast_error, where
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.reduce import vector_norm
from distgrad.autograd.ops.rounding import sign
from distgrad.autograd.ops.unary import abs as abs_
from distgrad.autograd.tensor import Tensor

_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def _xp(x):
    return backend.get_array_module(x)


def _pairwise_norm(diff, p):
    """The p-norm over the last axis of an array of differences."""
    xp = _xp(diff)
    a = xp.abs(diff)
    if p == 0:
        return (a != 0).sum(-1).astype(diff.dtype)
    if p == 1:
        return a.sum(-1)
    if p == 2:
        return xp.sqrt((a * a).sum(-1))
    if math.isinf(p):
        return a.max(-1) if a.shape[-1] else xp.zeros(a.shape[:-1], dtype=a.dtype)
    return (a ** p).sum(-1) ** (1.0 / p)


class Cdist(ArrayFunction):
    """p-norm distance between each row of ``x1`` and each row of ``x2``, batch by batch (``torch.cdist``)."""

    node_name = "CdistBackward0"

    @staticmethod
    def forward(ctx, x1, x2, p, use_mm):
        xp = _xp(x1)
        if p == 2 and use_mm:
            sq = (x1 * x1).sum(-1)[..., :, None] + (x2 * x2).sum(-1)[..., None, :]
            out = xp.sqrt(xp.maximum(sq - 2 * xp.matmul(x1, xp.swapaxes(x2, -1, -2)), 0))
        else:
            out = _pairwise_norm(x1[..., :, None, :] - x2[..., None, :, :], p)
        ctx.p = p
        ctx.save_for_backward(x1, x2, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x1, x2, d = ctx.saved_tensors
        p = ctx.p
        if p == 0:
            return x1 * 0, x2 * 0, None, None
        zero = d == 0
        if p == 2:
            w = where(zero, 0.0, g / where(zero, 1.0, d))  # (..., P, R)
            g1 = x1 * w.sum(-1, keepdim=True) - w @ x2
            g2 = x2 * w.sum(-2).unsqueeze(-1) - w.mT @ x1
            return g1, g2, None, None
        diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (..., P, R, M)
        s = sign(diff)
        if p == 1:
            t = s
        elif math.isinf(p):
            t = where(abs_(diff) == d.unsqueeze(-1), s, 0.0)
        else:
            same = (diff == 0) | zero.unsqueeze(-1)
            ratio = where(same, 1.0, abs_(diff)) / where(zero, 1.0, d).unsqueeze(-1)
            t = where(same, 0.0, s * ratio ** (p - 1))
        part = t * g.unsqueeze(-1)
        return part.sum(-2), -part.sum(-3), None, None


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Distances between the rows of ``x1`` ``(..., P, M)`` and of ``x2`` ``(..., R, M)``: shape ``(..., P, R)``.

    ``p`` is any number >= 0 (0 counts differing coordinates, inf takes the
    largest).  Batch dims broadcast.  For p = 2 the matmul form (faster, a
    little less exact) is used for more than 25 rows unless ``compute_mode`` says
    otherwise, as in PyTorch.

    Example::

        >>> import distgrad
        >>> distgrad.cdist(distgrad.tensor([[0.0, 0.0]]), distgrad.tensor([[1.0, 1.0]]), p=1)
        tensor([[2.]])
    """
    for name, t in (("X1", x1), ("X2", x2)):
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
        if not t.is_floating_point():
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {t.dtype}")
    if x1.dtype != x2.dtype:
        raise RuntimeError(f"expected scalar type {x1.dtype} but found {x2.dtype}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in _MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    try:
        batch = tuple(np.broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2])))
    except ValueError:
        raise RuntimeError(f"cdist: the batch dims of X1 {list(x1.shape[:-2])} and X2 {list(x2.shape[:-2])} "
                           "do not broadcast") from None
    a = x1.expand(batch + tuple(x1.shape[-2:]))
    b = x2.expand(batch + tuple(x2.shape[-2:]))
    use_mm = compute_mode == _MODES[1] or (compute_mode == _MODES[0] and (a.shape[-2] > 25 or b.shape[-2] > 25))
    return Cdist.apply(a, b, float(p), use_mm)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The p-norm of ``x1 - x2 + eps`` over the last dim, row by row (``torch.pairwise_distance``).

    Example::

        >>> import distgrad
        >>> distgrad.pairwise_distance(distgrad.tensor([[3.0, 0.0]]), distgrad.tensor([[0.0, 4.0]]), eps=0)
        tensor([5.])
    """
    diff = x1 - x2 + eps
    if not diff.is_floating_point():
        diff = to(diff, dtypes.get_default_dtype())
    if diff.ndim == 0:
        diff = diff.reshape(1)
        return vector_norm(diff, p, -1, False).reshape(1) if keepdim else vector_norm(diff, p, -1, False)
    return vector_norm(diff, p, -1, keepdim)


def _clamped_norm(x, dim, eps):
    """``max(norm(x), eps)`` in value, with the gradient of the unclamped norm (as PyTorch computes it)."""
    n = vector_norm(x, 2, dim, True)
    floor = n.detach()
    return n + (floor.clamp(min=eps) - floor)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim``: each is divided by ``max(norm, eps)``.

    Example::

        >>> import distgrad
        >>> distgrad.cosine_similarity(distgrad.tensor([[1.0, 0.0]]), distgrad.tensor([[1.0, 1.0]]))
        tensor([0.7071])
    """
    if not isinstance(x1, Tensor) or not isinstance(x2, Tensor):
        raise TypeError("cosine_similarity(): x1 and x2 must be Tensors")
    err = broadcast_error(tuple(x1.shape), tuple(x2.shape))
    if err is not None:
        raise err
    shape = tuple(np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape)))
    a, b = x1.expand(shape), x2.expand(shape)
    if not a.is_floating_point():
        a = to(a, dtypes.get_default_dtype())
    if not b.is_floating_point():
        b = to(b, dtypes.get_default_dtype())
    d = a._dim(dim) if a.ndim else 0
    if a.ndim == 0:
        a, b = a.reshape(1), b.reshape(1)
    return ((a / _clamped_norm(a, d, eps)) * (b / _clamped_norm(b, d, eps))).sum(d)


def pdist(input, p=2.0):
    """The p-norm distance between each pair of rows ``i < j`` of an ``(N, M)`` input, in row-major order.

    The result has ``N * (N - 1) / 2`` entries: the strict upper triangle of
    ``cdist(input, input, p)`` (computed without the matmul shortcut, so equal
    rows give exactly 0), whose gradient is 0 at the zero self-distances.

    Example::

        >>> import distgrad
        >>> distgrad.pdist(distgrad.tensor([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]))
        tensor([ 5., 10.,  5.])
    """
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.is_floating_point():
        raise RuntimeError(f"pdist only supports floating-point dtypes, got: {input.dtype}")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    rows, cols = np.triu_indices(n, 1)
    flat = Tensor._make(input._xp().asarray((rows * n + cols).astype(np.int64)))
    return Cdist.apply(input, input, float(p), False).reshape(-1).index_select(0, flat)
