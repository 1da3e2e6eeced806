"""The affine map of ``nn.Linear`` as one fused op: ``y = x @ W.T + b``.

One graph node instead of transpose + matmul + add keeps an MLP step cheap:
forward is a single matrix product on the flattened batch, backward two
matrix products and a sum.  The backward formulas use only ``reshape``,
``.T``, ``@`` and ``sum(0)``, which NumPy/CuPy arrays and Tensors share, so the
same lines run at array speed in an ordinary backward pass and record a graph
under ``create_graph=True``.

Example::

    >>> import distgrad
    >>> from distgrad.autograd.ops.linear import linear
    >>> x, w, b = distgrad.ones(4, 3), distgrad.ones(2, 3), distgrad.zeros(2)
    >>> linear(x, w, b).shape
    distgrad.Size([4, 2])
"""
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.tensor import Tensor


class Linear(ArrayFunction):
    """``x @ w.T + b`` over the last dimension of ``x`` (any number of leading dimensions)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x, w, b):
        out_f, in_f = w.shape
        lead = x.shape[:-1]
        x2 = x.reshape(-1, in_f) if x.ndim != 2 else x
        y = x2 @ w.T
        if b is not None:
            y += b
        ctx.x_shape = x.shape
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, w if ctx.needs_input_grad[0] else None)
        return y.reshape(lead + (out_f,)) if x.ndim != 2 else y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
        gx = gw = gb = None
        if need[0]:
            gx = (g2 @ w).reshape(ctx.x_shape)
        if need[1]:
            gw = g2.T @ x.reshape(-1, x.shape[-1])
        if need[2]:
            gb = g2.sum(0)
        return gx, gw, gb


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` with PyTorch's shape and dtype checks."""
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"linear(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if weight.ndim != 2:
        raise RuntimeError(f"linear(): weight must be 2-D (out_features, in_features), got shape "
                           f"{tuple(weight.shape)}")
    if input.ndim == 0:
        raise RuntimeError("linear(): input must have at least 1 dimension, got a 0-d tensor")
    if input.shape[-1] != weight.shape[1]:
        a = "x".join(map(str, (input.numel() // max(input.shape[-1], 1), input.shape[-1]))) \
            if input.ndim != 1 else f"1x{input.shape[0]}"
        raise RuntimeError(f"linear(): mat1 and mat2 shapes cannot be multiplied ({a} and "
                           f"{weight.shape[1]}x{weight.shape[0]}); input shape {tuple(input.shape)}")
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"linear(): mat1 and mat2 must have the same dtype, but got {input.dtype} "
                           f"and {weight.dtype}")
    if bias is not None:
        if bias.shape != (weight.shape[0],) and bias.numel() != 1:
            raise RuntimeError(f"linear(): bias of shape {tuple(bias.shape)} does not match "
                               f"out_features={weight.shape[0]}")
        if bias.dtype is not weight.dtype:
            raise RuntimeError(f"linear(): bias dtype {bias.dtype} differs from weight dtype {weight.dtype}")
    if input.device != weight.device:
        raise RuntimeError(f"linear(): expected all tensors to be on the same device, but found at least "
                           f"two devices, {input.device} and {weight.device}!")
    return Linear.apply(input, weight, bias)
