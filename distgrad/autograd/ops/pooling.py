"""Pooling: max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool1d/2d.

Every pool walks the kh * kw kernel offsets; at each offset one strided slice
of the (padded) input covers that position of every window at once, so no
Python loop visits a pixel.  Max pooling pads with -inf and keeps, per output,
the offset of its maximum (ties go to the first, a NaN wins, as in PyTorch's
CPU kernel); backward scatters the gradient to those positions.  Average
pooling divides by PyTorch's divisor (``count_include_pad``,
``divisor_override``, ``ceil_mode`` windows clipped at the padded border).
Adaptive average pooling uses PyTorch's windows ``[floor(i*in/out),
ceil((i+1)*in/out))``: an average pool when the sizes divide, otherwise two
small averaging matrices on each side of the image (``P_h @ x @ P_w^T``).

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
from distgrad.autograd.ops.conv_args import expand_param
from distgrad.autograd.tensor import Tensor


class PoolGeometry:
    """Sizes of one 2-D pooling: kernel, stride, padding, dilation, input and output (H, W).

    ``far`` is the padding after the input (bottom, right) that the last
    window needs: ``padding`` or less in floor mode, possibly more in ceil mode.
    ``divisor`` (average pooling) is a number or an (OH, OW) NumPy array.
    """

    __slots__ = ("kernel", "stride", "pad", "dilation", "in_size", "out_size", "far", "divisor")

    def __init__(self, kernel, stride, pad, dilation, in_size, out_size):
        self.kernel, self.stride, self.pad, self.dilation = kernel, stride, pad, dilation
        self.in_size, self.out_size = in_size, out_size
        self.far = tuple(max((o - 1) * s + d * (k - 1) + 1 - i - p, 0)
                         for o, s, d, k, i, p in zip(out_size, stride, dilation, kernel, in_size, pad))
        self.divisor = None

    def padded(self):
        return any(self.pad) or any(self.far)

    def offsets(self):
        """Per kernel offset ``(k, rows, cols)``: the slices of the padded input it covers."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        oh, ow = self.out_size
        for i in range(kh):
            for j in range(kw):
                yield (i * kw + j, slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                       slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))

    def inside(self, xp, k):
        """(OH, OW) mask: which windows' offset ``k`` lies in the input rather than the padding."""
        kw = self.kernel[1]
        masks = []
        for axis, off in ((0, k // kw), (1, k % kw)):
            pos = np.arange(self.out_size[axis]) * self.stride[axis] - self.pad[axis] + off * self.dilation[axis]
            masks.append((pos >= 0) & (pos < self.in_size[axis]))
        return xp.asarray(masks[0][:, None] & masks[1][None, :])


def _pad(x, geom, fill):
    """``x`` inside a border of ``fill`` as the windows need it (``x`` itself when none is needed)."""
    if not geom.padded():
        return x
    n, c, h, w = x.shape
    (ph, pw), (fh, fw) = geom.pad, geom.far
    out = backend.get_array_module(x).full((n, c, ph + h + fh, pw + w + fw), fill, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _scatter(parts, geom, shape, dtype, xp):
    """Sum per-offset (N, C, OH, OW) arrays into the input positions they came from: (N, C, H, W)."""
    (ph, pw), (fh, fw) = geom.pad, geom.far
    h, w = geom.in_size
    out = xp.zeros((shape[0], shape[1], ph + h + fh, pw + w + fw), dtype=dtype)
    for (_, rows, cols), part in zip(geom.offsets(), parts):
        out[:, :, rows, cols] += part
    if geom.padded():
        out = xp.ascontiguousarray(out[:, :, ph:ph + h, pw:pw + w])
    return out


# --- max pooling -------------------------------------------------------------------------------------
def _lowest(dtype, xp):
    return -xp.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _max_forward(x, geom):
    """Window maxima and, per output, the kernel offset (0 .. kh*kw-1) that holds it."""
    xp = backend.get_array_module(x)
    low = _lowest(x.dtype, xp)
    xpad = _pad(x, geom, low)
    floating = x.dtype.kind == "f"
    best = arg = None
    for k, rows, cols in geom.offsets():
        v = xpad[:, :, rows, cols]
        if best is None and not geom.padded():
            best, arg = v.copy(), xp.zeros(v.shape, dtype=xp.int32)
            continue
        if best is None:  # padded: start empty; the first in-bounds offset always wins
            best, arg = xp.full(v.shape, low, dtype=x.dtype), xp.full(v.shape, -1, dtype=xp.int32)
        take = v > best
        if floating:
            take |= xp.isnan(v)
        if geom.padded():
            take |= (arg < 0) & geom.inside(xp, k)
        arg = xp.where(take, k, arg).astype(xp.int32, copy=False)
        best = xp.where(take, v, best)
    return best, arg


def _flat_indices(arg, geom, xp):
    """PyTorch's return_indices: the flat position ``row * W + col`` of each maximum in its input plane."""
    kw = geom.kernel[1]
    rows = (xp.arange(geom.out_size[0]) * geom.stride[0] - geom.pad[0])[:, None] + (arg // kw) * geom.dilation[0]
    cols = (xp.arange(geom.out_size[1]) * geom.stride[1] - geom.pad[1])[None, :] + (arg % kw) * geom.dilation[1]
    return (rows * geom.in_size[1] + cols).astype(xp.int64)


class MaxPool2d(ArrayFunction):
    node_name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x, geom, with_indices):
        out, arg = _max_forward(x, geom)
        ctx.geom, ctx.in_shape = geom, x.shape
        if ctx.needs_input_grad[0]:
            ctx.arg = arg
        if with_indices:
            return out, _flat_indices(arg, geom, backend.get_array_module(x))
        return out

    @staticmethod
    def backward(ctx, g, *unused_index_grad):
        return MaxPoolScatter.apply(g, ctx.arg, ctx.geom, ctx.in_shape), None, None


class MaxPoolScatter(ArrayFunction):
    """Max pooling's input gradient: each output gradient goes to its window's maximum."""

    node_name = "MaxPool2DWithIndicesBackwardBackward0"

    @staticmethod
    def forward(ctx, g, arg, geom, in_shape):
        ctx.arg, ctx.geom = arg, geom
        xp = backend.get_array_module(g)
        parts = (xp.where(arg == k, g, 0) for k, _, _ in geom.offsets())
        return _scatter(parts, geom, in_shape, g.dtype, xp)

    @staticmethod
    def backward(ctx, gg):
        return MaxPoolGather.apply(gg, ctx.arg, ctx.geom), None, None, None


class MaxPoolGather(ArrayFunction):
    """Reads, per output, the input value at its window's maximum (the adjoint of the scatter)."""

    @staticmethod
    def forward(ctx, x, arg, geom):
        ctx.arg, ctx.geom, ctx.in_shape = arg, geom, x.shape
        xp = backend.get_array_module(x)
        xpad = _pad(x, geom, 0)
        out = xp.zeros(arg.shape, dtype=x.dtype)
        for k, rows, cols in geom.offsets():
            out += xp.where(arg == k, xpad[:, :, rows, cols], 0)
        return out

    @staticmethod
    def backward(ctx, g):
        return MaxPoolScatter.apply(g, ctx.arg, ctx.geom, ctx.in_shape), None, None


# --- average pooling ---------------------------------------------------------------------------------
def _average(x, geom):
    xp = backend.get_array_module(x)
    xpad = _pad(x, geom, 0)
    acc = None
    for _, rows, cols in geom.offsets():
        v = xpad[:, :, rows, cols]
        acc = v.astype(xp.float64 if x.dtype.kind != "f" else x.dtype, copy=True) if acc is None else acc + v
    if x.dtype.kind != "f":  # integer average pooling truncates, as in PyTorch
        return xp.trunc(acc / xp.asarray(geom.divisor)).astype(x.dtype)
    return acc / xp.asarray(geom.divisor, dtype=x.dtype)


class AvgPool2d(ArrayFunction):
    node_name = "AvgPool2DBackward0"

    @staticmethod
    def forward(ctx, x, geom):
        ctx.geom, ctx.in_shape = geom, x.shape
        return _average(x, geom)

    @staticmethod
    def backward(ctx, g):
        return AvgPoolScatter.apply(g, ctx.geom, ctx.in_shape), None


class AvgPoolScatter(ArrayFunction):
    """Average pooling's input gradient: each output gradient spread evenly over its window."""

    node_name = "AvgPool2DBackwardBackward0"

    @staticmethod
    def forward(ctx, g, geom, in_shape):
        ctx.geom = geom
        xp = backend.get_array_module(g)
        share = g / xp.asarray(geom.divisor, dtype=g.dtype)
        return _scatter((share for _ in geom.offsets()), geom, in_shape, g.dtype, xp)

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


def _geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode, dim):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if x.ndim not in (dim + 1, dim + 2) or any(s == 0 for s in x.shape[-dim - 1:]):
        raise RuntimeError(f"{op}: non-empty {dim + 1}D or {dim + 2}D (batch mode) tensor expected for input, "
                           f"but got input of size {list(x.shape)}")
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
    spatial = tuple(x.shape[-dim:])
    out = tuple(_out_size(*a, ceil_mode) for a in zip(spatial, kernel, stride, pad, dil))
    if any(o < 1 for o in out):
        chans = x.shape[-dim - 1]
        raise RuntimeError(f"{op}: Given input size: ({'x'.join(map(str, (chans,) + spatial))}). Calculated "
                           f"output size: ({'x'.join(map(str, (chans,) + out))}). Output size is too small")
    if dim == 1:
        kernel, stride, dil, spatial, out = ((1,) + t for t in (kernel, stride, dil, spatial, out))
        pad = (0,) + pad
    return PoolGeometry(kernel, stride, pad, dil, spatial, out)


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
    geom = _geometry(op, input, kernel_size, stride, padding, dilation, ceil_mode, dim)
    res = MaxPool2d.apply(_as_4d(input, dim), geom, bool(return_indices))
    if return_indices:
        return _from_4d(res[0], input, dim), _from_4d(res[1], input, dim)
    return _from_4d(res, input, dim)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling over (N, C, H, W) or (C, H, W); with ``return_indices`` also each maximum's flat index.

    Example::

        >>> max_pool2d(distgrad.randn(1, 3, 8, 8), 2).shape
        distgrad.Size([1, 3, 4, 4])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D max pooling over (N, C, L) or (C, L).

    Example::

        >>> max_pool1d(distgrad.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
        tensor([[3., 2.]])
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool(op, dim, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    geom = _geometry(op, input, kernel_size, stride, padding, 1, ceil_mode, dim)
    geom.divisor = _avg_divisor(geom, count_include_pad, divisor_override)
    return _from_4d(AvgPool2d.apply(_as_4d(input, dim), geom), input, dim)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-D average pooling; ``count_include_pad`` counts zero padding in the divisor.

    Example::

        >>> avg_pool2d(distgrad.ones(1, 1, 4, 4), 2, padding=1, count_include_pad=False)[0, 0, 0]
        tensor([1., 1., 1.])
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling over (N, C, L) or (C, L).

    Example::

        >>> avg_pool1d(distgrad.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
        tensor([[2., 1.]])
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def _averaging_matrix(n_in, n_out, np_dtype, xp):
    """(n_out, n_in) matrix whose row i averages PyTorch's adaptive window i."""
    m = np.zeros((n_out, n_in), dtype=np_dtype)
    for i in range(n_out):  # one row per output (not per pixel): host-side set-up of a tiny matrix
        start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        m[i, start:end] = 1.0 / (end - start)
    return Tensor._make(xp.asarray(m))


def _adaptive_avg(op, dim, input, output_size):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim not in (dim + 1, dim + 2):
        raise RuntimeError(f"{op}(): Expected {dim + 1}D or {dim + 2}D tensor, but got {list(input.shape)}")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: not implemented for '{input.dtype}' (expected a floating-point input)")
    spatial = tuple(input.shape[-dim:])
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * dim
    if len(sizes) != dim:
        raise RuntimeError(f"{op}: output_size must be {dim}, but got {list(sizes)}")
    out = tuple(s if o is None else int(o) for o, s in zip(sizes, spatial))
    if any(o < 0 for o in out):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0, but got {out}")
    if any(s == 0 for s in spatial):
        raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch dimensions, but input "
                           f"has sizes {list(input.shape)}")
    if all(o > 0 and s % o == 0 for s, o in zip(spatial, out)):
        kernel = tuple(s // o for s, o in zip(spatial, out))
        return _avg_pool(op, dim, input, kernel, kernel, 0, False, True, None)
    xp, np_dtype = input._xp(), input._data.dtype
    # the average over a window is separable: average the rows, then the columns
    res = input.unsqueeze(-2) if dim == 1 else _averaging_matrix(spatial[0], out[0], np_dtype, xp) @ input
    res = res @ _averaging_matrix(spatial[-1], out[-1], np_dtype, xp).mT
    return res.squeeze(-2) if dim == 1 else res


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed (OH, OW) whatever the input size (``None`` keeps that size).

    Example::

        >>> adaptive_avg_pool2d(distgrad.randn(2, 3, 7, 5), (3, None)).shape
        distgrad.Size([2, 3, 3, 5])
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of (N, C, L) or (C, L) to a fixed length.

    Example::

        >>> adaptive_avg_pool1d(distgrad.ones(1, 2, 7), 3).shape
        distgrad.Size([1, 2, 3])
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d"]
