"""``Dropout``: randomly zero activations while training, pass them through in eval mode.

Kept elements are scaled by ``1 / (1 - p)`` so the expected activation is the
same in both modes.  Masks come from distgrad's seeded generator, so
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


class Dropout(Module):
    """Zero each element with probability ``p`` during training (identity in eval mode).

    Example::

        >>> y = nn.Dropout(0.25)(distgrad.ones(10000))
        >>> 0.7 < (y > 0).float().mean().item() < 0.8
        True
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not isinstance(p, (int, float)) or isinstance(p, bool) or p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
