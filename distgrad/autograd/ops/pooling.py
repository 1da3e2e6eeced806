"""Pooling: max_pool1d/2d, avg_pool1d/2d (adaptive pools: :mod:`distgrad.autograd.ops.adaptive_pooling`).

Every pool walks the kh * kw kernel offsets; at each offset one strided slice
of the input covers that position of every window at once, so no Python loop
visits a pixel, and taps that fall in the padding are simply skipped (no padded
copy).  Max pooling keeps, per output, the offset of its maximum (ties go to the first, a NaN wins, as in PyTorch's
CPU kernel); backward scatters the gradient to those positions.  Average
pooling divides by PyTorch's divisor (``count_include_pad``,
``divisor_override``, ``ceil_mode`` windows clipped at the padded border).

Each backward is an op whose own backward is the forward again, so double
backward works.

Example::

    >>> import distgrad
    >>> import distgrad.nn.functional as F
    >>> x = distgrad.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.max_pool2d(x, 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
"""
import numpy as np

from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.conv_args import cached, expand_param, taps
from distgrad.autograd.ops.zero_dependency import depends_on
from distgrad.autograd.tensor import Tensor


class PoolGeometry:
    """Sizes of one 2-D pooling: kernel, stride, padding, dilation, input and output (H, W).

    ``divisor`` (average pooling) is a number or an (OH, OW) NumPy array.
    """

    __slots__ = ("kernel", "stride", "pad", "dilation", "in_size", "out_size", "divisor", "disjoint", "_taps")

    def __init__(self, kernel, stride, pad, dilation, in_size, out_size):
        self.kernel, self.stride, self.pad, self.dilation = kernel, stride, pad, dilation
        self.in_size, self.out_size = in_size, out_size
        self.divisor = None
        self._taps = None
        # windows that never share a pixel let a scatter assign instead of add
        self.disjoint = all(s >= d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel))

    def taps(self):
        """Per kernel offset ``k = i * kw + j``: ``(k, out_rows, out_cols, in_rows, in_cols, full)``.

        The slices pair the outputs whose tap ``k`` lands inside the input with
        the input pixels it reads; ``full`` says it covers every output.  Taps
        in the padding are never read, so no padded copy is ever made.
        Computed once per geometry (geometries are cached per input shape).
        """
        if self._taps is None:
            oh, ow = self.out_size
            self._taps = tuple(
                (i * self.kernel[1] + j, orows, ocols, irows, icols, orows == slice(0, oh) and ocols == slice(0, ow))
                for i, j, orows, ocols, irows, icols in taps(self.kernel, self.stride, self.dilation, self.pad,
                                                             self.in_size, self.out_size))
        return self._taps


# --- max pooling -------------------------------------------------------------------------------------
def _lowest(dtype, xp):
    return -xp.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _max_forward(x, geom):
    """Window maxima and, per output, the kernel offset (0 .. kh*kw-1) that holds it."""
    taps = geom.taps()
    if len(taps) > 1 and all(t[5] for t in taps):
        found = _max_unpadded(x, taps)
        if found is not None:
            return found
    return _max_general(x, geom)


def _max_unpadded(x, taps):
    """Fast path when every tap covers every window: the maxima first, then the first tap equal to each.

    Returns None when a NaN is present (its index rule needs the general loop).
    """
    xp = backend.get_array_module(x)
    views = [x[:, :, t[3], t[4]] for t in taps]
    best = xp.maximum(views[0], views[1])
    for v in views[2:]:
        xp.maximum(best, v, out=best)
    if x.dtype.kind == "f" and bool(xp.isnan(best).any()):
        return None
    arg = xp.full(best.shape, len(views) - 1, dtype=xp.int32)
    for k in range(len(views) - 2, -1, -1):  # descending, so the first tap holding the maximum wins a tie
        xp.copyto(arg, xp.int32(k), where=views[k] == best)
    return best, arg


