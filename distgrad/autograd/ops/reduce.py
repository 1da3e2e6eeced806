"""Reductions: sum, prod, max/min, and those composed of them (mean, var, std, logsumexp, norm).

``dim`` may be an int, a tuple/list of ints, or None (all dimensions), and
``keepdim`` keeps reduced dimensions as size 1, as in PyTorch.  ``max``/``min``
with a ``dim`` return ``(values, indices)``.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([[1.0, 5.0], [3.0, 2.0]])
    >>> distgrad.max(x, dim=1)
    distgrad.return_types.max(
    values=tensor([5., 3.]),
    indices=tensor([1, 0]))
"""
import builtins

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.arithmetic import maximum, minimum, where
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.return_types import return_type, return_types  # noqa: F401  (re-exported)
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.ops.unary import abs as abs_, exp, log, sqrt
from distgrad.autograd.tensor import Tensor


def _xp(x):
    return backend.get_array_module(x)


def normalize_dims(dim, ndim, op="reduce"):
    """``dim`` (None, int or sequence) as a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            return tuple(range(ndim))
        dims = dim
    else:
        dims = (dim,)
    n = builtins.max(ndim, 1)
    out = []
    for d in dims:
        d = int(d)
        if not -n <= d < n:
            raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
        d %= n
        if d in out:
            raise RuntimeError(f"{op}: dim {d} appears multiple times in the list of dims")
        out.append(d)
    if ndim == 0:
        return ()
    return tuple(sorted(out))


def _keep_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


class Sum(ArrayFunction):
    """Sum over ``axes``, keeping them as size 1 or not (``torch.sum`` with ``dim``)."""

    node_name = "SumBackward1"
    array_backward = True

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape = x.shape
        ctx.kept = _keep_shape(x.shape, axes)
        return _xp(x).asarray(x.sum(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        return xp_of(g).broadcast_to(g.reshape(ctx.kept), ctx.shape), None, None


class SumAll(Sum):
    """``sum(x)`` with no ``dim``: PyTorch names this node SumBackward0 (SumBackward1 has a dim)."""

    node_name = "SumBackward0"


class Mean(ArrayFunction):
    """Mean over some (non-empty) axes as one node, named as PyTorch names it (MeanBackward1)."""

    node_name = "MeanBackward1"
    array_backward = True

    @staticmethod
    def forward(ctx, x, axes, keepdim, n):
        ctx.shape = x.shape
        ctx.kept = _keep_shape(x.shape, axes)
        ctx.n = n
        return _xp(x).asarray(x.mean(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        return xp_of(g).broadcast_to(g.reshape(ctx.kept) / ctx.n, ctx.shape), None, None, None


class MeanAll(Mean):
    """``mean(x)`` with no ``dim``: MeanBackward0."""

    node_name = "MeanBackward0"


class Prod(ArrayFunction):
    """Product over ``axes``; the gradient is right with zeros in the input (``torch.prod``)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        out = _xp(x).asarray(x.prod(axis=axes, keepdims=True))
        ctx.axes, ctx.kept = axes, out.shape
        if not keepdim:
            out = out.reshape([s for i, s in enumerate(out.shape) if i not in axes])
        # save the returned array itself: it is then linked to this node, so double backward sees d(out)/dx
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        out = out.reshape(ctx.kept)
        g = g.reshape(ctx.kept)
        zero = x == 0
        if not bool(zero._data.any()):
            return g * out / x, None, None
        # with zeros: d/dx_i is the product of the other elements
        safe = where(zero, 1.0, x)
        zeros_in_slice = sum(zero, ctx.axes, keepdim=True)
        nonzero_prod = Prod.apply(safe, ctx.axes, True)
        # out / safe is 0 beside a zero but still depends on it through out (double backward)
        grad = where(zero, where(zeros_in_slice == 1, nonzero_prod, 0.0), out / safe)
        return g * grad, None, None


