"""Joining and splitting: cat/concat/concatenate, stack, split, chunk, unbind, narrow.

``cat`` and ``stack`` copy; ``split``, ``chunk``, ``unbind`` and ``narrow``
return views of their input (basic indexing), as in PyTorch.

Example::

    >>> import distgrad
    >>> a, b = distgrad.zeros(2, 3), distgrad.ones(1, 3)
    >>> distgrad.cat([a, b]).shape
    distgrad.Size([3, 3])
    >>> [t.shape[0] for t in distgrad.arange(5).split(2)]
    [2, 2, 1]
"""
from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.index import Select, getitem
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.tensor import Tensor


def _dim_in(op, dim, ndim):
    """Wrap ``dim`` for a tensor of ``ndim`` dimensions with PyTorch's IndexError."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def _along(dim, ndim, sl):
    """An index tuple applying ``sl`` along ``dim`` only."""
    return (slice(None),) * dim + (sl,)


class SplitPiece(Select):
    """One piece of ``split`` with an int size (or ``chunk``): a view."""

    node_name = "SplitBackward0"


class SplitWithSizesPiece(Select):
    """One piece of ``split`` with a list of sizes: a view."""

    node_name = "SplitWithSizesBackward0"


class UnbindPiece(Select):
    """One slice of ``unbind``: a view."""

    node_name = "UnbindBackward0"


class Cat(ArrayFunction):
    """Concatenate arrays along ``dim`` (the last argument); the gradient is cut back into pieces."""

    @staticmethod
    def forward(ctx, *args):
        arrays, dim = args[:-1], args[-1]
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        return backend.get_array_module(*arrays).concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        for size in ctx.sizes:
            grads.append(getitem(g, _along(ctx.dim, g.ndim, slice(start, start + size))))
            start += size
        return tuple(grads) + (None,)


def _common(op, tensors):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): argument 'tensors' must be tuple of Tensors, not {type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{op}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    dev = tensors[0].device
    for i, t in enumerate(tensors):
        if t.device != dev:
            raise RuntimeError(f"{op}(): Expected all tensors to be on the same device, but found at least two "
                               f"devices, {dev} and {t.device} (tensor {i})")
    rt = tensors[0].dtype
    for t in tensors[1:]:
        rt = dtypes.promote_types(rt, t.dtype)
    return [to(t, rt) for t in tensors]


def cat(tensors, dim=0, *, out=None):
    """Concatenate tensors along an existing dimension ``dim``; sizes must match elsewhere.

    1-D empty tensors (shape ``[0]``) are skipped, as PyTorch does for legacy code.
    """
    if out is not None:
        raise TypeError("cat(): the out= argument is not supported by distgrad")
    tensors = _common("cat", tensors)
    ref = next((t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)), tensors[0])
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    d = _dim_in("cat", dim, ref.ndim)
    kept = []
    for i, t in enumerate(tensors):
        if t.ndim == 1 and t.shape[0] == 0 and ref.ndim != 1:
            continue
        kept.append(t)
        if t.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and {t.ndim}")
        for j in range(ref.ndim):
            if j != d and t.shape[j] != ref.shape[j]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size "
                                   f"{ref.shape[j]} but got size {t.shape[j]} for tensor number {i} in the list.")
    return Cat.apply(*kept, d)


concat = cat
concatenate = cat


class Stack(ArrayFunction):
    """Join same-shaped arrays along a new dimension ``dim`` (the last argument)."""

    @staticmethod
    def forward(ctx, *args):
        arrays, dim = args[:-1], args[-1]
        ctx.dim, ctx.n = dim, len(arrays)
        return backend.get_array_module(*arrays).stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return tuple(getitem(g, _along(ctx.dim, g.ndim, i)) for i in range(ctx.n)) + (None,)


def stack(tensors, dim=0, *, out=None):
    """Stack same-shaped tensors along a new dimension ``dim``.

    Example::

        >>> import distgrad
        >>> distgrad.stack([distgrad.zeros(2), distgrad.ones(2)], dim=1)
        tensor([[0., 1.],
                [0., 1.]])
    """
    if out is not None:
        raise TypeError("stack(): the out= argument is not supported by distgrad")
    tensors = _common("stack", tensors)
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 and "
                               f"{list(t.shape)} at entry {i}")
    d = _dim_in("stack", dim, len(shape) + 1)
    return Stack.apply(*tensors, d)


def narrow(input, dim, start, length):
    """The view ``input[..., start:start+length, ...]`` along ``dim`` (``start`` may be negative).

    Example::

        >>> import distgrad
        >>> distgrad.arange(5).narrow(0, -3, 2)
        tensor([2, 3])
    """
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = input._dim(dim)
    size = input.shape[d]
    start, length = int(start), int(length)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    if start < 0:
        start += size
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return getitem(input, _along(d, input.ndim, slice(start, start + length)))


def split(tensor, split_size_or_sections, dim=0):
    """Views of ``tensor`` cut along ``dim``: equal pieces of an int size (the last may be smaller), or a list.

    Example::

        >>> import distgrad
        >>> [t.tolist() for t in distgrad.arange(5).split([1, 4])]
        [[0], [1, 2, 3, 4]]
    """
    if tensor.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = tensor._dim(dim)
    size = tensor.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        piece = SplitWithSizesPiece
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size "
                               f"at dimension {d}), but got split_sizes={sizes}")
    else:
        piece = SplitPiece
        step = int(split_size_or_sections)
        if step < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={step}")
        if step == 0:
            if size != 0:
                raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}")
            sizes = [0]
        else:
            sizes = [min(step, size - s) for s in range(0, size, step)] or [0]
    out, start = [], 0
    for s in sizes:
        out.append(piece.apply(tensor, _along(d, tensor.ndim, slice(start, start + s))))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    """Split into at most ``chunks`` views of size ``ceil(n / chunks)`` along ``dim``.

    Example::

        >>> import distgrad
        >>> [t.tolist() for t in distgrad.arange(5).chunk(2)]
        [[0, 1, 2], [3, 4]]
    """
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if input.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    d = input._dim(dim)
    size = input.shape[d]
    step = -(-size // chunks)
    if step == 0:
        return tuple(getitem(input, _along(d, input.ndim, slice(0, 0))) for _ in range(chunks))
    return split(input, step, d)


def unbind(input, dim=0):
    """The views ``input.select(dim, i)`` for every ``i``, as a tuple.

    Example::

        >>> import distgrad
        >>> distgrad.tensor([[1, 2], [3, 4]]).unbind(1)
        (tensor([1, 3]), tensor([2, 4]))
    """
    if input.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = input._dim(dim)
    return tuple(UnbindPiece.apply(input, _along(d, input.ndim, i)) for i in range(input.shape[d]))


class SplitPieces(ArrayFunction):
    """All pieces of a split as one node: the backward concatenates their gradients once.

    ``split`` records a node per piece, each of whose backward writes its
    gradient into zeros of the whole input; summing those is O(pieces x size).
    A loop over time steps (the recurrent layers) cuts one tensor into
    hundreds of pieces, so it uses this instead: one ``SplitWithSizesBackward0``
    node, as PyTorch records for ``split``.
    """

    node_name = "SplitWithSizesBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x, sizes, dim):
        ctx.dim = dim
        out, start = [], 0
        for s in sizes:
            out.append(x[_along(dim, x.ndim, slice(start, start + s))])
            start += s
        return tuple(out)

    @staticmethod
    def backward(ctx, *grads):  # pieces without a gradient arrive as zeros (materialize_grads)
        return xp_of(grads[0]).concatenate(grads, axis=ctx.dim), None, None


def split_pieces(input, sizes, dim=0):
    """``input.split(sizes, dim)`` recorded as one node (see :class:`SplitPieces`); the pieces are copies
    in effect: they are not tracked as views, so they must not be modified in place.

    Example::

        >>> import distgrad
        >>> from distgrad.autograd.ops.join import split_pieces
        >>> x = distgrad.arange(5.0, requires_grad=True)
        >>> a, b = split_pieces(x, [2, 3])
        >>> (a.sum() * 2 + b.sum()).backward()
        >>> x.grad
        tensor([2., 2., 1., 1., 1.])
    """
    d = input._dim(dim)
    sizes = [int(s) for s in sizes]
    if sum(sizes) != input.shape[d] or any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {input.shape[d]} (input tensor's "
                           f"size at dimension {d}), but got split_sizes={sizes}")
    if len(sizes) == 1:
        return (input,)
    pieces = SplitPieces.apply(input, sizes, d)
    return pieces if isinstance(pieces, tuple) else (pieces,)


def select(input, dim, index):
    """The view of ``input`` at ``index`` along ``dim`` (that dimension is removed).

    Example::

        >>> import distgrad
        >>> distgrad.tensor([[1, 2], [3, 4]]).select(1, 0)
        tensor([1, 3])
    """
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = input._dim(dim)
    size = input.shape[d]
    index = int(index)
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {d}")
    return getitem(input, _along(d, input.ndim, index))
