"""scatter_reduce and index_reduce: reduce ``src`` into ``input`` at an index with sum, prod, mean, amax or amin.

Both are compositions, so they need no backward of their own: the elements
that land on each touched position of ``input`` (and that position's own
value, with ``include_self``) are gathered into one padded row of a
``(touched positions, largest group)`` matrix, the row is reduced with the
ordinary differentiable reduction (padding with its identity: 0, 1, -inf or
+inf), and the results are written back over the touched positions.  The
gradients are therefore those of ``sum``/``prod``/``amax``... themselves - for
amax/amin the gradient is shared evenly among tied elements, as in PyTorch -
and derivatives of any order work.  One deliberate difference: with
``include_self=False`` PyTorch still counts an old value equal to an amax/amin
result among the ties (giving it no gradient), so its src gradients there sum
to less than the output gradient; here the ties among src share all of it.  Memory is ``touched * largest group``, so
one position receiving most of ``src`` costs as much as a dense matrix.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([1.0, 2.0, 3.0])
    >>> src = distgrad.tensor([5.0, -1.0, 4.0])
    >>> x.scatter_reduce(0, distgrad.tensor([0, 0, 2]), src, "amax")
    tensor([5., 2., 4.])
    >>> x.scatter_reduce(0, distgrad.tensor([0, 0, 2]), src, "sum", include_self=False)
    tensor([4., 2., 4.])
"""
import numpy as np

from distgrad.autograd.ops.gather import (Scatter, _check_index, _check_vector_index, _leading_part,
                                          _scatter_src, _vector_positions, dim_positions)
from distgrad.autograd.ops.index import TakeFlat
from distgrad.autograd.ops.inplace import check_inplace, write_result
from distgrad.autograd.ops.join import cat
from distgrad.autograd.tensor import Tensor

_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _pad_value(reduce, dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    big = np.inf if dtype.kind == "f" else (np.iinfo(dtype).max if dtype.kind in "iu" else True)
    small = -np.inf if dtype.kind == "f" else (np.iinfo(dtype).min if dtype.kind in "iu" else False)
    return small if reduce == "amax" else big


def _reduce_at(input, src, flat, reduce, include_self):
    """``input`` with the ``src`` elements at flat positions ``flat`` (same shape) reduced into it."""
    xp = input._xp()
    flat = flat.reshape(-1)
    n = flat.size
    if n == 0:
        return input.clone()
    order = xp.argsort(flat, kind="stable")
    pos = flat[order]
    starts = xp.concatenate([xp.ones(1, dtype=bool), pos[1:] != pos[:-1]])
    group = xp.cumsum(starts) - 1                           # which touched position each sorted element hits
    first = xp.nonzero(starts)[0]
    touched = pos[first]
    counts = xp.diff(xp.concatenate([first, xp.asarray([n])]))
    extra = 1 if include_self else 0
    width = int(counts.max()) + extra
    # one row per touched position: [its own value,] its src elements, then padding
    pad_at = n + touched.size
    rows = xp.full((touched.size, width), pad_at, dtype=xp.int64)
    rows[group, xp.arange(n) - first[group] + extra] = order
    if include_self:
        rows[:, 0] = n + xp.arange(touched.size)
    dtype = input._data.dtype
    pad = Tensor._make(xp.full(1, _pad_value(reduce, dtype), dtype=dtype))
    values = TakeFlat.apply(cat([src.reshape(-1), TakeFlat.apply(input, touched), pad]), rows)
    if reduce == "sum":
        reduced = values.sum(1)
    elif reduce == "prod":
        reduced = values.prod(1)
    elif reduce == "amax":
        reduced = values.amax(1)
    elif reduce == "amin":
        reduced = values.amin(1)
    else:
        total = Tensor._make((counts + extra).astype(dtype if dtype.kind == "f" else np.int64))
        sums = values.sum(1)
        reduced = sums / total if dtype.kind == "f" else sums.div(total, rounding_mode="floor").to(input.dtype)
    return Scatter.apply(input, reduced, touched)


def _check_reduce(op, reduce):
    if reduce not in _REDUCES:
        raise RuntimeError(f"{op}(): reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Reduce ``src`` into a copy of ``input`` at ``index`` along ``dim`` (``torch.scatter_reduce``).

    ``reduce`` is ``"sum"``, ``"prod"``, ``"mean"``, ``"amax"`` or ``"amin"``;
    with ``include_self=False`` the positions that ``index`` touches ignore
    their old value.  Integer ``"mean"`` rounds down, as PyTorch does.

    Example::

        >>> import distgrad
        >>> distgrad.ones(2).scatter_reduce(0, distgrad.tensor([1, 1]), distgrad.tensor([2.0, 4.0]), "mean")
        tensor([1.0000, 2.3333])
    """
    _check_reduce("scatter_reduce", reduce)
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): argument 'src' must be Tensor, not {type(src).__name__}")
    _scatter_src("scatter_reduce", input, src)
    d = _check_index("scatter_reduce", input, dim, index, src)
    flat = dim_positions(input._data.shape, d, index._data).reshape(index._data.shape)
    out = _reduce_at(input.reshape(input.shape or (1,)), _leading_part(src.reshape(src.shape or (1,)),
                                                                        index.shape or (1,)), flat, reduce,
                     include_self)
    return out.reshape(input.shape)


def scatter_reduce_(input, dim, index, src, reduce, *, include_self=True):
    """In-place :func:`scatter_reduce` (``Tensor.scatter_reduce_``).

    Example::

        >>> import distgrad
        >>> distgrad.zeros(2).scatter_reduce_(0, distgrad.tensor([0, 0]), distgrad.tensor([2.0, 3.0]), "prod")
        tensor([0., 0.])
    """
    check_inplace(input, "scatter_reduce_")
    out = scatter_reduce(input, dim, index, src, reduce, include_self=include_self)
    return write_result(input, out, "scatter_reduce_")


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """Reduce whole slices of ``source`` into a copy of ``input`` at ``index`` along ``dim`` (``Tensor.index_reduce``).

    ``reduce`` is ``"prod"``, ``"mean"``, ``"amax"`` or ``"amin"`` (PyTorch has no ``"sum"`` here:
    that is :func:`~distgrad.index_add`).

    Example::

        >>> import distgrad
        >>> x = distgrad.ones(2, 2)
        >>> x.index_reduce(0, distgrad.tensor([1, 1]), distgrad.tensor([[2.0, 3.0], [4.0, 5.0]]), "prod")
        tensor([[ 1.,  1.],
                [ 8., 15.]])
    """
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    if not isinstance(source, Tensor):
        raise TypeError(f"index_reduce(): argument 'source' must be Tensor, not {type(source).__name__}")
    _scatter_src("index_reduce", input, source)
    _check_vector_index("index_reduce", index)
    d = input._dim(dim) if input.ndim else 0
    expected = list(input.shape or (1,))
    expected[d] = index.numel()
    if list(source.shape or (1,)) != expected:
        raise RuntimeError(f"index_reduce(): source has shape {list(source.shape)}, expected {expected} "
                           f"(input {list(input.shape)} with dim {d} of size len(index))")
    flat = _vector_positions("index_reduce", input._data.shape or (1,), d, index._data.reshape(-1))
    out = _reduce_at(input.reshape(input.shape or (1,)), source.reshape(source.shape or (1,)), flat, reduce,
                     include_self)
    return out.reshape(input.shape)
