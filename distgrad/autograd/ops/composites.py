"""Functions composed from other ops, with no backward of their own: ``addcmul``/``addcdiv``,
``fmax``/``fmin``, ``float_power``, ``ldexp``, ``heaviside``, ``gcd``/``lcm``, ``diff``,
``trapezoid``/``cumulative_trapezoid``, ``gradient``, ``dist``, ``ravel``,
``broadcast_shapes``/``broadcast_tensors``, ``logspace``, ``angle`` and ``vander`` (also
``linalg.vander``).

Their gradients (and second derivatives) come from the ops they are made of; ``heaviside``,
``gcd`` and ``lcm`` are piecewise constant or integer-only and have none, as in PyTorch.

Example::

    >>> import distgrad
    >>> distgrad.diff(distgrad.tensor([1.0, 4.0, 9.0, 16.0]))
    tensor([3., 5., 7.])
    >>> distgrad.addcmul(distgrad.ones(2), distgrad.tensor([2.0, 3.0]), distgrad.tensor([4.0, 5.0]), value=0.5)
    tensor([5.0000, 8.5000])
"""
import numpy as np  # host-side only: broadcast_shapes works on shape tuples

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.ops.arithmetic import where
from distgrad.autograd.ops.inplace import inplace_variant
from distgrad.autograd.ops.join import cat, stack
from distgrad.autograd.ops.reduce import sum as sum_, vector_norm
from distgrad.autograd.tensor import Size, Tensor
from distgrad.creation import tensor


def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2`` (``torch.addcmul``).

    Example::

        >>> distgrad.addcmul(distgrad.zeros(2), distgrad.ones(2), distgrad.ones(2), value=3)
        tensor([3., 3.])
    """
    return input + value * (tensor1 * tensor2)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2`` (``torch.addcdiv``); integer ``tensor1 / tensor2`` is refused.

    Example::

        >>> distgrad.addcdiv(distgrad.ones(2), distgrad.ones(2), distgrad.tensor([2.0, 4.0]))
        tensor([1.5000, 1.2500])
    """
    if tensor1._data.dtype.kind in "iub" and tensor2._data.dtype.kind in "iub":
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future  release addcdiv "
                           "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can "
                           "be implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
                           "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
                           "addcdiv behavior is just the latter implementation: (input + value * tensor1 / "
                           "tensor2), for all dtypes.")
    return input + value * (tensor1 / tensor2)


def fmax(input, other):
    """Elementwise maximum that ignores a NaN (NaN only where both are) (``torch.fmax``).

    Example::

        >>> distgrad.fmax(distgrad.tensor([1.0, float("nan")]), distgrad.tensor([float("nan"), 2.0]))
        tensor([1., 2.])
    """
    # PyTorch's choice, gradient included: input where other is NaN or input >= other, else other
    return where((other != other) | (input >= other), input, other)


def fmin(input, other):
    """Elementwise minimum that ignores a NaN (``torch.fmin``).

    Example::

        >>> distgrad.fmin(distgrad.tensor([1.0, float("nan")]), distgrad.tensor([float("nan"), 2.0]))
        tensor([1., 2.])
    """
    return where((other != other) | (input <= other), input, other)


def float_power(input, exponent):
    """``input ** exponent`` computed in float64 (``torch.float_power``).

    Example::

        >>> distgrad.float_power(distgrad.tensor([2]), 3)
        tensor([8.], dtype=distgrad.float64)
    """
    base = input.to(dtypes.float64) if isinstance(input, Tensor) else input
    exp = exponent.to(dtypes.float64) if isinstance(exponent, Tensor) else float(exponent)
    return base ** exp


def ldexp(input, other):
    """``input * 2 ** other`` (``torch.ldexp``); the result is floating point.

    Example::

        >>> distgrad.ldexp(distgrad.tensor([1.0]), distgrad.tensor([3]))
        tensor([8.])
    """
    scale = 2.0 ** (other.to(input.dtype if input.is_floating_point() else dtypes.get_default_dtype()))
    return input * scale


