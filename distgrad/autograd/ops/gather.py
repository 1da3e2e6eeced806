"""Gather and scatter along a dimension: gather/take_along_dim, scatter/scatter_add, index_select/index_add.

Each op turns its index into flat positions of the input once; the forward is
then a ``take`` (gather) or an accumulating scatter at those positions, and
the two are each other's backward, so second derivatives work.  Repeated
indices accumulate in scatter_add/index_add and in every gradient.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> x.gather(1, distgrad.tensor([[1], [0]]))
    tensor([[2.],
            [3.]])
    >>> distgrad.zeros(3).index_add(0, distgrad.tensor([0, 0, 2]), distgrad.ones(3))
    tensor([2., 0., 1.])
"""
import numpy as np

from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.index import TakeFlat, getitem, scatter_flat
from distgrad.autograd.ops.inplace import check_inplace, write_result
from distgrad.autograd.tensor import Tensor


def _xp(x):
    return backend.get_array_module(x)


# --- gather / scatter along a dim ------------------------------------------------------------
def _check_index(op, input, dim, index, src=None):
    """Validate a gather/scatter index; return the wrapped dim."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._data.dtype != np.int64:
        raise RuntimeError(f"{op}(): Expected dtype int64 for index")
    for t in (index, src):
        if t is not None and t.device != input.device:
            raise RuntimeError(f"{op}(): Expected all tensors to be on the same device, but found at least two "
                               f"devices, {input.device} and {t.device}!")
    d = input._dim(dim)
    nd = max(input.ndim, 1)
    if max(index.ndim, 1) != nd:
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as input tensor "
                           f"(index {list(index.shape)}, input {list(input.shape)})")
    ishape = input.shape or (1,)
    xshape = index.shape or (1,)
    for i in range(nd):
        if i != d and xshape[i] > ishape[i]:
            raise RuntimeError(f"{op}(): Size does not match at dimension {i} expected index {list(index.shape)} "
                               f"to be smaller than self {list(input.shape)} apart from dimension {d}")
        if src is not None and xshape[i] > (src.shape or (1,))[i]:
            raise RuntimeError(f"{op}(): Size does not match at dimension {i} expected index {list(index.shape)} "
                               f"to be smaller than src {list(src.shape)}")
    if index.numel():
        lo, hi = int(index._data.min()), int(index._data.max())
        if lo < 0 or hi >= ishape[d]:
            bad = lo if lo < 0 else hi
            raise RuntimeError(f"{op}(): index {bad} is out of bounds for dimension {d} with size {ishape[d]}")
    return d


def dim_positions(shape, dim, index):
    """Flat positions into ``shape`` of ``input[i_0, .., index[i], .., i_n]`` for each index element."""
    xp = _xp(index)
    shape = shape or (1,)
    index = index.reshape(index.shape or (1,))
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    flat = index.astype(xp.int64) * strides[dim]
    for i in range(len(shape)):
        if i != dim and index.shape[i] > 1:
            view = [1] * len(shape)
            view[i] = index.shape[i]
            flat = flat + xp.arange(index.shape[i], dtype=xp.int64).reshape(view) * strides[i]
    return flat


def _leading_part(src, shape):
    """``src[:shape[0], :shape[1], ...]``: the part of ``src`` a scatter reads."""
    if tuple(src.shape) == tuple(shape):
        return src
    return getitem(src, tuple(slice(0, s) for s in shape))


class Gather(TakeFlat):
    """Picks elements at flat positions, recorded as PyTorch's ``GatherBackward0``."""

    node_name = "GatherBackward0"


class IndexSelect(TakeFlat):
    """Picks whole slices at flat positions, recorded as PyTorch's ``IndexSelectBackward0``."""

    node_name = "IndexSelectBackward0"


