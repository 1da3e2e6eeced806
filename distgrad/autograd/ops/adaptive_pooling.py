"""Adaptive average pooling: adaptive_avg_pool1d/2d, to a fixed output size whatever the input's.

Output ``i`` averages PyTorch's window ``[floor(i*in/out), ceil((i+1)*in/out))``.
When the sizes divide, that is an average pool
(:mod:`distgrad.autograd.ops.pooling`).  Otherwise the windows overlap or
differ in length, and the average is separable: a small averaging matrix on
each side of the image, ``P_h @ x @ P_w^T`` (:class:`SeparableAverage`).  Its
adjoint is the same op with the transposed matrices, so gradients of any order
follow; the pool's backward also records that it takes the input, as
PyTorch's ``adaptive_avg_pool2d_backward(grad, self)`` does, so under
``create_graph`` the first-order gradient requires grad and a second gradient
is zeros (see :mod:`distgrad.autograd.ops.zero_dependency`).

Example::

    >>> import distgrad
    >>> adaptive_avg_pool1d(distgrad.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2)
    tensor([[[2., 4.]]])
"""
import numpy as np

from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.pooling import avg_pool_nd
from distgrad.autograd.ops.zero_dependency import depends_on
from distgrad.autograd.tensor import Tensor


def _averaging_matrix(n_in, n_out, np_dtype, xp):
    """(n_out, n_in) matrix whose row i averages PyTorch's adaptive window i."""
    m = np.zeros((n_out, n_in), dtype=np_dtype)
    for i in range(n_out):  # one row per output (not per pixel): host-side set-up of a tiny matrix
        start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        m[i, start:end] = 1.0 / (end - start)
    return xp.asarray(m)


class SeparableAverage(ArrayFunction):
    """``rows @ x @ cols.T`` over the last two dims (``x @ cols.T`` over the last when ``rows`` is None).

    Linear in ``x``: its backward is itself with both matrices transposed.
    """

    @staticmethod
    def forward(ctx, x, rows, cols):
        ctx.rows, ctx.cols = rows, cols
        out = x @ cols.T
        return out if rows is None else rows @ out

    @staticmethod
    def backward(ctx, g):
        return adjoint(ctx, g), None, None


def adjoint(ctx, g):
    """``rows.T @ g @ cols`` for the matrices on ``ctx``: the gradient of ``rows @ x @ cols.T``."""
    return SeparableAverage.apply(g, None if ctx.rows is None else ctx.rows.T, ctx.cols.T)


class AdaptiveAvgPool(ArrayFunction):
    """The pool for sizes that do not divide: :class:`SeparableAverage`, whose backward takes the input."""

    @staticmethod
    def forward(ctx, x, rows, cols):
        ctx.save_for_backward(x)  # PyTorch's backward takes the input (see zero_dependency)
        return SeparableAverage.forward(ctx, x, rows, cols)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return depends_on(adjoint(ctx, g), x), None, None


def _adaptive_avg(op, dim, input, output_size):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim not in (dim + 1, dim + 2):
        raise RuntimeError(f"{op}(): Expected {dim + 1}D or {dim + 2}D tensor, but got {list(input.shape)}")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: not implemented for '{input.dtype}' (expected a floating-point input)")
    spatial = tuple(input.shape[-dim:])
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * dim
    if len(sizes) != dim:
        raise RuntimeError(f"{op}: output_size must be {dim}, but got {list(sizes)}")
    out = tuple(s if o is None else int(o) for o, s in zip(sizes, spatial))
    if any(o < 0 for o in out):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0, but got {out}")
    if any(s == 0 for s in spatial):
        raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch dimensions, but input "
                           f"has sizes {list(input.shape)}")
    if all(o > 0 and s % o == 0 for s, o in zip(spatial, out)):
        kernel = tuple(s // o for s, o in zip(spatial, out))
        return avg_pool_nd(op, dim, input, kernel, kernel, 0, False, True, None)
    xp, np_dtype = input._xp(), input._data.dtype
    rows = None if dim == 1 else _averaging_matrix(spatial[0], out[0], np_dtype, xp)
    return AdaptiveAvgPool.apply(input, rows, _averaging_matrix(spatial[-1], out[-1], np_dtype, xp))


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed (OH, OW) whatever the input size (``None`` keeps that size).

    Example::

        >>> import distgrad
        >>> adaptive_avg_pool2d(distgrad.randn(2, 3, 7, 5), (3, None)).shape
        distgrad.Size([2, 3, 3, 5])
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of (N, C, L) or (C, L) to a fixed length.

    Example::

        >>> import distgrad
        >>> adaptive_avg_pool1d(distgrad.ones(1, 2, 7), 3).shape
        distgrad.Size([1, 2, 3])
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d"]
