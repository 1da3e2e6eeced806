"""``PairwiseDistance`` and ``CosineSimilarity``: row-by-row distances as layers (no parameters).

The math lives in :func:`distgrad.nn.functional.pairwise_distance` and
:func:`~distgrad.nn.functional.cosine_similarity`; the modules only hold the options.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> a, b = distgrad.tensor([[3.0, 0.0]]), distgrad.tensor([[0.0, 4.0]])
    >>> nn.PairwiseDistance(eps=0.0)(a, b)
    tensor([5.])
    >>> nn.CosineSimilarity()(a, b)
    tensor([0.])
"""
from distgrad.autograd.ops.distance import cosine_similarity, pairwise_distance
from distgrad.nn.module import Module


class PairwiseDistance(Module):
    """The ``p``-norm of ``x1 - x2 + eps`` over the last dim (``torch.nn.PairwiseDistance``).

    Example::

        >>> import distgrad
        >>> distgrad.nn.PairwiseDistance(p=1.0, eps=0.0)(distgrad.ones(2, 3), distgrad.zeros(2, 3))
        tensor([3., 3.])
    """

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (``torch.nn.CosineSimilarity``).

    Example::

        >>> import distgrad
        >>> distgrad.nn.CosineSimilarity(dim=0)(distgrad.tensor([1.0, 0.0]), distgrad.tensor([2.0, 0.0]))
        tensor(1.)
    """

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)
