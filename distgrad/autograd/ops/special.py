"""Special functions on raw arrays, for ops whose forward needs more than NumPy offers.

NumPy has no ``erf``.  SciPy (``cupyx.scipy.special`` on the GPU) does, but it
is optional, so :func:`erf_array` uses it when :func:`distgrad.backend.special_function`
finds it and otherwise evaluates its own float64 formula, accurate to about
1e-13 over the whole real line: a Maclaurin series below ``|x| = 2.5`` and the
continued fraction of ``erfc`` above.  The Tensor-level op is
:class:`distgrad.autograd.ops.unary.Erf`; GELU uses this too.

Example::

    >>> import math
    >>> import numpy as np
    >>> from distgrad.autograd.ops.special import erf_array
    >>> x = np.array([-1.0, 0.0, 0.5, 3.0])
    >>> bool(np.allclose(erf_array(x), [math.erf(v) for v in x], rtol=1e-13, atol=0))
    True
"""
import math

from distgrad import backend


def erf_array(x):
    """erf of a NumPy or CuPy array, in ``x``'s dtype.

    SciPy's (or CuPy's) ``erf`` when installed; else a Maclaurin series /
    continued-fraction pair evaluated in float64 and cast back.
    """
    xp = backend.get_array_module(x)
    special_erf = backend.special_function(xp, "erf")
    if special_erf is not None:
        return special_erf(x).astype(x.dtype, copy=False)
    z = xp.asarray(x, dtype=xp.float64)
    a = xp.abs(z)
    # |x| < 2.5: Maclaurin series sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    small = xp.minimum(a, 2.5)
    term = small.copy()
    total = small.copy()
    sq = small * small
    for n in range(1, 60):
        term = term * (-sq) / n
        total = total + term / (2 * n + 1)
    series = total * (2.0 / math.sqrt(math.pi))
    # |x| >= 2.5: erfc by its continued fraction (Lentz), 1 - erfc
    big = xp.maximum(a, 2.5)
    f = big.copy()
    for k in range(60, 0, -1):
        f = big + (k / 2.0) / f
    erfc = xp.exp(-big * big) / (f * math.sqrt(math.pi))
    out = xp.where(a < 2.5, series, 1.0 - erfc)
    return (xp.sign(z) * out).astype(x.dtype, copy=False)
