"""Convolutions: conv1d, conv2d, conv_transpose1d, conv_transpose2d, unfold and fold.

A convolution is lowered to one batched matrix product.  im2col copies the
sliding windows of the input once into a contiguous column matrix of shape
``(N, groups, C/groups * kh * kw, OH * OW)``: through an ``as_strided`` view of
every window when there is no padding, else tap by tap (kh * kw strided block
copies, never a loop over pixels), leaving the taps that fall in the padding
zero, so no padded copy of the input is made.  The weight, viewed as
``(groups, O/groups, C/groups * kh * kw)``, multiplies it and the result is
already in ``(N, O, OH, OW)`` order, so the output needs no copy either.

Three bilinear array primitives do all the work, each an ArrayFunction whose
backward is written with the other two at Tensor level, so gradients of
gradients (``create_graph=True``, ``gradgradcheck``) come for free:

* :class:`Convolution`    ``y = conv(x, w) + b``
* :class:`ConvTranspose`  ``x' = conv^T(y, w) + b``: conv's input gradient, and
  ``conv_transpose2d``'s forward: for stride 1 a correlation with the flipped
  kernel (im2col + GEMM), otherwise a GEMM and a col2im scatter-add that
  loops over the kh * kw kernel offsets only
* :class:`ConvWeightGrad` conv's weight gradient from ``x`` and ``dy``

1-D convolutions run as 2-D ones over a height of 1 (views, no copies).

Example::

    >>> import distgrad
    >>> import distgrad.nn.functional as F
    >>> x = distgrad.randn(8, 3, 28, 28)
    >>> w = distgrad.randn(16, 3, 3, 3, requires_grad=True)
    >>> F.conv2d(x, w, padding=1, stride=2).shape
    distgrad.Size([8, 16, 14, 14])
"""
from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops import cuda_kernels
from distgrad.autograd.ops.conv_args import (ConvGeometry, check_pair_dtypes, conv_geometry, fold_geometry,
                                             transpose_geometry)
from distgrad.autograd.tensor import Tensor
from distgrad.autograd.ops.zero_dependency import depends_on


# --- array kernels (written once against xp) -------------------------------------------------------
def _taps(geom):
    return geom.taps()


def _padded(geom):
    return any(geom.pads)


def windows(x, geom):
    """A read-only ``(N, C, kh, kw, OH, OW)`` view of every window of unpadded ``x`` (no copy)."""
    xp = backend.get_array_module(x)
    sn, sc, sh, sw = x.strides
    (kh, kw), (th, tw), (dh, dw) = geom.kernel, geom.stride, geom.dilation
    oh, ow = geom.out_size
    return xp.lib.stride_tricks.as_strided(
        x, (x.shape[0], x.shape[1], kh, kw, oh, ow), (sn, sc, sh * dh, sw * dw, sh * th, sw * tw))


def im2col(x, geom):
    """The contiguous column matrix ``(N, groups, C/groups*kh*kw, OH*OW)`` of ``x`` (one copy)."""
    xp = backend.get_array_module(x)
    n, c = x.shape[:2]
    if _padded(geom) and cuda_kernels.enabled(xp):
        cols = cuda_kernels.im2col(x, geom)  # one kernel launch instead of kh * kw + 1
    elif _padded(geom):
        # copy each kernel tap's in-bounds block straight from x; the padding stays zero
        cols = xp.zeros((n, c) + tuple(geom.kernel) + tuple(geom.out_size), dtype=x.dtype)
        for i, j, orows, ocols, irows, icols in _taps(geom):
            cols[:, :, i, j, orows, ocols] = x[:, :, irows, icols]
    else:
        cols = xp.ascontiguousarray(windows(x, geom))
    return cols.reshape(n, geom.groups, -1, geom.out_size[0] * geom.out_size[1])