def gather(input, dim, index, *, sparse_grad=False):
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` (for dim=1); out has ``index``'s shape.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([[1, 2], [3, 4]]).gather(1, distgrad.tensor([[1, 1], [0, 1]]))
        tensor([[2, 2],
                [3, 4]])
    """
    d = _check_index("gather", input, dim, index)
    flat = dim_positions(input._data.shape, d, index._data).reshape(index._data.shape)
    return Gather.apply(input, flat)


class ScatterAdd(ArrayFunction):
    """``x`` plus ``src`` added at flat positions."""

    @staticmethod
    def forward(ctx, x, src, flat):
        ctx.flat = flat
        return x + scatter_flat(src, flat, x.size, x.dtype).reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        return g, (TakeFlat.apply(g, ctx.flat) if ctx.needs_input_grad[1] else None), None


class Scatter(ArrayFunction):
    """``x`` with ``src`` (an array or a number) written at flat positions."""

    @staticmethod
    def forward(ctx, x, src, flat):
        ctx.flat = flat
        out = x.copy()
        out.reshape(-1)[flat.reshape(-1)] = src.reshape(-1) if backend.is_array(src) else src
        return out

    @staticmethod
    def backward(ctx, g):
        gx = Scatter.apply(g, 0, ctx.flat) if ctx.needs_input_grad[0] else None
        gs = TakeFlat.apply(g, ctx.flat) if ctx.needs_input_grad[1] else None
        return gx, gs, None


class ScatterValue(Scatter):
    """scatter with a number (PyTorch's ScatterBackward1)."""

    node_name = "ScatterBackward1"


def _scatter_src(op, input, src):
    if isinstance(src, Tensor):
        if src._data.dtype != input._data.dtype:
            raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype "
                               f"(got {input.dtype} and {src.dtype})")
        return src
    if isinstance(src, (bool, int, float, np.generic)):
        return None
    raise TypeError(f"{op}(): src must be a Tensor or a number, got {type(src).__name__}")


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """Write ``src`` (a tensor or a number, or ``value=``) into a copy of ``input`` at ``index`` along ``dim``.

    Example::

        >>> import distgrad
        >>> distgrad.zeros(2, 3).scatter(1, distgrad.tensor([[2], [0]]), 7.0)
        tensor([[0., 0., 7.],
                [7., 0., 0.]])
    """
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter(): expected a 'src' tensor or a 'value'")
    if reduce is not None:
        if reduce == "add":
            if not isinstance(src, Tensor):
                src = Tensor._make(input._xp().full(index._data.shape, src, dtype=input._data.dtype))
            return scatter_add(input, dim, index, src)
        raise RuntimeError(f"scatter(): reduce argument must be 'add' (got {reduce!r}); "
                           "use scatter_add or scatter_reduce-style composition for other reductions")
    tensor_src = _scatter_src("scatter", input, src)
    d = _check_index("scatter", input, dim, index, tensor_src)
    flat = dim_positions(input._data.shape, d, index._data).reshape(index._data.shape)
    if tensor_src is None:
        return ScatterValue.apply(input, input._xp().asarray(src).astype(input._data.dtype).item(), flat)
    return Scatter.apply(input, _leading_part(tensor_src, index.shape), flat)


def scatter_add(input, dim, index, src):
    """Add ``src`` into a copy of ``input`` at ``index`` along ``dim`` (repeated indices accumulate).

    Example::

        >>> import distgrad
        >>> distgrad.zeros(3).scatter_add(0, distgrad.tensor([0, 0, 2]), distgrad.ones(3))
        tensor([2., 0., 1.])
    """
    if _scatter_src("scatter_add", input, src) is None:
        raise TypeError("scatter_add(): argument 'src' must be Tensor")
    d = _check_index("scatter_add", input, dim, index, src)
    flat = dim_positions(input._data.shape, d, index._data).reshape(index._data.shape)
    return ScatterAdd.apply(input, _leading_part(src, index.shape), flat)


def scatter_(input, dim, index, src=None, *, value=None, reduce=None):
    """In-place :func:`scatter`: writes ``src`` (or ``value``) into ``input`` at ``index`` (``Tensor.scatter_``)."""
    check_inplace(input, "scatter_")
    return write_result(input, scatter(input, dim, index, src, value=value, reduce=reduce), "scatter_")


def scatter_add_(input, dim, index, src):
    """In-place :func:`scatter_add`: adds ``src`` into ``input`` at ``index`` (``Tensor.scatter_add_``)."""
    check_inplace(input, "scatter_add_")
    return write_result(input, scatter_add(input, dim, index, src), "scatter_add_")


def take_along_dim(input, indices, dim=None):
    """Pick values along ``dim`` at ``indices`` (broadcast against ``input``); flattened when dim is None.

    Example::

        >>> import distgrad
        >>> x = distgrad.tensor([[3.0, 1.0], [0.0, 2.0]])
        >>> distgrad.take_along_dim(x, x.argsort(1), 1)
        tensor([[1., 3.],
                [0., 2.]])
    """
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    if input.ndim != indices.ndim:
        raise RuntimeError(f"take_along_dim(): input and indices should have the same number of dimensions, but "
                           f"got {input.ndim} dimensions for input, and {indices.ndim} dimensions for indices")
    d = input._dim(dim)
    ishape, xshape = list(input.shape), list(indices.shape)
    ishape[d] = xshape[d] = 1
    try:
        b = list(np.broadcast_shapes(tuple(ishape), tuple(xshape)))
    except ValueError:
        raise RuntimeError(f"take_along_dim(): shapes {list(input.shape)} and {list(indices.shape)} cannot be "
                           f"broadcast apart from dimension {d}") from None
    in_b, ix_b = b.copy(), b.copy()
    in_b[d], ix_b[d] = input.shape[d], indices.shape[d]
    idx = indices if indices._data.dtype == np.int64 else indices.long()
    return gather(input.expand(in_b), d, idx.expand(ix_b).contiguous())


# --- index_select / index_add ------------------------------------------------------------------
def _check_vector_index(op, index):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got a tensor of shape {list(index.shape)}")
    if index._data.dtype.kind not in "iu" or index._data.dtype == np.uint8:
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index, got {index.dtype}")
    return index._data.reshape(-1)


def _vector_positions(op, shape, d, idx):
    """Flat positions of ``input.index_select(d, idx)`` elements."""
    shape = shape or (1,)
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -shape[d] or hi >= shape[d]:
            raise IndexError(f"{op}(): index {hi if hi >= shape[d] else lo} is out of bounds for dimension {d} "
                             f"with size {shape[d]}")
    idx = idx % shape[d] if idx.size else idx.astype(np.int64)
    out_shape = list(shape)
    out_shape[d] = idx.size
    view = [1] * len(shape)
    view[d] = idx.size
    xp = _xp(idx)
    full = xp.broadcast_to(idx.astype(xp.int64).reshape(view), out_shape)
    return dim_positions(tuple(shape), d, full).reshape(out_shape)


def index_select(input, dim, index):
    """The slices of ``input`` at ``index`` (a 1-D integer tensor) along ``dim``.

    Example::

        >>> import distgrad
        >>> distgrad.arange(6).reshape(2, 3).index_select(1, distgrad.tensor([2, 0]))
        tensor([[2, 0],
                [5, 3]])
    """
    idx = _check_vector_index("index_select", index)
    d = input._dim(dim)
    flat = _vector_positions("index_select", input._data.shape, d, idx)
    if input.ndim == 0:
        flat = flat.reshape(())
    return IndexSelect.apply(input, flat)


class IndexAdd(ScatterAdd):
    """The scatter-add behind :func:`index_add`, recorded as PyTorch's ``IndexAddBackward0``."""


def index_add(input, dim, index, source, *, alpha=1):
    """A copy of ``input`` with ``alpha * source`` slices added at ``index`` along ``dim``.

    Example::

        >>> import distgrad
        >>> distgrad.zeros(3).index_add(0, distgrad.tensor([1, 1]), distgrad.ones(2), alpha=2)
        tensor([0., 4., 0.])
    """
    idx = _check_vector_index("index_add", index)
    d = input._dim(dim)
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_add(): self ({input.dtype}) and source ({source.dtype}) must have the same "
                           "scalar type")
    expect = list(input.shape or (1,))
    expect[d] = idx.size
    if list(source.shape or (1,)) != expect:
        raise RuntimeError(f"index_add(): source of shape {list(source.shape)} does not match self of shape "
                           f"{list(input.shape)} with {idx.size} indices along dimension {d}")
    flat = _vector_positions("index_add", input._data.shape, d, idx).reshape(source._data.shape)
    if alpha != 1:
        source = source * alpha
    return IndexAdd.apply(input, source, flat)


def index_add_(input, dim, index, source, *, alpha=1):
    """In-place :func:`index_add`: adds ``alpha * source`` slices at ``index`` (``Tensor.index_add_``)."""
    check_inplace(input, "index_add_")
    return write_result(input, index_add(input, dim, index, source, alpha=alpha), "index_add_")
