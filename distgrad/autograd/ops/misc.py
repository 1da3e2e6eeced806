"""Assorted ops: all/any, isnan/isinf/isfinite, nonzero, count_nonzero, cumsum, flip, tril/triu, sort/argsort/topk.

Tests and searches (all, any, isnan, nonzero, argsort) return bool or int64
tensors with no gradient.  cumsum, flip, tril and triu have their own
backward; the values of sort and topk are a gather of the input, so their
gradient goes back to the positions the values came from.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([3.0, 1.0, 2.0])
    >>> distgrad.sort(x).indices
    tensor([1, 2, 0])
    >>> distgrad.cumsum(x, 0)
    tensor([3., 4., 6.])
"""

import numpy as np

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.gather import dim_positions
from distgrad.autograd.ops.index import TakeFlat
from distgrad.autograd.ops.reduce import normalize_dims
from distgrad.autograd.ops.return_types import return_type
from distgrad.autograd.tensor import Tensor


def _xp(x):
    return backend.get_array_module(x)


# --- tests and searches (no gradient) --------------------------------------------------------
def _logical_reduce(op, input, dim, keepdim):
    data = input._data
    xp = input._xp()
    axes = normalize_dims(dim, input.ndim, op)
    out = getattr(xp, op)(data, axis=axes, keepdims=keepdim)
    out = xp.asarray(out)
    # PyTorch keeps uint8 for uint8 input and returns bool otherwise
    return Tensor._make(out.astype(np.uint8) if data.dtype == np.uint8 else out.astype(bool))


def all(input, dim=None, keepdim=False):
    """True where every element (along ``dim``, an int or a tuple) is nonzero.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([[1, 0], [1, 1]]).all(1)
        tensor([False,  True])
    """
    return _logical_reduce("all", input, dim, keepdim)


def any(input, dim=None, keepdim=False):
    """True where some element (along ``dim``, an int or a tuple) is nonzero.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([[1, 0], [0, 0]]).any(1)
        tensor([ True, False])
    """
    return _logical_reduce("any", input, dim, keepdim)


def isnan(input):
    """Elementwise test for NaN (always False for integer tensors).

    Example::

        >>> import distgrad
        >>> distgrad.tensor([1.0, float('nan')]).isnan()
        tensor([False,  True])
    """
    return Tensor._make(input._xp().isnan(input._data) if input.is_floating_point()
                        else input._xp().zeros(input._data.shape, dtype=bool))


def isinf(input):
    """Elementwise test for +/-inf (always False for integer tensors).

    Example::

        >>> import distgrad
        >>> distgrad.tensor([1.0, float('-inf')]).isinf()
        tensor([False,  True])
    """
    return Tensor._make(input._xp().isinf(input._data) if input.is_floating_point()
                        else input._xp().zeros(input._data.shape, dtype=bool))


def isfinite(input):
    """Elementwise test for a finite value (always True for integer tensors).

    Example::

        >>> import distgrad
        >>> distgrad.tensor([1.0, float('inf')]).isfinite()
        tensor([ True, False])
    """
    return Tensor._make(input._xp().isfinite(input._data) if input.is_floating_point()
                        else input._xp().ones(input._data.shape, dtype=bool))


def nonzero(input, *, as_tuple=False):
    """Indices of the nonzero elements: an ``(n, ndim)`` int64 tensor, or one 1-D tensor per dim.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([0, 3, 0, 4]).nonzero()
        tensor([[1],
                [3]])
    """
    xp = input._xp()
    data = input._data
    if data.ndim == 0:
        found = bool(data)
        if as_tuple:
            return (Tensor._make(xp.zeros(int(found), dtype=xp.int64)),)
        return Tensor._make(xp.zeros((int(found), 0), dtype=xp.int64))
    idx = [i.astype(xp.int64, copy=False) for i in xp.nonzero(data)]
    if as_tuple:
        return tuple(Tensor._make(i) for i in idx)
    return Tensor._make(xp.stack(idx, axis=1))


def argwhere(input):
    """Same as ``nonzero(input)``.

    Example::

        >>> import distgrad
        >>> distgrad.argwhere(distgrad.tensor([0, 5]))
        tensor([[1]])
    """
    return nonzero(input)


def count_nonzero(input, dim=None):
    """How many elements (along ``dim``, an int or a tuple) are nonzero, as int64.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([[0, 1], [2, 3]]).count_nonzero(dim=1)
        tensor([1, 2])
    """
    axes = normalize_dims(dim, input.ndim, "count_nonzero")
    xp = input._xp()
    return Tensor._make(xp.asarray(xp.count_nonzero(input._data, axis=axes)).astype(xp.int64))


# --- cumsum, flip, tril, triu ------------------------------------------------------------------
class Cumsum(ArrayFunction):
    """Running sum along ``dim``; the gradient is the reversed running sum (``torch.cumsum``)."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return _xp(x).cumsum(x, axis=dim, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        # d(out_j)/d(x_i) = 1 for j >= i: a reversed cumulative sum of g
        d = (ctx.dim,)
        return Flip.apply(Cumsum.apply(Flip.apply(g, d), ctx.dim), d), None


def cumsum(input, dim, *, dtype=None):
    """Running sum along ``dim``; integer and bool input accumulate in int64 unless ``dtype`` is given."""
    if dtype is not None:
        input = to(input, dtype)
    elif not input.is_floating_point():
        input = to(input, dtypes.int64)
    if input.ndim == 0:
        input._dim(dim)
        return Cumsum.apply(input.reshape(1), 0).reshape(())
    return Cumsum.apply(input, input._dim(dim))


class Flip(ArrayFunction):
    """Reverses the order of elements along ``dims`` (``torch.flip``)."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return _xp(x).flip(x, axis=dims).copy()

    @staticmethod
    def backward(ctx, g):
        return Flip.apply(g, ctx.dims), None


