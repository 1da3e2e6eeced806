"""``LRScheduler``: the base class of the learning-rate schedulers.

A scheduler owns an optimizer and rewrites each param group's ``"lr"`` every
time ``step()`` is called (once per epoch or per batch, after
``optimizer.step()``).  It remembers ``base_lrs`` (each group's
``"initial_lr"``), counts ``last_epoch``, and saves/loads its state as a plain
dict, with the same attribute names as PyTorch's schedulers.

Most schedulers are *chainable*: ``get_lr()`` computes the next lr from the
group's current lr, so two schedulers can act on one optimizer.  Those that
also have a closed form use it when ``step(epoch)`` jumps to an epoch.

Example::

    >>> import distgrad
    >>> from distgrad.optim.lr_scheduler import StepLR
    >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> for _ in range(4):
    ...     opt.step(); sched.step()
    >>> sched.get_last_lr()
    [0.25]
"""
import functools
import warnings
import weakref

from distgrad.autograd.tensor import Tensor
from distgrad.optim.optimizer import Optimizer

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where possible. "
    "Please use `scheduler.step()` to step the scheduler. During the deprecation, if epoch is different "
    "from None, the closed form is used instead of the new chainable form, where available.")


def format_param(name, optimizer, param):
    """One value per param group: a list of the right length, or one value repeated."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have the same length as optimizer.param_groups. {name} has "
                             f"{len(param)} values, param_groups has {len(optimizer.param_groups)}.")
    else:
        param = [param] * len(optimizer.param_groups)
    return [p.clone() if isinstance(p, Tensor) else p for p in param]


def group_values(optimizer, key):
    """``[group[key] for each group]``, copying tensor values so callers cannot alias them."""
    return [g[key].clone() if isinstance(g[key], Tensor) else g[key] for g in optimizer.param_groups]


def set_group_value(group, key, value):
    """Set ``group[key]``; a tensor lr is filled in place so the optimizer keeps its tensor."""
    if isinstance(group[key], Tensor):
        group[key].fill_(value.item() if isinstance(value, Tensor) else value)
    else:
        group[key] = value


def _track_step_calls(optimizer):
    """Make ``optimizer.step`` record that it ran, so a scheduler stepped too early can warn."""
    if hasattr(optimizer.step, "_wrapped_by_lr_sched"):
        return
    func = optimizer.step.__func__
    ref = weakref.ref(optimizer)

    @functools.wraps(func)
    def step(*args, **kwargs):
        opt = ref()
        opt._opt_called = True
        return func.__get__(opt, type(opt))(*args, **kwargs)

    step._wrapped_by_lr_sched = True
    optimizer.step = step


class LRScheduler:
    """Base class of learning-rate schedulers; subclasses implement ``get_lr()``.

    Args:
        optimizer: the wrapped :class:`~distgrad.optim.Optimizer`.
        last_epoch: index of the last epoch seen; ``-1`` starts fresh, a larger
            value resumes (each group must then already hold ``"initial_lr"``).

    Example::

        >>> import distgrad
        >>> class Halve(LRScheduler):
        ...     def get_lr(self):
        ...         return [b * 0.5 ** self.last_epoch for b in self.base_lrs]
        >>> opt = distgrad.optim.SGD([distgrad.zeros(1, requires_grad=True)], lr=1.0)
        >>> s = Halve(opt); opt.step(); s.step(); s.get_last_lr()
        [0.5]
    """

    _get_lr_called_within_step = False
    _is_initial = False

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                lr = group["lr"]
                group.setdefault("initial_lr", lr.clone() if isinstance(lr, Tensor) else lr)
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                                   "scheduler with last_epoch >= 0 (load the optimizer's state first)")
        self.base_lrs = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        _track_step_calls(optimizer)
        self._initial_step()

    def _initial_step(self):
        """Set the lrs for epoch 0 (the constructor's own step)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def state_dict(self):
        """Every attribute except the optimizer, as a dict."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore attributes saved by ``state_dict()``."""
        self.__dict__.update(state_dict)

    def get_last_lr(self):
        """The lrs this scheduler set last, one per param group."""
        return self._last_lr

    def get_lr(self):
        """The next lrs, one per group (subclasses implement it; call ``get_last_lr()`` to read them)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr()")

    def _warn_if_outside_step(self):
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                          UserWarning, stacklevel=3)

    def step(self, epoch=None):
        """Advance one epoch (or, deprecated, jump to ``epoch``) and write the new lrs into the optimizer."""
        if self._step_count == 1:
            if not hasattr(self.optimizer.step, "_wrapped_by_lr_sched"):
                warnings.warn("Seems like `optimizer.step()` has been overridden after learning rate scheduler "
                              "initialization. Please, make sure to call `optimizer.step()` before "
                              "`lr_scheduler.step()`.", UserWarning, stacklevel=2)
            elif not getattr(self.optimizer, "_opt_called", False):
                warnings.warn("Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 "
                              "and later, you should call them in the opposite order: `optimizer.step()` before "
                              "`lr_scheduler.step()`.  Failure to do this will result in PyTorch skipping the "
                              "first value of the learning rate schedule.", UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        previous = self.last_epoch
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
            values = list(values)
            if len(values) != len(self.optimizer.param_groups):
                raise ValueError(f"{type(self).__name__}: get_lr() gave {len(values)} values for "
                                 f"{len(self.optimizer.param_groups)} param groups")
        except BaseException:
            self.last_epoch = previous  # a failed step leaves the schedule where it was
            raise
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values):
            set_group_value(group, "lr", lr)
        self._last_lr = group_values(self.optimizer, "lr")


class _LRScheduler(LRScheduler):
    """The pre-2.0 name of :class:`LRScheduler`, kept so old subclasses still work."""