class MaxMin(ArrayFunction):
    """Max (or min) over some axes; the gradient is shared evenly between ties."""

    node_name = "AmaxBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x, axes, keepdim, is_max):
        xp = _xp(x)
        out = xp.max(x, axis=axes, keepdims=True) if is_max else xp.min(x, axis=axes, keepdims=True)
        ctx.save_for_backward(x, out)
        return out if keepdim else out.reshape([s for i, s in enumerate(out.shape) if i not in axes])

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        xp = xp_of(g)
        mask = xp.where(x == out, 1.0, 0.0)
        axes = tuple(i for i in range(x.ndim) if out.shape[i] == 1 and x.shape[i] != 1) or tuple(range(x.ndim))
        count = xp.sum(mask, axis=axes, keepdims=True)
        return g.reshape(out.shape) * mask / count, None, None, None


class MaxAll(MaxMin):
    """Maximum of every element (``torch.max`` with no dim; ties share the gradient)."""

    node_name = "MaxBackward1"


class MinAll(MaxMin):
    """Minimum of every element (``torch.min`` with no dim; ties share the gradient)."""

    node_name = "MinBackward1"


class Amin(MaxMin):
    """Minimum over ``axes``; ties share the gradient equally (``torch.amin``)."""

    node_name = "AminBackward0"


class MaxMinDim(ArrayFunction):
    """``max(x, dim)``/``min(x, dim)``: values and the index of the first extreme."""

    node_name = "MaxBackward0"

    @staticmethod
    def forward(ctx, x, dim, keepdim, is_max):
        xp = _xp(x)
        idx = xp.argmax(x, axis=dim) if is_max else xp.argmin(x, axis=dim)
        idx = xp.expand_dims(idx, dim)
        vals = xp.take_along_axis(x, idx, axis=dim)
        ctx.shape, ctx.dim = x.shape, dim
        idx = idx.astype(xp.int64, copy=False)
        ctx.save_for_backward(idx)
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        return vals, idx

    @staticmethod
    def backward(ctx, g, gidx):
        idx, = ctx.saved_tensors  # kept with the reduced dim, as size 1
        dim, shape = ctx.dim, ctx.shape
        positions = Tensor._make(_xp(idx._data).arange(shape[dim]).reshape(
            [-1 if i == dim else 1 for i in range(len(shape))]))
        if g.ndim < len(shape):
            g = g.unsqueeze(dim)
        return g * (positions == idx), None, None, None


class MinDim(MaxMinDim):
    """``min(x, dim)``: values and the index of the first minimum (``torch.min`` with ``dim``)."""

    node_name = "MinBackward0"


class ProdDim(Prod):
    """Product over one ``dim`` (``torch.prod`` with ``dim``; PyTorch's ``ProdBackward1``)."""

    node_name = "ProdBackward1"


def sum(input, dim=None, keepdim=False, dtype=None):
    """Sum over ``dim`` (all dims when None); ints and bools sum as int64 unless ``dtype`` is given."""
    if dtype is not None:
        input = to(input, dtype)
    elif input._data.dtype.kind in "bi" and input._data.dtype != dtypes.int64.np:
        input = to(input, dtypes.int64)
    elif input._data.dtype.kind == "u":
        input = to(input, dtypes.int64)
    axes = normalize_dims(dim, input.ndim, "sum")
    return (SumAll if dim is None else Sum).apply(input, axes, keepdim)


def mean(input, dim=None, keepdim=False, dtype=None):
    """Mean over ``dim``; integer input is an error without ``dtype``, as in PyTorch."""
    if dtype is not None:
        input = to(input, dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                           f"point or complex dtype. Got: {input.dtype}")
    axes = normalize_dims(dim, input.ndim, "mean")
    n = 1
    for a in axes:
        n *= input.shape[a]
    if n:
        return (MeanAll if dim is None else Mean).apply(input, axes, keepdim, n)
    return sum(input, axes, keepdim) * float("nan")  # the mean of nothing, without NumPy's warning


