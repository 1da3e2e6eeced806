"""The affine maps behind ``nn.Linear`` and ``nn.Bilinear``: ``F.linear`` and ``F.bilinear``.

``linear`` runs once per Linear layer per step, so it accepts the common case
(Tensors on one device, matching shapes and dtypes) with a few checks on the
arrays and goes straight to the fused op.  Anything else falls through to the
op's full checks, which give PyTorch's error messages.

Example::

    >>> import distgrad
    >>> import distgrad.nn.functional as F
    >>> x, w, b = distgrad.ones(4, 3), distgrad.ones(2, 3), distgrad.zeros(2)
    >>> F.linear(x, w, b)
    tensor([[3., 3.],
            [3., 3.],
            [3., 3.],
            [3., 3.]])
    >>> F.bilinear(distgrad.ones(5, 3), distgrad.ones(5, 4), distgrad.ones(2, 3, 4)).shape
    distgrad.Size([5, 2])
"""
from distgrad.autograd.ops.linear import Linear as _LinearOp
from distgrad.autograd.ops.linear import linear as _checked_linear
from distgrad.autograd.raw import array_of
from distgrad.autograd.tensor import Tensor
from distgrad.backend import device_of


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` over the last dimension of ``input`` (``torch.nn.functional.linear``).

    ``weight`` is (out_features, in_features); ``input`` may have any number
    of leading dimensions.

    Example::

        >>> F.linear(distgrad.ones(2, 3), distgrad.ones(4, 3)).shape
        distgrad.Size([2, 4])
    """
    if isinstance(input, Tensor) and isinstance(weight, Tensor):
        x, w = array_of(input), array_of(weight)
        # every check here is one the full path makes too, so passing them all means the op is valid
        if (w.ndim == 2 and x.ndim and x.shape[-1] == w.shape[1] and x.dtype == w.dtype
                and ((dx := device_of(x)) is (dw := device_of(w)) or dx == dw)):
            if bias is None:
                return _LinearOp.apply(input, weight, None)
            if isinstance(bias, Tensor):
                b = array_of(bias)
                if b.shape == w.shape[:1] and b.dtype == w.dtype:
                    return _LinearOp.apply(input, weight, bias)
    return _checked_linear(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """``y_k = x1^T W_k x2 + b_k`` for ``weight`` of shape (out, in1, in2) (``torch.nn.functional.bilinear``).

    Example::

        >>> F.bilinear(distgrad.ones(1, 2), distgrad.ones(1, 3), distgrad.ones(4, 2, 3)).tolist()
        [[6.0, 6.0, 6.0, 6.0]]
    """
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-D (out, in1, in2), got shape {tuple(weight.shape)}")
    out_f, in1, in2 = weight.shape
    if input1.ndim == 0 or input1.shape[-1] != in1 or input2.ndim == 0 or input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): expected inputs with last dimensions {in1} and {in2}, got shapes "
                           f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input1 and input2 must have the same leading dimensions, got "
                           f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    lead = tuple(input1.shape[:-1])
    x1, x2 = input1.reshape(-1, in1), input2.reshape(-1, in2)
    t = x1 @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    y = (t.reshape(-1, out_f, in2) * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (out_f,))