def heaviside(input, values):
    """0 where ``input < 0``, ``values`` where it is 0, 1 where positive (``torch.heaviside``); no gradient.

    Example::

        >>> distgrad.heaviside(distgrad.tensor([-1.0, 0.0, 2.0]), distgrad.tensor([0.5]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    if input.dtype != values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    x, v = input.detach(), values.detach()
    return where(x == 0, v, (x > 0).to(x.dtype))


def _integer_pair(op, a, b):
    for t in (a, b):
        if t._data.dtype.kind not in "iub":
            raise NotImplementedError(f'"{op}_cpu" not implemented for \'{dtypes.torch_name(t._data.dtype)}\'')
    return backend.get_array_module(a._data)


def gcd(input, other):
    """Greatest common divisor of integers, non-negative (``torch.gcd``).

    Example::

        >>> distgrad.gcd(distgrad.tensor([12, -8]), distgrad.tensor([18, 6]))
        tensor([6, 2])
    """
    xp = _integer_pair("gcd", input, other)
    return Tensor._make(xp.gcd(input._data, other._data))


def lcm(input, other):
    """Least common multiple of integers, non-negative (``torch.lcm``).

    Example::

        >>> distgrad.lcm(distgrad.tensor([4, 0]), distgrad.tensor([6, 3]))
        tensor([12,  0])
    """
    xp = _integer_pair("lcm", input, other)
    return Tensor._make(xp.lcm(input._data, other._data))


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim``, after joining ``prepend`` and ``append`` (``torch.diff``).

    Example::

        >>> distgrad.diff(distgrad.tensor([1, 4, 9, 16]), n=2)
        tensor([2, 2])
    """
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    d = input._dim(dim)
    parts = [t for t in (prepend, input, append) if t is not None]
    x = cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        length = x.shape[d]
        if length == 0:
            break
        hi, lo = x.narrow(d, 1, length - 1), x.narrow(d, 0, length - 1)
        x = (hi != lo) if x.dtype == dtypes.bool_ else hi - lo
    return x


def _spacing(y, x, dx, d):
    """Interval widths along ``d``: from sample points ``x``, else the constant ``dx``."""
    if x is None:
        return dx
    if x.ndim == 1:
        widths = x[1:] - x[:-1]
        shape = [1] * y.ndim
        shape[d] = widths.shape[0]
        return widths.reshape(shape)
    return diff(x, dim=d)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoidal rule along ``dim`` with sample points ``x`` or spacing ``dx`` (default 1)
    (``torch.trapezoid``).

    Example::

        >>> distgrad.trapezoid(distgrad.tensor([1.0, 2.0, 3.0]), distgrad.tensor([0.0, 1.0, 3.0]))
        tensor(6.5000)
    """
    if x is not None and dx is not None:
        raise TypeError("trapezoid() received an invalid combination of arguments: give x or dx, not both")
    d = y._dim(dim)
    n = y.shape[d]
    if n == 0:
        return sum_(y, d)
    mid = (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)) * 0.5
    return sum_(mid * _spacing(y, x, 1.0 if dx is None else dx, d), d)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral along ``dim`` (one element shorter) (``torch.cumulative_trapezoid``).

    Example::

        >>> distgrad.cumulative_trapezoid(distgrad.tensor([1.0, 2.0, 3.0]))
        tensor([1.5000, 4.0000])
    """
    if x is not None and dx is not None:
        raise TypeError("cumulative_trapezoid() received an invalid combination of arguments: give x or dx, "
                        "not both")
    d = y._dim(dim)
    n = y.shape[d]
    mid = (y.narrow(d, 1, max(n - 1, 0)) + y.narrow(d, 0, max(n - 1, 0))) * 0.5
    return (mid * _spacing(y, x, 1.0 if dx is None else dx, d)).cumsum(d)


