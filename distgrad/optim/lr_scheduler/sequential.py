"""Schedulers made of other schedulers: ``SequentialLR`` (one after another) and ``ChainedScheduler``
(all at once).

``SequentialLR`` hands control from one scheduler to the next at each
milestone (for example a ``LinearLR`` warm-up, then ``CosineAnnealingLR``);
``ChainedScheduler`` steps every scheduler each time, so their chainable
factors multiply.  Both save the wrapped schedulers' states in their own.

Example::

    >>> import distgrad
    >>> from distgrad.optim.lr_scheduler import ExponentialLR, LinearLR, SequentialLR
    >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=1.0)
    >>> warmup = LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> decay = ExponentialLR(opt, gamma=0.5)
    >>> sched = SequentialLR(opt, schedulers=[warmup, decay], milestones=[2])
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(4):
    ...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.5, 0.75, 1.0, 0.5, 0.25]
"""
from bisect import bisect_right

from distgrad.optim.lr_scheduler.base import LRScheduler, group_values, set_group_value
from distgrad.optim.lr_scheduler.plateau import ReduceLROnPlateau


def _check_schedulers(kind, schedulers, optimizer):
    for i, s in enumerate(schedulers):
        if not hasattr(s, "optimizer"):
            raise TypeError(f"{kind} at index {i} should have `optimizer` as its attribute.")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{kind} does not support `ReduceLROnPlateau` scheduler as it requires additional "
                             "kwargs to be specified when calling `step`, but got one at index "
                             f"{i} in the given schedulers sequence.")
        if s.optimizer is not optimizer:
            raise ValueError(f"{kind} expects all schedulers to belong to the same optimizer, but got scheduler "
                             f"{type(s).__name__} at index {i} has {s.optimizer}, which is different from "
                             f"{type(optimizer).__name__}.")


class _WrapperState:
    """state_dict support for schedulers that wrap others: their states are nested in ours."""

    def state_dict(self):
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        saved = state_dict.pop("_schedulers")
        if len(saved) != len(self._schedulers):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state holds {len(saved)} schedulers, "
                             f"this one wraps {len(self._schedulers)}")
        self.__dict__.update(state_dict)
        for s, st in zip(self._schedulers, saved):
            s.load_state_dict(st)


class SequentialLR(_WrapperState, LRScheduler):
    """Run ``schedulers[i]`` between ``milestones[i-1]`` and ``milestones[i]``.

    Args:
        optimizer: the wrapped optimizer (all schedulers must use it).
        schedulers: the schedulers, in order.
        milestones: the epochs at which control passes on (one fewer than the schedulers).
        last_epoch: index of the last epoch (default -1).

    Example::

        >>> import distgrad
        >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=0.1)
        >>> s1 = distgrad.optim.lr_scheduler.ConstantLR(opt, factor=0.1, total_iters=2)
        >>> s2 = distgrad.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
        >>> sched = SequentialLR(opt, schedulers=[s1, s2], milestones=[2])
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        if len(schedulers) < 1:
            raise ValueError(f"{type(self).__name__} expects at least one scheduler, but got no scheduler.")
        _check_schedulers(type(self).__name__, schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError("Sequential Schedulers expects number of schedulers provided to be one more than the "
                             f"number of milestone points, but got number of schedulers {len(schedulers)} and "
                             f"the number of milestones to be equal to {len(milestones)}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # The wrapped schedulers already took their initial step: reset the lrs and undo those steps,
        # then let only the scheduler of epoch 0 take its initial step.
        for group in optimizer.param_groups:
            set_group_value(group, "lr", group["initial_lr"])
        self.recursive_undo()
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()

    def recursive_undo(self, sched=None):
        """Step back ``last_epoch`` of every (nested) wrapped scheduler."""
        target = self if sched is None else sched
        if hasattr(target, "_schedulers"):
            for s in target._schedulers:
                self.recursive_undo(s)
        elif hasattr(target, "last_epoch"):
            target.last_epoch -= 1

    def step(self):
        """Advance one epoch with the scheduler in charge of it (restarting it at its milestone)."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_WrapperState, LRScheduler):
    """Step several schedulers together every epoch, so their effects compose.

    Example::

        >>> import distgrad
        >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=1.0)
        >>> s1 = distgrad.optim.lr_scheduler.ConstantLR(opt, factor=0.1, total_iters=2)
        >>> s2 = distgrad.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
        >>> sched = ChainedScheduler([s1, s2])
    """

    def __init__(self, schedulers, optimizer=None):
        if len(schedulers) < 1:
            raise ValueError(f"{type(self).__name__} expects at least one scheduler to be chained, but got no "
                             "scheduler.")
        optimizer = optimizer or schedulers[0].optimizer
        _check_schedulers(type(self).__name__, schedulers, optimizer)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = group_values(schedulers[-1].optimizer, "lr")

    def step(self):
        """Step every wrapped scheduler once."""
        for s in self._schedulers:
            s.step()
        self._last_lr = group_values(self._schedulers[-1].optimizer, "lr")
