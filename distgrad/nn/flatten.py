"""``Flatten`` and ``Unflatten``: reshape between a range of dims and a single dim.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> x = distgrad.zeros(8, 3, 4, 4)
    >>> nn.Flatten()(x).shape
    distgrad.Size([8, 48])
    >>> nn.Unflatten(1, (3, 16))(nn.Flatten()(x)).shape
    distgrad.Size([8, 3, 16])
"""
from distgrad.autograd.tensor import Tensor
from distgrad.nn.module import Module


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` into one (by default all but the batch dim) (``torch.nn.Flatten``)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{self!r}: expected a Tensor input, got {type(input).__name__}")
        n = max(input.ndim, 1)
        for d in (self.start_dim, self.end_dim):
            if not -n <= d < n:
                raise IndexError(f"{self!r}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                                 f"but got {d}) for input of shape {tuple(input.shape)}")
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into the shape ``unflattened_size`` (one entry may be -1) (``torch.nn.Unflatten``)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if isinstance(dim, str):
            raise TypeError("Unflatten: named dimensions (a str dim) are not supported")
        if not isinstance(dim, int):
            raise TypeError(f"invalid argument type for dim parameter: {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)) or \
                not all(isinstance(s, int) and not isinstance(s, bool) for s in unflattened_size):
            raise TypeError(f"unflattened_size must be tuple of ints, but found type {type(unflattened_size).__name__}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        d = input._dim(self.dim)
        sizes = list(self.unflattened_size)
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        n = input.shape[d]
        if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or (-1 in sizes and (known == 0 or n % known)):
            raise RuntimeError(f"{self!r}: provided sizes {tuple(sizes)} don't multiply up to the size of dim "
                               f"{self.dim} ({n}) in the input of shape {tuple(input.shape)}")
        return input.unflatten(d, sizes)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
