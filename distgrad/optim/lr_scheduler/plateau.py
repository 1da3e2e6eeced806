"""``ReduceLROnPlateau``: cut the lr when a monitored metric stops improving.

Unlike the other schedulers it is driven by a value: ``step(metric)`` after
each validation.  After more than ``patience`` epochs without a significant
improvement (``threshold`` relative or absolute), every group's lr is
multiplied by ``factor`` (never below ``min_lr``, and only if the change is
larger than ``eps``), then ``cooldown`` epochs pass before counting again.

Example::

    >>> import distgrad
    >>> from distgrad.optim.lr_scheduler import ReduceLROnPlateau
    >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> for loss in [1.0, 1.0, 1.0]:
    ...     sched.step(loss)
    >>> sched.get_last_lr()
    [0.5]
"""
import warnings
from math import inf

from distgrad.optim.lr_scheduler.base import EPOCH_DEPRECATION_WARNING, LRScheduler, group_values, set_group_value
from distgrad.optim.optimizer import Optimizer


class ReduceLROnPlateau(LRScheduler):
    """Reduce the lr when a metric has stopped improving, as ``torch.optim.lr_scheduler.ReduceLROnPlateau``.

    Args:
        optimizer: the wrapped optimizer.
        mode: ``"min"`` (the metric should fall, default) or ``"max"``.
        factor: ``new_lr = lr * factor`` (must be < 1; default 0.1).
        patience: epochs without improvement tolerated before cutting (default 10).
        threshold: how much better counts as better (default 1e-4).
        threshold_mode: ``"rel"`` (``best * (1 -/+ threshold)``, default) or ``"abs"`` (``best -/+ threshold``).
        cooldown: epochs to wait after a cut before counting bad epochs again (default 0).
        min_lr: lower bound on the lr, one value or one per group (default 0).
        eps: skip a cut smaller than this (default 1e-8).

    Example::

        >>> import distgrad
        >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=0.1)
        >>> sched = ReduceLROnPlateau(opt, mode="max", patience=3, threshold=0.01, threshold_mode="abs")
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        self.factor = factor
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = group_values(optimizer, "lr")
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self):
        """Forget the best value and the bad-epoch and cooldown counters."""
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics, epoch=None):
        """Record this epoch's metric (a number or a 1-element tensor) and cut the lr if it has plateaued."""
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr(epoch)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = group_values(self.optimizer, "lr")

    def _reduce_lr(self, epoch):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"The number of param groups in the `optimizer` ({len(groups)}) differs from "
                                   f"when `ReduceLROnPlateau` was initialized ({len(self.min_lrs)}), usually due "
                                   "to a new param group being added to the optimizer. Please modify the "
                                   "`min_lrs` field to match the length of the `optimizer` param groups.")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                set_group_value(group, "lr", new_lr)

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode, threshold, threshold_mode):
        if mode not in ("min", "max"):
            raise ValueError("mode " + str(mode) + " is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError("threshold mode " + str(threshold_mode) + " is unknown!")
        self.mode_worse = inf if mode == "min" else -inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict):
        """Restore the saved state (mode, thresholds, best value and counters)."""
        self.__dict__.update(state_dict)
        self._init_is_better(mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode)
