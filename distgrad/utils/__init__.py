"""``distgrad.utils``: helpers around training, as ``torch.utils`` (``distgrad.utils.data``).

Example::

    >>> import distgrad
    >>> distgrad.utils.data.DataLoader is not None
    True
"""
from distgrad.utils import data  # noqa: F401
