"""Schedulers that anneal the lr along a curve: ``CosineAnnealingLR``, ``LinearLR``, ``PolynomialLR``.

Each is chainable (it moves the group's current lr by the ratio between two
consecutive points of its curve), exactly as PyTorch computes it, so a
schedule matches PyTorch's step for step; ``step(epoch)`` uses the closed form.

Example::

    >>> import distgrad
    >>> from distgrad.optim.lr_scheduler import CosineAnnealingLR
    >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = CosineAnnealingLR(opt, T_max=2)
    >>> for _ in range(2):
    ...     opt.step(); sched.step()
    >>> sched.get_last_lr()
    [0.0]
"""
import math

from distgrad.optim.lr_scheduler.base import LRScheduler, group_values


class CosineAnnealingLR(LRScheduler):
    """Anneal the lr from ``initial_lr`` to ``eta_min`` along half a cosine over ``T_max`` epochs.

    With SGDR's formula ``eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``, computed
    recursively from the current lr (PyTorch's chainable form); past ``T_max`` it climbs back up.

    Args:
        optimizer: the wrapped optimizer.
        T_max: number of epochs of the descent.
        eta_min: the lowest lr (default 0).
        last_epoch: index of the last epoch (default -1).

    Example::

        >>> import distgrad
        >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=0.1)
        >>> sched = CosineAnnealingLR(opt, T_max=100, eta_min=1e-5)
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_if_outside_step()
        groups = self.optimizer.param_groups
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        if self._step_count == 1 and self.last_epoch > 0:
            return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(self.last_epoch * math.pi / self.T_max))
                    / 2 for base_lr in self.base_lrs]
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            # At the bottom of the curve the ratio below would divide by zero: step up from eta_min instead.
            return [g["lr"] + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                    for base_lr, g in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * self.last_epoch / self.T_max))
                / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))
                * (g["lr"] - self.eta_min) + self.eta_min for g in groups]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the lr by a factor moving linearly from ``start_factor`` to ``end_factor`` over ``total_iters``.

    Args:
        optimizer: the wrapped optimizer.
        start_factor: factor at epoch 0, in (0, 1] (default 1/3).
        end_factor: factor from epoch ``total_iters`` on, in [0, 1] (default 1).
        total_iters: number of epochs of the ramp (default 5).
        last_epoch: index of the last epoch (default -1).

    Example::

        >>> import distgrad
        >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=0.1)
        >>> warmup = LinearLR(opt, start_factor=0.01, total_iters=10)
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_if_outside_step()
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [g["lr"] * self.start_factor for g in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return group_values(self.optimizer, "lr")
        span = self.end_factor - self.start_factor
        ratio = 1.0 + span / (self.total_iters * self.start_factor + (self.last_epoch - 1) * span)
        return [g["lr"] * ratio for g in groups]

    def _get_closed_form_lr(self):
        span = self.end_factor - self.start_factor
        return [base_lr * (self.start_factor + span * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay the lr as ``initial_lr * (1 - epoch / total_iters) ** power`` until ``total_iters``.

    Example::

        >>> import distgrad
        >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=0.1)
        >>> sched = PolynomialLR(opt, total_iters=4, power=2.0)
    """

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_if_outside_step()
        if self._is_initial or self.last_epoch > self.total_iters:
            return group_values(self.optimizer, "lr")
        factor = ((1.0 - self.last_epoch / self.total_iters)
                  / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [g["lr"] * factor for g in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for base_lr in self.base_lrs]
