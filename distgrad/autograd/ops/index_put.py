"""Writing into positions: ``index_copy``, ``index_fill``, ``index_put``, ``put_`` and ``masked_scatter``
(with their in-place forms).

Each finds the flat positions it writes, builds the written values with a scatter
(``PutFlat``, whose backward is a gather) and chooses between them and the input with
``where``, so the input's gradient is zero exactly at the overwritten positions and the
source's gradient is the output gradient read back at its positions; ``accumulate=True``
adds instead.  Every piece is an existing op, so second derivatives come free.

Example::

    >>> import distgrad
    >>> distgrad.zeros(2, 3).index_fill(1, distgrad.tensor([0, 2]), 7.0)
    tensor([[7., 0., 7.],
            [7., 0., 7.]])
"""
from distgrad import backend
from distgrad.autograd.ops.arithmetic import where
from distgrad.autograd.ops.gather import _check_vector_index, _vector_positions
from distgrad.autograd.ops.index import PutFlat, flat_positions, parse_key
from distgrad.autograd.ops.inplace import inplace_variant
from distgrad.autograd.tensor import Tensor


def _mask_at(input, flat):
    """A bool tensor of ``input``'s shape, True at the flat positions ``flat``."""
    xp = backend.get_array_module(input._data)
    mask = xp.zeros(max(input.numel(), 1), dtype=bool)
    mask[flat.reshape(-1)] = True
    return Tensor._make(mask.reshape(input._data.shape))


def _placed(input, values, flat):
    """Zeros of ``input``'s shape with ``values`` written (added, for repeats) at ``flat``."""
    return PutFlat.apply(values, flat, tuple(input._data.shape))


def _dim_positions(op, input, dim, index, n_source):
    idx = _check_vector_index(op, index)
    d = input._dim(dim)
    if idx.size != n_source:
        raise IndexError(f"{op}(): Number of indices ({idx.size}) should be equal to source.size(dim) ({n_source})")
    return d, idx


def index_copy(input, dim, index, source):
    """A copy of ``input`` with the slices at ``index`` along ``dim`` replaced by ``source``'s (``torch.index_copy``).

    Example::

        >>> distgrad.zeros(3, 2).index_copy(0, distgrad.tensor([2]), distgrad.ones(1, 2))
        tensor([[0., 0.],
                [0., 0.],
                [1., 1.]])
    """
    d = input._dim(dim)
    n = source.shape[d] if source.ndim else 1
    d, idx = _dim_positions("index_copy_", input, dim, index, n)
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{input.dtype} and (source) {source.dtype}")
    if idx.size and int(idx.min()) < 0:  # PyTorch's index_copy takes no negative indices
        raise IndexError(f"index_copy_(): index {int(idx.min())} is out of bounds for dimension {d} with size "
                         f"{input.shape[d] if input.ndim else 1}")
    flat = _vector_positions("index_copy_", input._data.shape, d, idx)
    if tuple(flat.shape) != tuple(source._data.shape or (1,)):
        raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice shapes. Destination "
                           f"slice shape: {list(flat.shape)} and source slice shape: {list(source.shape)}")
    flat = flat.reshape(source._data.shape)
    return where(_mask_at(input, flat), _placed(input, source, flat), input)


def index_fill(input, dim, index, value):
    """A copy of ``input`` with the slices at ``index`` along ``dim`` set to ``value`` (a number or 0-d tensor).

    Example::

        >>> distgrad.ones(2, 2).index_fill(0, distgrad.tensor([1]), -1.0)
        tensor([[ 1.,  1.],
                [-1., -1.]])
    """
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value.ndim} dimension(s).")
    idx = _check_vector_index("index_fill_", index)
    d = input._dim(dim)
    flat = _vector_positions("index_fill_", input._data.shape, d, idx)
    if isinstance(value, Tensor):
        value = value.to(input.dtype)
    return where(_mask_at(input, flat), value, input)