def dist(input, other, p=2):
    """The ``p``-norm of ``input - other`` (``torch.dist``).

    Example::

        >>> distgrad.dist(distgrad.tensor([3.0, 0.0]), distgrad.tensor([0.0, 4.0]))
        tensor(5.)
    """
    return vector_norm(input - other, p)


def ravel(input):
    """``input`` flattened to 1-D (a view when possible) (``torch.ravel``).

    Example::

        >>> distgrad.ravel(distgrad.ones(2, 3)).shape
        distgrad.Size([6])
    """
    return input.reshape(-1)


def broadcast_shapes(*shapes):
    """The shape the given shapes broadcast to, with PyTorch's error when they do not (``torch.broadcast_shapes``).

    Example::

        >>> distgrad.broadcast_shapes((2, 1), (3,))
        distgrad.Size([2, 3])
    """
    norm = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    try:
        return Size(np.broadcast_shapes(*norm))
    except ValueError:
        raise RuntimeError(f"shape mismatch: objects cannot be broadcast to a single shape: "
                           f"{', '.join(str(list(s)) for s in norm)}") from None


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape (``torch.broadcast_tensors``).

    Example::

        >>> [t.shape for t in distgrad.broadcast_tensors(distgrad.ones(2, 1), distgrad.ones(3))]
        [distgrad.Size([2, 3]), distgrad.Size([2, 3])]
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = tuple(broadcast_shapes(*[tuple(t.shape) for t in tensors]))
    return tuple(t.broadcast_to(shape) for t in tensors)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """``steps`` values ``base ** linspace(start, end, steps)`` (``torch.logspace``).

    Example::

        >>> distgrad.logspace(0, 2, 3)
        tensor([  1.,  10., 100.])
    """
    if int(steps) < 0:
        raise RuntimeError("number of steps must be non-negative")
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    exps = np.linspace(float(start), float(end), int(steps))
    values = np.power(float(base), exps)
    out = tensor(values.tolist(), dtype=dt, device=device)
    return out.requires_grad_() if requires_grad else out




addcmul_ = inplace_variant(addcmul, "addcmul_")
addcdiv_ = inplace_variant(addcdiv, "addcdiv_")


