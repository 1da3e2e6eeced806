"""Scans along one dim: cumprod, cummax/cummin, logcumsumexp (cumsum lives in ``misc``), and the
in-place ``cumsum_``/``cumprod_``.

* ``cumprod``'s gradient is right with zeros in the input: without zeros it is
  a reversed running sum divided by the input; with zeros a first derivative
  takes an O(n) formula, and under ``create_graph`` an exact O(n^2) product
  formula, so that second derivatives are right too (PyTorch does the same).
* ``cummax``/``cummin`` find their indices without gradient and gather the
  values, so the gradient is a scatter-add to those indices.
* ``logcumsumexp`` runs a ``logaddexp`` scan (no overflow, no underflow); its
  gradient is itself a reversed logcumsumexp of ``log|g| - out``.

The scans of max, min and logaddexp use NumPy's ``ufunc.accumulate`` on the
host and a log-step (Hillis-Steele) scan elsewhere.

Example::

    >>> import distgrad
    >>> distgrad.cumprod(distgrad.tensor([1.0, 2.0, 3.0]), 0)
    tensor([1., 2., 6.])
    >>> distgrad.cummax(distgrad.tensor([1, 3, 2]), 0).indices
    tensor([0, 1, 1])
"""

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd import grad_mode
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops import inplace
from distgrad.autograd.ops.arithmetic import where
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.gather import gather
from distgrad.autograd.ops.misc import cumsum, flip
from distgrad.autograd.ops.return_types import return_type
from distgrad.autograd.ops.unary import exp, log
from distgrad.autograd.tensor import Tensor
from distgrad.creation import eye, ones


def _xp(x):
    return backend.get_array_module(x)


def _scan(x, name, axis):
    """Inclusive scan of the associative ufunc ``name`` (maximum, minimum, logaddexp) along ``axis``."""
    xp = _xp(x)
    if backend.is_host_module(xp):
        return getattr(xp, name).accumulate(x, axis=axis)
    op = getattr(xp, name)
    out = xp.moveaxis(x, axis, -1).copy()
    step, n = 1, out.shape[-1]
    while step < n:
        out[..., step:] = op(out[..., step:], out[..., :-step])
        step *= 2
    return xp.moveaxis(out, -1, axis)


def _reverse_cumsum(t, dim):
    return flip(cumsum(flip(t, (dim,)), dim), (dim,))


def _integer_accumulates_in_int64(input, dtype):
    if dtype is not None:
        return to(input, dtype)
    if not input.is_floating_point():
        return to(input, dtypes.int64)
    return input


def _along(input, dim, apply):
    """Run ``apply(x, d)`` on ``input`` (a 0-d tensor as shape ``(1,)``) with ``dim`` wrapped."""
    if input.ndim == 0:
        input._dim(dim)
        out = apply(input.reshape(1), 0)
        return tuple(o.reshape(()) for o in out) if isinstance(out, tuple) else out.reshape(())
    return apply(input, input._dim(dim))


# --- cumprod -----------------------------------------------------------------------------------
class Cumprod(ArrayFunction):
    """Running product along ``dim`` (``torch.cumprod``)."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        out = _xp(x).cumprod(x, axis=dim, dtype=x.dtype)
        ctx.save_for_backward(x, out)  # the returned array: linked to this node for double backward
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        d = ctx.dim
        zero = x == 0
        if not bool(zero._data.any()):
            return _reverse_cumsum(g * out, d) / x, None
        if not grad_mode.is_grad_enabled():
            return _cumprod_grad_with_zeros(x, out, g, d), None
        return _cumprod_grad_exact(x, g, d), None


def _cumprod_grad_with_zeros(x, out, g, d):
    """O(n): before a slice's first zero the usual formula holds, at it the product of the others, after it 0."""
    zero = x == 0
    zeros_so_far = cumsum(zero, d)
    before = zeros_so_far == 0
    first = zero & (zeros_so_far == 1)
    at_first = _reverse_cumsum(g * Cumprod.apply(where(first, 1.0, x), d), d)
    return where(before, _reverse_cumsum(g * out, d) / where(zero, 1.0, x),
                 where(first, at_first, 0.0))


def _cumprod_grad_exact(x, g, d):
    """O(n^2) and differentiable everywhere: grad_i = sum_{j>=i} g_j prod_{k<=j, k!=i} x_k."""
    xm, gm = x.movedim(d, -1), g.movedim(d, -1)
    n = xm.shape[-1]
    diag = eye(n, dtype=dtypes.bool_, device=x.device)
    others = where(diag, 1.0, xm.unsqueeze(-2).expand(tuple(xm.shape[:-1]) + (n, n)))
    upper = ones(n, n, dtype=dtypes.bool_, device=x.device).triu()
    grad = (where(upper, Cumprod.apply(others, xm.ndim), 0.0) * gm.unsqueeze(-2)).sum(-1)
    return grad.movedim(-1, d)


