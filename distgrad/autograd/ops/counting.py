"""Counting ops: unique, unique_consecutive, bincount, histc (``count_nonzero``: :mod:`~distgrad.autograd.ops.misc`).

None of them has a gradient (in PyTorch neither).  ``unique`` sorts (stably)
and marks where a run of equal elements - or, with ``dim``, of equal slices -
starts; ``unique_consecutive`` does the same without the sort.  Like PyTorch,
NaNs never compare equal, so each NaN is its own unique value.  ``unique``
always returns sorted values, also for ``sorted=False`` (PyTorch leaves that
order unspecified).

Example::

    >>> import distgrad
    >>> distgrad.unique(distgrad.tensor([3, 1, 3, 2]), return_counts=True)
    (tensor([1, 2, 3]), tensor([1, 1, 2]))
    >>> distgrad.bincount(distgrad.tensor([0, 2, 2]))
    tensor([1, 0, 2])
"""
from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.ops.return_types import return_type
from distgrad.autograd.tensor import Tensor


def _runs(rows, sort):
    """Unique rows of a 2-D array ``(n, m)``: ``(values, inverse, counts)``; sorted lexicographically when ``sort``."""
    xp = backend.get_array_module(rows)
    n = rows.shape[0]
    if n == 0:
        empty = xp.zeros(0, dtype=xp.int64)
        return rows, empty, empty
    if not sort:
        order = xp.arange(n)
    elif rows.shape[1] == 1:
        order = xp.argsort(rows[:, 0], kind="stable")
    elif rows.shape[1] == 0:
        order = xp.arange(n)
    else:
        order = xp.lexsort(rows.T[::-1])  # the first column is the primary key
    ordered = rows[order]
    starts = xp.ones(n, dtype=bool)
    if n > 1 and rows.shape[1]:
        starts[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    elif n > 1:
        starts[1:] = False
    group = xp.cumsum(starts) - 1
    inverse = xp.empty(n, dtype=xp.int64)
    inverse[order] = group
    first = xp.nonzero(starts)[0]
    counts = xp.diff(xp.concatenate([first, xp.asarray([n])])).astype(xp.int64)
    return ordered[first], inverse, counts


def _unique(op, input, sort, return_inverse, return_counts, dim):
    data = input._data
    xp = input._xp()
    if dim is None:
        values, inverse, counts = _runs(data.reshape(-1, 1), sort)
        values, inverse = values.reshape(-1), inverse.reshape(data.shape)
    else:
        d = input._dim(dim) if input.ndim else None
        if d is None:
            raise IndexError(f"{op}(): dim is out of range for a 0-d tensor")
        moved = xp.moveaxis(data, d, 0)
        rest = moved.shape[1:]
        if moved.shape[0] == 0:
            values, inverse, counts = data, xp.zeros(0, dtype=xp.int64), xp.zeros(0, dtype=xp.int64)
        elif 0 in rest:
            raise RuntimeError(f"{op}(): There are 0 sized dimensions, and they aren't selected, so unique "
                               f"cannot be applied (shape {list(input.shape)}, dim {d})")
        else:
            values, inverse, counts = _runs(moved.reshape(moved.shape[0], -1), sort)
            values = xp.moveaxis(values.reshape((values.shape[0],) + rest), 0, d)
    out = [Tensor._make(xp.ascontiguousarray(values))]
    if return_inverse:
        out.append(Tensor._make(inverse))
    if return_counts:
        out.append(Tensor._make(counts))
    return out[0] if len(out) == 1 else tuple(out)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The unique elements of ``input`` (or unique slices along ``dim``), with optional inverse and counts.

    ``inverse`` maps each element (each slice along ``dim``) to its position in
    the unique values; ``counts`` says how often each unique value occurs.

    Example::

        >>> import distgrad
        >>> values, inverse = distgrad.tensor([[2, 1], [2, 1], [0, 5]]).unique(dim=0, return_inverse=True)
        >>> values
        tensor([[0, 5],
                [2, 1]])
        >>> inverse
        tensor([1, 1, 0])
    """
    return _unique("unique", input, True, return_inverse, return_counts, dim)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapses each run of consecutive equal elements (or slices along ``dim``) to one, like ``uniq``.

    Example::

        >>> import distgrad
        >>> distgrad.unique_consecutive(distgrad.tensor([1, 1, 2, 2, 1]), return_counts=True)
        (tensor([1, 2, 1]), tensor([2, 2, 1]))
    """
    return _unique("unique_consecutive", input, False, return_inverse, return_counts, dim)


def bincount(input, weights=None, minlength=0):
    """How often each value 0, 1, ... occurs in a 1-D non-negative integer tensor (weighted by ``weights``).

    The result has ``max(input) + 1`` entries, at least ``minlength``: int64
    without weights, float32 for float32 weights and float64 for any other
    weights, as in PyTorch.

    Example::

        >>> import distgrad
        >>> distgrad.bincount(distgrad.tensor([1, 1, 3]), weights=distgrad.tensor([0.5, 1.0, 2.0]))
        tensor([0.0000, 1.5000, 0.0000, 2.0000])
    """
    data = input._data
    if input.ndim != 1 or data.dtype.kind not in "iu" or (data.size and int(data.min()) < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    xp = input._xp()
    if weights is None:
        return Tensor._make(xp.bincount(data, minlength=minlength).astype(xp.int64))
    if weights.shape != input.shape:
        raise RuntimeError(f"weights should be 1-d and have the same length as input "
                           f"(input {list(input.shape)}, weights {list(weights.shape)})")
    w = weights._data
    dtype = xp.float32 if w.dtype == xp.float32 else xp.float64  # PyTorch: float32 stays, all else float64
    return Tensor._make(xp.bincount(data, weights=w.astype(xp.float64), minlength=minlength).astype(dtype))


def histc(input, bins=100, min=0, max=0):  # noqa: A002  (PyTorch's argument names)
    """A histogram of ``bins`` equal-width bins over ``[min, max]``; ``min == max`` uses the data's range.

    Elements outside the range are ignored; the last bin includes ``max``.

    Example::

        >>> import distgrad
        >>> distgrad.histc(distgrad.tensor([1.0, 2.0, 1.0, 4.0]), bins=4, min=0, max=3)
        tensor([0., 2., 1., 0.])
    """
    data = input._data
    if data.dtype.kind != "f":
        raise RuntimeError(f"histc: expected a floating point input, got {input.dtype}")
    if bins <= 0:
        raise RuntimeError("histc(): bins must be > 0")
    xp = input._xp()
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError("histc(): max must be larger than min")
    if lo == hi and data.size:
        lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1.0, hi + 1.0
    flat = data.reshape(-1)
    keep = (flat >= lo) & (flat <= hi)
    pos = ((flat[keep].astype(xp.float64) - lo) * (bins / (hi - lo))).astype(xp.int64)
    pos = xp.minimum(pos, bins - 1)  # max itself falls in the last bin
    return Tensor._make(xp.bincount(pos, minlength=bins).astype(data.dtype))


histogram_type = return_type("histogram", ["hist", "bin_edges"])


def histogram(input, bins=100, *, range=None, weight=None, density=False, out=None):  # noqa: A002
    """Counts (or ``weight`` sums) of ``input`` in ``bins`` equal bins over ``range`` (the data's by
    default), or in the bins between the edges of a 1-D tensor ``bins``; the last bin includes its
    right edge.  ``density`` divides by the total and the bin widths (``torch.histogram``).

    Example::

        >>> distgrad.histogram(distgrad.tensor([1.0, 2.0, 1.0, 4.0]), 3)
        distgrad.return_types.histogram(
        hist=tensor([2., 1., 1.]),
        bin_edges=tensor([1., 2., 3., 4.]))
    """
    if out is not None:
        raise TypeError("histogram: the out= argument is not supported by distgrad")
    data = input._data
    if data.dtype.kind != "f":
        raise NotImplementedError(f'"histogramdd" not implemented for \'{dtypes.torch_name(data.dtype)}\'')
    xp = backend.get_array_module(data)
    edges = bins._data if isinstance(bins, Tensor) else int(bins)
    w = None if weight is None else weight._data.reshape(-1)
    hist, bin_edges = xp.histogram(data.reshape(-1), bins=edges, range=range, weights=w, density=density)
    return histogram_type(Tensor._make(hist.astype(data.dtype)), Tensor._make(bin_edges.astype(data.dtype)))