def var(input, dim=None, *, correction=1, keepdim=False, unbiased=None):
    """Variance over ``dim`` with Bessel's ``correction`` (1 unbiased, 0 population)."""
    if unbiased is not None:
        correction = 1 if unbiased else 0
    if isinstance(dim, bool):  # var(x, False): the old unbiased positional argument
        correction, dim = int(dim), None
    axes = normalize_dims(dim, input.ndim, "var")
    n = 1
    for a in axes:
        n *= input.shape[a]
    centred = input - mean(input, axes, keepdim=True)
    return sum(centred * centred, axes, keepdim) / builtins.max(n - correction, 0)


def std(input, dim=None, *, correction=1, keepdim=False, unbiased=None):
    """Standard deviation: the square root of :func:`var`."""
    return sqrt(var(input, dim, correction=correction, keepdim=keepdim, unbiased=unbiased))


def amax(input, dim=(), keepdim=False):
    """Maximum over ``dim`` (all dims by default); ties share the gradient equally (``torch.amax``)."""
    axes = normalize_dims(dim if dim != () else None, input.ndim, "amax")
    return MaxMin.apply(input, axes, keepdim, True)


def amin(input, dim=(), keepdim=False):
    """Minimum over ``dim`` (all dims by default); ties share the gradient equally (``torch.amin``)."""
    axes = normalize_dims(dim if dim != () else None, input.ndim, "amin")
    return Amin.apply(input, axes, keepdim, False)


return_type("max", ["values", "indices"])
return_type("min", ["values", "indices"])


def _max_min(input, dim, keepdim, other, is_max):
    if isinstance(dim, Tensor):
        other, dim = dim, None
    if other is not None:
        return maximum(input, other) if is_max else minimum(input, other)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(f"{'max' if is_max else 'min'}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' argument.")
        return (MaxAll if is_max else MinAll).apply(input, tuple(range(input.ndim)), False, is_max)
    d = normalize_dims(dim, input.ndim, "max" if is_max else "min")
    d = d[0] if d else 0
    if input.ndim == 0:
        return (return_types.max if is_max else return_types.min)(input.clone(), Tensor._make(_xp(input._data).zeros((), dtype="int64")))
    vals, idx = (MaxMinDim if is_max else MinDim).apply(input, d, keepdim, is_max)
    return (return_types.max if is_max else return_types.min)(vals, idx)


def max(input, dim=None, keepdim=False, *, other=None):
    """The largest element; with ``dim``, ``(values, indices)``; with a tensor, elementwise maximum."""
    return _max_min(input, dim, keepdim, other, True)


def min(input, dim=None, keepdim=False, *, other=None):
    """The smallest element; with ``dim``, ``(values, indices)``; with a tensor, elementwise minimum."""
    return _max_min(input, dim, keepdim, other, False)


def _arg(input, dim, keepdim, is_max):
    xp = _xp(input._data)
    f = xp.argmax if is_max else xp.argmin
    if dim is None:
        out = f(input._data.reshape(-1))
        if keepdim:
            out = xp.asarray(out).reshape((1,) * input.ndim)
        return Tensor._make(xp.asarray(out, dtype=xp.int64))
    d = input._dim(dim)
    out = f(input._data, axis=d) if input.ndim else xp.asarray(0)
    if keepdim and input.ndim:
        out = xp.expand_dims(out, d)
    return Tensor._make(xp.asarray(out, dtype=xp.int64))


