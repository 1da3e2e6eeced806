"""Indexing with ``[]``: ``x[key]`` and ``x[key] = v``, plus masked_fill.

Basic indexing (ints, slices, None, Ellipsis) returns a view that shares the
input's storage and version counter; advanced indexing (integer arrays, bool
masks) returns a copy, exactly as in PyTorch.  Every backward is a scatter-add
of the gradient into zeros of the input's shape, and the backward of that
scatter is again a gather, so second derivatives work.

Scatter-adds go through ``xp.bincount`` on flat positions: it accumulates
repeated indices (``x[[0, 0]]`` sends both gradients to element 0) and is the
same call on NumPy and CuPy.

Example::

    >>> import distgrad
    >>> x = distgrad.arange(6.0).reshape(2, 3)
    >>> x[:, [0, 2]]
    tensor([[0., 2.],
            [3., 5.]])
    >>> x[x > 3]
    tensor([4., 5.])
"""
import math

import numpy as np

from distgrad import backend
from distgrad.autograd import grad_mode
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.inplace import check_inplace, write_result
from distgrad.autograd.ops.tensor_xp import sum_to
from distgrad.autograd.tensor import Tensor

_state = grad_mode.state
_INT_SCALARS = (int, np.integer)


def _xp(x):
    return backend.get_array_module(x)


# --- parsing an index key ----------------------------------------------------------------------
def _as_index_array(k, xp):
    """An index given as a tensor, array or list, as an array on ``xp``'s device (bool or integer)."""
    if isinstance(k, Tensor):
        arr = k._data
    elif backend.is_array(k):
        arr = k
    else:
        arr = np.asarray(k)
        if arr.size == 0:
            arr = arr.astype(np.int64)
    if arr.dtype.kind == "u" and arr.dtype == np.uint8:
        arr = arr.astype(bool)  # PyTorch's legacy byte masks
    if arr.dtype.kind not in "biu":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if backend.get_array_module(arr) is not xp:
        arr = xp.asarray(backend.to_device(arr, backend.CPU) if xp is np else arr)
    return arr


def parse_key(x, key):
    """Check ``key`` against ``x``'s shape; return (numpy-style key tuple, is_advanced, grad_fn kind).

    Raises PyTorch's IndexError for out-of-range ints/indices, mask shape
    mismatches, too many indices and unsupported index types.
    """
    xp = x._xp()
    if not isinstance(key, tuple):
        key = (key,)
    items, advanced = [], False
    for k in key:
        if isinstance(k, slice):
            if k.step is not None and int(k.step) <= 0:
                # PyTorch has no negative strides (use flip)
                raise ValueError("step must be greater than zero")
            items.append(k)
        elif k is None or k is Ellipsis:
            items.append(k)
        elif isinstance(k, (bool, np.bool_)):
            items.append(bool(k))
            advanced = True
        elif isinstance(k, _INT_SCALARS):
            items.append(int(k))
        elif isinstance(k, Tensor) and k.ndim == 0 and k._data.dtype.kind in "iu" and k._data.dtype != np.uint8:
            items.append(int(k.item()))  # a 0-d integer tensor selects, as an int would
        elif isinstance(k, (Tensor, list, tuple)) or backend.is_array(k):
            items.append(_as_index_array(k, xp))
            advanced = True
        else:
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                             f"are valid indices (got {type(k).__name__})")
    shape = x._data.shape
    consumed = 0
    for k in items:
        if isinstance(k, (int, slice)) and not isinstance(k, bool):
            consumed += 1
        elif backend.is_array(k):
            consumed += k.ndim if k.dtype.kind == "b" else 1
    if consumed > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    if sum(1 for k in items if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    d = 0
    for pos, k in enumerate(items):
        if k is Ellipsis:
            d += len(shape) - consumed
        elif isinstance(k, bool) or k is None:
            continue
        elif isinstance(k, int):
            if not -shape[d] <= k < shape[d]:
                raise IndexError(f"index {k} is out of bounds for dimension {d} with size {shape[d]}")
            d += 1
        elif isinstance(k, slice):
            d += 1
        elif k.dtype.kind == "b":
            if tuple(k.shape) != tuple(shape[d:d + k.ndim]):
                raise IndexError(f"The shape of the mask {list(k.shape)} at index {pos} does not match the shape "
                                 f"of the indexed tensor {list(shape)} at index {d}")
            d += k.ndim
        else:
            if k.size:
                lo, hi = int(k.min()), int(k.max())
                if lo < -shape[d] or hi >= shape[d]:
                    bad = hi if hi >= shape[d] else lo
                    raise IndexError(f"index {bad} is out of bounds for dimension {d} with size {shape[d]}")
            d += 1
    kind = "alias"
    for k in reversed(items):
        if k is Ellipsis or (isinstance(k, slice) and k == slice(None)):
            continue
        kind = "select" if isinstance(k, int) else "slice" if isinstance(k, slice) else "unsqueeze"
        break
    return tuple(items), advanced, kind


def flat_positions(shape, key, xp):
    """For each element of ``zeros(shape)[key]``, its position in the flattened tensor (on ``xp``)."""
    return xp.arange(math.prod(shape), dtype=xp.int64).reshape(shape)[key]


def scatter_flat(values, flat, size, dtype):
    """Zeros of ``size`` elements with ``values`` added at flat positions ``flat`` (repeats accumulate)."""
    xp = _xp(values)
    if values.dtype.kind == "f":
        return xp.bincount(flat.reshape(-1), weights=values.reshape(-1), minlength=size).astype(dtype, copy=False)
    # integers: bincount's float64 weights would round above 2**53, and CuPy lacks ufunc.at, so sum
    # runs of equal positions exactly with a sort and a cumulative sum
    flat, values = flat.reshape(-1), values.reshape(-1)
    out = xp.zeros(size, dtype=dtype)
    if flat.size == 0:
        return out
    order = xp.argsort(flat, kind="stable")
    pos, totals = flat[order], xp.cumsum(values[order].astype(xp.int64))
    ends = xp.nonzero(xp.concatenate([pos[1:] != pos[:-1], xp.ones(1, dtype=bool)]))[0]
    run_totals = totals[ends]
    sums = run_totals - xp.concatenate([xp.zeros(1, dtype=run_totals.dtype), run_totals[:-1]])
    out[pos[ends]] = sums.astype(dtype)
    return out


# --- getitem / setitem ----------------------------------------------------------------------
class Select(ArrayFunction):
    """Basic indexing (ints, slices, None, Ellipsis): a view of the input."""

    _view = True

    @staticmethod
    def forward(ctx, x, key):
        ctx.in_shape, ctx.key = x.shape, key
        return x[key]

    @staticmethod
    def backward(ctx, g):
        return BasicPut.apply(g, ctx.in_shape, ctx.key), None


class Slice(Select):
    """Basic indexing whose last non-trivial item is a slice, recorded as PyTorch's ``SliceBackward0``."""


class Unsqueeze(Select):
    """Basic indexing whose last non-trivial item is ``None``, recorded as PyTorch's ``UnsqueezeBackward0``."""


class Alias(Select):
    """Indexing with only ``...`` and full slices (every element), recorded as PyTorch's ``AliasBackward0``."""


_BASIC = {"select": Select, "slice": Slice, "unsqueeze": Unsqueeze, "alias": Alias}


class BasicPut(ArrayFunction):
    """The gradient of basic indexing: ``g`` written into zeros of the input's shape."""

    node_name = "SliceBackwardBackward0"

    @staticmethod
    def forward(ctx, g, shape, key):
        ctx.key = key
        out = _xp(g).zeros(shape, dtype=g.dtype)
        out[key] = g
        return out

    @staticmethod
    def backward(ctx, gg):
        return Select.apply(gg, ctx.key), None, None


class Index(ArrayFunction):
    """Advanced indexing (integer arrays, bool masks): a copy."""

    @staticmethod
    def forward(ctx, x, key):
        if ctx.needs_input_grad[0]:
            ctx.in_shape = x.shape
            ctx.flat = flat_positions(x.shape, key, _xp(x))
        return x[key]

    @staticmethod
    def backward(ctx, g):
        return PutFlat.apply(g, ctx.flat, ctx.in_shape), None


class TakeFlat(ArrayFunction):
    """``x.flatten()[flat]``: the elements at precomputed flat positions."""

    node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, x, flat):
        ctx.in_shape, ctx.flat = x.shape, flat
        return _xp(x).take(x, flat)

    @staticmethod
    def backward(ctx, g):
        return PutFlat.apply(g, ctx.flat, ctx.in_shape), None