def flip(input, dims):
    """A copy with the order of elements reversed along each of ``dims`` (a tuple or list).

    Example::

        >>> import distgrad
        >>> distgrad.arange(3).flip(0)
        tensor([2, 1, 0])
    """
    if isinstance(dims, int):
        dims = (dims,)
    if not isinstance(dims, (tuple, list)):
        raise TypeError(f"flip(): argument 'dims' must be tuple of ints, not {type(dims).__name__}")
    axes = normalize_dims(tuple(dims), input.ndim, "flip") if dims else ()
    if input.ndim == 0 or not axes:
        return input.clone()
    return Flip.apply(input, axes)


class Tril(ArrayFunction):
    """Lower triangle at and below ``diagonal``, zeros above (``torch.tril``)."""

    @staticmethod
    def forward(ctx, x, diagonal):
        ctx.diagonal = diagonal
        return _xp(x).tril(x, diagonal)

    @staticmethod
    def backward(ctx, g):
        return Tril.apply(g, ctx.diagonal), None


class Triu(ArrayFunction):
    """Upper triangle at and above ``diagonal``, zeros below (``torch.triu``)."""

    @staticmethod
    def forward(ctx, x, diagonal):
        ctx.diagonal = diagonal
        return _xp(x).triu(x, diagonal)

    @staticmethod
    def backward(ctx, g):
        return Triu.apply(g, ctx.diagonal), None


def tril(input, diagonal=0):
    """The lower triangle of the last two dims (elements above ``diagonal`` set to 0).

    Example::

        >>> import distgrad
        >>> distgrad.ones(2, 2).tril()
        tensor([[1., 0.],
                [1., 1.]])
    """
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Tril.apply(input, int(diagonal))


def triu(input, diagonal=0):
    """The upper triangle of the last two dims (elements below ``diagonal`` set to 0).

    Example::

        >>> import distgrad
        >>> distgrad.ones(2, 2).triu(1)
        tensor([[0., 1.],
                [0., 0.]])
    """
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Triu.apply(input, int(diagonal))


# --- sort, argsort, topk -------------------------------------------------------------------------
_Sort = return_type("sort", ["values", "indices"])
_Topk = return_type("topk", ["values", "indices"])


class SortValues(TakeFlat):
    """The values of a sort, picked at flat positions (PyTorch's ``SortBackward0``)."""

    node_name = "SortBackward0"


class TopkValues(TakeFlat):
    """The values of a top-k, picked at flat positions (PyTorch's ``TopkBackward0``)."""

    node_name = "TopkBackward0"


def _argsort(data, dim, descending):
    """Stable argsort along ``dim``; descending keeps equal elements in their original order, NaN first."""
    xp = _xp(data)
    if not descending:
        return xp.argsort(data, axis=dim, kind="stable").astype(xp.int64, copy=False)
    # sort the reversed array ascending, then reverse the result: ties stay in original order
    rev = xp.argsort(xp.flip(data, axis=dim), axis=dim, kind="stable")
    return (data.shape[dim] - 1 - xp.flip(rev, axis=dim)).astype(xp.int64, copy=False)


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim`` (always a stable sort).

    Example::

        >>> import distgrad
        >>> distgrad.tensor([3, 1, 2]).argsort(descending=True)
        tensor([0, 2, 1])
    """
    if input.ndim == 0:
        input._dim(dim)
        return Tensor._make(input._xp().zeros((), dtype=np.int64))
    return Tensor._make(_argsort(input._data, input._dim(dim), descending))


def sort(input, dim=-1, descending=False, stable=False):
    """``(values, indices)`` of ``input`` sorted along ``dim``; NaN sorts as the largest value."""
    if isinstance(dim, bool):  # sort(x, True): PyTorch's positional ``descending``
        dim, descending = -1, dim
    if input.ndim == 0:
        input._dim(dim)
        return _Sort(input.clone(), Tensor._make(input._xp().zeros((), dtype=np.int64)))
    d = input._dim(dim)
    idx = _argsort(input._data, d, descending)
    flat = dim_positions(input._data.shape, d, idx).reshape(idx.shape)
    return _Sort(SortValues.apply(input, flat), Tensor._make(idx))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``, in sorted order.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([1.0, 5.0, 3.0]).topk(2).values
        tensor([5., 3.])
    """
    d = input._dim(dim) if input.ndim else 0
    size = input.shape[d] if input.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    data = input._data if input.ndim else input._data.reshape(1)
    idx = _argsort(data, d, largest)
    idx = idx[(slice(None),) * d + (slice(0, k),)]
    flat = dim_positions(data.shape, d, idx).reshape(idx.shape)
    if input.ndim == 0:
        flat, idx = flat.reshape(()) if k else flat, idx.reshape(()) if k else idx
    return _Topk(TopkValues.apply(input, flat), Tensor._make(idx))