def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (of the flattened tensor when ``dim`` is None)."""
    return _arg(input, dim, keepdim, True)


def argmin(input, dim=None, keepdim=False):
    """Index of the smallest element (of the flattened tensor when ``dim`` is None)."""
    return _arg(input, dim, keepdim, False)


def prod(input, dim=None, keepdim=False, dtype=None):
    """Product over one ``dim`` (all elements when None)."""
    if dtype is not None:
        input = to(input, dtype)
    elif input._data.dtype.kind in "bu" or input._data.dtype == dtypes.int32.np:
        input = to(input, dtypes.int64)
    axes = normalize_dims(dim, input.ndim, "prod")
    if dim is None:
        return Prod.apply(input, axes, False)
    return ProdDim.apply(input, axes, keepdim)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over ``dim``, computed stably by subtracting the max."""
    axes = normalize_dims(dim, input.ndim, "logsumexp")
    m = amax(input, axes, keepdim=True).detach()
    m = m.masked_fill(~(m == m) | (m.abs() == float("inf")), 0.0)
    out = log(sum(exp(input - m), axes, keepdim=True)) + m
    if not keepdim:
        out = out.reshape([s for i, s in enumerate(out.shape) if i not in axes])
    return out


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """The ``ord``-norm of ``x`` as a vector over ``dim`` (all dims by default) (``torch.linalg.vector_norm``).

    ``ord`` is any number: ``inf`` / ``-inf`` are the largest / smallest
    absolute value, 0 counts nonzeros.  ``dtype`` casts ``x`` first.  Where the
    norm is 0 the gradient is 0 (PyTorch's subgradient), not NaN.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.vector_norm(distgrad.tensor([3.0, -4.0]))
        tensor(5.)
        >>> distgrad.linalg.vector_norm(distgrad.tensor([3.0, -4.0]), float("inf"))
        tensor(4.)
    """
    if out is not None:
        raise TypeError("linalg.vector_norm: the out= argument is not supported by distgrad")
    if isinstance(ord, str):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' must be Number, not {type(ord).__name__}")
    if dtype is not None:
        dt = dtypes.as_dtype(dtype)
        if not dt.is_floating_point:
            raise RuntimeError(f"linalg.vector_norm: dtype should be floating point or complex, but got "
                               f"{dtypes.torch_name(dt)}")
        x = to(x, dt)
    if x._data.dtype.kind != "f":
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{dtypes.torch_name(x._data.dtype)}")
    axes = normalize_dims(dim, x.ndim, "linalg.vector_norm")
    if ord == 2:
        s = sum(x * x, axes, keepdim)
        zero = s == 0  # at 0 the derivative of sqrt is infinite; PyTorch's norm gives 0 there
        if bool(zero._data.any()):
            return where(zero, 0.0, sqrt(where(zero, 1.0, s)))
        return sqrt(s)
    a = abs_(x)
    if ord == float("inf"):
        return amax(a, axes, keepdim)
    if ord == float("-inf"):
        return amin(a, axes, keepdim)
    if ord == 0:
        return sum((a != 0).to(x.dtype), axes, keepdim)
    if ord == 1:
        return sum(a, axes, keepdim)
    s = sum(a ** ord, axes, keepdim)
    zero = s == 0
    if bool(zero._data.any()):  # as for ord=2: a zero norm gets gradient 0, not inf * 0
        return where(zero, 0.0, where(zero, 1.0, s) ** (1.0 / ord))
    return s ** (1.0 / ord)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None, *, out=None):
    """``torch.norm``: a vector norm for a number ``p`` (None is 2) and for ``'fro'``; ``'nuc'`` is a matrix norm.

    As in PyTorch, a number ``p`` always gives a vector norm (over every dim
    in ``dim``, also two of them); ``'fro'`` over at most two dims is the
    vector 2-norm; ``'nuc'`` (or ``'fro'`` over more dims) goes to
    :func:`distgrad.linalg.matrix_norm`, over all dims when ``dim`` is None.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([[3.0, 0.0], [0.0, 4.0]]).norm()
        tensor(5.)
        >>> distgrad.norm(distgrad.tensor([[3.0, 0.0], [0.0, 4.0]]), p="nuc")
        tensor(7.)
    """
    if out is not None:
        raise TypeError("norm: the out= argument is not supported by distgrad")
    if isinstance(p, str):
        if p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2):
            return vector_norm(input, 2, dim, keepdim, dtype=dtype)
        from distgrad.autograd.ops.matrix_functions import matrix_norm  # deferred: it builds on this module
        return matrix_norm(input, p, tuple(range(input.ndim)) if dim is None else dim, keepdim, dtype=dtype)
    return vector_norm(input, 2 if p is None else p, dim, keepdim, dtype=dtype)
