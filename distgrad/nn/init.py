"""Parameter initialisation schemes (``torch.nn.init``), filling tensors in place.

Every function works under ``no_grad`` (so it can fill a Parameter that
requires grad), draws from distgrad's seeded generator unless given
``generator=``, and returns the tensor it filled.

Example::

    >>> import distgrad
    >>> from distgrad.nn import init
    >>> w = distgrad.empty(3, 5)
    >>> _ = init.kaiming_uniform_(w, a=5 ** 0.5)
    >>> bool((w.abs() <= 1 / 5 ** 0.5).all())
    True
"""
import math
import warnings

from distgrad import random
from distgrad.autograd.grad_mode import no_grad
from distgrad.autograd.raw import array_of, bump_version
from distgrad.autograd.tensor import Tensor

_LINEAR_LIKE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (e.g. sqrt(2) for relu, 5/3 for tanh); ``torch.nn.init.calculate_gain``.

    Example::

        >>> round(calculate_gain("leaky_relu", 0.2), 4)
        1.3868
    """
    if nonlinearity in _LINEAR_LIKE:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _check(fn, tensor):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{fn}: expected a Tensor, got {type(tensor).__name__}")


def _write(tensor, array):
    """Store ``array`` into ``tensor`` in place (a change of version, like any in-place op)."""
    data = array_of(tensor)
    data[...] = array.astype(data.dtype, copy=False)
    bump_version(tensor)
    return tensor


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b) in place (``torch.nn.init.uniform_``)."""
    _check("uniform_", tensor)
    with no_grad():
        return _write(tensor, random.uniform_array(tensor.shape, a, b, array_of(tensor).dtype, tensor.device,
                                                   generator))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2) in place (``torch.nn.init.normal_``)."""
    _check("normal_", tensor)
    with no_grad():
        return _write(tensor, random.normal_array(tensor.shape, mean, std, array_of(tensor).dtype, tensor.device,
                                                  generator))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) conditioned on lying in [a, b] (``torch.nn.init.trunc_normal_``).

    Rejection sampling, so the draw is exact rather than clipped.
    """
    _check("trunc_normal_", tensor)
    if not a < b:
        raise ValueError(f"trunc_normal_: the lower bound a={a} must be below the upper bound b={b}")
    with no_grad():
        xp = tensor._xp()
        n = tensor.numel()
        out = xp.empty(n, dtype="float64")
        filled = 0
        for _ in range(1000):
            if filled == n:
                break
            draw = random.normal_array((max(2 * (n - filled), 16),), mean, std, "float64", tensor.device, generator)
            draw = draw[(draw >= a) & (draw <= b)][: n - filled]
            out[filled:filled + draw.shape[0]] = draw
            filled += int(draw.shape[0])
        if filled < n:  # [a, b] holds almost no mass: fall back to a uniform fill of the interval
            out[filled:] = random.uniform_array((n - filled,), a, b, "float64", tensor.device, generator)
        return _write(tensor, out.reshape(tuple(tensor.shape)))


def constant_(tensor, val):
    """Fill with the value ``val`` in place (``torch.nn.init.constant_``)."""
    _check("constant_", tensor)
    with no_grad():
        array_of(tensor)[...] = val
        bump_version(tensor)
        return tensor


def ones_(tensor):
    """Fill with ones in place (``torch.nn.init.ones_``)."""
    return constant_(tensor, 1.0)


def zeros_(tensor):
    """Fill with zeros in place (``torch.nn.init.zeros_``)."""
    return constant_(tensor, 0.0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity, ones on the diagonal (``torch.nn.init.eye_``)."""
    _check("eye_", tensor)
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    with no_grad():
        return _write(tensor, tensor._xp().eye(*tensor.shape))


def default_weight_and_bias_(weight, bias):
    """PyTorch's default initialisation of Linear and Conv layers (their ``reset_parameters``).

    kaiming_uniform_(a=sqrt(5)) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    for the bias (zeros when fan_in is 0), so a layer starts from the same
    distribution as its PyTorch twin.
    """
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out): input and output features times the receptive field (for conv kernels)."""
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Fill with U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (``torch.nn.init.xavier_uniform_``)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Fill with N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)) (``torch.nn.init.xavier_normal_``)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(fn, tensor, a, mode, nonlinearity):
    _check(fn, tensor)
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op")
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Fill with U(-bound, bound), bound = gain * sqrt(3 / fan) (``torch.nn.init.kaiming_uniform_``)."""
    std = _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Fill with N(0, std^2), std = gain / sqrt(fan) (``torch.nn.init.kaiming_normal_``)."""
    std = _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """Fill with a (semi-)orthogonal matrix scaled by ``gain`` (``torch.nn.init.orthogonal_``).

    Trailing dimensions are flattened, as in PyTorch.
    """
    _check("orthogonal_", tensor)
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    with no_grad():
        xp = tensor._xp()
        flat = random.normal_array((rows, cols), 0.0, 1.0, "float64", tensor.device, generator)
        if rows < cols:
            flat = flat.T
        q, r = xp.linalg.qr(flat)
        q = q * xp.sign(xp.diag(r))  # makes the decomposition unique, so q is Haar-distributed
        if rows < cols:
            q = q.T
        return _write(tensor, (gain * q).reshape(tuple(tensor.shape)))


# PyTorch's deprecated non-underscore aliases
uniform, normal, constant = uniform_, normal_, constant_
xavier_uniform, xavier_normal = xavier_uniform_, xavier_normal_
kaiming_uniform, kaiming_normal, orthogonal = kaiming_uniform_, kaiming_normal_, orthogonal_
