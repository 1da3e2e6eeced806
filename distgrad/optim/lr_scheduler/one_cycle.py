"""``OneCycleLR``: the 1cycle policy (warm up to ``max_lr``, then anneal far below the start).

The lr rises from ``max_lr / div_factor`` to ``max_lr`` over the first
``pct_start`` of the steps, then falls to ``initial_lr / final_div_factor``
(cosine or linear).  With ``three_phase`` it comes back down to the initial
lr symmetrically before the final annihilation phase.  With
``cycle_momentum`` the momentum (SGD/RMSprop ``momentum``, or Adam's
``beta1``) moves the opposite way between ``max_momentum`` and
``base_momentum``.  Step it after every batch.

Example::

    >>> import distgrad
    >>> from distgrad.optim.lr_scheduler import OneCycleLR
    >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    >>> sched = OneCycleLR(opt, max_lr=1.0, total_steps=10)
    >>> round(sched.get_last_lr()[0], 6), opt.param_groups[0]["momentum"]
    (0.04, 0.95)
"""
import math

from distgrad.optim.lr_scheduler.base import LRScheduler, format_param
from distgrad.optim.optimizer import Optimizer


def _annealing_cos(start, end, pct):
    """Cosine anneal from ``start`` to ``end`` as ``pct`` goes from 0 to 1."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _annealing_linear(start, end, pct):
    """Linear anneal from ``start`` to ``end`` as ``pct`` goes from 0 to 1."""
    return (end - start) * pct + start


class OneCycleLR(LRScheduler):
    """The 1cycle learning-rate policy, as ``torch.optim.lr_scheduler.OneCycleLR``.

    Args:
        optimizer: the wrapped optimizer.
        max_lr: peak lr, one value or one per group.
        total_steps: number of steps in the cycle (or give ``epochs`` and ``steps_per_epoch``).
        epochs, steps_per_epoch: ``total_steps = epochs * steps_per_epoch``.
        pct_start: fraction of the cycle spent raising the lr (default 0.3).
        anneal_strategy: ``"cos"`` (default) or ``"linear"``.
        cycle_momentum: move the momentum inversely to the lr (default True).
        base_momentum, max_momentum: momentum bounds (defaults 0.85 and 0.95).
        div_factor: ``initial_lr = max_lr / div_factor`` (default 25).
        final_div_factor: ``min_lr = initial_lr / final_div_factor`` (default 1e4).
        three_phase: use the symmetric three-phase schedule (default False).
        last_epoch: index of the last batch (default -1).

    Example::

        >>> import distgrad
        >>> opt = distgrad.optim.Adam([distgrad.zeros(1, requires_grad=True)])
        >>> sched = OneCycleLR(opt, max_lr=0.01, epochs=10, steps_per_epoch=100)
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if three_phase:
            self._schedule_phases = [
                {"end_step": float(pct_start * self.total_steps) - 1, "start_lr": "initial_lr",
                 "end_lr": "max_lr", "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * self.total_steps) - 2, "start_lr": "max_lr",
                 "end_lr": "initial_lr", "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": float(pct_start * self.total_steps) - 1, "start_lr": "initial_lr",
                 "end_lr": "max_lr", "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]
        if not isinstance(pct_start, float) or pct_start < 0 or pct_start > 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_func_type = anneal_strategy
        max_lrs = format_param("max_lr", optimizer, max_lr)
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = format_param("max_momentum", optimizer, max_momentum)
            base_momentums = format_param("base_momentum", optimizer, base_momentum)
        # Every check is done: only now write into the optimizer's groups.
        if last_epoch == -1:
            for group, m_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = m_lr / div_factor
                group["max_lr"] = m_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
            if cycle_momentum:
                for group, m_mom, b_mom in zip(optimizer.param_groups, max_momentums, base_momentums):
                    if self.use_beta1:
                        group["betas"] = (m_mom, *group["betas"][1:])
                    else:
                        group["momentum"] = m_mom
                    group["max_momentum"] = m_mom
                    group["base_momentum"] = b_mom
        super().__init__(optimizer, last_epoch)

    def _anneal_func(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return _annealing_cos(start, end, pct)
        return _annealing_linear(start, end, pct)

    def get_lr(self):
        """The lrs for the current step; with ``cycle_momentum`` it also sets each group's momentum."""
        self._warn_if_outside_step()
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(f"Tried to step {step_num} times. The specified number of total steps is "
                             f"{self.total_steps}")
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == last:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lr = self._anneal_func(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal_func(group[phase["start_momentum"]], group[phase["end_momentum"]],
                                                     pct)
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs
