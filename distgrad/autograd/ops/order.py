"""Order statistics and searches: kthvalue, median, nanmedian, msort, searchsorted, bucketize.

``sort``, ``argsort`` and ``topk`` live in :mod:`distgrad.autograd.ops.misc`;
the ops here build on the same stable argsort (NaN sorts as the largest
value).  A value picked at an index gets its gradient at that index (a gather
of the input, so higher derivatives work); ``median()`` and ``nanmedian()``
over all elements share the gradient evenly among the elements equal to the
result, as PyTorch does.  Among tied elements the index PyTorch returns is
unspecified; here it is the first of the ties in stable sorted order.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([[4.0, 1.0, 3.0], [0.0, 2.0, 5.0]])
    >>> x.median(dim=1)
    distgrad.return_types.median(
    values=tensor([3., 2.]),
    indices=tensor([2, 1]))
    >>> distgrad.searchsorted(distgrad.tensor([1.0, 3.0, 5.0]), distgrad.tensor([3.0, 6.0]))
    tensor([1, 3])
"""

from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.gather import dim_positions
from distgrad.autograd.ops.index import TakeFlat
from distgrad.autograd.ops.misc import _argsort, sort
from distgrad.autograd.ops.return_types import return_type
from distgrad.autograd.tensor import Tensor


_Kthvalue, _Median, _Nanmedian = (return_type(n, ["values", "indices"]) for n in ("kthvalue", "median", "nanmedian"))


class KthvalueValues(TakeFlat):
    """The picked order statistics, gathered at flat positions (PyTorch's ``KthvalueBackward0``)."""

    node_name = "KthvalueBackward0"


class MedianAll(ArrayFunction):
    """The (lower) median of all elements; the gradient is shared by the elements equal to it (``MedianBackward0``)."""

    node_name = "MedianBackward0"

    @staticmethod
    def forward(ctx, x, value, weights):
        ctx.weights = weights
        return value

    @staticmethod
    def backward(ctx, g):
        w = ctx.weights
        return g * (Tensor._make(w) if isinstance(g, Tensor) else w), None, None


def _pick(input, dim, keepdim, position, cls):
    """values/indices of the element at sorted ``position`` (an array broadcast against the other dims)."""
    xp = input._xp()
    data = input._data if input.ndim else input._data.reshape(1)
    d = input._dim(dim) if input.ndim else 0
    order = _argsort(data, d, False)
    idx = xp.take_along_axis(order, xp.expand_dims(position, d), axis=d)
    flat = dim_positions(data.shape, d, idx).reshape(idx.shape)
    if not keepdim or input.ndim == 0:
        idx, flat = idx.squeeze(d), flat.squeeze(d)
    if input.ndim == 0:
        idx, flat = idx.reshape(()), flat.reshape(())
    return cls(KthvalueValues.apply(input, flat), Tensor._make(idx))


def _other_shape(input, d):
    return tuple(s for i, s in enumerate(input.shape) if i != d)


def kthvalue(input, k, dim=-1, keepdim=False):
    """``(values, indices)`` of the ``k``-th smallest element (1-based) along ``dim``.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([5.0, 1.0, 4.0]).kthvalue(2)
        distgrad.return_types.kthvalue(
        values=tensor(4.),
        indices=tensor(2))
    """
    d = input._dim(dim) if input.ndim else 0
    size = input.shape[d] if input.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    position = input._xp().full(_other_shape(input, d), k - 1, dtype="int64")
    return _pick(input, dim, keepdim, position, _Kthvalue)


