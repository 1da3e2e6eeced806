"""``distgrad.optim``: optimizers and learning-rate schedulers, as ``torch.optim``.

Every optimizer updates its parameters in place on the raw arrays (no graph is
recorded), validates all gradients before changing anything, and saves and
loads its state in PyTorch's ``state_dict`` layout.

Example::

    >>> import distgrad
    >>> w = distgrad.randn(3, requires_grad=True)
    >>> opt = distgrad.optim.AdamW([w], lr=1e-3)
    >>> sched = distgrad.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    >>> for _ in range(3):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    ...     sched.step()
"""
from distgrad import torch_alias
from distgrad.optim import lr_scheduler  # noqa: F401
from distgrad.optim.adagrad import Adagrad
from distgrad.optim.adam import Adam
from distgrad.optim.adamw import AdamW
from distgrad.optim.optimizer import Optimizer
from distgrad.optim.rmsprop import RMSprop
from distgrad.optim.sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]

__getattr__ = torch_alias.missing_attribute(__name__)  # a missing name says so, with PyTorch's name