def cumprod(input, dim, *, dtype=None):
    """Running product along ``dim``; integer and bool input multiply in int64 unless ``dtype`` is given.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([[1, 2], [3, 4]]).cumprod(1)
        tensor([[ 1,  2],
                [ 3, 12]])
    """
    input = _integer_accumulates_in_int64(input, dtype)
    return _along(input, dim, Cumprod.apply)


def cumsum_(t, dim, *, dtype=None):
    """In place running sum along ``dim`` (``Tensor.cumsum_``).

    Example::

        >>> import distgrad
        >>> distgrad.ones(3).cumsum_(0)
        tensor([1., 2., 3.])
    """
    return inplace.apply_inplace(t, lambda x, d: cumsum(x, d, dtype=dtype or t.dtype), (dim,), "cumsum_",
                                 needs_old=False)


def cumprod_(t, dim, *, dtype=None):
    """In place running product along ``dim`` (``Tensor.cumprod_``).

    Example::

        >>> import distgrad
        >>> distgrad.tensor([1.0, 2.0, 3.0]).cumprod_(0)
        tensor([1., 2., 6.])
    """
    return inplace.apply_inplace(t, lambda x, d: cumprod(x, d, dtype=dtype or t.dtype), (dim,), "cumprod_")


# --- cummax, cummin ------------------------------------------------------------------------------
_Cummax = return_type("cummax", ["values", "indices"])
_Cummin = return_type("cummin", ["values", "indices"])


def _running_extreme_index(x, d, name):
    """Index of the running max/min; a later equal value (or a NaN) takes over, as in PyTorch."""
    xp = _xp(x)
    running = _scan(x, name, d)
    takes_over = x == running
    if x.dtype.kind == "f":
        takes_over |= xp.isnan(x)
    pos = xp.arange(x.shape[d], dtype=dtypes.int64.np).reshape((-1,) + (1,) * (x.ndim - d - 1))
    return _scan(xp.where(takes_over, pos, -1), "maximum", d)


def _cum_extreme(input, dim, name, result):
    def apply(x, d):
        idx = Tensor._make(_running_extreme_index(x._data, d, name))
        return result(gather(x, d, idx), idx)
    return result(*_along(input, dim, apply))


def cummax(input, dim):
    """``(values, indices)``: the running maximum along ``dim`` and where it was last reached.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([1.0, 3.0, 2.0, 3.0]).cummax(0)
        distgrad.return_types.cummax(
        values=tensor([1., 3., 3., 3.]),
        indices=tensor([0, 1, 1, 3]))
    """
    return _cum_extreme(input, dim, "maximum", _Cummax)


def cummin(input, dim):
    """``(values, indices)``: the running minimum along ``dim`` and where it was last reached.

    Example::

        >>> import distgrad
        >>> distgrad.cummin(distgrad.tensor([3, 1, 2]), 0).values
        tensor([3, 1, 1])
    """
    return _cum_extreme(input, dim, "minimum", _Cummin)


# --- logcumsumexp ---------------------------------------------------------------------------------
class LogCumsumExp(ArrayFunction):
    """``log(cumsum(exp(x)))`` along ``dim``, computed as a logaddexp scan (``torch.logcumsumexp``)."""

    node_name = "LogcumsumexpBackward0"

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        out = _scan(x, "logaddexp", dim)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # grad_i = sum_{j>=i} g_j exp(x_i - out_j), split by the sign of g so every log is of a positive number
        # (the lowest finite number stands in for log 0: -inf would give inf - inf in the next derivative)
        x, out = ctx.saved_tensors
        d = ctx.dim
        lowest = float(-_xp(x._data).finfo(x._data.dtype).max)

        def part(mask, mag):
            log_g = where(mask, log(where(mask, mag, 1.0)), lowest)
            return exp(x + flip(LogCumsumExp.apply(flip(log_g - out, (d,)), d), (d,)))

        return part(g > 0, g) - part(g < 0, -g), None


def logcumsumexp(input, dim):
    """``log(cumsum(exp(input)))`` along ``dim``, without overflow or underflow.

    Example::

        >>> import distgrad
        >>> distgrad.logcumsumexp(distgrad.tensor([0.0, 0.0]), 0)
        tensor([0.0000, 0.6931])
    """
    if not input.is_floating_point():
        raise NotImplementedError(f'"logcumsumexp": not implemented for {input.dtype}')
    return _along(input, dim, LogCumsumExp.apply)
