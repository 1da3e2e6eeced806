"""Gradient clipping: rescale gradients by their total norm, or clamp them elementwise.

Both work in place on ``p.grad`` of the given parameters, like PyTorch's, and
run on the arrays directly (no graph, no host round trip for the norm).

Example::

    >>> import distgrad
    >>> from distgrad.nn.utils import clip_grad_norm_
    >>> p = distgrad.nn.Parameter(distgrad.zeros(2))
    >>> p.grad = distgrad.tensor([3.0, 4.0])
    >>> clip_grad_norm_([p], max_norm=1.0)
    tensor(5.)
    >>> [round(v, 4) for v in p.grad.tolist()]
    [0.6, 0.8]
"""
import math

from distgrad import backend
from distgrad.autograd.raw import array_of, bump_version
from distgrad.autograd.tensor import Tensor
from distgrad.creation import tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _norm(xp, a, p):
    """The p-norm of array ``a`` (all elements) as a 0-d array of ``a``'s dtype."""
    a = a.reshape(-1)
    if a.size == 0:
        out = 0.0
    elif p == math.inf:
        out = xp.abs(a).max()
    elif p == -math.inf:
        out = xp.abs(a).min()
    elif p == 0:
        out = (a != 0).sum()
    elif p == 2:
        out = xp.sqrt((a * a).sum())
    else:
        out = (xp.abs(a) ** p).sum() ** (1.0 / p)
    return xp.asarray(out, dtype=a.dtype)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients so that their joint norm is at most ``max_norm`` (``torch.nn.utils.clip_grad_norm_``).

    The norm is taken over all gradients together, as if concatenated into one
    vector; gradients are multiplied by ``min(1, max_norm / (norm + 1e-6))``.
    Returns the total norm (before clipping) as a tensor.
    """
    grads = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return tensor(0.0)
    first = array_of(grads[0])
    xp, dev = backend.get_array_module(first), backend.device_of(first)
    arrays = [array_of(g) for g in grads]
    norms = xp.stack([backend.to_device(_norm(backend.get_array_module(a), a, norm_type), dev)
                      for a in arrays]).astype(first.dtype, copy=False)
    total = _norm(xp, norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    coef = xp.asarray(xp.minimum(max_norm / (total + 1e-6), 1.0))
    for g, d in zip(grads, arrays):
        d *= backend.to_device(coef, backend.device_of(d)).astype(d.dtype)
        bump_version(g)
    return Tensor._make(xp.asarray(total, dtype=first.dtype))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place.

    PyTorch's ``torch.nn.utils.clip_grad_value_``.
    """
    clip_value = float(clip_value)
    for g in _grads(parameters):
        d = array_of(g)
        backend.get_array_module(d).clip(d, -clip_value, clip_value, out=d)
        bump_version(g)
