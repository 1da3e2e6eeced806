"""CUDA kernels (CuPy ``ElementwiseKernel``) for the array steps that are slow as array expressions on a GPU.

On the CPU, a padded im2col is a loop of ``kh * kw`` strided block copies
and col2im a loop of as many block additions: cheap there, but on a GPU each
is a kernel launch (plus a zero fill), so a 3x3 convolution would launch ten
kernels where one does.  Here each is one kernel, one thread per output
element:

* :func:`im2col` - thread ``(n, c, i, j, oh, ow)`` reads input pixel
  ``(oh*sh - top + i*dh, ow*sw - left + j*dw)``, or writes 0 in the padding;
* :func:`col2im` - thread ``(n, c, y, x)`` sums the column entries of every
  kernel tap that lands on pixel ``(y, x)`` (a gather: no atomics, so the sum
  is deterministic, unlike a scatter-add).

:func:`enabled` says whether to use them for an array module:
only CuPy, and not when ``DISTGRAD_CUDA_KERNELS=0`` (which falls back to the
array expressions, for comparison or if a kernel misbehaves).  The kernels
are compiled by CuPy on first use and cached on disk.

Example::

    >>> import numpy as np
    >>> enabled(np)
    False
"""
import os

from distgrad import backend

KERNELS_VAR = "DISTGRAD_CUDA_KERNELS"
_kernels = {}

_IM2COL = r"""
const ptrdiff_t ow = i % OW;
ptrdiff_t t = i / OW;
const ptrdiff_t oh = t % OH;
t /= OH;
const ptrdiff_t kj = t % KW;
t /= KW;
const ptrdiff_t ki = t % KH;
const ptrdiff_t nc = t / KH;
const ptrdiff_t y = oh * SH - PH + ki * DH;
const ptrdiff_t xx = ow * SW - PW + kj * DW;
if (y >= 0 && y < H && xx >= 0 && xx < W) {
    col = img[(nc * H + y) * W + xx];
} else {
    col = (T)0;
}
"""

_COL2IM = r"""
const ptrdiff_t xx = i % W;
ptrdiff_t t = i / W;
const ptrdiff_t y = t % H;
const ptrdiff_t nc = t / H;
T acc = (T)0;
for (ptrdiff_t ki = 0; ki < KH; ++ki) {
    const ptrdiff_t ty = y + PH - ki * DH;
    if (ty < 0 || ty % SH != 0) continue;
    const ptrdiff_t oh = ty / SH;
    if (oh >= OH) continue;
    for (ptrdiff_t kj = 0; kj < KW; ++kj) {
        const ptrdiff_t tx = xx + PW - kj * DW;
        if (tx < 0 || tx % SW != 0) continue;
        const ptrdiff_t ow = tx / SW;
        if (ow >= OW) continue;
        acc += col[(((nc * KH + ki) * KW + kj) * OH + oh) * OW + ow];
    }
}
img = acc;
"""

_SIZES = ("int64 H, int64 W, int64 KH, int64 KW, int64 OH, int64 OW, int64 SH, int64 SW, int64 PH, int64 PW, "
          "int64 DH, int64 DW")


def enabled(xp):
    """True when ``xp`` is CuPy and the kernels are not switched off with ``DISTGRAD_CUDA_KERNELS=0``."""
    cp = backend.cupy_module()
    return cp is not None and xp is cp and os.environ.get(KERNELS_VAR, "1") != "0"


def _kernel(name):
    k = _kernels.get(name)
    if k is None:
        cp = backend.cupy_module()
        if name == "im2col":
            k = cp.ElementwiseKernel("raw T img, " + _SIZES, "T col", _IM2COL, "distgrad_im2col")
        else:
            k = cp.ElementwiseKernel("raw T col, " + _SIZES, "T img", _COL2IM, "distgrad_col2im")
        _kernels[name] = k
    return k


def _sizes(geom):
    (kh, kw), (sh, sw), (dh, dw) = geom.kernel, geom.stride, geom.dilation
    (h, w), (oh, ow) = geom.in_size, geom.out_size
    return h, w, kh, kw, oh, ow, sh, sw, geom.pads[0], geom.pads[2], dh, dw


def im2col(x, geom):
    """The ``(N, C, kh, kw, OH, OW)`` columns of CuPy array ``x`` (N, C, H, W), zeros in the padding."""
    cp = backend.cupy_module()
    x = cp.ascontiguousarray(x)
    cols = cp.empty(x.shape[:2] + tuple(geom.kernel) + tuple(geom.out_size), dtype=x.dtype)
    with cp.cuda.Device(x.device.id):
        _kernel("im2col")(x, *_sizes(geom), cols)
    return cols


def col2im(cols, geom, channels):
    """Sum columns (reshapeable to ``(N, C, kh, kw, OH, OW)``) back into an ``(N, C, H, W)`` CuPy array."""
    cp = backend.cupy_module()
    n = cols.shape[0]
    cols = cp.ascontiguousarray(cols.reshape((n, channels) + tuple(geom.kernel) + tuple(geom.out_size)))
    img = cp.empty((n, channels) + tuple(geom.in_size), dtype=cols.dtype)
    with cp.cuda.Device(cols.device.id):
        _kernel("col2im")(cols, *_sizes(geom), img)
    return img
