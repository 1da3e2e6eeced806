"""Piecewise-constant functions: ``sign``, ``floor``, ``ceil``, ``round`` and ``trunc``.

Their gradient is zero everywhere (PyTorch's convention at the jumps too); integer tensors come
back as copies from the rounding functions, and ``sign`` of NaN is 0, as in PyTorch.

Example::

    >>> import distgrad
    >>> distgrad.round(distgrad.tensor([0.5, 1.5, -2.25]), decimals=1)
    tensor([ 0.5000,  1.5000, -2.2000])
    >>> distgrad.sign(distgrad.tensor([-3.0, 0.0, float("nan")]))
    tensor([-1.,  0.,  0.])
"""
from distgrad import backend
from distgrad.autograd.function import ArrayFunction


def _xp(x):
    return backend.get_array_module(x)


class _PiecewiseConstant(ArrayFunction):
    """sign/floor/ceil/round/trunc: piecewise constant, so the gradient is zero."""

    array_backward = True

    @staticmethod
    def backward(ctx, g):
        return g * 0


class Sign(_PiecewiseConstant):
    """-1, 0 or 1 by the sign of ``x``, 0 for NaN as in PyTorch; zero gradient (``torch.sign``)."""

    @staticmethod
    def forward(ctx, x):
        y = _xp(x).sign(x)
        if x.dtype.kind == "f":
            y = _xp(x).where(x != x, 0, y)
        return y


class Floor(_PiecewiseConstant):
    """Rounds down to an integer value (``torch.floor``)."""

    @staticmethod
    def forward(ctx, x):
        return _xp(x).floor(x)


class Ceil(_PiecewiseConstant):
    """Rounds up to an integer value (``torch.ceil``)."""

    @staticmethod
    def forward(ctx, x):
        return _xp(x).ceil(x)


class Round(_PiecewiseConstant):
    """Rounds half to even, at ``decimals`` places (``torch.round``)."""

    @staticmethod
    def forward(ctx, x, decimals):
        return _xp(x).round(x, decimals)

    @staticmethod
    def backward(ctx, g):
        return g * 0, None


class Trunc(_PiecewiseConstant):
    """Rounds towards zero (``torch.trunc``)."""

    @staticmethod
    def forward(ctx, x):
        return _xp(x).trunc(x)



def sign(x):
    """-1, 0 or 1 by the sign of ``x`` (``torch.sign``)."""
    return Sign.apply(x)


def floor(x):
    """Rounds down; integer tensors come back as a copy (``torch.floor``)."""
    return Floor.apply(x) if x._data.dtype.kind == "f" else x.clone()


def ceil(x):
    """Rounds up; integer tensors come back as a copy (``torch.ceil``)."""
    return Ceil.apply(x) if x._data.dtype.kind == "f" else x.clone()


def round(x, decimals=0):
    """Rounds half to even at ``decimals`` places; integer tensors come back as a copy (``torch.round``)."""
    return Round.apply(x, decimals) if x._data.dtype.kind == "f" else x.clone()


def trunc(x):
    """Rounds towards zero; integer tensors come back as a copy (``torch.trunc``)."""
    return Trunc.apply(x) if x._data.dtype.kind == "f" else x.clone()
