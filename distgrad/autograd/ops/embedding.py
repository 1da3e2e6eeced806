"""Embedding lookup (rows of a weight matrix picked by index) and its gradient scatter.

The gradient of a lookup adds each output row's gradient into the weight row
it came from; repeated indices accumulate, the ``padding_idx`` row gets none,
and ``scale_grad_by_freq`` divides by how often each index occurs in the
batch.  The scatter is a ``bincount`` over flat positions, which runs the same
on NumPy and CuPy.  The scatter is itself an op whose backward is the lookup,
so second derivatives work.

Example::

    >>> import distgrad
    >>> from distgrad.autograd.ops.embedding import embedding_lookup
    >>> w = distgrad.arange(6.0).reshape(3, 2).requires_grad_()
    >>> out = embedding_lookup(w, distgrad.tensor([2, 2, 0]), None, False)
    >>> out.sum().backward(); w.grad
    tensor([[1., 1.],
            [0., 0.],
            [2., 2.]])
"""
from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.tensor import Tensor


def _scatter_rows(g, idx, num, padding_idx, scale_by_freq):
    """Sum the rows of ``g`` (shape ``idx.shape + (D,)``) into a ``(num, D)`` array by ``idx``."""
    xp = backend.get_array_module(g)
    d = g.shape[-1]
    flat_idx = idx.reshape(-1)
    g2 = g.reshape(-1, d)
    if scale_by_freq:
        counts = xp.bincount(flat_idx, minlength=num)
        g2 = g2 / counts[flat_idx][:, None]
    pos = (flat_idx[:, None] * d + xp.arange(d)).reshape(-1)
    out = xp.bincount(pos, weights=g2.reshape(-1), minlength=num * d).reshape(num, d)
    out = out.astype(g.dtype, copy=False)
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


class EmbeddingLookup(ArrayFunction):
    """``weight[idx]``; the gradient goes back to the picked rows (not to ``padding_idx``)."""

    node_name = "EmbeddingBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, w, idx, padding_idx, scale_by_freq):
        ctx.idx, ctx.num = idx, w.shape[0]
        ctx.padding_idx, ctx.scale = padding_idx, scale_by_freq
        return backend.get_array_module(w).take(w, idx, axis=0)

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):
            gw = EmbeddingScatter.apply(g, ctx.idx, ctx.num, ctx.padding_idx, ctx.scale)
        else:
            gw = _scatter_rows(g, ctx.idx, ctx.num, ctx.padding_idx, ctx.scale)
        return gw, None, None, None


class EmbeddingScatter(ArrayFunction):
    """The gradient of a lookup as an op of its own (its backward is the lookup again)."""

    node_name = "EmbeddingDenseBackwardBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, g, idx, num, padding_idx, scale_by_freq):
        ctx.idx, ctx.padding_idx, ctx.scale = idx, padding_idx, scale_by_freq
        return _scatter_rows(g, idx, num, padding_idx, scale_by_freq)

    @staticmethod
    def backward(ctx, gg):
        xp = backend.get_array_module(ctx.idx)
        keep = xp.ones(ctx.idx.shape + (1,), dtype=bool) if ctx.padding_idx is None \
            else (ctx.idx != ctx.padding_idx)[..., None]
        if ctx.scale:
            counts = xp.bincount(ctx.idx.reshape(-1), minlength=gg.shape[0])
            factor = (keep / counts[ctx.idx][..., None])
        else:
            factor = keep
        if isinstance(gg, Tensor):
            rows = EmbeddingLookup.apply(gg, ctx.idx, None, False)
            return rows * Tensor._make(factor.astype(gg._data.dtype)), None, None, None, None
        return xp.take(gg, ctx.idx, axis=0) * factor.astype(gg.dtype), None, None, None, None


def embedding_lookup(weight, indices, padding_idx=None, scale_grad_by_freq=False):
    """Rows ``weight[indices]`` for an integer tensor of any shape."""
    return EmbeddingLookup.apply(weight, indices._data, padding_idx, scale_grad_by_freq)
