"""``quantile`` and ``nanquantile``: order statistics by interpolating between sorted values.

The input is sorted along ``dim`` (NaN sorts last), the two neighbours of position
``q * (k - 1)`` are gathered (``k`` is the slice length, or its count of non-NaN values for
``nanquantile``) and combined by ``interpolation``.  Sorting and gathering are differentiable
ops, so the gradient flows to the (one or two) elements each quantile reads, as in PyTorch.

Example::

    >>> import distgrad
    >>> distgrad.quantile(distgrad.tensor([1.0, 2.0, 3.0, 4.0]), 0.4)
    tensor(2.2000)
    >>> distgrad.nanquantile(distgrad.tensor([1.0, float("nan"), 3.0]), 0.5)
    tensor(2.)
"""
import math

import numpy as np  # host-side only: the requested q values and interpolation positions

from distgrad import backend
from distgrad.autograd.ops.arithmetic import where
from distgrad.autograd.ops.gather import take_along_dim
from distgrad.autograd.ops.misc import sort
from distgrad.autograd.tensor import Tensor

_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


def _q_values(op, q, input):
    if isinstance(q, Tensor):
        if q.dtype != input.dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor")
        if q.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor")
        values = np.asarray(q.tolist(), dtype=np.float64).reshape(-1)
        scalar = q.ndim == 0
    else:
        values, scalar = np.asarray([float(q)]), True
    for v in values:
        if not 0 <= v <= 1:
            raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {v:g}")
    return values, scalar


def _quantile(op, input, q, dim, keepdim, interpolation, ignore_nan):
    if input._data.dtype.kind != "f" or input._data.dtype.itemsize < 4:
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype")
    if interpolation not in _MODES:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, midpoint or nearest, but "
                           f"got {interpolation}")
    if input.numel() == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")
    qs, scalar = _q_values(op, q, input)
    x = input.reshape(-1) if dim is None else input.movedim(dim, -1)
    n = x.shape[-1]
    values = sort(x, -1).values                                  # (..., n), NaN last
    xp = backend.get_array_module(x._data)
    nan = x._data != x._data
    count = (n - nan.sum(-1)) if ignore_nan else xp.full(x.shape[:-1], n)
    pos = xp.asarray(qs)[(None,) * (x.ndim - 1) + (slice(None),)] * (xp.expand_dims(count, -1) - 1)
    pos = xp.maximum(pos, 0)                                     # an all-NaN slice: becomes NaN below
    if interpolation == "nearest":
        pos = xp.round(pos)
    lo, hi = xp.floor(pos), xp.ceil(pos)
    v_lo = take_along_dim(values, Tensor._make(lo.astype("int64")), -1)
    v_hi = take_along_dim(values, Tensor._make(hi.astype("int64")), -1)
    if interpolation in ("lower", "nearest"):
        out = v_lo
    elif interpolation == "higher":
        out = v_hi
    elif interpolation == "midpoint":
        out = (v_lo + v_hi) * 0.5
    else:
        frac = Tensor._make((pos - lo).astype(x._data.dtype))
        out = v_lo + (v_hi - v_lo) * frac
    undefined = (count == 0) if ignore_nan else nan.any(-1)     # all NaN / any NaN: the quantile is NaN
    if bool(undefined.any()):
        out = where(Tensor._make(xp.expand_dims(undefined, -1)), math.nan, out)
    out = out.movedim(-1, 0)                                     # the q dimension first, as PyTorch
    if keepdim:
        if dim is None:
            out = out.reshape((out.shape[0],) + (1,) * input.ndim)
        else:
            out = out.unsqueeze(input._dim(dim) + 1)
    return out[0] if scalar else out


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """The ``q``-quantiles (a number or a 1-D tensor in [0, 1]) over ``dim`` (``torch.quantile``).

    A slice that holds a NaN has NaN quantiles; see :func:`nanquantile` to skip them.
    With a tensor ``q`` the result has a leading dimension of its length.

    Example::

        >>> x = distgrad.tensor([[0.0, 1.0, 2.0, 3.0]])
        >>> distgrad.quantile(x, distgrad.tensor([0.5, 1.0]), dim=1, interpolation="lower")
        tensor([[1.],
                [3.]])
    """
    if out is not None:
        raise TypeError("quantile: the out= argument is not supported by distgrad")
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """:func:`quantile` ignoring NaNs; a slice of only NaNs gives NaN (``torch.nanquantile``).

    Example::

        >>> distgrad.nanquantile(distgrad.tensor([[1.0, float("nan"), 5.0]]), 0.5, dim=1)
        tensor([3.])
    """
    if out is not None:
        raise TypeError("nanquantile: the out= argument is not supported by distgrad")
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)
