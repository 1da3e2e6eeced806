"""Functional normalisation: ``batch_norm``, ``layer_norm``, ``group_norm``.

All three check their arguments (naming the op and the shapes), work out
which axes the statistics run over, and hand the work to the single fused
:class:`~distgrad.autograd.ops.normalization.Normalize` op.  ``batch_norm``
in training mode also updates the running averages in place, with the
unbiased batch variance, exactly as PyTorch does.

Example::

    >>> import distgrad
    >>> import distgrad.nn.functional as F
    >>> x = distgrad.tensor([[1.0, 2.0], [3.0, 6.0]])
    >>> F.layer_norm(x, (2,), eps=0.0)
    tensor([[-1.,  1.],
            [-1.,  1.]])
"""
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.normalization import Normalize, moments
from distgrad.autograd.raw import array_of, bump_version
from distgrad.autograd.tensor import Tensor


def _check_param(op, name, t, size, x):
    if t is None:
        return None
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if t.numel() != size:
        raise RuntimeError(f"{op}: {name} should contain {size} elements, not {t.numel()} (input shape "
                           f"{tuple(x.shape)})")
    if t.dtype is not x.dtype:
        t = to(t, x.dtype)
    return t


def _check_input(op, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if not input.is_floating_point():
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-05):
    """Normalise each channel (dim 1) over the batch and spatial dims (``torch.nn.functional.batch_norm``).

    In training mode uses the batch statistics and, when running buffers are
    given, blends the batch mean and unbiased variance into them with
    ``momentum``; otherwise uses the running statistics.
    """
    _check_input("batch_norm", input)
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dimensions (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    c = input.shape[1]
    weight = _check_param("batch_norm", "weight", weight, c, input)
    bias = _check_param("batch_norm", "bias", bias, c, input)
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"batch_norm: {name} should contain {c} elements not {t.numel()} (input shape "
                               f"{tuple(input.shape)})")
    axes = (0,) + tuple(range(2, input.ndim))
    affine = (1, c) + (1,) * (input.ndim - 2)
    x = array_of(input)
    if training:
        n = input.numel() // max(c, 1)
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{input.shape}")
        mean, var, invstd = moments(x, axes, eps)
        if running_mean is not None:
            m = float(momentum)
            rm = array_of(running_mean)
            rm *= 1 - m
            rm += (m * mean.reshape(c)).astype(rm.dtype, copy=False)
            bump_version(running_mean)
        if running_var is not None:
            m = float(momentum)
            rv = array_of(running_var)
            rv *= 1 - m
            rv += (m * var.reshape(c) * (n / (n - 1))).astype(rv.dtype, copy=False)
            bump_version(running_var)
        return Normalize.apply(input, weight, bias, mean, invstd, axes, eps, True, affine)
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode")
    xp = input._xp()
    mean = array_of(running_mean).reshape(affine).astype(x.dtype, copy=False)
    invstd = (1.0 / xp.sqrt(array_of(running_var).reshape(affine) + eps)).astype(x.dtype, copy=False)
    return Normalize.apply(input, weight, bias, mean, invstd, axes, eps, False, affine)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalise over the trailing ``normalized_shape`` dims of each sample (``torch.nn.functional.layer_norm``)."""
    _check_input("layer_norm", input)
    shape = (int(normalized_shape),) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"layer_norm: Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size{list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"layer_norm: Expected {name} to be of same shape as normalized_shape, but got "
                               f"{name} of shape {list(t.shape)} and normalized_shape = {list(shape)}")
    if weight is not None and weight.dtype is not input.dtype:
        weight = to(weight, input.dtype)
    if bias is not None and bias.dtype is not input.dtype:
        bias = to(bias, input.dtype)
    axes = tuple(range(input.ndim - k, input.ndim))
    mean, _, invstd = moments(array_of(input), axes, eps)
    return Normalize.apply(input, weight, bias, mean, invstd, axes, eps, True, None)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Normalise each sample over groups of ``C // num_groups`` channels (``torch.nn.functional.group_norm``).

    Each group's statistics cover its channels and all spatial positions.
    """
    _check_input("group_norm", input)
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected an input of at least 2 dimensions (N, C, ...), got shape "
                           f"{tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"group_norm: Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(input.shape)} and num_groups={num_groups}")
    weight = _check_param("group_norm", "weight", weight, c, input)
    bias = _check_param("group_norm", "bias", bias, c, input)
    spatial = tuple(input.shape[2:])
    grouped = input.reshape((n, num_groups, c // num_groups) + spatial)
    axes = tuple(range(2, grouped.ndim))
    affine = (1, num_groups, c // num_groups) + (1,) * len(spatial)
    mean, _, invstd = moments(array_of(grouped), axes, eps)
    out = Normalize.apply(grouped, weight, bias, mean, invstd, axes, eps, True, affine)
    return out.reshape(input.shape)
