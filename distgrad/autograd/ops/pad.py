"""Padding: constant (negative amounts crop), reflect, replicate and circular.

``pad`` lists ``(left, right)`` pairs starting from the last dimension, as in
``torch.nn.functional.pad``.  Constant padding is its own adjoint with the
amounts negated and zero fill, so its backward is the same op again.  The
other modes gather along each padded dimension with an index map; their
backward multiplies by the map's 0/1 matrix, which is a plain matmul on
arrays or on Tensors (so it is differentiable again).

Example::

    >>> import distgrad
    >>> from distgrad.autograd.ops.pad import pad
    >>> pad(distgrad.tensor([[1.0, 2.0]]), (1, 1), value=9.0)
    tensor([[9., 1., 2., 9.]])
"""
from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.tensor import Tensor
from distgrad.autograd.ops.zero_dependency import depends_on

_MODES = ("constant", "reflect", "replicate", "circular")


def _constant_pad(x, widths, value):
    """``widths``: a (before, after) pair per dimension of ``x``; negative amounts crop."""
    xp = backend.get_array_module(x)
    out_shape = tuple(n + a + b for n, (a, b) in zip(x.shape, widths))
    if any(s < 0 for s in out_shape):
        raise RuntimeError(f"pad: the padded size of an input of shape {tuple(x.shape)} would be negative "
                           f"({out_shape})")
    out = xp.full(out_shape, value, dtype=x.dtype)
    src, dst = [], []
    for n, (a, b) in zip(x.shape, widths):
        src.append(slice(max(-a, 0), n - max(-b, 0)))
        dst.append(slice(max(a, 0), max(a, 0) + max(n - max(-a, 0) - max(-b, 0), 0)))
    if all(s.stop > s.start for s in src):
        out[tuple(dst)] = x[tuple(src)]
    return out


class ConstantPad(ArrayFunction):
    """Pads with a constant ``value`` (``torch.nn.functional.pad`` with ``mode='constant'``)."""

    node_name = "ConstantPadNdBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.widths = widths
        return _constant_pad(x, widths, value)

    @staticmethod
    def backward(ctx, g):
        back = tuple((-a, -b) for a, b in ctx.widths)
        if isinstance(g, Tensor):
            return ConstantPad.apply(g, back, 0.0), None, None
        return _constant_pad(g, back, 0), None, None


def _index_map(xp, n, before, after, mode):
    """Source position in ``[0, n)`` of each padded position along one dimension."""
    j = xp.arange(-before, n + after)
    if mode == "replicate":
        return xp.clip(j, 0, n - 1)
    if mode == "circular":
        return j % n
    period = 2 * (n - 1)
    j = xp.abs(j) % period if period else j * 0
    return xp.where(j >= n, period - j, j)


class IndexPad(ArrayFunction):
    """reflect / replicate / circular padding: a gather along each padded dimension."""

    node_name = "PadBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x, widths, mode):
        xp = backend.get_array_module(x)
        source = x
        maps = []
        for d, (a, b) in enumerate(widths):
            if a or b:
                idx = _index_map(xp, x.shape[d], a, b, mode)
                maps.append((d, idx, x.shape[d]))
                x = xp.take(x, idx, axis=d)
        ctx.maps = maps
        ctx.save_for_backward(source)  # PyTorch's reflection/replication backward takes the input
        return x

    @staticmethod
    def backward(ctx, g):
        for d, idx, n in reversed(ctx.maps):
            xp = backend.get_array_module(idx)
            onehot = (idx[:, None] == xp.arange(n)[None, :])
            if isinstance(g, Tensor):
                m = Tensor._make(onehot.astype(g._data.dtype))
                g = (g.movedim(d, -1) @ m).movedim(-1, d)
            else:
                g = xp.moveaxis(xp.moveaxis(g, d, -1) @ onehot.astype(g.dtype), -1, d)
        if isinstance(g, Tensor):
            g = depends_on(g, ctx.saved_tensors[0])
        return g, None, None


def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dimensions of ``input``; see the module docstring."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' must be Tensor, not {type(input).__name__}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    k = len(pad) // 2
    if k > input.ndim:
        raise RuntimeError(f"pad: padding length {len(pad)} is too large for an input of shape "
                           f"{tuple(input.shape)} (at most {2 * input.ndim})")
    if mode not in _MODES:
        raise NotImplementedError(f"pad: unknown padding mode '{mode}' (expected one of {', '.join(_MODES)})")
    widths = [(0, 0)] * (input.ndim - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    widths = tuple(widths)
    if mode == "constant":
        return ConstantPad.apply(input, widths, 0.0 if value is None else value)
    if value not in (None, 0, 0.0):
        raise ValueError(f"pad: padding mode '{mode}' doesn't take in value argument")
    if not 1 <= k <= 3 or input.ndim not in (k + 1, k + 2):
        raise NotImplementedError(f"pad: {mode} padding of the last {k} dimension(s) needs a {k + 1}-D or "
                                  f"{k + 2}-D input, got shape {tuple(input.shape)}")
    for n, (a, b) in zip(input.shape[input.ndim - k:], widths[input.ndim - k:]):
        if min(a, b) < 0:
            raise RuntimeError(f"pad: negative padding is only supported in constant mode, got {pad}")
        if mode == "reflect" and max(a, b) >= n:
            raise RuntimeError(f"pad: padding size should be less than the corresponding input dimension, but "
                               f"got padding ({a}, {b}) for a dimension of size {n} of input "
                               f"{tuple(input.shape)}")
        if mode == "circular" and max(a, b) > n:
            raise RuntimeError(f"pad: padding value causes wrapping around more than once: ({a}, {b}) for a "
                               f"dimension of size {n}")
    return IndexPad.apply(input, widths, mode)
