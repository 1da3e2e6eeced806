"""Rearranging ops: roll, rot90, fliplr/flipud, unfold (sliding windows), the diagonal
family, tile, repeat_interleave, tril_/triu_.

``Roll``, ``Diagonal`` and ``DiagEmbed`` are ops of their own: roll's gradient is
the opposite roll, and diagonal and diag_embed are each other's gradient, so
every order of derivative comes from the same three classes.  ``diagonal`` is a
view, as in PyTorch (writing into it writes into the input).  The rest are
composed of existing differentiable ops and have no backward of their own.

Example::

    >>> import distgrad
    >>> x = distgrad.arange(4.0).reshape(2, 2)
    >>> x.diagonal()
    tensor([0., 3.])
    >>> distgrad.roll(distgrad.arange(4), 1)
    tensor([3, 0, 1, 2])
"""
import numbers

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops import inplace
from distgrad.autograd.ops import misc
from distgrad.autograd.ops.gather import index_select
from distgrad.autograd.tensor import Tensor


def _xp(x):
    return backend.get_array_module(x)


def _int_tuple(v, what, op):
    """An int or a sequence of ints as a tuple of ints (TypeError otherwise)."""
    if isinstance(v, Tensor):
        v = v.tolist()
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return (int(v),)
    if isinstance(v, (tuple, list)) and all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in v):
        return tuple(int(i) for i in v)
    raise TypeError(f"{op}(): argument '{what}' must be tuple of ints, not {type(v).__name__}")


def _wrap(d, ndim, op):
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return d % n


# --- roll, rot90 -------------------------------------------------------------------------------
class Roll(ArrayFunction):
    """Elements shifted cyclically by ``shifts`` along ``dims``; the gradient rolls back (``torch.roll``)."""

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return _xp(x).roll(x, shifts, axis=dims)

    @staticmethod
    def backward(ctx, g):
        return Roll.apply(g, tuple(-s for s in ctx.shifts), ctx.dims), None, None


