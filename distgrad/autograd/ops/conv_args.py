"""Argument checking and output-size arithmetic for convolutions, unfold and fold.

Everything here is host-side bookkeeping: it turns the user's ints, tuples and
padding strings into a :class:`ConvGeometry` (always 2-D: a 1-D convolution is
a 2-D one over a height of 1) and raises PyTorch's errors, naming the op and
the shapes, before any array is touched.

Example::

    >>> from distgrad.autograd.ops.conv_args import conv_geometry
    >>> g = conv_geometry("conv2d", 2, (8, 3, 28, 28), (16, 3, 3, 3), None, 2, 1, 1, 1)
    >>> g.out_size
    (14, 14)
"""
from distgrad import dtypes
from distgrad.autograd.tensor import Tensor


class ConvGeometry:
    """The sizes of one 2-D convolution, in the forward convolution's sense (input -> output).

    ``pads`` is ``(top, bottom, left, right)`` (asymmetric for ``padding='same'``
    with an even kernel); ``in_size`` is the unpadded input's (H, W) and
    ``out_size`` the output's (OH, OW).  A transposed convolution uses the
    geometry of the convolution it transposes.
    """

    __slots__ = ("kernel", "stride", "pads", "dilation", "groups", "in_size", "out_size", "_taps", "_adjoint")

    def __init__(self, kernel, stride, pads, dilation, groups, in_size, out_size):
        self.kernel, self.stride, self.pads, self.dilation = kernel, stride, pads, dilation
        self.groups, self.in_size, self.out_size = groups, in_size, out_size
        self._taps = None
        self._adjoint = False

    def adjoint(self):
        """For a stride-1 convolution, the geometry of its transpose as a plain correlation, else None.

        With stride 1, ``conv^T(y, w)`` is ``y`` correlated with the flipped,
        channel-swapped kernel over padding ``d*(k-1) - pad``: one im2col and one
        GEMM instead of a GEMM and a scatter-add.  None when that padding would
        be negative (a padding wider than the kernel) or the stride is not 1.
        """
        if self._adjoint is False:
            self._adjoint = None
            if self.stride == (1, 1):
                reach = [d * (k - 1) for d, k in zip(self.dilation, self.kernel)]
                before = [reach[0] - self.pads[0], reach[1] - self.pads[2]]
                after = [self.in_size[0] - self.out_size[0] + self.pads[0],
                         self.in_size[1] - self.out_size[1] + self.pads[2]]
                if min(before + after) >= 0:
                    self._adjoint = ConvGeometry(self.kernel, (1, 1), (before[0], after[0], before[1], after[1]),
                                                 self.dilation, self.groups, self.out_size, self.in_size)
        return self._adjoint

    def taps(self):
        """The kernel taps with their in-bounds blocks (see :func:`taps`), computed once per geometry."""
        if self._taps is None:
            self._taps = tuple(taps(self.kernel, self.stride, self.dilation, self.pads[::2], self.in_size,
                                    self.out_size))
        return self._taps

    def __repr__(self):
        return (f"ConvGeometry(kernel={self.kernel}, stride={self.stride}, pads={self.pads}, "
                f"dilation={self.dilation}, groups={self.groups}, in={self.in_size}, out={self.out_size})")


_CACHE = {}
_CACHE_LIMIT = 256


def _key(value):
    """A hashable form of a size argument, or None when it has none (then nothing is cached)."""
    if isinstance(value, (int, str)) or value is None:
        return value
    if isinstance(value, (tuple, list)) and all(isinstance(v, int) for v in value):
        return tuple(value)
    return None


def cached(build):
    """Memoise a geometry builder on its (hashable) arguments: layers call it with the same sizes every step.

    Only successful results are kept, so a bad call raises again every time.
    """
    def wrapper(op, *args):
        key = [build.__name__, op]
        for a in args:
            if isinstance(a, Tensor):  # a bias: only its shape matters
                a = (-1,) + tuple(a.shape)
            k = _key(a)
            if k is None and a is not None:
                return build(op, *args)
            key.append(k)
        key = tuple(key)
        geom = _CACHE.get(key)
        if geom is None:
            geom = build(op, *args)
            if len(_CACHE) >= _CACHE_LIMIT:
                _CACHE.clear()
            _CACHE[key] = geom
        return geom
    wrapper.__name__, wrapper.__doc__ = build.__name__, build.__doc__
    return wrapper


def expand_param(value, name, dim):
    """An int or a sequence of ints as a tuple of ``dim`` ints (a 1-element sequence is repeated)."""
    if isinstance(value, Tensor):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        vals = [int(v) for v in value]
        if len(vals) == 1:
            vals = vals * dim
        elif len(vals) != dim:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {dim} values to "
                               f"match the convolution dimensions, but got {name}={vals}")
        return tuple(vals)
    return (int(value),) * dim