def _max_general(x, geom):
    xp = backend.get_array_module(x)
    floating = x.dtype.kind == "f"
    out_shape = x.shape[:2] + tuple(geom.out_size)
    best = arg = None
    fresh = False  # True when outputs start empty: their first in-bounds tap must win even at -inf
    for k, orows, ocols, irows, icols, full in geom.taps():
        v = x[:, :, irows, icols]
        if best is None:
            if full:
                best, arg = v.copy(), xp.zeros(out_shape, dtype=xp.int32)
                continue
            best = xp.full(out_shape, _lowest(x.dtype, xp), dtype=x.dtype)
            arg = xp.full(out_shape, -1, dtype=xp.int32)
            fresh = True
        b, a = (best, arg) if full else (best[:, :, orows, ocols], arg[:, :, orows, ocols])
        take = v > b  # strict: ties keep the first maximum
        if floating:
            take |= xp.isnan(v)  # and a NaN wins, as in PyTorch's kernel
        if fresh:
            take |= a < 0
        if full:
            arg, best = xp.where(take, xp.int32(k), arg), xp.where(take, v, best)
        else:
            a[...], b[...] = xp.where(take, xp.int32(k), a), xp.where(take, v, b)
    return best, arg


def _flat_indices(arg, geom, xp):
    """PyTorch's return_indices: the flat position ``row * W + col`` of each maximum in its input plane."""
    kw = geom.kernel[1]
    rows = (xp.arange(geom.out_size[0]) * geom.stride[0] - geom.pad[0])[:, None] + (arg // kw) * geom.dilation[0]
    cols = (xp.arange(geom.out_size[1]) * geom.stride[1] - geom.pad[1])[None, :] + (arg % kw) * geom.dilation[1]
    return (rows * geom.in_size[1] + cols).astype(xp.int64)


class MaxPool2d(ArrayFunction):
    """2-D max pooling over a :class:`PoolGeometry`, optionally returning the argmax (``max_pool2d``)."""

    node_name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x, geom, with_indices):
        out, arg = _max_forward(x, geom)
        ctx.geom, ctx.in_shape = geom, x.shape
        if ctx.needs_input_grad[0]:
            ctx.arg = arg
            ctx.save_for_backward(x)  # PyTorch's backward takes the input (see zero_dependency)
        if with_indices:
            return out, _flat_indices(arg, geom, backend.get_array_module(x))
        return out

    @staticmethod
    def backward(ctx, g, *unused_index_grad):
        x, = ctx.saved_tensors
        return depends_on(MaxPoolScatter.apply(g, ctx.arg, ctx.geom, ctx.in_shape), x), None, None


class MaxPoolScatter(ArrayFunction):
    """Max pooling's input gradient: each output gradient goes to its window's maximum."""

    node_name = "MaxPool2DWithIndicesBackwardBackward0"

    @staticmethod
    def forward(ctx, g, arg, geom, in_shape):
        ctx.arg, ctx.geom = arg, geom
        xp = backend.get_array_module(g)
        out = xp.zeros(in_shape, dtype=g.dtype)
        for k, orows, ocols, irows, icols, _ in geom.taps():
            hit = arg[:, :, orows, ocols] == k
            if geom.disjoint:
                xp.copyto(out[:, :, irows, icols], g[:, :, orows, ocols], where=hit)
            else:
                out[:, :, irows, icols] += xp.where(hit, g[:, :, orows, ocols], 0)
        return out

    @staticmethod
    def backward(ctx, gg):
        return MaxPoolGather.apply(gg, ctx.arg, ctx.geom), None, None, None


