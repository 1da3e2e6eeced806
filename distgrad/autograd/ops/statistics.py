"""Reductions that skip NaNs or return two results: ``nansum``, ``nanmean``, ``aminmax``,
``std_mean``, ``var_mean``; and the selections ``isin``, ``masked_select``, ``take``,
``tril_indices``, ``triu_indices``.

All are composed from existing ops (``where``, ``sum``, ``amin``/``amax``, indexing), so their
gradients and second derivatives come from those: a NaN that ``nansum`` skips gets gradient 0.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([1.0, float("nan"), 3.0])
    >>> distgrad.nansum(x), distgrad.nanmean(x)
    (tensor(4.), tensor(2.))
"""
import numpy as np  # host-side only: the index pairs of tril_indices / triu_indices

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.ops.arithmetic import broadcast_error, where
from distgrad.autograd.ops.reduce import amax, amin, mean, std, sum as sum_, var
from distgrad.autograd.ops.solvers import return_type
from distgrad.autograd.tensor import Tensor
from distgrad.creation import tensor

aminmax_type = return_type("aminmax", ["min", "max"])


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