def index_put(input, indices, values, accumulate=False):
    """A copy of ``input`` with ``values`` written at ``input[indices]`` (a tuple of index tensors).

    With ``accumulate`` repeated positions add up; without, which repeat wins is unspecified,
    as in PyTorch (``torch.index_put``).

    Example::

        >>> i = (distgrad.tensor([0, 0]), distgrad.tensor([1, 1]))
        >>> distgrad.index_put(distgrad.zeros(2, 2), i, distgrad.tensor(1.0), accumulate=True)
        tensor([[0., 2.],
                [0., 0.]])
    """
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not {type(indices).__name__}")
    xp = backend.get_array_module(input._data)
    key = parse_key(input, tuple(indices))[0]
    flat = flat_positions(tuple(input._data.shape), key, xp)
    values = values.to(input.dtype).broadcast_to(tuple(flat.shape))
    if accumulate:
        return input + _placed(input, values, flat)
    flat_unique, first = _last_writes(xp, flat)
    picked = values.reshape(-1)[Tensor._make(first)]
    return where(_mask_at(input, flat_unique), _placed(input, picked, flat_unique), input)


def _last_writes(xp, flat):
    """The distinct positions of ``flat`` and, for each, the index of its last occurrence (the write that wins)."""
    f = flat.reshape(-1)
    rev = f[::-1]
    uniq, pos = xp.unique(rev, return_index=True)
    return uniq, (f.size - 1 - pos).astype(xp.int64)


def put(input, index, source, accumulate=False):
    """A copy of ``input`` with ``source`` written at the flat positions ``index`` (``torch.put``).

    Example::

        >>> distgrad.put(distgrad.zeros(2, 2), distgrad.tensor([3, 0]), distgrad.tensor([5.0, 6.0]))
        tensor([[6., 0.],
                [0., 5.]])
    """
    n = input.numel()
    idx = index._data.reshape(-1)
    if idx.size and (int(idx.max()) >= n or int(idx.min()) < -n):
        bad = int(idx.max()) if int(idx.max()) >= n else int(idx.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    if source.numel() != idx.size:
        raise IndexError(f"put_(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {source.numel()}, index.numel() = {idx.size}")
    flat = idx % max(n, 1)
    return index_put(input.reshape(-1), (Tensor._make(flat),), source.reshape(-1), accumulate).reshape(input.shape)


def masked_scatter(input, mask, source):
    """A copy of ``input`` where the True positions of ``mask`` take ``source``'s elements in order.

    Example::

        >>> distgrad.zeros(4).masked_scatter(distgrad.tensor([True, False, False, True]), distgrad.tensor([1.0, 2.0]))
        tensor([1., 0., 0., 2.])
    """
    if mask.dtype.name != "bool":
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    mask = mask.broadcast_to(tuple(input.shape))
    xp = backend.get_array_module(input._data)
    flat = xp.nonzero(mask._data.reshape(-1))[0].astype(xp.int64)
    if flat.size > source.numel():
        raise RuntimeError("Number of elements of source < number of ones in mask")
    taken = source.reshape(-1)[:flat.size].to(input.dtype)
    return where(mask, _placed(input, taken, flat), input)


def _fill_diagonal(input, fill_value, wrap=False):
    if input.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if input.ndim > 2 and len(set(input.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    xp = backend.get_array_module(input._data)
    if input.ndim == 2:
        rows, cols = input.shape
        step = cols + 1
        end = rows * cols if wrap or rows <= cols else cols * cols
        flat = xp.arange(0, end, step, dtype=xp.int64)
    else:
        n = input.shape[0]
        stride = sum(n ** k for k in range(input.ndim))
        flat = xp.arange(n, dtype=xp.int64) * stride
    return where(_mask_at(input, flat), fill_value, input)


def fill_diagonal_(input, fill_value, wrap=False):
    """Fill the main diagonal with ``fill_value`` in place; a tall matrix restarts it every
    ``cols + 1`` rows with ``wrap=True`` (``Tensor.fill_diagonal_``).

    Example::

        >>> distgrad.zeros(2, 3).fill_diagonal_(4.0)
        tensor([[4., 0., 0.],
                [0., 4., 0.]])
    """
    return inplace_variant(_fill_diagonal, "fill_diagonal_")(input, fill_value, wrap)


index_copy_ = inplace_variant(index_copy, "index_copy_")
index_fill_ = inplace_variant(index_fill, "index_fill_")
index_put_ = inplace_variant(index_put, "index_put_")
put_ = inplace_variant(put, "put_")
masked_scatter_ = inplace_variant(masked_scatter, "masked_scatter_")
