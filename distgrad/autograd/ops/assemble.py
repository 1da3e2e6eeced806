"""Tensors built from several inputs: meshgrid, cartesian_prod, block_diag, and
atleast_1d/2d/3d, as in PyTorch.

All are composed of differentiable ops (reshape, expand, stack, pad, cat), so
gradients and higher derivatives come from those.

Example::

    >>> import distgrad
    >>> distgrad.block_diag(distgrad.ones(1, 1), distgrad.ones(1, 2)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]
"""
from distgrad import dtypes
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.join import cat, stack
from distgrad.autograd.ops.pad import pad
from distgrad.autograd.tensor import Tensor
from distgrad.creation import tensor


# --- meshgrid, cartesian_prod --------------------------------------------------------------------
def _tensor_list(tensors, op):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    return tensors


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors: output ``i`` varies along dim ``i`` ("ij", the default) or, with
    ``indexing="xy"``, the first two dims swap places (Cartesian order).  The outputs are expanded views.

    Example::

        >>> import distgrad
        >>> gx, gy = distgrad.meshgrid(distgrad.tensor([1, 2]), distgrad.tensor([3, 4, 5]), indexing="ij")
        >>> gx.shape, gy[0]
        (distgrad.Size([2, 3]), tensor([3, 4, 5]))
    """
    tensors = _tensor_list(tensors, "meshgrid")
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got a "
                               f"{t.ndim}D tensor of shape {list(t.shape)}")
        if t.dtype != tensors[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
        if t.device != tensors[0].device:
            raise RuntimeError("meshgrid expects all tensors to have the same device")
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        tensors = (tensors[1], tensors[0]) + tuple(tensors[2:])
    shape = tuple(t.numel() for t in tensors)
    n = len(tensors)
    grids = [t.reshape((1,) * i + (-1,) + (1,) * (n - i - 1)).expand(shape) for i, t in enumerate(tensors)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def cartesian_prod(*tensors):
    """All combinations of the elements of 1-D tensors, one per row (``itertools.product`` order).

    Example::

        >>> import distgrad
        >>> distgrad.cartesian_prod(distgrad.tensor([1, 2]), distgrad.tensor([3, 4]))
        tensor([[1, 3],
                [1, 4],
                [2, 3],
                [2, 4]])
    """
    tensors = _tensor_list(tensors, "cartesian_prod")
    for t in tensors:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


# --- block_diag, atleast_nd -----------------------------------------------------------------------
def block_diag(*tensors):
    """A block-diagonal matrix of the inputs (0-d is 1x1, 1-d is a row); dtypes promote as in ``cat``.

    Example::

        >>> import distgrad
        >>> distgrad.block_diag(distgrad.tensor([[1, 2]]), distgrad.tensor(3))
        tensor([[1, 2, 0],
                [0, 0, 3]])
    """
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"block_diag(): expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions")
    if not tensors:
        return tensor([[]])
    rt = tensors[0].dtype
    for t in tensors[1:]:
        rt = dtypes.promote_types(rt, t.dtype)
    mats = [to(t, rt).reshape(1, -1) if t.ndim < 2 else to(t, rt) for t in tensors]
    width = sum(m.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        rows.append(pad(m, (left, width - left - m.shape[1])))
        left += m.shape[1]
    return cat(rows, 0)


def _atleast(tensors, nd, op):
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    tensors = _tensor_list(tensors, op)
    out = []
    for t in tensors:
        if t.ndim >= nd:
            out.append(t)
        elif nd == 3 and t.ndim == 2:
            out.append(t.unsqueeze(-1))
        elif nd == 3 and t.ndim == 1:
            out.append(t.reshape(1, -1, 1))
        else:
            out.append(t.reshape((1,) * (nd - t.ndim) + tuple(t.shape)))
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    """Each input with at least one dim (0-d becomes shape ``(1,)``); one tensor in, one out, else a tuple.

    Example::

        >>> import distgrad
        >>> distgrad.atleast_1d(distgrad.tensor(1.0))
        tensor([1.])
    """
    return _atleast(tensors, 1, "atleast_1d")


def atleast_2d(*tensors):
    """Each input with at least two dims (a vector becomes a row ``(1, n)``).

    Example::

        >>> import distgrad
        >>> distgrad.atleast_2d(distgrad.zeros(3)).shape
        distgrad.Size([1, 3])
    """
    return _atleast(tensors, 2, "atleast_2d")


def atleast_3d(*tensors):
    """Each input with at least three dims: ``(n,)`` becomes ``(1, n, 1)`` and ``(m, n)`` becomes ``(m, n, 1)``.

    Example::

        >>> import distgrad
        >>> distgrad.atleast_3d(distgrad.zeros(2, 3)).shape
        distgrad.Size([2, 3, 1])
    """
    return _atleast(tensors, 3, "atleast_3d")


def _non_empty(tensors, op):
    tensors = _tensor_list((tensors,) if isinstance(tensors, Tensor) else tuple(tensors), op)
    if not tensors:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    return tensors


def hstack(tensors):
    """Concatenate horizontally: along dim 0 for 1-D inputs, else dim 1 (``torch.hstack``).

    Example::

        >>> import distgrad
        >>> distgrad.hstack([distgrad.ones(2), distgrad.zeros(1)])
        tensor([1., 1., 0.])
    """
    ts = _atleast(_non_empty(tensors, "hstack"), 1, "hstack")
    ts = (ts,) if isinstance(ts, Tensor) else ts
    return cat(list(ts), 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenate vertically, vectors as rows (``torch.vstack``, alias ``row_stack``).

    Example::

        >>> import distgrad
        >>> distgrad.vstack([distgrad.ones(2), distgrad.zeros(2)]).shape
        distgrad.Size([2, 2])
    """
    ts = _atleast(_non_empty(tensors, "vstack"), 2, "vstack")
    return cat(list((ts,) if isinstance(ts, Tensor) else ts), 0)


def dstack(tensors):
    """Concatenate along the third dim, after :func:`atleast_3d` (``torch.dstack``).

    Example::

        >>> import distgrad
        >>> distgrad.dstack([distgrad.ones(2), distgrad.zeros(2)]).shape
        distgrad.Size([1, 2, 2])
    """
    ts = _atleast(_non_empty(tensors, "dstack"), 3, "dstack")
    return cat(list((ts,) if isinstance(ts, Tensor) else ts), 2)


def column_stack(tensors):
    """Stack as columns: 0-d and 1-d inputs become (n, 1) columns, the rest join along dim 1.

    Example::

        >>> import distgrad
        >>> distgrad.column_stack([distgrad.ones(2), distgrad.zeros(2, 2)]).shape
        distgrad.Size([2, 3])
    """
    ts = _non_empty(tensors, "column_stack")
    return cat([t.reshape(t.numel(), 1) if t.ndim <= 1 else t for t in ts], 1)


row_stack = vstack