class MaxPoolGather(ArrayFunction):
    """Reads, per output, the input value at its window's maximum (the adjoint of the scatter)."""

    @staticmethod
    def forward(ctx, x, arg, geom):
        ctx.arg, ctx.geom, ctx.in_shape = arg, geom, x.shape
        xp = backend.get_array_module(x)
        out = xp.zeros(arg.shape, dtype=x.dtype)
        for k, orows, ocols, irows, icols, _ in geom.taps():
            xp.copyto(out[:, :, orows, ocols], x[:, :, irows, icols], where=arg[:, :, orows, ocols] == k)
        return out

    @staticmethod
    def backward(ctx, g):
        return MaxPoolScatter.apply(g, ctx.arg, ctx.geom, ctx.in_shape), None, None


# --- average pooling ---------------------------------------------------------------------------------
def _average(x, geom):
    xp = backend.get_array_module(x)
    acc_dtype = x.dtype if x.dtype.kind == "f" else xp.float64
    acc = None
    for _, orows, ocols, irows, icols, full in geom.taps():
        v = x[:, :, irows, icols]
        if acc is None:
            if full:
                acc = v.astype(acc_dtype, copy=True)
                continue
            acc = xp.zeros(x.shape[:2] + tuple(geom.out_size), dtype=acc_dtype)
        if full:
            acc += v
        else:
            acc[:, :, orows, ocols] += v
    if x.dtype.kind != "f":  # integer average pooling truncates, as in PyTorch
        return xp.trunc(acc / xp.asarray(geom.divisor)).astype(x.dtype)
    return acc / xp.asarray(geom.divisor, dtype=x.dtype)


class AvgPool2d(ArrayFunction):
    """2-D average pooling over a :class:`PoolGeometry` (``torch.nn.functional.avg_pool2d``)."""

    node_name = "AvgPool2DBackward0"

    @staticmethod
    def forward(ctx, x, geom):
        ctx.geom, ctx.in_shape = geom, x.shape
        ctx.save_for_backward(x)  # PyTorch's backward takes the input (see zero_dependency)
        return _average(x, geom)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return depends_on(AvgPoolScatter.apply(g, ctx.geom, ctx.in_shape), x), None


class AvgPoolScatter(ArrayFunction):
    """Average pooling's input gradient: each output gradient spread evenly over its window."""

    node_name = "AvgPool2DBackwardBackward0"

    @staticmethod
    def forward(ctx, g, geom, in_shape):
        ctx.geom = geom
        xp = backend.get_array_module(g)
        share = g / xp.asarray(geom.divisor, dtype=g.dtype)
        out = xp.zeros(in_shape, dtype=g.dtype)
        for _, orows, ocols, irows, icols, _ in geom.taps():
            if geom.disjoint:
                out[:, :, irows, icols] = share[:, :, orows, ocols]
            else:
                out[:, :, irows, icols] += share[:, :, orows, ocols]
        return out

    @staticmethod
    def backward(ctx, gg):
        return AvgPool2d.apply(gg, ctx.geom), None, None


def _avg_divisor(geom, count_include_pad, divisor_override):
    """PyTorch's per-window divisor: a number when it is the same everywhere, else an (OH, OW) array."""
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        return divisor_override
    sizes = []
    for o, s, p, k, i in zip(geom.out_size, geom.stride, geom.pad, geom.kernel, geom.in_size):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, i + p)
        sizes.append(end - start if count_include_pad else np.minimum(end, i) - np.maximum(start, 0))
    div = (sizes[0][:, None] * sizes[1][None, :]).astype(np.float64)
    return div.flat[0] if div.size and (div == div.flat[0]).all() else div


# --- argument handling ---------------------------------------------------------------------------------
def _out_size(size, k, s, p, d, ceil_mode):
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or the left padding
    return out


def _check_input(op, x, dim):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if x.ndim not in (dim + 1, dim + 2) or any(s == 0 for s in x.shape[-dim - 1:]):
        raise RuntimeError(f"{op}: non-empty {dim + 1}D or {dim + 2}D (batch mode) tensor expected for input, "
                           f"but got input of size {list(x.shape)}")