def check_pair_dtypes(op, input, weight, bias):
    """Input, weight and bias must be tensors of one non-bool dtype, on one device."""
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{op}(): argument 'bias' must be Tensor, not {type(bias).__name__}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"{op}: expected scalar type {_name(input)} but found {_name(weight)} "
                           f"(input is {input.dtype}, weight is {weight.dtype})")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"{op}: Input type ({_name(input)}) and bias type ({_name(bias)}) should be the same")
    if input._data.dtype.kind == "b":
        raise RuntimeError(f"{op}: not implemented for 'Bool' tensors")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.device != input.device:
            raise RuntimeError(f"{op}: expected all tensors to be on the same device, but found input on "
                               f"{input.device} and {name} on {t.device}")


def _name(t):
    return dtypes.torch_name(t._data.dtype)


def _check_input_rank(op, dim, in_shape):
    if len(in_shape) not in (dim + 1, dim + 2):
        raise RuntimeError(f"Expected {dim + 1}D (unbatched) or {dim + 2}D (batched) input to {op}, but got "
                           f"input of size: {list(in_shape)}")


def _check_weight_rank(op, dim, w_shape, transposed):
    if len(w_shape) != dim + 2:
        chans = "(in_channels, out_channels/groups" if transposed else "(out_channels, in_channels/groups"
        raise RuntimeError(f"{op}: expected weight to be {dim + 2}-dimensional {chans}, kernel...), but got "
                           f"weight of size {list(w_shape)}")


def _check_common(stride, dilation, groups):
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")


def _padding(padding, dim, kernel, dilation, stride):
    """Per-dimension (before, after) padding from an int, a sequence, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * dim
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        # an odd total goes to the far side, as PyTorch does for even kernels
        return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]
    pads = expand_param(padding, "padding", dim)
    if any(p < 0 for p in pads):
        raise RuntimeError("negative padding is not supported")
    return [(p, p) for p in pads]


def _as_2d(dim, kernel, stride, pads, dilation, in_size, out_size, groups):
    """Lift 1-D sizes to the 2-D geometry (height 1) the kernels run on."""
    if dim == 1:
        kernel, stride, dilation = (1,) + kernel, (1,) + stride, (1,) + dilation
        pads, in_size, out_size = [(0, 0)] + pads, (1,) + in_size, (1,) + out_size
    flat = (pads[0][0], pads[0][1], pads[1][0], pads[1][1])
    return ConvGeometry(tuple(kernel), tuple(stride), flat, tuple(dilation), groups, tuple(in_size),
                        tuple(out_size))


@cached
def conv_geometry(op, dim, in_shape, w_shape, bias, stride, padding, dilation, groups):
    """Check a convolution's arguments against PyTorch's rules and return its geometry."""
    _check_input_rank(op, dim, in_shape)
    _check_weight_rank(op, dim, w_shape, False)
    stride = expand_param(stride, "stride", dim)
    dilation = expand_param(dilation, "dilation", dim)
    groups = int(groups)
    _check_common(stride, dilation, groups)
    kernel = tuple(w_shape[2:])
    pads = _padding(padding, dim, kernel, dilation, stride)
    batch_shape = tuple(in_shape) if len(in_shape) == dim + 2 else (1,) + tuple(in_shape)
    out_ch, in_per_group = w_shape[0], w_shape[1]
    if out_ch % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size {list(w_shape)} instead")
    if batch_shape[1] != in_per_group * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(w_shape)}, expected input"
                           f"{list(batch_shape)} to have {in_per_group * groups} channels, but got "
                           f"{batch_shape[1]} channels instead")
    if bias is not None and tuple(bias.shape) != (out_ch,):
        raise RuntimeError(f"Given weight of size {list(w_shape)}, expected bias to be 1-dimensional with "
                           f"{out_ch} elements, but got bias of size {list(bias.shape)} instead")
    spatial = batch_shape[2:]
    padded = tuple(s + a + b for s, (a, b) in zip(spatial, pads))
    effective = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(p < e for p, e in zip(padded, effective)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                           f"Kernel size: ({' x '.join(map(str, effective))}). Kernel size can't be greater "
                           f"than actual input size")
    out = tuple((p - e) // s + 1 for p, e, s in zip(padded, effective, stride))
    return _as_2d(dim, kernel, stride, pads, dilation, spatial, out, groups)


@cached
def transpose_geometry(op, dim, in_shape, w_shape, bias, stride, padding, output_padding, groups, dilation):
    """Check a transposed convolution's arguments; return the geometry of the convolution it transposes."""
    _check_input_rank(op, dim, in_shape)
    _check_weight_rank(op, dim, w_shape, True)
    stride = expand_param(stride, "stride", dim)
    dilation = expand_param(dilation, "dilation", dim)
    out_pad = expand_param(output_padding, "output_padding", dim)
    if isinstance(padding, str):
        raise RuntimeError(f"{op}: padding must be an int or a tuple of ints, not '{padding}'")
    pad = expand_param(padding, "padding", dim)
    groups = int(groups)
    _check_common(stride, dilation, groups)
    if any(p < 0 for p in pad):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in out_pad):
        raise RuntimeError("negative output_padding is not supported")
    batch_shape = tuple(in_shape) if len(in_shape) == dim + 2 else (1,) + tuple(in_shape)
    if w_shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size {list(w_shape)} instead")
    if batch_shape[1] != w_shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(w_shape)}, expected input"
                           f"{list(batch_shape)} to have {w_shape[0]} channels, but got {batch_shape[1]} "
                           f"channels instead")
    out_ch = w_shape[1] * groups
    if bias is not None and tuple(bias.shape) != (out_ch,):
        raise RuntimeError(f"Given transposed=1, weight of size {list(w_shape)}, expected bias to be "
                           f"1-dimensional with {out_ch} elements, but got bias of size {list(bias.shape)} "
                           f"instead")
    if any(o >= s and o >= d for o, s, d in zip(out_pad, stride, dilation)):
        names = ("height", "width") if dim == 2 else ("width",)
        parts = [f"output_padding_{n}: {o}" for n, o in zip(names, out_pad)]
        parts += [f"stride_{n}: {s}" for n, s in zip(names, stride)]
        parts += [f"dilation_{n}: {d}" for n, d in zip(names, dilation)]
        raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                           + " ".join(parts))
    kernel = tuple(w_shape[2:])
    spatial = batch_shape[2:]
    out = tuple((i - 1) * s - 2 * p + d * (k - 1) + o + 1
                for i, s, p, d, k, o in zip(spatial, stride, pad, dilation, kernel, out_pad))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, spatial))}). Calculated output "
                           f"size per channel: ({' x '.join(map(str, out))}). Output size is too small")
    return _as_2d(dim, kernel, stride, [(p, p) for p in pad], dilation, out, spatial, groups)