def roll(input, shifts, dims=None):
    """Shift elements cyclically by ``shifts`` along ``dims``; with no ``dims`` the flattened tensor rolls.

    Example::

        >>> import distgrad
        >>> distgrad.arange(6).reshape(2, 3).roll(1, 1)
        tensor([[2, 0, 1],
                [5, 3, 4]])
    """
    shifts = _int_tuple(shifts, "shifts", "roll")
    dims = () if dims is None else _int_tuple(dims, "dims", "roll")
    if not dims:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        if input.numel() == 0:
            return input.clone()
        return Roll.apply(input.reshape(-1), shifts, (0,)).reshape(input.shape)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    dims = tuple(_wrap(d, input.ndim, "roll") for d in dims)
    if input.ndim == 0:
        return input.clone()
    return Roll.apply(input, shifts, dims)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first dim towards the second.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([[1, 2], [3, 4]]).rot90()
        tensor([[2, 4],
                [1, 3]])
    """
    dims = _int_tuple(dims, "dims", "rot90")
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = (_wrap(d, input.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = {dims[1]}")
    k %= 4
    if k == 1:
        return misc.flip(input, (d1,)).transpose(d0, d1)
    if k == 2:
        return misc.flip(input, (d0, d1))
    if k == 3:
        return misc.flip(input, (d0,)).transpose(d0, d1)
    return input.clone()


def fliplr(input):
    """Reverse the order of the columns (dim 1) of an at least 2-D tensor; a copy.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([[1, 2], [3, 4]]).fliplr()
        tensor([[2, 1],
                [4, 3]])
    """
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return misc.flip(input, (1,))


def flipud(input):
    """Reverse the order of the rows (dim 0) of an at least 1-D tensor; a copy.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([1, 2, 3]).flipud()
        tensor([3, 2, 1])
    """
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return misc.flip(input, (0,))


def unfold(input, dimension, size, step):
    """All windows of ``size`` elements along ``dimension``, ``step`` apart, as a new last dim (``Tensor.unfold``).

    ``dimension`` shrinks to the number of windows, ``(n - size) // step + 1``.
    PyTorch returns a strided view; this is a copy made by one index select,
    whose gradient adds each window back where it came from.

    Example::

        >>> import distgrad
        >>> distgrad.arange(5).unfold(0, 2, 2)
        tensor([[0, 1],
                [2, 3]])
    """
    if input.ndim == 0:
        d, n = _wrap(dimension, 0, "unfold"), 1
    else:
        d = _wrap(dimension, input.ndim, "unfold")
        n = input.shape[d]
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if input.ndim == 0:
        return input.reshape(1)
    xp = input._xp()
    count = (n - size) // step + 1
    index = (xp.arange(count)[:, None] * step + xp.arange(size)[None, :]).reshape(-1).astype(dtypes.int64.np)
    picked = index_select(input, d, Tensor._make(index))
    shape = tuple(input.shape[:d]) + (count, size) + tuple(input.shape[d + 1:])
    return picked.reshape(shape).movedim(d + 1, -1)


# --- diagonal, diag_embed, diag, diagflat -------------------------------------------------------
def _diag_view(x, offset, d1, d2):
    """A writable view of the diagonal (NumPy's own ``diagonal`` view is read-only)."""
    xp = _xp(x)
    v = xp.diagonal(x, offset, d1, d2)
    if getattr(v.flags, "writeable", True) or not x.flags.writeable:
        return v
    start = [slice(None)] * x.ndim
    if offset >= 0:
        start[d2] = slice(offset, None)
    else:
        start[d1] = slice(-offset, None)
    return xp.lib.stride_tricks.as_strided(x[tuple(start)], v.shape, v.strides)


class Diagonal(ArrayFunction):
    """The diagonal of dims ``d1, d2`` moved to the last dim: a view (``torch.diagonal``)."""

    _view = True

    @staticmethod
    def forward(ctx, x, offset, d1, d2):
        ctx.shape, ctx.args = x.shape, (offset, d1, d2)
        return _diag_view(x, offset, d1, d2)

    @staticmethod
    def backward(ctx, g):
        return DiagEmbed.apply(g, ctx.shape, *ctx.args), None, None, None


class DiagEmbed(ArrayFunction):
    """Zeros of ``shape`` with the last dim of ``x`` written onto the diagonal of ``d1, d2`` (``torch.diag_embed``)."""

    @staticmethod
    def forward(ctx, x, shape, offset, d1, d2):
        ctx.args = (offset, d1, d2)
        out = _xp(x).zeros(shape, dtype=x.dtype)
        _diag_view(out, offset, d1, d2)[...] = x
        return out

    @staticmethod
    def backward(ctx, g):
        return Diagonal.apply(g, *ctx.args), None, None, None, None


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The elements ``input[..., i, i + offset]`` of dims ``dim1, dim2``, as a view with the diagonal last.

    Example::

        >>> import distgrad
        >>> distgrad.arange(6).reshape(2, 3).diagonal(1)
        tensor([1, 5])
    """
    d1, d2 = _wrap(dim1, input.ndim, "diagonal"), _wrap(dim2, input.ndim, "diagonal")  # IndexError below 2-D
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, int(offset), d1, d2)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor whose ``dim1, dim2`` diagonals (at ``offset``) are the last dim of ``input``; zeros elsewhere.

    Example::

        >>> import distgrad
        >>> distgrad.diag_embed(distgrad.tensor([[1, 2]]))
        tensor([[[1, 0],
                 [0, 2]]])
    """
    if input.ndim == 0:
        raise IndexError("diag_embed(): expected a tensor with at least 1 dimension, got 0")
    nd = input.ndim + 1
    d1, d2 = _wrap(dim1, nd, "diag_embed"), _wrap(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = input.shape[-1] + abs(int(offset))
    shape = list(input.shape[:-1])
    for d in sorted((d1, d2)):
        shape.insert(d, n)
    return DiagEmbed.apply(input, tuple(shape), int(offset), d1, d2)


def diag(input, diagonal=0):
    """A 1-D input becomes a square matrix with it on diagonal ``diagonal``; a matrix gives that diagonal (a copy).

    Example::

        >>> import distgrad
        >>> distgrad.diag(distgrad.tensor([1, 2]))
        tensor([[1, 0],
                [0, 2]])
    """
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return Diagonal.apply(input, int(diagonal), 0, 1).clone()
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def diagflat(input, offset=0):
    """A square matrix with the flattened ``input`` on diagonal ``offset``.

    Example::

        >>> import distgrad
        >>> distgrad.diagflat(distgrad.tensor([[1, 2]])).shape
        distgrad.Size([2, 2])
    """
    return diag_embed(input.reshape(-1), offset, 0, 1)


def _triangle_(t, fn, diagonal, op):
    return inplace.apply_inplace(t, fn, (diagonal,), op, needs_old=False)


def tril_(t, diagonal=0):
    """In place: zero the elements above ``diagonal`` of the last two dims (``Tensor.tril_``).

    Example::

        >>> import distgrad
        >>> distgrad.ones(2, 2).tril_()
        tensor([[1., 0.],
                [1., 1.]])
    """
    return _triangle_(t, misc.tril, diagonal, "tril_")


def triu_(t, diagonal=0):
    """In place: zero the elements below ``diagonal`` of the last two dims (``Tensor.triu_``).

    Example::

        >>> import distgrad
        >>> distgrad.ones(2, 2).triu_(1)
        tensor([[0., 1.],
                [0., 0.]])
    """
    return _triangle_(t, misc.triu, diagonal, "triu_")


# --- tile, repeat_interleave -------------------------------------------------------------------
def tile(input, *dims):
    """Repeat ``input`` ``dims[i]`` times along each dim; missing leading entries count as 1 (``torch.tile``).

    Example::

        >>> import distgrad
        >>> distgrad.tile(distgrad.tensor([1, 2]), (2,))
        tensor([1, 2, 1, 2])
    """
    if len(dims) == 1 and not isinstance(dims[0], numbers.Integral):
        dims = dims[0]
    dims = _int_tuple(tuple(dims), "dims", "tile")
    dims = (1,) * (input.ndim - len(dims)) + dims
    return input.repeat(*dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or each slice along ``dim``) ``repeats`` times; ``repeats`` is an int or a tensor.

    With only a tensor of counts, ``repeat_interleave(repeats)`` gives each index
    ``i`` repeated ``repeats[i]`` times.  Without ``dim`` the input is flattened.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([1, 2]).repeat_interleave(2)
        tensor([1, 1, 2, 2])
        >>> distgrad.repeat_interleave(distgrad.tensor([1, 2]))
        tensor([0, 1, 1])
    """
    if repeats is None:
        repeats = input
        if repeats.ndim != 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        input = Tensor._make(repeats._xp().arange(repeats.shape[0], dtype=dtypes.int64.np))
        dim = 0
    if dim is None:
        input, dim = input.reshape(-1), 0
    d = _wrap(dim, input.ndim, "repeat_interleave")
    xp = input._xp()
    n = input.shape[d] if input.ndim else 1
    if isinstance(repeats, Tensor):
        if repeats.dtype.is_floating_point or repeats.dtype == dtypes.bool_:
            raise RuntimeError(f"repeat_interleave: repeats has to be Long or Int tensor, got {repeats.dtype}")
        if repeats.ndim > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        counts = backend.to_device(repeats._data, input.device).reshape(-1).astype(dtypes.int64.np)
        if counts.shape[0] == 1:
            counts = xp.broadcast_to(counts, (n,))
        elif counts.shape[0] != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                               f"{counts.shape[0]} and input.size({d}) = {n}")
    elif isinstance(repeats, numbers.Integral) and not isinstance(repeats, bool):
        counts = xp.full((n,), int(repeats), dtype=dtypes.int64.np)
    else:
        raise TypeError(f"repeat_interleave(): argument 'repeats' must be Tensor or int, not {type(repeats).__name__}")
    if bool((counts < 0).any()):
        raise RuntimeError("repeats can not be negative")
    index = xp.repeat(xp.arange(n, dtype=dtypes.int64.np), counts)
    if output_size is not None and int(output_size) != index.shape[0]:
        raise RuntimeError(f"repeat_interleave: output_size {output_size} does not match the total number of "
                           f"repeats {index.shape[0]}")
    if input.ndim == 0:
        input = input.reshape(1)
    return index_select(input, d, Tensor._make(index))
