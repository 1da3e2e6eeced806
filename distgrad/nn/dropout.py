"""``Dropout`` and channel-wise ``Dropout1d/2d/3d``: zero activations at random while training.

In eval mode they pass the input through unchanged; while training, kept
elements are scaled by ``1 / (1 - p)`` so the expected activation is the same
in both modes.  Masks come from distgrad's seeded generator, so
``distgrad.manual_seed`` makes them repeat.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> drop = nn.Dropout(0.5)
    >>> drop.eval()(distgrad.ones(3))
    tensor([1., 1., 1.])
"""
from distgrad.nn import functional as F
from distgrad.nn.module import Module


class _DropoutNd(Module):
    """Holds ``p`` (validated) and ``inplace``; printed as PyTorch prints them."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not isinstance(p, (int, float)) or isinstance(p, bool) or p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` during training (identity in eval mode) (``torch.nn.Dropout``).

    Example::

        >>> y = nn.Dropout(0.25)(distgrad.ones(10000))
        >>> 0.7 < (y > 0).float().mean().item() < 0.8
        True
    """

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) input during training (``torch.nn.Dropout1d``).

    Example::

        >>> y = nn.Dropout1d(0.5)(distgrad.ones(2, 8, 5))
        >>> bool(((y == 0).all(-1) | (y != 0).all(-1)).all())
        True
    """

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) input during training (``torch.nn.Dropout2d``)."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input during training (``torch.nn.Dropout3d``)."""

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training, self.inplace)
