"""Reductions that skip NaNs or return two results: ``nansum``, ``nanmean``, ``aminmax``,
``std_mean``, ``var_mean``, ``mode``, ``cov``; ``combinations``; and the selections ``isin``, ``masked_select``, ``take``,
``tril_indices``, ``triu_indices``.

All are composed from existing ops (``where``, ``sum``, ``amin``/``amax``, indexing), so their
gradients and second derivatives come from those: a NaN that ``nansum`` skips gets gradient 0.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([1.0, float("nan"), 3.0])
    >>> distgrad.nansum(x), distgrad.nanmean(x)
    (tensor(4.), tensor(2.))
"""
import itertools

import numpy as np  # host-side only: the index pairs of tril_indices / triu_indices, shape products

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.ops.arithmetic import broadcast_error, where
from distgrad.autograd.ops.reduce import amax, amin, mean, std, sum as sum_, var
from distgrad.autograd.ops.return_types import return_type
from distgrad.autograd.tensor import Tensor
from distgrad.creation import tensor

aminmax_type = return_type("aminmax", ["min", "max"])
mode_type = return_type("mode", ["values", "indices"])


def _isnan(t):
    return t != t


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` treating NaN as 0 (``torch.nansum``); integers sum as int64, as ``sum`` does.

    Example::

        >>> distgrad.nansum(distgrad.tensor([[1.0, float("nan")], [2.0, 3.0]]), 1)
        tensor([1., 5.])
    """
    if input._data.dtype.kind == "f":
        input = where(_isnan(input), 0.0, input)
    return sum_(input, dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over ``dim`` of the non-NaN elements (``torch.nanmean``); NaN where all are NaN.

    Example::

        >>> distgrad.nanmean(distgrad.tensor([[1.0, float("nan")], [2.0, 4.0]]), 1)
        tensor([1., 3.])
    """
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{dtypes.torch_name(input._data.dtype)}")
    count = sum_((~_isnan(input)).to(input.dtype), dim, keepdim)
    return nansum(input, dim, keepdim) / count


def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)`` over ``dim`` (all elements when None) as a named pair (``torch.aminmax``).

    Example::

        >>> distgrad.aminmax(distgrad.tensor([3.0, -1.0, 2.0]))
        distgrad.return_types.aminmax(
        min=tensor(-1.),
        max=tensor(3.))
    """
    if input.numel() == 0 or (dim is not None and input.ndim and input.shape[dim] == 0):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity.")
    axes = () if dim is None else dim
    if dim is None and keepdim:
        axes = tuple(range(input.ndim))
    return aminmax_type(amin(input, axes, keepdim), amax(input, axes, keepdim))


def std_mean(input, dim=None, *, correction=1, keepdim=False):
    """``(std, mean)`` over ``dim`` (``torch.std_mean``).

    Example::

        >>> distgrad.std_mean(distgrad.tensor([1.0, 3.0]))
        (tensor(1.4142), tensor(2.))
    """
    return std(input, dim, correction=correction, keepdim=keepdim), mean(input, dim, keepdim)


def var_mean(input, dim=None, *, correction=1, keepdim=False):
    """``(var, mean)`` over ``dim`` (``torch.var_mean``).

    Example::

        >>> distgrad.var_mean(distgrad.tensor([1.0, 3.0]), correction=0)
        (tensor(1.), tensor(2.))
    """
    return var(input, dim, correction=correction, keepdim=keepdim), mean(input, dim, keepdim)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of ``elements`` is in ``test_elements`` (either may be a number) (``torch.isin``).

    Example::

        >>> distgrad.isin(distgrad.tensor([1, 2, 3]), distgrad.tensor([2, 5]))
        tensor([False,  True, False])
    """
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments: expected at least one Tensor")
    ref = elements if isinstance(elements, Tensor) else test_elements
    a = elements._data if isinstance(elements, Tensor) else elements
    b = test_elements._data if isinstance(test_elements, Tensor) else test_elements
    xp = backend.get_array_module(ref._data)
    out = xp.isin(xp.asarray(a), xp.asarray(b), assume_unique=assume_unique, invert=invert)
    return Tensor._make(xp.asarray(out))


def masked_select(input, mask):
    """The elements of ``input`` where ``mask`` (bool, broadcast together) is True, as a 1-D tensor.

    Example::

        >>> distgrad.masked_select(distgrad.arange(4.0), distgrad.tensor([True, False, True, True]))
        tensor([0., 2., 3.])
    """
    if mask.dtype != dtypes.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    err = broadcast_error(tuple(input.shape), tuple(mask.shape))
    if err is not None:
        raise err
    shape = tuple(np.broadcast_shapes(tuple(input.shape), tuple(mask.shape)))
    return input.broadcast_to(shape)[mask.broadcast_to(shape)]


def take(input, index):
    """``input`` read as 1-D at ``index`` (negative counts from the end); the result has index's shape.

    Example::

        >>> distgrad.take(distgrad.arange(6.0).reshape(2, 3), distgrad.tensor([0, 5, -1]))
        tensor([0., 5., 5.])
    """
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {dtypes.torch_name(index._data.dtype)}")
    n = input.numel()
    idx = index._data
    if idx.size and (int(idx.max()) >= n or int(idx.min()) < -n):
        bad = int(idx.max()) if int(idx.max()) >= n else int(idx.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    return input.reshape(-1)[index]


def _indices(fn, row, col, offset, dtype, device):
    rows, cols = fn(row, offset, col)
    return tensor(np.stack([rows, cols]).tolist() if rows.size else [[], []], dtype=dtype, device=device)


def tril_indices(row, col, offset=0, *, dtype=dtypes.int64, device="cpu", layout=None):
    """The (2, N) row and column indices of the lower triangle of a row x col matrix (``torch.tril_indices``).

    Example::

        >>> distgrad.tril_indices(2, 2)
        tensor([[0, 1, 1],
                [0, 0, 1]])
    """
    return _indices(np.tril_indices, row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=dtypes.int64, device="cpu", layout=None):
    """The (2, N) row and column indices of the upper triangle (``torch.triu_indices``).

    Example::

        >>> distgrad.triu_indices(2, 3, 1)
        tensor([[0, 0, 1],
                [1, 2, 2]])
    """
    return _indices(np.triu_indices, row, col, offset, dtype, device)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest among ties) and the index of its last
    occurrence, as a named pair (``torch.mode``); the values' gradient goes to that element.

    Example::

        >>> distgrad.mode(distgrad.tensor([[1, 2, 2, 3, 3]]), 1)
        distgrad.return_types.mode(
        values=tensor([2]),
        indices=tensor([2]))
    """
    d = input._dim(dim) if input.ndim else 0
    x = input if input.ndim else input.reshape(1)
    xp = backend.get_array_module(x._data)
    a = xp.moveaxis(x._data, d, -1)
    n = a.shape[-1]
    order = xp.argsort(a, axis=-1, kind="stable")
    s = xp.take_along_axis(a, order, -1)
    new_run = xp.concatenate([xp.ones(s.shape[:-1] + (1,), bool), s[..., 1:] != s[..., :-1]], -1)
    run_id = xp.cumsum(new_run, -1) - 1
    # run lengths: count each (row, run) pair; rows are offset by n so their runs never mix
    rows = int(np.prod(s.shape[:-1])) if s.ndim > 1 else 1
    flat_ids = (run_id + xp.arange(rows).reshape(s.shape[:-1] + (1,)) * n).reshape(-1)
    counts = xp.bincount(flat_ids, minlength=s.size).reshape(s.shape)
    per_elem = xp.take_along_axis(counts, run_id, -1)
    best = xp.argmax(per_elem, -1)  # the first (smallest) value with the highest count
    value = xp.take_along_axis(s, best[..., None], -1)
    last = n - 1 - xp.argmax((a == value)[..., ::-1], -1)  # its last occurrence in the input order
    idx = xp.expand_dims(last, -1)
    values = x.movedim(d, -1).take_along_dim(Tensor._make(idx), -1)
    indices = Tensor._make(last.astype(xp.int64))
    if keepdim:
        values, indices = values.movedim(-1, d), indices.unsqueeze(d)
    else:
        values = values.squeeze(-1)
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return mode_type(values, indices)


def combinations(input, r=2, with_replacement=False):
    """The length-``r`` combinations of a 1-D tensor's elements, one per row (``torch.combinations``).

    Example::

        >>> distgrad.combinations(distgrad.tensor([1, 2, 3]))
        tensor([[1, 2],
                [1, 3],
                [2, 3]])
    """
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(pick(range(input.shape[0]), r))
    if r == 0:
        return input.new_empty(0)
    if not rows:
        return input.new_empty(0, r)
    index = tensor([i for row in rows for i in row], dtype=dtypes.int64, device=input.device)
    return input.index_select(0, index).reshape(len(rows), r)


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in ``input``'s rows, observations in its columns, with
    optional integer frequency and float observation weights (``torch.cov``).

    Example::

        >>> distgrad.cov(distgrad.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
        tensor([[ 1., -1.],
                [-1.,  1.]])
    """
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.ndim} dimensions")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    if x._data.dtype.kind != "f":
        x = x.to(dtypes.get_default_dtype())
    w = None
    if fweights is not None:
        w = fweights.to(x.dtype)
    if aweights is not None:
        w = aweights if w is None else w * aweights
    n = x.shape[1]
    w_sum = sum_(w) if w is not None else n
    avg = (sum_(x * w, 1) / w_sum) if w is not None else mean(x, 1)
    if correction == 0:
        norm = w_sum
    elif w is None:
        norm = n - correction
    elif aweights is None:
        norm = w_sum - correction
    else:
        norm = w_sum - correction * sum_(w * aweights) / w_sum
    xm = x - avg.unsqueeze(1)
    c = ((xm * w) if w is not None else xm) @ xm.t()
    norm = norm if isinstance(norm, Tensor) else float(norm)
    out = c / (norm.clamp(min=0) if isinstance(norm, Tensor) else max(norm, 0))
    return out.reshape(()) if input.ndim < 2 else out
