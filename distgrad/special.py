"""``distgrad.special``: PyTorch's ``torch.special`` functions, with gradients.

The ops live in :mod:`distgrad.autograd.ops.special_functions` (the gamma
family, erfc/erfinv, xlogy, Bessel I_0/I_1, sinc, logit, entr) over the array
numerics of :mod:`distgrad.autograd.ops.special`; the rest are the existing
ops under their ``torch.special`` names.  Every function is differentiable,
to any order where PyTorch is.

Not available: ``i0e``/``i1e``, ``ndtri``, ``log_ndtr``, ``erfcx``, ``zeta``,
``bessel_j*``/``bessel_y*``, the orthogonal polynomials, ``airy_ai``,
``spherical_bessel_j0``, ``gammainc``/``gammaincc``.

Example::

    >>> import distgrad
    >>> distgrad.special.gammaln(distgrad.tensor([5.0])).exp().round()   # 4! = 24
    tensor([24.])
"""
from distgrad import torch_alias
from distgrad.autograd.ops.reduce import logsumexp  # noqa: F401
from distgrad.autograd.ops.softmax import log_softmax as _log_softmax, softmax as _softmax
from distgrad.autograd.ops.special_functions import (digamma, entr, erfc, erfinv, exp2, expit, i0, i1,  # noqa: F401
                                                     logit, mvlgamma as multigammaln, ndtr, polygamma, sinc,
                                                     xlog1py, xlogy)
from distgrad.autograd.ops.special_functions import digamma as psi  # noqa: F401
from distgrad.autograd.ops.special_functions import lgamma as gammaln  # noqa: F401
from distgrad.autograd.ops.rounding import round as _round
from distgrad.autograd.ops.unary import erf, expm1, log1p  # noqa: F401


def softmax(input, dim, *, dtype=None):
    """``torch.special.softmax``: :func:`distgrad.softmax` with ``dim`` required.

    Example::

        >>> import distgrad
        >>> distgrad.special.softmax(distgrad.tensor([0.0, 0.0]), 0)
        tensor([0.5000, 0.5000])
    """
    return _softmax(input, dim, dtype)


def log_softmax(input, dim, *, dtype=None):
    """``torch.special.log_softmax``: :func:`distgrad.log_softmax` with ``dim`` required.

    Example::

        >>> import distgrad
        >>> distgrad.special.log_softmax(distgrad.tensor([0.0, 0.0]), 0).exp()
        tensor([0.5000, 0.5000])
    """
    return _log_softmax(input, dim, dtype)


def round(input, *, decimals=0):  # noqa: A001  (torch.special's name)
    """``torch.special.round``: :func:`distgrad.round` (half to even) with keyword-only ``decimals``.

    Example::

        >>> import distgrad
        >>> distgrad.special.round(distgrad.tensor([0.5, 1.26]), decimals=1)
        tensor([0.5000, 1.3000])
    """
    return _round(input, decimals)


__all__ = ["digamma", "entr", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0", "i1",
           "log1p", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "polygamma", "psi", "round",
           "sinc", "softmax", "xlog1py", "xlogy"]

__getattr__ = torch_alias.missing_attribute(__name__)  # a missing name says so, with PyTorch's name
