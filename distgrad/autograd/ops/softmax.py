"""softmax and log_softmax along a dimension, numerically stable, with their own backward.

Both subtract the maximum along ``dim`` before exponentiating, so large
logits do not overflow.  The backward formulas are written with Tensor ops
on the saved output, so second derivatives (``create_graph=True``) work.

Example::

    >>> import distgrad
    >>> distgrad.softmax(distgrad.tensor([1000.0, 1000.0]), dim=0)
    tensor([0.5000, 0.5000])
"""
import warnings

from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.cast import to


def _shifted(x, dim):
    """``x - max(x, dim)``, with rows whose max is not finite shifted by 0 (so -inf rows give nan as in PyTorch)."""
    xp = backend.get_array_module(x)
    if x.size == 0:
        return x
    m = xp.max(x, axis=dim, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros((), dtype=x.dtype))
    return x - m


class Softmax(ArrayFunction):
    """``exp(x) / sum(exp(x))`` along ``dim``, shifted by the max for stability (``torch.softmax``)."""

    @staticmethod
    def forward(ctx, x, dim):
        xp = backend.get_array_module(x)
        e = xp.exp(_shifted(x, dim))
        y = e / e.sum(axis=dim, keepdims=True)
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return y * (g - (g * y).sum(ctx.dim, keepdim=True)), None


class LogSoftmax(ArrayFunction):
    """``x - logsumexp(x)`` along ``dim``, shifted by the max for stability (``torch.log_softmax``)."""

    @staticmethod
    def forward(ctx, x, dim):
        xp = backend.get_array_module(x)
        s = _shifted(x, dim)
        y = s - xp.log(xp.exp(s).sum(axis=dim, keepdims=True))
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g - y.exp() * g.sum(ctx.dim, keepdim=True), None


def _prepare(op, input, dim, dtype, stacklevel):
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X "
                      "as an argument.", UserWarning, stacklevel=stacklevel + 1)
    if dtype is not None:
        input = to(input, dtype)
    if not input.is_floating_point():
        # PyTorch has no integer kernel either, and says so with NotImplementedError
        raise NotImplementedError(f"{op}: not implemented for integer input of dtype {input.dtype}; "
                                  "pass dtype= or cast the input to a floating point dtype")
    return input, input._dim(dim)


def softmax(input, dim=None, dtype=None, *, _stacklevel=2):
    """``exp(x) / exp(x).sum(dim)``, computed stably; ``dtype`` casts the input first.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([0.0, 0.0]).softmax(0)
        tensor([0.5000, 0.5000])
    """
    input, d = _prepare("softmax", input, dim, dtype, _stacklevel)
    if input.ndim == 0:
        return Softmax.apply(input.reshape(1), 0).reshape(())
    return Softmax.apply(input, d)


def log_softmax(input, dim=None, dtype=None, *, _stacklevel=2):
    """``x - logsumexp(x, dim)``, computed stably; ``dtype`` casts the input first.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([0.0, 0.0]).log_softmax(0)
        tensor([-0.6931, -0.6931])
    """
    input, d = _prepare("log_softmax", input, dim, dtype, _stacklevel)
    if input.ndim == 0:
        return LogSoftmax.apply(input.reshape(1), 0).reshape(())
    return LogSoftmax.apply(input, d)
