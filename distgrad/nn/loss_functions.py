"""Functional losses: regression, classification and divergence losses with PyTorch's semantics.

Every loss takes ``reduction`` = ``"none" | "mean" | "sum"`` (and the legacy
``size_average``/``reduce`` flags).  Class-index losses go through fused ops
(:mod:`distgrad.autograd.ops.loss`); the elementwise ones are short Tensor
expressions.  Bad input raises before anything is computed, naming the loss
and the shapes involved.

Example::

    >>> import distgrad
    >>> import distgrad.nn.functional as F
    >>> F.mse_loss(distgrad.tensor([1.0, 3.0]), distgrad.tensor([0.0, 0.0]))
    tensor(5.)
"""
import warnings

import numpy as np  # host-side shape arithmetic only

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.ops.activation import softplus
from distgrad.autograd.ops.arithmetic import where
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.loss import BinaryCrossEntropy, CrossEntropyIndex, NllLoss
from distgrad.autograd.ops.softmax import log_softmax
from distgrad.autograd.raw import array_of
from distgrad.autograd.tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")


def legacy_reduction(size_average, reduce, reduction):
    """Map the deprecated ``size_average``/``reduce`` flags onto ``reduction`` (as PyTorch does)."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='{}' instead.".format(
        ("mean" if size_average in (None, True) else "sum") if reduce in (None, True) else "none"),
        stacklevel=3)
    if reduce is False:
        return "none"
    return "mean" if size_average in (None, True) else "sum"


def _check_reduction(reduction, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _tensors(op, **named):
    for name, t in named.items():
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")


def _pointwise_pair(op, input, target):
    """Warn on a broadcasting target, check it broadcasts, return both at a common float dtype."""
    _tensors(op, input=input, target=target)
    if input.shape != target.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)
        try:
            np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
        except ValueError:
            raise RuntimeError(f"{op}: The size of input {tuple(input.shape)} and target {tuple(target.shape)} "
                               "cannot be broadcast together") from None
    return input, target


def _weighted(op, loss, weight, input, reduction, mean_by_weight):
    if weight is None:
        return _reduce(loss, reduction)
    if weight.shape != input.shape:
        raise ValueError(f"{op}: Weights and input must have the same size (weight {tuple(weight.shape)}, input "
                         f"{tuple(input.shape)}).")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``(input - target)^2`` (``torch.nn.functional.mse_loss``)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    input, target = _pointwise_pair("mse_loss", input, target)
    d = input - target
    return _weighted("mse_loss", d * d, weight, input, reduction, True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error ``|input - target|`` (``torch.nn.functional.l1_loss``)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    input, target = _pointwise_pair("l1_loss", input, target)
    return _weighted("l1_loss", (input - target).abs(), weight, input, reduction, True)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``torch.nn.functional.smooth_l1_loss``).

    Plain L1 when beta is 0.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta (got {beta}).")
    input, target = _pointwise_pair("smooth_l1_loss", input, target)
    a = (input - target).abs()
    if beta == 0:
        return _reduce(a, reduction)
    return _reduce(where(a < beta, (0.5 / beta) * a * a, a - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """``0.5 d^2`` where ``|d| <= delta``, else ``delta (|d| - 0.5 delta)`` (``torch.nn.functional.huber_loss``)."""
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta (got {delta}).")
    input, target = _pointwise_pair("huber_loss", input, target)
    a = (input - target).abs()
    loss = where(a < delta, 0.5 * a * a, delta * (a - 0.5 * delta))
    return _weighted("huber_loss", loss, weight, input, reduction, False)


def _class_weight(op, weight, c, like):
    if weight is None:
        return None
    _tensors(op, weight=weight)
    if weight.ndim != 1 or weight.shape[0] != c:
        raise RuntimeError(f"{op}: weight tensor should be defined either for all {c} classes or no classes but "
                           f"got weight tensor of shape: {list(weight.shape)}")
    return array_of(weight).astype(array_of(like).dtype, copy=False)


def _class_layout(op, input, target):
    """Check class-index targets against ``input`` (C,), (N, C) or (N, C, d1, ...); return (scores, idx, C)."""
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have at least 1 dimension (classes), got a 0-d tensor")
    if target.dtype.is_floating_point or target.dtype is dtypes.bool_:
        raise RuntimeError(f"{op}: expected target of integer dtype (class indices) but found {target.dtype}")
    if input.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError(f"{op}: for an unbatched input of shape {tuple(input.shape)} the target must be "
                               f"0-d, got shape {tuple(target.shape)}")
        scores, c = input.reshape(1, -1), input.shape[0]
    else:
        c = input.shape[1]
        if target.ndim == 0 or target.shape[0] != input.shape[0]:
            raise ValueError(f"{op}: Expected input batch_size ({input.shape[0]}) to match target batch_size "
                             f"({target.shape[0] if target.ndim else 'none, 0-d target'}); input shape "
                             f"{tuple(input.shape)}, target shape {tuple(target.shape)}")
        expect = (input.shape[0],) + tuple(input.shape[2:])
        if tuple(target.shape) != expect:
            raise RuntimeError(f"{op}: Expected target size {list(expect)}, got {list(target.shape)} (input shape "
                               f"{tuple(input.shape)})")
        scores = input if input.ndim == 2 else input.movedim(1, -1).reshape(-1, c)
    idx = array_of(target).reshape(-1)
    if idx.dtype != dtypes.int64.np:
        idx = idx.astype(dtypes.int64.np)
    return scores, idx, c


def _check_targets(op, idx, c, ignore_index):
    """Class indices must lie in [0, C) unless they equal ignore_index (checked on the host)."""
    if idx.size == 0:
        return
    if 0 <= int(idx.min()) and int(idx.max()) < c:
        return
    xp = backend.get_array_module(idx)
    bad = (idx != ignore_index) & ((idx < 0) | (idx >= c))
    if bool(bad.any()):
        first = int(idx[xp.argmax(bad)])
        raise IndexError(f"{op}: Target {first} is out of bounds for {c} classes (valid class indices are "
                         f"0..{c - 1}, ignore_index={ignore_index})")


def _class_output(loss, target, reduction):
    return loss.reshape(target.shape) if reduction == "none" else loss


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy of logits ``input`` against class indices or probabilities (``torch.nn.functional.cross_entropy``).

    Indices: ``target`` has the input's shape without the class dim (dim 1);
    probabilities: ``target`` has the input's shape.  ``label_smoothing``
    mixes the target with the uniform distribution.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _tensors("cross_entropy", input=input, target=target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if not input.is_floating_point():
        raise RuntimeError(f"cross_entropy: expected a floating point input, got {input.dtype}")
    if target.is_floating_point() and target.shape == input.shape:
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    scores, idx, c = _class_layout("cross_entropy", input, target)
    w = _class_weight("cross_entropy", weight, c, input)
    _check_targets("cross_entropy", idx, c, ignore_index)
    loss = CrossEntropyIndex.apply(scores, idx, w, int(ignore_index), float(label_smoothing), reduction)
    return _class_output(loss, target, reduction)


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing):
    dim = 1 if input.ndim > 1 else 0
    c = input.shape[dim]
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / c
    terms = log_softmax(input, dim) * target
    if weight is not None:
        w = _class_weight("cross_entropy", weight, c, input)
        terms = terms * Tensor._make(w.reshape((c,) + (1,) * (input.ndim - dim - 1)))
    loss = -terms.sum(dim)
    if reduction == "mean":
        return loss.sum() / max(input.numel() // c, 1) if input.numel() else loss.sum() * float("nan")
    return _reduce(loss, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of class indices, given log-probabilities (``torch.nn.functional.nll_loss``)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _tensors("nll_loss", input=input, target=target)
    scores, idx, c = _class_layout("nll_loss", input, target)
    w = _class_weight("nll_loss", weight, c, input)
    _check_targets("nll_loss", idx, c, ignore_index)
    loss = NllLoss.apply(scores, idx, w, int(ignore_index), reduction)
    return _class_output(loss, target, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross entropy of probabilities ``input`` (``torch.nn.functional.binary_cross_entropy``).

    Each log is clamped at -100, as in PyTorch.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _tensors("binary_cross_entropy", input=input, target=target, weight=weight)
    if target.shape != input.shape:
        raise ValueError(f"binary_cross_entropy: Using a target size ({target.shape}) that is different to the "
                         f"input size ({input.shape}) is deprecated. Please ensure they have the same size.")
    x = array_of(input)
    if x.size and bool(((x < 0) | (x > 1)).any()):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")
    if target.dtype is not input.dtype:
        target = to(target, input.dtype)
    w = None
    if weight is not None:
        try:
            np.broadcast_shapes(tuple(weight.shape), tuple(input.shape))
        except ValueError:
            raise RuntimeError(f"binary_cross_entropy: weight of shape {tuple(weight.shape)} does not broadcast to "
                               f"the input shape {tuple(input.shape)}") from None
        w = input._xp().broadcast_to(array_of(weight).astype(x.dtype, copy=False), tuple(input.shape))
    return _reduce(BinaryCrossEntropy.apply(input, target, w), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Sigmoid + binary cross entropy in one stable expression (PyTorch's ``F.binary_cross_entropy_with_logits``).

    ``pos_weight`` weighs the positive targets.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _tensors("binary_cross_entropy_with_logits", input=input, target=target, weight=weight, pos_weight=pos_weight)
    if target.shape != input.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: Target size ({target.shape}) must be the same as "
                         f"input size ({input.shape})")
    if target.dtype is not input.dtype:
        target = to(target, input.dtype)
    # (1 - t) x + lw * softplus(-x), with lw = 1 + (pos_weight - 1) t
    sp = softplus(-input, 1.0, float("inf"))
    if pos_weight is not None:
        sp = sp * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence ``target * (log target - input)`` of log-probabilities ``input`` (``torch.nn.functional.kl_div``).

    ``reduction="batchmean"`` divides the sum by the batch size (the
    mathematical KL); ``"mean"`` divides by the number of elements.
    """
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    _check_reduction(reduction, _REDUCTIONS + ("batchmean",))
    _tensors("kl_div", input=input, target=target)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target > 0
        safe = where(positive, target, 1.0)
        loss = target * safe.log() - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)
