"""Scaled dot-product attention as one fused op: scores, mask, softmax, dropout and the value product.

Composed of Tensor ops, one attention call records six nodes (the key transpose,
the score product, the scaling, the mask, the softmax and the value product) and
allocates a fresh (..., L, S) array at each of them, forward and back.  On the
small Transformer of ``benchmarks/bench_transformer.py`` that was about a fifth
of a training step.  :class:`ScaledDotProductAttention` computes

    P = softmax(q @ k^T * scale + bias),    out = (P * keep) @ v

in one node, reusing one (..., L, S) buffer in place for the scores, their
exponentials and the probabilities, and backward computes

    dP = (g @ v^T) * keep,   dS = P * (dP - rowsum(dP * P)),
    dq = scale * dS @ k,     dk = scale * dS^T @ q,   dv = (P * keep)^T @ g,   dbias = dS

with two more in-place buffers.  ``bias`` is the additive float mask (a bool or
causal mask arrives as a 0 / -inf array); ``keep`` is the dropout mask already
scaled by 1 / (1 - p), or None.  With ``safe`` a row whose every key is masked
gets zero probabilities (PyTorch's "safe softmax" for an explicit mask) instead
of NaN.

Backward is written once against ``xp``: an ordinary pass reuses the saved
probabilities in place; under ``create_graph=True`` it recomputes them from the
recorded inputs with Tensor ops, so second derivatives are exact.

Example::

    >>> import distgrad
    >>> from distgrad.autograd.ops.attention import attention
    >>> q = distgrad.zeros(1, 2, 3)           # equal scores: the output averages the values
    >>> v = distgrad.tensor([[[1.0], [3.0]]])
    >>> attention(q, q, v, None, None, 1.0, False)
    tensor([[[2.],
             [2.]]])
"""
from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.softmax import softmax
from distgrad.autograd.ops.tensor_xp import sum_to, xp_of
from distgrad.autograd.tensor import Tensor


def blocked_bias(blocked, dtype):
    """The additive mask of a bool array that is True where a key is blocked: -inf there, 0 elsewhere."""
    xp = backend.get_array_module(blocked)
    bias = xp.zeros(blocked.shape, dtype=dtype)
    bias[blocked] = -xp.inf
    return bias


def causal_bias(length, src, like):
    """The additive (L, S) mask of ``is_causal``: key j is blocked for query i when j > i (top-left aligned)."""
    xp = backend.get_array_module(like)
    return blocked_bias(xp.triu(xp.ones((length, src), dtype=bool), 1), like.dtype)


def _probabilities(q, k, bias, scale, safe):
    """``softmax(q @ k^T * scale + bias)`` over the last axis, in one (..., L, S) buffer."""
    xp = backend.get_array_module(q)
    s = xp.matmul(q, xp.swapaxes(k, -1, -2))
    s *= scale
    if bias is not None:
        if s.shape == xp.broadcast_shapes(s.shape, bias.shape):
            s += bias
        else:  # the mask carries batch dimensions the inputs broadcast over
            s = s + bias
    if s.size == 0:
        return s
    m = s.max(axis=-1, keepdims=True)
    s -= xp.where(xp.isfinite(m), m, 0).astype(s.dtype, copy=False)  # an all -inf row stays -inf
    xp.exp(s, out=s)
    total = xp.matmul(s, xp.ones((s.shape[-1], 1), dtype=s.dtype))  # row sums: a BLAS gemv beats add.reduce
    if safe:  # a row with no allowed key: 0 / 1 instead of 0 / 0
        total[total == 0] = 1
    s /= total
    return s


def _probabilities_graph(q, k, bias, scale, safe):
    """:func:`_probabilities` with Tensor ops, recorded (for ``create_graph=True``)."""
    s = q.matmul(k.transpose(-1, -2)) * scale
    if bias is not None:
        s = s + (bias if isinstance(bias, Tensor) else Tensor._make(bias))
    if not safe:
        return softmax(s, -1)
    empty = (s == float("-inf")).all(-1, keepdim=True)
    return softmax(s.masked_fill(empty, 0.0), -1).masked_fill(empty, 0.0)


class ScaledDotProductAttention(ArrayFunction):
    """``(q, k, v, bias, keep) -> (softmax(q k^T * scale + bias) * keep) @ v`` in one node (module docstring)."""

    node_name = "ScaledDotProductAttentionBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, q, k, v, bias, keep, scale, safe):
        xp = backend.get_array_module(q)
        p = _probabilities(q, k, bias, scale, safe)
        out = xp.matmul(p if keep is None else p * keep, v)
        ctx.save_for_backward(q, k, v, bias)
        ctx.p, ctx.keep, ctx.scale, ctx.safe = p, keep, scale, safe
        return out

    @staticmethod
    def backward(ctx, g):
        q, k, v, bias = ctx.saved_tensors
        need = ctx.needs_input_grad
        keep, scale = ctx.keep, ctx.scale
        graph = isinstance(g, Tensor)
        xp = xp_of(g)
        if graph:  # the probabilities as functions of the recorded inputs
            p = _probabilities_graph(q, k, bias, scale, ctx.safe)
            keep = None if keep is None else Tensor._make(keep)
        else:
            p = ctx.p
        gq = gk = gv = gbias = None
        if need[2]:
            pd = p if keep is None else p * keep
            gv = sum_to(xp.matmul(xp.swapaxes(pd, -1, -2), g), v.shape)
        if need[0] or need[1] or need[3]:
            dp = xp.matmul(g, xp.swapaxes(v, -1, -2))
            if keep is not None:
                dp = dp * keep
            if graph:
                ds = p * (dp - (dp * p).sum(-1, keepdim=True))
            else:  # dp is a fresh buffer: reuse it for dS
                ds = dp
                ds -= xp.einsum("...ij,...ij->...i", dp, p)[..., None]  # row dot products, no temporary
                ds *= p
            if need[3]:
                gbias = sum_to(ds, bias.shape)
                if gbias is ds and not graph:
                    gbias = ds.copy()  # ds is scaled in place below
            if graph:
                ds = ds * scale
            else:
                ds *= scale
            if need[0]:
                gq = sum_to(xp.matmul(ds, k), q.shape)
            if need[1]:
                gk = sum_to(xp.matmul(xp.swapaxes(ds, -1, -2), q), k.shape)
        return gq, gk, gv, gbias, None, None, None


def attention(q, k, v, bias, keep, scale, safe):
    """The fused attention of the module docstring; ``bias`` a float Tensor, a raw array or None.

    Callers check shapes and dtypes (``F.scaled_dot_product_attention`` does);
    ``keep`` is a raw array of 0 and 1 / (1 - p), or None.
    """
    return ScaledDotProductAttention.apply(q, k, v, bias, keep, float(scale), bool(safe))
