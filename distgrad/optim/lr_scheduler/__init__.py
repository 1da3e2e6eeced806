"""``distgrad.optim.lr_scheduler``: learning-rate schedules, as ``torch.optim.lr_scheduler``.

Create a scheduler over an optimizer and call ``scheduler.step()`` after
``optimizer.step()`` (per epoch, or per batch for ``OneCycleLR``);
``ReduceLROnPlateau.step(metric)`` takes the monitored value.

Example::

    >>> import distgrad
    >>> from distgrad.optim.lr_scheduler import ExponentialLR
    >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = ExponentialLR(opt, gamma=0.5)
    >>> opt.step(); sched.step(); sched.get_last_lr()
    [0.5]
"""
from distgrad.optim.lr_scheduler.annealing import CosineAnnealingLR, LinearLR, PolynomialLR
from distgrad.optim.lr_scheduler.base import LRScheduler, _LRScheduler  # noqa: F401
from distgrad.optim.lr_scheduler.cyclic import CosineAnnealingWarmRestarts, CyclicLR
from distgrad.optim.lr_scheduler.decay import (ConstantLR, ExponentialLR, LambdaLR, MultiplicativeLR,
                                               MultiStepLR, StepLR)
from distgrad.optim.lr_scheduler.one_cycle import OneCycleLR
from distgrad.optim.lr_scheduler.plateau import ReduceLROnPlateau
from distgrad.optim.lr_scheduler.sequential import ChainedScheduler, SequentialLR

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "SequentialLR", "CosineAnnealingLR", "ChainedScheduler", "ReduceLROnPlateau",
           "CyclicLR", "CosineAnnealingWarmRestarts", "OneCycleLR", "PolynomialLR"]
