"""Special-function ops: lgamma, digamma, polygamma, mvlgamma, erfc, erfinv, xlogy, xlog1py, i0/i1, sinc, logit, entr.

The array numerics live in :mod:`distgrad.autograd.ops.special`; here each
function becomes an op whose backward is written once against ``xp`` and
calls the next function of its family (lgamma -> digamma -> polygamma(1) ->
polygamma(2) ..., i0 -> i1 -> i0, i1), through the op itself when the
backward runs on Tensors, so derivatives of any order are available.
The functions that compose existing ops (mvlgamma, sinc, logit, entr,
ndtr, exp2) have no backward of their own.  :mod:`distgrad.special` gathers
them under ``torch.special``'s names.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    >>> distgrad.lgamma(x).sum().backward()   # digamma(1) = -0.5772, digamma(2) = 0.4228
    >>> x.grad
    tensor([-0.5772,  0.4228])
"""
import math

from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.arithmetic import as_operand, broadcast_error, promote, where
from distgrad.autograd.ops.special import (_quiet, digamma_array, erfc_array, erfinv_array, i0_array, i1_array,
                                           lgamma_array, polygamma_array)
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.ops.unary import _floating, exp, log, log1p, sigmoid, sin
from distgrad.autograd.tensor import Tensor

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _polygamma(n, x):
    """psi^(n)(x) of an array, or of a Tensor through the differentiable op (for double backward)."""
    if isinstance(x, Tensor):
        return Digamma.apply(x) if n == 0 else Polygamma.apply(x, n)
    return polygamma_array(n, x)


def _bessel(order, x):
    """I_0 / I_1 of an array, or of a Tensor through the op."""
    if isinstance(x, Tensor):
        return (I0 if order == 0 else I1).apply(x)
    return (i0_array if order == 0 else i1_array)(x)


