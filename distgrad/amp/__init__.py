"""``torch.amp``: ``GradScaler`` (disabled: a pass-through; see ``grad_scaler.py``).

Example::

    >>> import distgrad
    >>> distgrad.amp.GradScaler(enabled=False).is_enabled()
    False
"""
from distgrad import torch_alias
from distgrad.amp.grad_scaler import GradScaler

__all__ = ["GradScaler"]

__getattr__ = torch_alias.missing_attribute(__name__)