class PutFlat(ArrayFunction):
    """Zeros of ``shape`` with ``g`` scatter-added at flat positions (the gradient of a gather)."""

    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, g, flat, shape):
        ctx.flat = flat
        return scatter_flat(g, flat, math.prod(shape), g.dtype).reshape(shape)

    @staticmethod
    def backward(ctx, gg):
        return TakeFlat.apply(gg, ctx.flat), None, None


def getitem(input, key):
    """``input[key]`` with PyTorch's indexing rules (a view for basic keys, a copy for advanced ones).

    Example::

        >>> import distgrad
        >>> x = distgrad.arange(6.0).reshape(2, 3)
        >>> x[1, ::2]
        tensor([3., 5.])
    """
    key, advanced, kind = parse_key(input, key)
    if advanced:
        return Index.apply(input, key)
    return _BASIC[kind].apply(input, key)


def _index_with(g, key):
    """Index a gradient with an already parsed key."""
    for k in key:
        if backend.is_array(k) or isinstance(k, bool):
            return Index.apply(g, key)
    return Select.apply(g, key)


class IndexPut(ArrayFunction):
    """``x`` with ``v`` written at ``key``: the out-of-place core of ``x[key] = v``."""

    node_name = "torch::autograd::CopySlices"

    @staticmethod
    def forward(ctx, x, v, key):
        ctx.key = key
        ctx.v_shape = getattr(v, "shape", None)
        out = x.copy()
        out[key] = v
        return out

    @staticmethod
    def backward(ctx, g):
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = IndexPut.apply(g, 0, ctx.key)
        if ctx.needs_input_grad[1]:
            gv = _index_with(g, ctx.key)
            lead = len(ctx.v_shape) - gv.ndim
            if lead > 0:
                gv = gv.reshape((1,) * lead + tuple(gv.shape))
            gv = sum_to(gv, ctx.v_shape)
        return gx, gv, None


class IndexPutAdvanced(IndexPut):
    """``x[idx] = v`` with only advanced indices: PyTorch's index_put_, named IndexPutBackward0."""

    node_name = "IndexPutBackward0"


def _result_shape(x, key):
    """The shape ``x[key]`` has, without copying ``x``'s data."""
    xp = x._xp()
    return xp.broadcast_to(xp.zeros((), dtype=bool), x._data.shape)[key].shape


def setitem(input, key, value):
    """``input[key] = value`` in place; differentiable w.r.t. the old ``input`` and a tensor ``value``.

    Example::

        >>> import distgrad
        >>> x = distgrad.zeros(3)
        >>> x[[0, 2]] = 1.0
        >>> x
        tensor([1., 0., 1.])
    """
    check_inplace(input, "setitem")
    key, advanced, _ = parse_key(input, key)
    xp = input._xp()
    if isinstance(value, Tensor):
        if advanced and value._data.dtype != input._data.dtype:
            raise RuntimeError(f"Index put requires the source and destination dtypes match, got {input.dtype} for "
                               f"the destination and {value.dtype} for the source.")
        target = _result_shape(input, key)
        vshape = value._data.shape
        trimmed = vshape[len(vshape) - len(target):] if len(vshape) > len(target) else vshape
        ok = all(s == 1 for s in vshape[:len(vshape) - len(trimmed)])
        try:
            np.broadcast_shapes(trimmed, target)
        except ValueError:
            ok = False
        if not ok or len(trimmed) > len(target) or any(s != t and s != 1 for s, t in
                                                        zip(trimmed[::-1], target[::-1])):
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(vshape)} cannot be broadcast to "
                               f"indexing result of shape {list(target)}")
        if value._data.dtype != input._data.dtype:
            value = to(value, input.dtype)
        if backend.get_array_module(value._data) is not xp or value.device != input.device:
            value = to(value, device=input.device)
    elif isinstance(value, (bool, int, float, np.generic)):
        value = xp.asarray(value).astype(input._data.dtype)
    else:
        raise TypeError(f"setitem: can't assign a {type(value).__name__} to a tensor (use a number or a Tensor)")
    recording = _state.enabled and (input._requires_grad or (isinstance(value, Tensor) and value._requires_grad))
    if recording:
        # a key of advanced indices and full slices writes into input itself (index_put_); anything else
        # writes into a view of it, which PyTorch records as CopySlices
        direct = advanced and all(backend.is_array(k) or isinstance(k, bool) or k is Ellipsis or
                                  (isinstance(k, slice) and k == slice(None)) for k in key)
        node = IndexPutAdvanced if direct else IndexPut
        return write_result(input, node.apply(input, value, key), "setitem")
    input._data[key] = value._data if isinstance(value, Tensor) else value
    input._bump_version()
    return input


