"""Dropout: ``F.dropout`` and the channel-wise ``F.dropout1d``, ``F.dropout2d``, ``F.dropout3d``.

A draw of the seeded generator makes a 0 / (1 / (1 - p)) mask; the input is
multiplied by it, so the expected value is unchanged and the gradient flows
through the same mask.  The channel-wise forms draw one value per (sample,
channel) and broadcast it over the spatial dimensions.  Attention uses
``dropout`` too, which is why it lives apart from ``functional``.

Example::

    >>> import distgrad
    >>> import distgrad.nn.functional as F
    >>> F.dropout(distgrad.ones(3), p=0.5, training=False)
    tensor([1., 1., 1.])
"""
import warnings

from distgrad import backend, random
from distgrad.autograd.raw import array_of
from distgrad.autograd.tensor import Tensor


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) (training only).

    Example::

        >>> x = distgrad.ones(1000)
        >>> y = F.dropout(x, 0.5)
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
    """
    if not isinstance(p, (int, float)) or isinstance(p, bool) or p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout(): argument 'input' must be Tensor, not {type(input).__name__}")
    return _masked_dropout(input, p, training, inplace, tuple(input.shape))


def _masked_dropout(input, p, training, inplace, mask_shape):
    """Multiply by a 0 / (1/(1-p)) mask of ``mask_shape`` (broadcast over the rest of the input)."""
    if not training or p == 0:
        return input
    mask = Tensor._make(keep_mask(mask_shape, p, array_of(input)))
    return input.mul_(mask) if inplace else input * mask


def keep_mask(shape, p, like):
    """A raw array of ``shape`` on ``like``'s device and dtype: 0 with probability ``p``, else 1 / (1 - p)."""
    dtype = like.dtype
    if p == 1:
        return backend.get_array_module(like).zeros(shape, dtype=dtype)
    u = random.uniform_array(shape, 0.0, 1.0, dtype, backend.device_of(like))
    return (u >= p).astype(dtype) * dtype.type(1.0 / (1.0 - p))


def _feature_dropout(op, input, p, training, inplace, ranks):
    """Drop whole channels: one draw per (sample, channel); ``ranks`` = (unbatched, batched) ndim."""
    if not isinstance(p, (int, float)) or isinstance(p, bool) or p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    nd = input.ndim
    if nd not in ranks:
        msg = (f"{op}: Received a {nd}-D input of shape {tuple(input.shape)}; {op} drops whole channels of "
               f"inputs with a channel dimension, {ranks[0] - 1} spatial dimension(s) and an optional batch "
               f"dimension (i.e. {ranks[0]}D or {ranks[1]}D inputs)")
        if op == "dropout1d" or nd < 2:
            raise RuntimeError(msg)
        warnings.warn(msg + "; treating dims 0 and 1 as (N, C)", stacklevel=3)
    # PyTorch reads a 3-D input to dropout2d as (N, C, L), so only the smallest rank is unbatched
    lead = 1 if nd == ranks[0] and op != "dropout2d" else 2
    mask_shape = tuple(input.shape[:lead]) + (1,) * (nd - lead)
    return _masked_dropout(input, p, training, inplace, mask_shape)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero entire channels of (N, C, L) or (C, L) input with probability ``p``."""
    return _feature_dropout("dropout1d", input, p, training, inplace, (2, 3))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero entire channels of (N, C, H, W) input with probability ``p`` (3-D input counts as (N, C, L))."""
    return _feature_dropout("dropout2d", input, p, training, inplace, (3, 4))


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero entire channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""
    return _feature_dropout("dropout3d", input, p, training, inplace, (4, 5))