class Lgamma(ArrayFunction):
    """log|Gamma(x)|; its derivative is digamma (``torch.lgamma``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return lgamma_array(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * _polygamma(0, x)


class Digamma(ArrayFunction):
    """psi(x) = d/dx lgamma(x); its derivative is polygamma(1, x) (``torch.digamma``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return digamma_array(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * _polygamma(1, x)


class Polygamma(ArrayFunction):
    """psi^(n)(x) for an int ``n >= 1``; its derivative is psi^(n+1) (``torch.polygamma``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x, n):
        ctx.n = n
        ctx.save_for_backward(x)
        return polygamma_array(n, x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * _polygamma(ctx.n + 1, x), None


class Erfc(ArrayFunction):
    """1 - erf(x), accurate where erf(x) is close to 1 (``torch.erfc``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erfc_array(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * -_TWO_OVER_SQRT_PI * xp_of(g).exp(-(x * x))


class Erfinv(ArrayFunction):
    """The inverse of erf on (-1, 1); its derivative is sqrt(pi)/2 exp(erfinv(x)^2) (``torch.erfinv``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        y = erfinv_array(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * (0.5 * math.sqrt(math.pi)) * xp_of(g).exp(y * y)


class I0(ArrayFunction):
    """The modified Bessel function I_0; its derivative is I_1 (``torch.i0``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return i0_array(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * _bessel(1, x)


class I1(ArrayFunction):
    """The modified Bessel function I_1; its derivative is I_0(x) - I_1(x)/x, 1/2 at 0 (``torch.special.i1``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return i1_array(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        xp = xp_of(g)
        zero = x == 0
        safe = xp.where(zero, 1.0, x)
        return g * xp.where(zero, 0.5, _bessel(0, x) - _bessel(1, x) / safe)


def _xlog_array(a, b, log_fn):
    """``a * log_fn(b)``, 0 where ``a == 0`` unless ``b`` is NaN (PyTorch's xlogy rule)."""
    xp = xp_of(a)
    with _quiet(xp):
        return xp.where((a == 0) & ~xp.isnan(b), 0.0, a * log_fn(b)).astype(a.dtype, copy=False)


class Xlogy(ArrayFunction):
    """``x * log(y)`` (or ``x * log1p(y)`` with ``log1p=True``), 0 where ``x == 0`` (``torch.xlogy``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, a, b, log1p):
        ctx.log1p = log1p
        ctx.save_for_backward(a, b)
        xp = xp_of(a)
        return _xlog_array(a, b, xp.log1p if log1p else xp.log)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xp = xp_of(g)
        ga = gb = None
        if ctx.needs_input_grad[0]:  # log(y), but 0 where x == 0 and log(y) is -inf or NaN (as PyTorch)
            outside = (b <= -1) if ctx.log1p else (b <= 0)
            ga = g * xp.where((a == 0) & outside, 0.0, xp.log1p(b) if ctx.log1p else xp.log(b))
        if ctx.needs_input_grad[1]:
            gb = g * a / (b + 1 if ctx.log1p else b)
        return ga, gb, None


def _floating_unary(cls, input):
    return cls.apply(_floating(input))


def lgamma(input):
    """The natural log of the absolute value of the gamma function (``torch.lgamma``).

    Example::

        >>> import distgrad
        >>> distgrad.lgamma(distgrad.tensor([0.5, 4.0]))
        tensor([0.5724, 1.7918])
    """
    return _floating_unary(Lgamma, input)


def digamma(input):
    """The logarithmic derivative of the gamma function, psi(x) (``torch.digamma``).

    -inf at 0 and NaN at the negative integers, as in PyTorch.

    Example::

        >>> import distgrad
        >>> distgrad.digamma(distgrad.tensor([1.0, 0.5]))
        tensor([-0.5772, -1.9635])
    """
    return _floating_unary(Digamma, input)


def polygamma(n, input):
    """The ``n``-th derivative of digamma (``torch.polygamma``); ``n = 0`` is digamma itself.

    Example::

        >>> import distgrad
        >>> distgrad.polygamma(1, distgrad.tensor([1.0]))   # pi^2 / 6
        tensor([1.6449])
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    input = _floating(input)
    return Digamma.apply(input) if n == 0 else Polygamma.apply(input, n)


def mvlgamma(input, p):
    """The log of the multivariate gamma function of dimension ``p`` (``torch.mvlgamma``).

    ``sum_{j<p} lgamma(x - j/2) + p(p-1)/4 log(pi)``; every element must exceed ``(p-1)/2``.

    Example::

        >>> import distgrad
        >>> distgrad.mvlgamma(distgrad.tensor([2.5]), 2)
        tensor([0.8570])
    """
    if isinstance(p, bool) or not isinstance(p, int):
        raise TypeError(f"mvlgamma(): argument 'p' must be int, not {type(p).__name__}")
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    input = _floating(input)
    if bool((input._data <= 0.5 * (p - 1)).any()):
        raise RuntimeError("All elements must be greater than (p-1)/2")
    xp = input._xp()
    shifts = Tensor._make(xp.arange(p, dtype=input._data.dtype) * 0.5)
    return lgamma(input.unsqueeze(-1) - shifts).sum(-1) + p * (p - 1) / 4 * math.log(math.pi)


def erfc(input):
    """The complementary error function 1 - erf(x), accurate in the tails (``torch.erfc``).

    Example::

        >>> import distgrad
        >>> distgrad.erfc(distgrad.tensor([0.0, 5.0], dtype=distgrad.float64))
        tensor([1.0000e+00, 1.5375e-12], dtype=distgrad.float64)
    """
    return _floating_unary(Erfc, input)


def erfinv(input):
    """The inverse error function: ±inf at ±1 and NaN outside [-1, 1] (``torch.erfinv``).

    Example::

        >>> import distgrad
        >>> distgrad.erfinv(distgrad.tensor([0.0, 0.5]))
        tensor([0.0000, 0.4769])
    """
    return _floating_unary(Erfinv, input)


def i0(input):
    """The modified Bessel function of the first kind of order 0 (``torch.i0``).

    Example::

        >>> import distgrad
        >>> distgrad.i0(distgrad.tensor([0.0, 1.0]))
        tensor([1.0000, 1.2661])
    """
    return _floating_unary(I0, input)


def i1(input):
    """The modified Bessel function of the first kind of order 1 (``torch.special.i1``).

    Example::

        >>> import distgrad
        >>> distgrad.special.i1(distgrad.tensor([0.0, 1.0]))
        tensor([0.0000, 0.5652])
    """
    return _floating_unary(I1, input)


def _xlog(log1p, name, input, other):
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{name}(): at least one of 'input' and 'other' must be a Tensor")
    like = input if isinstance(input, Tensor) else other
    input, other = as_operand(input, like), as_operand(other, like)
    a, b = promote(name, input, other)
    a = _floating(a if isinstance(a, Tensor) else Tensor._make(like._xp().asarray(a, dtype=b._data.dtype)))
    b = _floating(b if isinstance(b, Tensor) else Tensor._make(like._xp().asarray(b, dtype=a._data.dtype)))
    if a._data.dtype != b._data.dtype:
        a, b = promote(name, a, b)
    try:
        return Xlogy.apply(a, b, log1p)
    except ValueError:
        err = broadcast_error(a, b)
        if err is None:
            raise
        raise err from None


def xlogy(input, other):
    """``input * log(other)``, 0 where ``input == 0`` (unless ``other`` is NaN); either may be a number.

    Example::

        >>> import distgrad
        >>> distgrad.xlogy(distgrad.tensor([0.0, 2.0]), distgrad.tensor([0.0, 3.0]))
        tensor([0.0000, 2.1972])
    """
    return _xlog(False, "xlogy", input, other)


def xlog1py(input, other):
    """``input * log1p(other)``, 0 where ``input == 0`` (unless ``other`` is NaN) (``torch.special.xlog1py``).

    Example::

        >>> import distgrad
        >>> distgrad.special.xlog1py(distgrad.tensor([0.0, 2.0]), distgrad.tensor([-1.0, 1.0]))
        tensor([0.0000, 1.3863])
    """
    return _xlog(True, "xlog1py", input, other)


def sinc(input):
    """The normalized sinc, sin(pi x) / (pi x), 1 at 0 (``torch.sinc``).

    Example::

        >>> import distgrad
        >>> distgrad.sinc(distgrad.tensor([0.0, 0.5]))
        tensor([1.0000, 0.6366])
    """
    input = _floating(input)
    zero = input == 0
    px = where(zero, 1.0, input) * math.pi  # a safe denominator keeps the gradient at 0 finite (it is 0)
    return where(zero, 1.0, sin(px) / px)


def logit(input, eps=None):
    """log(p / (1 - p)), with ``p`` clamped to ``[eps, 1 - eps]`` when ``eps`` is given (``torch.logit``).

    Example::

        >>> import distgrad
        >>> distgrad.logit(distgrad.tensor([0.25, 0.5]))
        tensor([-1.0986,  0.0000])
    """
    input = _floating(input)
    if eps is not None:
        input = input.clamp(eps, 1.0 - eps)
    return log(input) - log1p(-input)


def entr(input):
    """Elementwise entropy ``-x log(x)``: 0 at 0 and -inf for ``x < 0`` (``torch.special.entr``).

    Example::

        >>> import distgrad
        >>> distgrad.special.entr(distgrad.tensor([0.0, 0.5, -1.0]))
        tensor([0.0000, 0.3466,   -inf])
    """
    input = _floating(input)
    positive = input > 0
    safe = where(positive, input, 1.0)
    out = where(positive, -safe * log(safe), 0.0)
    return where(input < 0, -math.inf, out)


def ndtr(input):
    """The standard normal CDF, ``(1 + erf(x / sqrt 2)) / 2``, from erfc so the left tail keeps its digits.

    Example::

        >>> import distgrad
        >>> distgrad.special.ndtr(distgrad.tensor([0.0, 1.0]))
        tensor([0.5000, 0.8413])
    """
    return 0.5 * erfc(_floating(input) * (-1.0 / math.sqrt(2.0)))


def exp2(input):
    """``2 ** x`` elementwise (``torch.special.exp2``).

    Example::

        >>> import distgrad
        >>> distgrad.special.exp2(distgrad.tensor([3.0, -1.0]))
        tensor([8.0000, 0.5000])
    """
    return exp(_floating(input) * math.log(2.0))


def expit(input):
    """The logistic sigmoid, ``1 / (1 + exp(-x))`` (``torch.special.expit``).

    Example::

        >>> import distgrad
        >>> distgrad.special.expit(distgrad.tensor([0.0]))
        tensor([0.5000])
    """
    return sigmoid(_floating(input))