def _median_positions(input, d, ignore_nan):
    """Sorted position of each slice's lower median: the first NaN for median, the non-NaN median for nanmedian."""
    xp = input._xp()
    data = input._data if input.ndim else input._data.reshape(1)
    n = data.shape[d]
    if data.dtype.kind != "f":
        return xp.full(_other_shape(input, d), (n - 1) // 2, dtype="int64")
    nans = xp.isnan(data).sum(axis=d)
    if ignore_nan:
        valid = n - nans
        return xp.where(valid > 0, (valid - 1) // 2, 0).astype("int64")
    return xp.where(nans > 0, n - nans, (n - 1) // 2).astype("int64")  # NaNs sort last: the first one


def _median(op, input, dim, keepdim, ignore_nan, cls):
    if input.numel() == 0 and dim is None:
        raise RuntimeError(f"{op}() input tensor cannot be empty")
    if dim is not None:
        d = input._dim(dim) if input.ndim else 0
        if (input.shape[d] if input.ndim else 1) == 0:
            raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size.")
        return _pick(input, dim, keepdim, _median_positions(input, d, ignore_nan), cls)
    xp = input._xp()
    flat = input._data.reshape(-1)
    pos = int(_median_positions(Tensor._make(flat), 0, ignore_nan))
    value = xp.sort(flat)[pos]
    same = (flat == value) if value == value else xp.isnan(flat)
    weights = (same / max(int(same.sum()), 1)).astype(flat.dtype).reshape(input._data.shape)
    return MedianAll.apply(input, xp.asarray(value), weights)


def median(input, dim=None, keepdim=False):
    """The lower median: of all elements (a 0-d tensor), or ``(values, indices)`` along ``dim``.

    A slice holding a NaN has median NaN (its first NaN's index).

    Example::

        >>> import distgrad
        >>> distgrad.tensor([3.0, 1.0, 2.0, 4.0]).median()
        tensor(2.)
    """
    return _median("median", input, dim, keepdim, False, _Median)


def nanmedian(input, dim=None, keepdim=False):
    """:func:`median` ignoring NaN (NaN only where every element of the slice is NaN).

    Example::

        >>> import distgrad
        >>> distgrad.tensor([3.0, float('nan'), 1.0]).nanmedian()
        tensor(1.)
    """
    return _median("nanmedian", input, dim, keepdim, True, _Nanmedian)


def msort(input):
    """``input`` sorted along its first dimension (``sort(input, dim=0).values``).

    Example::

        >>> import distgrad
        >>> distgrad.msort(distgrad.tensor([[2, 0], [1, 3]]))
        tensor([[1, 0],
                [2, 3]])
    """
    return sort(input, dim=0).values


def _search_side(op, side, right):
    if side is None:
        return "right" if right else "left"
    if side not in ("left", "right"):
        raise RuntimeError(f"{op}(): side can only be 'left' or 'right' but got {side!r}")
    if right and side == "left":
        raise RuntimeError(f"{op}(): side and right can't be set to opposites, got side of left while right "
                           "was True")
    return side


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """For each value of ``input``, the index where it would be inserted into ``sorted_sequence`` to keep it sorted.

    ``sorted_sequence`` is 1-D, or sorted along its last dim with leading dims
    matching ``input``'s; ``side='right'`` (or ``right=True``) puts equal values
    after their equals; ``sorter`` gives the order that sorts an unsorted sequence.

    Example::

        >>> import distgrad
        >>> distgrad.searchsorted(distgrad.tensor([1, 3, 3, 5]), 3, right=True)
        tensor(3)
    """
    side = _search_side("searchsorted", side, right)
    xp = sorted_sequence._xp()
    seq = sorted_sequence._data
    scalar = not isinstance(input, Tensor)
    values = xp.asarray(input) if scalar else input._data
    if sorter is not None:
        seq = xp.take_along_axis(seq, sorter._data, axis=-1)
    if seq.ndim > 1 and (scalar or seq.shape[:-1] != values.shape[:-1]):
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           "dimensions of boundaries tensor and input value tensor must match, but we got "
                           f"boundaries tensor {list(seq.shape)} and input value tensor {list(values.shape)}")
    if seq.ndim <= 1:
        out = xp.searchsorted(seq.reshape(-1), values, side=side)
    else:
        rows_seq = seq.reshape(-1, seq.shape[-1])
        rows_val = values.reshape(rows_seq.shape[0], -1)
        out = xp.stack([xp.searchsorted(s, v, side=side) for s, v in zip(rows_seq, rows_val)]).reshape(values.shape)
    return Tensor._make(xp.asarray(out).astype("int32" if out_int32 else "int64"))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value for 1-D ``boundaries``: ``i`` with ``boundaries[i-1] < x <= boundaries[i]``.

    With ``right=True`` the buckets are ``boundaries[i-1] <= x < boundaries[i]``.

    Example::

        >>> import distgrad
        >>> distgrad.bucketize(distgrad.tensor([1, 4, 9]), distgrad.tensor([1, 5, 9]))
        tensor([0, 1, 2])
    """
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