def col2im(cols, geom, channels):
    """Scatter-add columns ``(N, C*kh*kw, OH*OW)`` (any layout that reshapes so) back to ``(N, C, H, W)``.

    Overlapping windows add up; the loop runs over the kh * kw kernel taps,
    each one a strided slice-add over all pixels at once; taps that fall in
    the padding are never written.
    """
    xp = backend.get_array_module(cols)
    if cuda_kernels.enabled(xp):
        return cuda_kernels.col2im(cols, geom, channels)
    n = cols.shape[0]
    cols = cols.reshape((n, channels) + tuple(geom.kernel) + tuple(geom.out_size))
    out = xp.zeros((n, channels) + tuple(geom.in_size), dtype=cols.dtype)
    for i, j, orows, ocols, irows, icols in _taps(geom):
        out[:, :, irows, icols] += cols[:, :, i, j, orows, ocols]
    return out


def _conv(x, w, geom, cols=None):
    """conv(x, w): ``(N, O, OH, OW)``, and the column matrix it used."""
    xp = backend.get_array_module(x)
    if cols is None:
        cols = im2col(x, geom)
    g = geom.groups
    out = xp.matmul(w.reshape(g, w.shape[0] // g, -1), cols)  # (N, G, O/G, L): already NCHW order
    return out.reshape(x.shape[0], w.shape[0], geom.out_size[0], geom.out_size[1]), cols


def _conv_t(y, w, geom):
    """conv^T(y, w): the adjoint of conv in its input, ``(N, C, H, W)``."""
    xp = backend.get_array_module(y)
    g = geom.groups
    adjoint = geom.adjoint()
    if adjoint is not None:  # stride 1: correlate with the flipped kernel, channels swapped within each group
        o, cg = w.shape[:2]
        flipped = w.reshape((g, o // g, cg) + w.shape[2:])[..., ::-1, ::-1].swapaxes(1, 2)
        return _conv(y, flipped.reshape((g * cg, o // g) + w.shape[2:]), adjoint)[0]
    n, o = y.shape[:2]
    w3 = w.reshape(g, o // g, -1)
    cols = xp.matmul(w3.swapaxes(1, 2), y.reshape(n, g, o // g, -1))  # (N, G, C/G*kh*kw, L)
    return col2im(cols, geom, w.shape[1] * g)


def _conv_w(cols, dy, geom, w_shape):
    """conv's weight gradient from the input's columns and the output gradient ``dy``."""
    xp = backend.get_array_module(dy)
    g = geom.groups
    n, o = dy.shape[:2]
    # one small GEMM per sample, against a transposed view of the columns: no copy of cols
    per_sample = xp.matmul(dy.reshape(n, g, o // g, -1), cols.swapaxes(-1, -2))
    return per_sample.sum(axis=0).reshape(w_shape)


def _add_bias(out, b):
    if b is not None:
        out += b.reshape((1, -1) + (1,) * (out.ndim - 2))
    return out


# --- the three differentiable primitives -------------------------------------------------------------
class Convolution(ArrayFunction):
    """``conv(x, w) + b`` (cross-correlation, as in PyTorch)."""

    @staticmethod
    def forward(ctx, x, w, b, geom):
        out, cols = _conv(x, w, geom)
        ctx.geom = geom
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[1] else None, w if need[0] else None)
        if need[1]:
            ctx.cols = cols  # reused by the weight gradient; x is version-checked before it is
        return _add_bias(out, b)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need, geom = ctx.needs_input_grad, ctx.geom
        gx = gw = gb = None
        if need[0]:
            gx = ConvTranspose.apply(g, w, None, geom)
        if need[1]:
            cols, ctx.cols = ctx.cols, None  # a second backward (retain_graph) recomputes them
            gw = ConvWeightGrad.apply(x, g, geom, cols)
        if need[2]:
            gb = depends_on(g.sum((0, 2, 3)), x, w)  # PyTorch's convolution_backward takes both (zero_dependency)
        return gx, gw, gb, None


class ConvTranspose(ArrayFunction):
    """``conv^T(y, w) + b``: the input gradient of conv, and the transposed convolution."""

    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, y, w, b, geom):
        ctx.geom = geom
        need = ctx.needs_input_grad
        ctx.save_for_backward(y if need[1] else None, w if need[0] else None)
        return _add_bias(_conv_t(y, w, geom), b)

    @staticmethod
    def backward(ctx, g):
        y, w = ctx.saved_tensors
        need, geom = ctx.needs_input_grad, ctx.geom
        gy = gw = gb = None
        if need[0]:
            gy = Convolution.apply(g, w, None, geom)
        if need[1]:
            gw = ConvWeightGrad.apply(g, y, geom, None)  # <G, conv^T_w(y)> = <conv_w(G), y>
        if need[2]:
            gb = depends_on(g.sum((0, 2, 3)), y, w)  # as Convolution's bias gradient
        return gy, gw, gb, None


class ConvWeightGrad(ArrayFunction):
    """conv's weight gradient as a function of ``x`` and ``dy`` (bilinear, so differentiable again)."""

    node_name = "ConvolutionBackwardBackward0"

    @staticmethod
    def forward(ctx, x, dy, geom, cols):
        ctx.geom = geom
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[1] else None, dy if need[0] else None)
        if cols is None:
            cols = im2col(x, geom)
        w_shape = (dy.shape[1], x.shape[1] // geom.groups) + tuple(geom.kernel)
        return _conv_w(cols, dy, geom, w_shape)

    @staticmethod
    def backward(ctx, gw):
        x, dy = ctx.saved_tensors
        need, geom = ctx.needs_input_grad, ctx.geom
        gx = gdy = None
        if need[0]:
            gx = ConvTranspose.apply(dy, gw, None, geom)
        if need[1]:
            gdy = Convolution.apply(x, gw, None, geom)
        return gx, gdy, None, None


class Unfold(ArrayFunction):
    """im2col as an op: ``(N, C, H, W) -> (N, C*kh*kw, L)``."""

    node_name = "Im2ColBackward0"

    @staticmethod
    def forward(ctx, x, geom):
        ctx.geom, ctx.channels = geom, x.shape[1]
        return im2col(x, geom).reshape(x.shape[0], x.shape[1] * geom.kernel[0] * geom.kernel[1], -1)

    @staticmethod
    def backward(ctx, g):
        return Fold.apply(g, ctx.geom, ctx.channels), None


class Fold(ArrayFunction):
    """col2im as an op: ``(N, C*kh*kw, L) -> (N, C, H, W)``, summing overlaps."""

    node_name = "Col2ImBackward0"

    @staticmethod
    def forward(ctx, cols, geom, channels):
        ctx.geom = geom
        return col2im(cols, geom, channels)

    @staticmethod
    def backward(ctx, g):
        return Unfold.apply(g, ctx.geom), None, None


# --- public functions ----------------------------------------------------------------------------------
def _to_2d(t, dim):
    return t if t is None or dim == 2 else t.unsqueeze(2)


def _from_2d(t, dim, batched):
    if dim == 1:
        t = t.squeeze(2)
    return t if batched else t.squeeze(0)


def _run_conv(op, dim, input, weight, bias, stride, padding, dilation, groups):
    check_pair_dtypes(op, input, weight, bias)
    batched = input.ndim == dim + 2
    geom = conv_geometry(op, dim, input.shape, weight.shape, bias, stride, padding, dilation, groups)
    x = input if batched else input.unsqueeze(0)
    out = Convolution.apply(_to_2d(x, dim), _to_2d(weight, dim), bias, geom)
    return _from_2d(out, dim, batched)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of ``input`` (N, C, H, W) or (C, H, W) with ``weight``.

    ``weight`` is ``(out_channels, in_channels / groups, kH, kW)``; ``stride``,
    ``padding`` and ``dilation`` are ints or pairs, ``padding`` may also be
    ``'valid'`` (none) or ``'same'`` (output as large as the input, stride 1).

    Example::

        >>> import distgrad
        >>> x = distgrad.randn(1, 1, 5, 5)
        >>> conv2d(x, distgrad.ones(2, 1, 3, 3), padding="same").shape
        distgrad.Size([1, 2, 5, 5])
    """
    return _run_conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of ``input`` (N, C, L) or (C, L) with ``weight`` (O, C/groups, k).

    Example::

        >>> import distgrad
        >>> conv1d(distgrad.randn(4, 2, 10), distgrad.randn(3, 2, 5)).shape
        distgrad.Size([4, 3, 6])
    """
    return _run_conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def _run_conv_t(op, dim, input, weight, bias, stride, padding, output_padding, groups, dilation):
    check_pair_dtypes(op, input, weight, bias)
    batched = input.ndim == dim + 2
    geom = transpose_geometry(op, dim, input.shape, weight.shape, bias, stride, padding, output_padding,
                              groups, dilation)
    x = input if batched else input.unsqueeze(0)
    out = ConvTranspose.apply(_to_2d(x, dim), _to_2d(weight, dim), bias, geom)
    return _from_2d(out, dim, batched)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution ("deconvolution"): the gradient of conv2d with respect to its input.

    ``weight`` is ``(in_channels, out_channels / groups, kH, kW)``; the output
    height is ``(H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1``.

    Example::

        >>> import distgrad
        >>> conv_transpose2d(distgrad.randn(1, 4, 5, 5), distgrad.randn(4, 2, 3, 3), stride=2).shape
        distgrad.Size([1, 2, 11, 11])
    """
    return _run_conv_t("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                       dilation)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution of ``input`` (N, C, L) with ``weight`` (C, O/groups, k).

    Example::

        >>> import distgrad
        >>> conv_transpose1d(distgrad.randn(2, 3, 4), distgrad.randn(3, 5, 2), stride=2).shape
        distgrad.Size([2, 5, 8])
    """
    return _run_conv_t("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                       dilation)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding blocks: ``(N, C, H, W) -> (N, C * kh * kw, L)`` (``F.unfold``, im2col).

    Example::

        >>> import distgrad
        >>> unfold(distgrad.randn(2, 3, 4, 4), kernel_size=2).shape
        distgrad.Size([2, 12, 9])
    """
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        shape = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"unfold: expected 3D or 4D (batch mode) tensor for input, but got: {shape}")
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    geom = fold_geometry("unfold", x.shape[2:], kernel_size, dilation, padding, stride)
    out = Unfold.apply(x, geom)
    return out if batched else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding blocks back into an image: ``(N, C * kh * kw, L) -> (N, C, *output_size)`` (``F.fold``).

    Example::

        >>> import distgrad
        >>> fold(distgrad.ones(1, 4, 9), output_size=(4, 4), kernel_size=2)[0, 0, 1]
        tensor([2., 4., 4., 2.])
    """
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        shape = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"fold: expected 2D or 3D (batch mode) tensor for input, but got: {shape}")
    batched = input.ndim == 3
    x = input if batched else input.unsqueeze(0)
    geom = fold_geometry("fold", output_size, kernel_size, dilation, padding, stride)
    kh, kw = geom.kernel
    if x.shape[1] % (kh * kw):
        raise RuntimeError(f"fold: expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size, but got input.size(1)={x.shape[1]} and kernel_size={geom.kernel}")
    blocks = geom.out_size[0] * geom.out_size[1]
    if x.shape[2] != blocks:
        raise RuntimeError(
            f"fold: given output_size={geom.in_size}, kernel_size={geom.kernel}, dilation={geom.dilation}, "
            f"padding={geom.pads[::2]}, stride={geom.stride}, expected size of input's dimension 2 to match "
            f"the calculated number of sliding blocks {geom.out_size[0]} * {geom.out_size[1]} = {blocks}, "
            f"but got input.size(2)={x.shape[2]}.")
    out = Fold.apply(x, geom, x.shape[1] // (kh * kw))
    return out if batched else out.squeeze(0)


__all__ = ["ConvGeometry", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold"]