@cached
def fold_geometry(op, spatial, kernel_size, dilation, padding, stride):
    """Geometry of ``unfold``/``fold`` over an image of ``spatial`` (H, W) size (all arguments pairs)."""
    spatial = expand_param(spatial, "output_size" if op == "fold" else "input size", 2)
    kernel = expand_param(kernel_size, "kernel_size", 2)
    dilation = expand_param(dilation, "dilation", 2)
    pad = expand_param(padding, "padding", 2)
    stride = expand_param(stride, "stride", 2)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op}: kernel size should be greater than zero, but got kernel_size={kernel}")
    _check_common(stride, dilation, 1)
    if any(p < 0 for p in pad):
        raise RuntimeError(f"{op}: padding should be non-negative, but got padding={pad}")
    blocks = tuple((s + 2 * p - d * (k - 1) - 1) // st + 1
                   for s, p, d, k, st in zip(spatial, pad, dilation, kernel, stride))
    if any(b < 1 for b in blocks):
        raise RuntimeError(f"Given input with spatial size {spatial}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={pad}, calculated shape of the array of sliding blocks as {blocks}, but its "
                           f"components must be at least one.")
    return ConvGeometry(kernel, stride, (pad[0], pad[0], pad[1], pad[1]), dilation, 1, spatial, blocks)


def span(n_out, stride, shift, size):
    """Along one axis, the outputs whose window tap ``shift + o * stride`` lands inside ``[0, size)``.

    Returns ``(outputs, inputs)``, two slices that pair those outputs with the
    input positions they read, or None when every tap falls in the padding.
    Kernels use it to touch only real pixels, so no padded copy is needed.
    """
    lo = max(0, -(shift // stride))  # ceil(-shift / stride)
    hi = min(n_out, (size - 1 - shift) // stride + 1)
    if hi <= lo:
        return None
    start = lo * stride + shift
    return slice(lo, hi), slice(start, start + (hi - lo - 1) * stride + 1, stride)


def taps(kernel, stride, dilation, pads_before, in_size, out_size):
    """Per kernel offset ``(i, j)``: ``(i, j, out_rows, out_cols, in_rows, in_cols)`` of its in-bounds taps."""
    for i in range(kernel[0]):
        rows = span(out_size[0], stride[0], i * dilation[0] - pads_before[0], in_size[0])
        if rows is None:
            continue
        for j in range(kernel[1]):
            cols = span(out_size[1], stride[1], j * dilation[1] - pads_before[1], in_size[1])
            if cols is not None:
                yield i, j, rows[0], cols[0], rows[1], cols[1]
