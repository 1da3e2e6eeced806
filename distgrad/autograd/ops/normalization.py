"""Normalisation with an affine map, as one op: ``(x - mean) * invstd * w + b``.

Batch norm, layer norm and group norm differ only in which axes the
statistics run over and how the affine parameters broadcast, so one op
serves all three.  The statistics are computed on arrays by
:func:`moments` and passed in, so a caller (batch norm) can reuse them for
its running averages.  Backward uses the closed form

    dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))

on arrays in an ordinary backward pass; under ``create_graph=True`` it
rebuilds the statistics from the saved input with Tensor ops, so second
derivatives are right.  With ``batch_stats=False`` (batch norm in eval mode)
the statistics are constants and ``dx = dxhat * invstd``.

Example::

    >>> import distgrad
    >>> from distgrad.autograd.ops.normalization import Normalize, moments
    >>> x = distgrad.tensor([[1.0, 3.0]])
    >>> mean, var, invstd = moments(x._data, (1,), 0.0)
    >>> Normalize.apply(x, None, None, mean, invstd, (1,), 0.0, True, None)
    tensor([[-1.,  1.]])
"""
from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.tensor_xp import sum_to
from distgrad.autograd.tensor import Tensor
from distgrad.autograd.ops.zero_dependency import depends_on


def moments(x, axes, eps):
    """Mean, biased variance and 1/sqrt(var + eps) of array ``x`` over ``axes`` (kept as size 1)."""
    xp = backend.get_array_module(x)
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=axes, keepdims=True)
    invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
    return mean, var, invstd


class Normalize(ArrayFunction):
    """``(x - mean) * invstd``, then times ``w`` and plus ``b`` (reshaped to ``affine_shape``)."""

    node_name = "NativeNormBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x, w, b, mean, invstd, axes, eps, batch_stats, affine_shape):
        y = (x - mean) * invstd
        if w is not None:
            y *= w.reshape(affine_shape) if affine_shape is not None else w
        if b is not None:
            y += b.reshape(affine_shape) if affine_shape is not None else b
        ctx.save_for_backward(x, w)
        ctx.mean, ctx.invstd, ctx.axes, ctx.eps = mean, invstd, axes, eps
        ctx.batch_stats, ctx.affine_shape = batch_stats, affine_shape
        ctx.w_shape = None if w is None else w.shape
        ctx.b_shape = None if b is None else b.shape
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        axes, shape = ctx.axes, ctx.affine_shape
        if isinstance(g, Tensor):
            if ctx.batch_stats:
                mean = x.mean(axes, keepdim=True)
                var = ((x - mean) * (x - mean)).mean(axes, keepdim=True)
                invstd = (var + ctx.eps).rsqrt()
            else:
                mean, invstd = Tensor._make(ctx.mean), Tensor._make(ctx.invstd)
        else:
            mean, invstd = ctx.mean, ctx.invstd
        w_b = None if w is None else (w.reshape(shape) if shape is not None else w)
        xhat = (x - mean) * invstd
        gx = gw = gb = None
        if need[1]:
            gw = sum_to(g * xhat, shape if shape is not None else ctx.w_shape).reshape(ctx.w_shape)
        if need[2]:
            gb = sum_to(g, shape if shape is not None else ctx.b_shape).reshape(ctx.b_shape)
        if need[0]:
            gxhat = g * w_b if w_b is not None else g
            if ctx.batch_stats:
                n = 1
                for a in axes:
                    n *= x.shape[a]
                mean_g = _sum(gxhat, axes) / n
                mean_gx = _sum(gxhat * xhat, axes) / n
                gx = invstd * (gxhat - mean_g - xhat * mean_gx)
            else:
                gx = gxhat * invstd
        if isinstance(g, Tensor):  # PyTorch's batch/layer norm backward takes the input and weight (zero_dependency);
            gx = depends_on(gx, x, w)  # its group norm backward gives a bias gradient of the output gradient only
            if 0 in axes or shape is None:
                gb = depends_on(gb, x, w)
        return gx, gw, gb, None, None, None, None, None, None


def _sum(t, axes):
    if isinstance(t, Tensor):
        return t.sum(axes, keepdim=True)
    return t.sum(axis=axes, keepdims=True)