@cached
def _geometry(op, shape, kernel_size, stride, padding, dilation, ceil_mode, dim, count_include_pad=None,
              divisor_override=None):
    """Check a pool's arguments for an input of ``shape``; the geometry (with the divisor for average pools)."""
    kernel = expand_param(kernel_size, "kernel_size", dim)
    stride = kernel if stride is None or stride == [] or stride == () else expand_param(stride, "stride", dim)
    pad = expand_param(padding, "padding", dim)
    dil = expand_param(dilation, "dilation", dim)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got {kernel}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: stride should be greater than zero, but got {stride}")
    if any(d <= 0 for d in dil):
        raise RuntimeError(f"{op}: dilation should be greater than zero, but got {dil}")
    for k, p, d in zip(kernel, pad, dil):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got pad={p}, "
                               f"kernel_size={k} and dilation={d}")
    spatial = tuple(shape[-dim:])
    out = tuple(_out_size(*a, ceil_mode) for a in zip(spatial, kernel, stride, pad, dil))
    if any(o < 1 for o in out):
        chans = shape[-dim - 1]
        raise RuntimeError(f"{op}: Given input size: ({'x'.join(map(str, (chans,) + spatial))}). Calculated "
                           f"output size: ({'x'.join(map(str, (chans,) + out))}). Output size is too small")
    if dim == 1:
        kernel, stride, dil, spatial, out = ((1,) + t for t in (kernel, stride, dil, spatial, out))
        pad = (0,) + pad
    geom = PoolGeometry(kernel, stride, pad, dil, spatial, out)
    if count_include_pad is not None:
        geom.divisor = _avg_divisor(geom, count_include_pad, divisor_override)
    return geom


def _as_4d(x, dim):
    """View the input as (N, C, H, W): add the batch and, for 1-D pools, a height of 1."""
    if x.ndim == dim + 1:
        x = x.unsqueeze(0)
    return x.unsqueeze(2) if dim == 1 else x


def _from_4d(t, x, dim):
    if dim == 1:
        t = t.squeeze(2)
    return t.squeeze(0) if x.ndim == dim + 1 else t


def _max_pool(op, dim, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    _check_input(op, input, dim)
    geom = _geometry(op, input.shape, kernel_size, stride, padding, dilation, ceil_mode, dim)
    res = MaxPool2d.apply(_as_4d(input, dim), geom, bool(return_indices))
    if return_indices:
        return _from_4d(res[0], input, dim), _from_4d(res[1], input, dim)
    return _from_4d(res, input, dim)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling over (N, C, H, W) or (C, H, W); with ``return_indices`` also each maximum's flat index.

    Example::

        >>> import distgrad
        >>> max_pool2d(distgrad.randn(1, 3, 8, 8), 2).shape
        distgrad.Size([1, 3, 4, 4])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D max pooling over (N, C, L) or (C, L).

    Example::

        >>> import distgrad
        >>> max_pool1d(distgrad.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
        tensor([[3., 2.]])
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool_nd(op, dim, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """Average pooling over the last ``dim`` (1 or 2) dims; ``op`` names the public function in errors."""
    _check_input(op, input, dim)
    geom = _geometry(op, input.shape, kernel_size, stride, padding, 1, ceil_mode, dim, bool(count_include_pad),
                     divisor_override)
    return _from_4d(AvgPool2d.apply(_as_4d(input, dim), geom), input, dim)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-D average pooling; ``count_include_pad`` counts zero padding in the divisor.

    Example::

        >>> import distgrad
        >>> avg_pool2d(distgrad.ones(1, 1, 4, 4), 2, padding=1, count_include_pad=False)[0, 0, 0]
        tensor([1., 1., 1.])
    """
    return avg_pool_nd("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling over (N, C, L) or (C, L).

    Example::

        >>> import distgrad
        >>> avg_pool1d(distgrad.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
        tensor([[2., 1.]])
    """
    return avg_pool_nd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d"]
