"""Shape ops: reshape/view, permute/transpose, expand, repeat, squeeze/unsqueeze, flatten.

reshape, view, permute, transpose and expand return views: they share storage
and the version counter with their input, as in PyTorch.

Example::

    >>> import distgrad
    >>> x = distgrad.zeros(2, 3, 4)
    >>> x.permute(2, 0, 1).shape
    distgrad.Size([4, 2, 3])
"""
from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.tensor_xp import sum_to, xp_of
from distgrad.autograd.tensor import Tensor


def _sizes(args):
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])``, as PyTorch does."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(int(a) for a in args)


def infer_shape(op, shape, numel, in_shape):
    """Fill in one ``-1`` and check that the element count matches."""
    shape = list(shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"{op}: invalid shape dimension {s}")
            known *= s
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(map(int, shape))}' is invalid for input of size {numel}")
        shape[unknown[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{shape}' is invalid for input of size {numel} (input shape {list(in_shape)})")
    return tuple(shape)


class Reshape(ArrayFunction):
    """Reshape, a view when the layout allows it (``view`` insists on that)."""

    node_name = "ViewBackward0"
    _view = True
    array_backward = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None


class Permute(ArrayFunction):
    """Reorders the dimensions: a view (``torch.permute``)."""

    _view = True
    array_backward = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return backend.get_array_module(x).transpose(x, dims)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return xp_of(g).transpose(g, tuple(inverse)), None


class Squeeze(Reshape):
    """Drops every size-1 dimension: a view (``torch.squeeze``)."""

    node_name = "SqueezeBackward0"


class SqueezeDim(Reshape):
    """Drops one size-1 dimension: a view (``torch.squeeze`` with ``dim``)."""

    node_name = "SqueezeBackward1"


class SqueezeDims(Reshape):
    """Drops several size-1 dimensions: a view (``torch.squeeze`` with a tuple of dims)."""

    node_name = "SqueezeBackward2"


class Unsqueeze(Reshape):
    """Inserts a size-1 dimension: a view (``torch.unsqueeze``)."""

    node_name = "UnsqueezeBackward0"


class Transpose(Permute):
    """Swaps two dimensions: a view (``torch.transpose``)."""

    node_name = "TransposeBackward0"


class TransposeT(Permute):
    """Reverses the dimensions: a view (``Tensor.T``; PyTorch's ``TBackward0``)."""

    node_name = "TBackward0"


class Expand(ArrayFunction):
    """Broadcasts to a larger shape without copying: a view (``Tensor.expand``)."""

    _view = True
    array_backward = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return backend.get_array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.in_shape), None


class Repeat(ArrayFunction):
    """Tiles the tensor ``reps`` times along each dimension (``Tensor.repeat``)."""

    @staticmethod
    def forward(ctx, x, reps):
        x = x.reshape((1,) * (len(reps) - x.ndim) + x.shape)
        ctx.in_shape = x.shape
        return backend.get_array_module(x).tile(x, reps)

    @staticmethod
    def backward(ctx, g):
        # view each repeated axis as (repeats, size) and sum the repeats away
        split = []
        for r, s in zip(g.shape, ctx.in_shape):
            split += [r // s, s]
        g = g.reshape(split).sum(tuple(range(0, len(split), 2)))
        return g, None


def reshape(input, *shape):
    """Return a tensor of ``shape`` with the same data (a view when possible)."""
    shape = infer_shape("reshape", _sizes(shape), input.numel(), input.shape)
    if shape == input._data.shape:
        return Reshape.apply(input, shape) if input._requires_grad else input._alias()
    return Reshape.apply(input, shape)


def view(input, *shape):
    """Like reshape, but always a view: an error when the layout does not allow one."""
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
        dt = shape[0]
        if getattr(dt, "itemsize", None) == input.element_size():
            return Tensor._make(input._data.view(dt.np))
        return to(input, dt)
    shape = infer_shape("view", _sizes(shape), input.numel(), input.shape)
    data = input._data
    if data.size and not _viewable(data, shape):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                           "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
    return Reshape.apply(input, shape)


def _viewable(data, shape):
    try:
        v = data.reshape(shape)
    except ValueError:
        return False
    return v.size == 0 or backend.get_array_module(data).shares_memory(v, data)


def view_as(input, other):
    """``input.view(other.shape)`` (``Tensor.view_as``)."""
    return view(input, other.shape)


def reshape_as(input, other):
    """``input.reshape(other.shape)`` (``Tensor.reshape_as``)."""
    return reshape(input, other.shape)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim..end_dim`` into one."""
    if input.ndim == 0:
        return reshape(input, 1)
    s, e = input._dim(start_dim), input._dim(end_dim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input.shape
    n = 1
    for d in shape[s:e + 1]:
        n *= d
    return reshape(input, shape[:s] + (n,) + shape[e + 1:])


def unflatten(input, dim, sizes):
    """Split dimension ``dim`` into ``sizes`` (one entry may be -1)."""
    d = input._dim(dim)
    sizes = infer_shape("unflatten", tuple(sizes), input.shape[d], input.shape)
    return reshape(input, input.shape[:d] + sizes + input.shape[d + 1:])


def squeeze(input, dim=None):
    """Drop size-1 dimensions (only ``dim``, or those in a tuple, when given)."""
    if dim is None:
        dims = [i for i, s in enumerate(input.shape) if s == 1]
    else:
        dims = [input._dim(d) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))]
        dims = [d for d in dims if input.ndim and input.shape[d] == 1]
    cls = Squeeze if dim is None else (SqueezeDims if isinstance(dim, (tuple, list)) else SqueezeDim)
    return cls.apply(input, tuple(s for i, s in enumerate(input.shape) if i not in dims))


def unsqueeze(input, dim):
    """Insert a size-1 dimension at ``dim`` (negative counts from the end of the result)."""
    n = input.ndim + 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    dim %= n
    shape = list(input.shape)
    shape.insert(dim, 1)
    return Unsqueeze.apply(input, tuple(shape))


def permute(input, *dims):
    """Reorder dimensions: result dim i is input dim ``dims[i]``."""
    dims = _sizes(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {input.ndim} is not "
                           f"equal to len(dims) = {len(dims)}")
    dims = tuple(input._dim(d) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, dims)


def transpose(input, dim0, dim1):
    """Swap dimensions ``dim0`` and ``dim1``."""
    if input.ndim == 0:
        return reshape(input, ())
    d0, d1 = input._dim(dim0), input._dim(dim1)
    dims = list(range(input.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Transpose.apply(input, tuple(dims))


swapaxes = transpose
swapdims = transpose


def t(input):
    """Transpose a tensor of at most 2 dimensions."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return TransposeT.apply(input, (1, 0)) if input.ndim == 2 else reshape(input, input.shape)


def T(input):
    """The dimensions in reverse order (``Tensor.T``)."""
    return permute(input, tuple(reversed(range(input.ndim))))


def mT(input):
    """The last two dimensions swapped, for a batch of matrices (``Tensor.mT``)."""
    if input.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.")
    return transpose(input, -2, -1)


def expand(input, *sizes):
    """Broadcast size-1 dimensions to ``sizes`` without copying (-1 keeps a size)."""
    sizes = _sizes(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({input.ndim})")
    lead = len(sizes) - input.ndim
    shape = []
    for i, s in enumerate(sizes):
        cur = input.shape[i - lead] if i >= lead else None
        if s == -1:
            if cur is None:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = cur
        elif cur is not None and cur != 1 and cur != s:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(input.shape)}")
        shape.append(s)
    return Expand.apply(input, tuple(shape))


def expand_as(input, other):
    """``input`` broadcast to ``other``'s shape (``Tensor.expand_as``)."""
    return expand(input, other.shape)


def broadcast_to(input, shape):
    """``input`` broadcast to ``shape`` without copying (``torch.broadcast_to``)."""
    return expand(input, shape)


def repeat(input, *sizes):
    """Tile the tensor ``sizes[i]`` times along each dimension."""
    sizes = _sizes(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    return Repeat.apply(input, sizes)


def movedim(input, source, destination):
    """Moves the dimensions ``source`` to the positions ``destination`` (``torch.movedim``)."""
    src = [input._dim(s) for s in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [input._dim(d) for d in (destination if isinstance(destination, (tuple, list)) else (destination,))]
    order = [d for d in range(input.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, order)