def angle(input):
    """The argument of each element: pi for negative reals, 0 otherwise, NaN for NaN (``torch.angle``).

    The gradient is 0, as PyTorch's for real input.

    Example::

        >>> distgrad.angle(distgrad.tensor([-1.0, 0.0, 2.0]))
        tensor([3.1416, 0.0000, 0.0000])
    """
    x = input if input.is_floating_point() else input.to(dtypes.get_default_dtype())
    finite = where(x.isfinite(), x, 0.0)
    out = where(x != x, x.detach(), (x.detach() < 0).to(x.dtype) * np.pi)  # pi in x's own dtype
    return out + finite * 0.0  # keeps the graph, with PyTorch's zero gradient


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of a 1-D ``x``: columns ``x ** (N - 1) ... x ** 0`` (``increasing`` reverses
    them) (``torch.vander``).

    Example::

        >>> distgrad.vander(distgrad.tensor([1.0, 2.0, 3.0]), 3)
        tensor([[1., 1., 1.],
                [4., 2., 1.],
                [9., 3., 1.]])
    """
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    if N is not None and N < 0:
        raise RuntimeError("N must be non-negative.")
    out = linalg_vander(x, N=N)
    return out if increasing else out.flip(-1)


def linalg_vander(x, *, N=None):
    """``torch.linalg.vander``: for ``x`` of shape (*, n), the (*, n, N) matrices of powers
    ``x ** 0, x ** 1, ..., x ** (N - 1)`` (N = n by default), built by repeated products so the
    gradient is finite at 0.

    Example::

        >>> distgrad.linalg.vander(distgrad.tensor([2.0, 3.0]))
        tensor([[1., 2.],
                [1., 3.]])
    """
    if x.ndim < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension")
    n = x.shape[-1] if N is None else int(N)
    if n < 1:
        raise RuntimeError("N must be greater than 1.")
    x = x.to(dtypes.int64) if x.dtype == dtypes.bool_ else x
    cols = [x * 0 + 1]
    for _ in range(n - 1):
        cols.append(cols[-1] * x)
    return stack(cols, -1)


def _coordinates(spacing, size, k, xp):
    """Float64 sample coordinates along a dimension of ``size`` from the ``k``-th spacing argument."""
    if isinstance(spacing, (list, tuple)):
        s = spacing[k]
    else:
        s = spacing
    if isinstance(s, Tensor):
        coords = np.asarray(s.tolist(), dtype=np.float64)
        if coords.ndim != 1 or coords.size != size:
            raise RuntimeError(f"torch.gradient expected each tensor to be on the same device and of size {size} "
                               f"as input's dimension, but got {list(s.shape)}")
        return coords
    return np.arange(size, dtype=np.float64) * float(s)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Estimate the derivative of ``input`` along each of ``dim`` (all dims by default) with central
    differences inside and one-sided differences of ``edge_order`` (1 or 2) at the edges, for a
    scalar spacing, one scalar per dim, or one coordinate tensor per dim (``torch.gradient``).

    Returns a tuple with one tensor per dimension.  Differentiable: each result is a fixed linear
    combination of neighbouring elements.

    Example::

        >>> distgrad.gradient(distgrad.tensor([1.0, 2.0, 4.0, 7.0]))
        (tensor([1.0000, 1.5000, 2.5000, 3.0000]),)
    """
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    x = input if input.is_floating_point() else input.to(dtypes.get_default_dtype())
    dims = list(range(x.ndim)) if dim is None else ([dim] if isinstance(dim, int) else list(dim))
    dims = [x._dim(d) for d in dims]
    if isinstance(spacing, (list, tuple)) and len(spacing) != len(dims):
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                           f"arguments to have the same length, but got a spacing argument of length "
                           f"{len(spacing)} and a dim argument of length {len(dims)}.")
    xp = backend.get_array_module(x._data)
    out = []
    for k, d in enumerate(dims):
        n = x.shape[d]
        if n < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
        c = _coordinates(spacing, n, k, xp)
        f = x.movedim(d, -1)

        def const(a):
            return Tensor._make(xp.asarray(a, dtype=x._data.dtype))
        pieces = []
        if edge_order == 1:
            pieces.append(((f[..., 1] - f[..., 0]) / const(c[1] - c[0])).unsqueeze(-1))
        else:
            h1, h2 = c[1] - c[0], c[2] - c[1]
            a, b, cc = -(2 * h1 + h2) / (h1 * (h1 + h2)), (h1 + h2) / (h1 * h2), -h1 / (h2 * (h1 + h2))
            pieces.append((f[..., 0] * const(a) + f[..., 1] * const(b) + f[..., 2] * const(cc)).unsqueeze(-1))
        if n > 2:
            hd, hs = c[1:-1] - c[:-2], c[2:] - c[1:-1]
            a, b, cc = -hs / (hd * (hd + hs)), (hs - hd) / (hd * hs), hd / (hs * (hd + hs))
            pieces.append(f[..., :-2] * const(a) + f[..., 1:-1] * const(b) + f[..., 2:] * const(cc))
        if edge_order == 1:
            pieces.append(((f[..., -1] - f[..., -2]) / const(c[-1] - c[-2])).unsqueeze(-1))
        else:
            h1, h2 = c[-2] - c[-3], c[-1] - c[-2]
            a, b, cc = h2 / (h1 * (h1 + h2)), -(h2 + h1) / (h1 * h2), (2 * h2 + h1) / (h2 * (h1 + h2))
            pieces.append((f[..., -3] * const(a) + f[..., -2] * const(b) + f[..., -1] * const(cc)).unsqueeze(-1))
        out.append(cat(pieces, -1).movedim(-1, d))
    return tuple(out)