def tensor_setitem(self, key, value):
    """``self[key] = value``, for ``Tensor.__setitem__`` (which must return None)."""
    setitem(self, key, value)


# --- masked_fill -------------------------------------------------------------------------------
class MaskedFill(ArrayFunction):
    """``input`` with ``value`` where ``mask`` is True (shapes broadcast)."""

    @staticmethod
    def forward(ctx, x, mask, value):
        xp = _xp(x)
        shape = np.broadcast_shapes(x.shape, mask.shape)
        ctx.save_for_backward(mask)
        v = value.astype(x.dtype) if backend.is_array(value) else xp.asarray(value).astype(x.dtype)
        return xp.where(mask, v, xp.broadcast_to(x, shape))

    @staticmethod
    def backward(ctx, g):
        mask, = ctx.saved_tensors
        gx = MaskedFill.apply(g, mask, 0.0) if ctx.needs_input_grad[0] else None
        gv = None
        if ctx.needs_input_grad[2]:
            gv = MaskedFill.apply(g, ~mask, 0.0).sum()
        return gx, None, gv


class MaskedFillTensor(MaskedFill):
    """masked_fill with a 0-d tensor value that requires grad (PyTorch's MaskedFillBackward1)."""

    node_name = "MaskedFillBackward1"


def masked_fill(input, mask, value):
    """``value`` (a number or a 0-d tensor) where the bool ``mask`` is True, ``input`` elsewhere.

    Example::

        >>> import distgrad
        >>> x = distgrad.tensor([1.0, -2.0, 3.0])
        >>> x.masked_fill(x < 0, 0.0)
        tensor([1., 0., 3.])
    """
    if not isinstance(mask, Tensor):
        raise TypeError(f"masked_fill(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask._data.dtype.kind != "b":
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    try:
        np.broadcast_shapes(input._data.shape, mask._data.shape)
    except ValueError:
        raise RuntimeError(f"masked_fill: the shape of the mask {list(mask.shape)} must be broadcastable with the "
                           f"shape of the input {list(input.shape)}") from None
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        if not value._requires_grad:
            value = value.item()
        elif value._data.dtype != input._data.dtype:
            value = value.to(input.dtype)
    elif not isinstance(value, (bool, int, float, np.generic)):
        raise TypeError(f"masked_fill(): argument 'value' must be a number or a 0-d Tensor, not "
                        f"{type(value).__name__}")
    if mask.device != input.device:
        mask = mask.to(input.device)
    return (MaskedFillTensor if isinstance(value, Tensor) else MaskedFill).apply(input, mask, value)


def masked_fill_(input, mask, value):
    """In place: set ``input`` to ``value`` where ``mask`` holds (``Tensor.masked_fill_``)."""
    check_inplace(input, "masked_fill_")
    if mask._data.ndim > input.ndim or any(
            m != 1 and m != s for m, s in zip(mask.shape[::-1], input.shape[::-1])):
        raise RuntimeError(f"masked_fill_: the shape of the mask {list(mask.shape)} must be broadcastable to "
                           f"the shape of self {list(input.shape)}")
    return write_result(input, masked_fill(input, mask, value), "masked_fill_")
