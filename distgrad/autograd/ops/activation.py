"""Activation functions with their own backward: leaky_relu, elu, gelu, silu, softplus.

(relu, sigmoid and tanh live with the other elementwise functions in
:mod:`distgrad.autograd.ops.unary`.)  Each backward is written against the
namespace of its gradient, so it runs on raw arrays in an ordinary backward
pass and on Tensors, recording a graph, under ``create_graph=True``.

Example::

    >>> import distgrad
    >>> from distgrad.autograd.ops.activation import leaky_relu
    >>> leaky_relu(distgrad.tensor([-2.0, 3.0]), 0.5)
    tensor([-1.,  3.])
"""
import math

from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops import unary
from distgrad.autograd.ops.special import erf_array
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.ops.zero_dependency import depends_on
from distgrad.autograd.tensor import Tensor

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)
_TANH_C = 0.044715


def _xp(x):
    return backend.get_array_module(x)


def _sigmoid(x):
    return unary.sigmoid(x) if isinstance(x, Tensor) else unary.sigmoid_array(x)


def _tanh(x):
    return unary.tanh(x) if isinstance(x, Tensor) else _xp(x).tanh(x)


def _erf(x):
    return unary.erf(x) if isinstance(x, Tensor) else erf_array(x).astype(x.dtype, copy=False)


class LeakyRelu(ArrayFunction):
    """``x`` where positive, else ``slope * x`` (PyTorch's ``leaky_relu``)."""

    node_name = "LeakyReluBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return _xp(x).where(x > 0, x, x * x.dtype.type(slope))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        out = xp_of(g).where(x > 0, g, g * ctx.slope)
        return (depends_on(out, x) if isinstance(g, Tensor) else out), None  # PyTorch's formula takes the input


class Elu(ArrayFunction):
    """``x`` where positive, else ``alpha * (exp(x) - 1)`` (PyTorch's ``elu``)."""

    node_name = "EluBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x, alpha):
        xp = _xp(x)
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        neg = xp.minimum(x, 0)  # exp of non-positive values only: no overflow
        return xp.where(x > 0, x, x.dtype.type(alpha) * xp.expm1(neg))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        xp = xp_of(g)
        neg = xp.where(x > 0, 0.0, x)
        return xp.where(x > 0, g, g * ctx.alpha * xp.exp(neg)), None


class Gelu(ArrayFunction):
    """x * Phi(x) (exact, with erf) or its tanh approximation."""

    node_name = "GeluBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if approximate == "tanh":
            inner = _TANH_K * (x + _TANH_C * x * x * x)
            return (0.5 * x * (1 + _xp(x).tanh(inner))).astype(x.dtype, copy=False)
        # the normal CDF is kept for a plain backward, which would otherwise evaluate erf a second time
        # (erf is most of GELU's cost); a create_graph backward recomputes it as a differentiable Tensor
        ctx.cdf = cdf = 0.5 * (1 + _erf(x / _SQRT_2))
        return (x * cdf).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        xp = xp_of(g)
        if ctx.approximate == "tanh":
            t = _tanh(_TANH_K * (x + _TANH_C * x * x * x))
            d_inner = _TANH_K * (1 + 3 * _TANH_C * x * x)
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner), None
        cdf = ctx.cdf if not isinstance(x, Tensor) else 0.5 * (1 + _erf(x / _SQRT_2))
        pdf = xp.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return g * (cdf + x * pdf), None


class Silu(ArrayFunction):
    """x * sigmoid(x)."""

    node_name = "SiluBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * unary.sigmoid_array(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        s = _sigmoid(x)
        return g * (s * (1 + x * (1 - s)))


class Softplus(ArrayFunction):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""

    node_name = "SoftplusBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = _xp(x)
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        bx = x * x.dtype.type(beta)
        # log1p(exp(-|z|)) + max(z, 0) equals log1p(exp(z)) without overflowing
        soft = (xp.log1p(xp.exp(-xp.abs(bx))) + xp.maximum(bx, 0)) / x.dtype.type(beta)
        return xp.where(bx > threshold, x, soft).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        bx = x * ctx.beta
        return xp_of(g).where(bx > ctx.threshold, g, g * _sigmoid(bx)), None, None


def _check(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if not x.is_floating_point():
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype}")


def leaky_relu(input, negative_slope=0.01):
    """Leaky ReLU: ``input`` where positive, else ``negative_slope * input`` (``torch.nn.functional.leaky_relu``)."""
    _check("leaky_relu", input)
    return LeakyRelu.apply(input, float(negative_slope))


def elu(input, alpha=1.0):
    """ELU: ``input`` where positive, else ``alpha * (exp(input) - 1)`` (``torch.nn.functional.elu``)."""
    _check("elu", input)
    return Elu.apply(input, float(alpha))


def gelu(input, approximate="none"):
    """GELU, ``x * Phi(x)``, exact (erf) or with the ``'tanh'`` approximation (``torch.nn.functional.gelu``)."""
    _check("gelu", input)
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either none or tanh, got '{approximate}'")
    return Gelu.apply(input, approximate)


def silu(input):
    """SiLU (swish), ``x * sigmoid(x)`` (``torch.nn.functional.silu``)."""
    _check("silu", input)
    return Silu.apply(input)


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold`` (``torch.nn.functional.softplus``)."""
    _check("softplus", input)
    if beta == 0:
        raise RuntimeError("softplus: beta must be non-zero")
    return Softplus.apply(input, float(beta), float(threshold))
