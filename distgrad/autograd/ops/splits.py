"""Splits into views: ``tensor_split`` (sections or cut indices) and its fixed-dim forms
``hsplit``, ``vsplit`` and ``dsplit``, as in PyTorch.

Each piece is a basic slice of the input (a view), so gradients flow back
through indexing; no op here has a backward of its own.

Example::

    >>> import distgrad
    >>> [t.tolist() for t in distgrad.arange(6).tensor_split(3)]
    [[0, 1], [2, 3], [4, 5]]
"""
import numbers

from distgrad import dtypes
from distgrad.autograd.ops.layout import _int_tuple, _wrap
from distgrad.autograd.tensor import Tensor


# --- tensor_split, hsplit, vsplit, dsplit ----------------------------------------------------------
def tensor_split(input, indices_or_sections, dim=0):
    """Split into views along ``dim``: ``n`` nearly equal pieces (an int) or cut before each index (a list).

    With ``n`` sections, the first ``size % n`` pieces are one longer; indices past
    the end give empty pieces.  A 0-d int64 tensor counts as sections, a 1-d one as indices.

    Example::

        >>> import distgrad
        >>> [t.tolist() for t in distgrad.arange(5).tensor_split(2)]
        [[0, 1, 2], [3, 4]]
        >>> [t.tolist() for t in distgrad.arange(5).tensor_split([1, 4])]
        [[0], [1, 2, 3], [4]]
    """
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = _wrap(dim, input.ndim, "tensor_split")
    size = input.shape[d]
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        if spec.dtype != dtypes.int64:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                               f"{spec.dtype}")
        if spec.ndim > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {spec.ndim} dims")
        spec = spec.item() if spec.ndim == 0 else spec.tolist()
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        n = int(spec)
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        q, r = divmod(size, n)
        bounds, start = [], 0
        for i in range(n):
            start += q + (1 if i < r else 0)
            bounds.append(start)
        bounds = bounds[:-1]
    elif isinstance(spec, (list, tuple)):
        bounds = list(_int_tuple(tuple(spec), "indices", "tensor_split")) if spec else []
    else:
        raise TypeError(f"tensor_split(): argument 'indices_or_sections' must be int or tuple of ints, not "
                        f"{type(spec).__name__}")
    lead = (slice(None),) * d
    starts = [0] + bounds
    ends = bounds + [size]
    return tuple(input[lead + (slice(s, e),)] for s, e in zip(starts, ends))


def _split_along(op, input, spec, d, min_dim):
    if input.ndim < min_dim:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {min_dim} dimension"
                           f"{'s' if min_dim > 1 else ''}, but got a tensor with {input.ndim} dimensions!")
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        if spec == 0 or input.shape[d] % spec:
            raise RuntimeError(f"torch.{op} attempted to split along dimension {d}, but the size of the dimension "
                               f"{input.shape[d]} is not divisible by the split_size {spec}!")
    return tensor_split(input, spec, d)


def hsplit(input, indices_or_sections):
    """``tensor_split`` along dim 1 (dim 0 for 1-D input); an int must divide the size evenly.

    Example::

        >>> import distgrad
        >>> [t.shape for t in distgrad.zeros(2, 4).hsplit(2)]
        [distgrad.Size([2, 2]), distgrad.Size([2, 2])]
    """
    return _split_along("hsplit", input, indices_or_sections, 1 if input.ndim > 1 else 0, 1)


def vsplit(input, indices_or_sections):
    """``tensor_split`` along dim 0 of an at least 2-D tensor; an int must divide the size evenly.

    Example::

        >>> import distgrad
        >>> len(distgrad.zeros(4, 2).vsplit([1]))
        2
    """
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input, indices_or_sections):
    """``tensor_split`` along dim 2 of an at least 3-D tensor; an int must divide the size evenly.

    Example::

        >>> import distgrad
        >>> distgrad.zeros(1, 1, 4).dsplit(2)[0].shape
        distgrad.Size([1, 1, 2])
    """
    return _split_along("dsplit", input, indices_or_sections, 2, 3)
