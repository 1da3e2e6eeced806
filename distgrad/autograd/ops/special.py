"""Special functions on raw arrays, for ops whose forward needs more than NumPy offers.

erf, erfc, erfinv, lgamma, digamma, polygamma and the Bessel functions I_0 / I_1:
each uses SciPy's (CuPy's) version when installed, else its own float64 formula
below.  The Tensor-level ops are in :mod:`distgrad.autograd.ops.special_functions`.

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


# erf(x) / x = P(x^2) / Q(x^2) on |x| <= 4, fitted for this module (iteratively reweighted least squares on
# the relative error, against float64 erf): relative error 2e-9, so float32 and float16 results evaluated in
# float64 are within 0.54 ulp of correctly rounded. Beyond |x| = 4, erf is +-1 in float32 (1 - erf(4) = 1.5e-8).
_ERF_P = (1.1283791693757248, 0.18520520600930862, 0.054317004105026295, 0.003849669116963403,
          0.0003796027167774904, 4.684571574358615e-06, -1.320132220206105e-08)
_ERF_Q = (1.0, 0.4974672540208268, 0.11395908510274438, 0.015462186493906927, 0.0013075731005539203,
          6.3108617753568e-05)


def _erf_rational(x, xp):
    """erf for float32/float16 arrays: the rational fit above, in float64, about twice SciPy's speed."""
    z = xp.clip(x.astype(xp.float64), -4.0, 4.0)
    t = z * z
    num = xp.full_like(t, _ERF_P[-1])
    for c in _ERF_P[-2::-1]:
        num *= t
        num += c
    den = xp.full_like(t, _ERF_Q[-1])
    for c in _ERF_Q[-2::-1]:
        den *= t
        den += c
    num *= z
    num /= den
    return xp.clip(num, -1.0, 1.0, out=num).astype(x.dtype)


def erf_array(x):
    """erf of a NumPy or CuPy array, in ``x``'s dtype.

    float32 and float16: a rational approximation fitted for this module (within
    0.54 ulp).  float64: SciPy's (or CuPy's) ``erf`` when installed; else a
    Maclaurin series / continued-fraction pair.
    """
    xp = backend.get_array_module(x)
    if x.dtype == xp.float32 or x.dtype == xp.float16:
        return _erf_rational(x, xp)
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


# --- the gamma family and the inverse error function ------------------------------------------
# Without SciPy each function below evaluates its own float64 formula: recurrences move the
# argument up to where an asymptotic (Stirling / Euler-Maclaurin) series is accurate to a few
# ulps, and reflection formulas handle x < 1/2.  All agree with SciPy to about 1e-13 relative
# away from their roots (where only the absolute error, about 1e-15, is meaningful).

# B_2k, k = 1..10 (the Bernoulli numbers of the Stirling and Euler-Maclaurin series)
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798,
              -174611 / 330)
_SHIFT = 15.0  # recurrences push the argument to at least this before the asymptotic series


class _quiet:
    """Silence NumPy's divide/invalid warnings for poles (CuPy never warns)."""

    def __init__(self, xp):
        self._ctx = __import__("numpy").errstate(all="ignore") if backend.is_host_module(xp) else None

    def __enter__(self):
        if self._ctx is not None:
            self._ctx.__enter__()

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)


def _scipy(x, name):
    """SciPy's (or CuPy's) special function ``name`` for ``x``'s module, or None."""
    return backend.special_function(backend.get_array_module(x), name)


def _sin_pi(xp, z):
    """sin(pi z) with the argument reduced to [-1/2, 1/2] first, exact zeros at integers."""
    n = xp.round(z)
    r = z - n
    sign = 1.0 - 2.0 * (xp.abs(n) % 2)
    return sign * xp.sin(math.pi * r)


def _lgamma_series_near_one(xp, e):
    """lgamma(1 + e) for |e| <= 0.25: -gamma e + sum_k (-1)^k zeta(k) e^k / k (no cancellation)."""
    total = -0.5772156649015329 * e
    p = -e
    for k in range(2, 40):
        p = p * (-e)
        total = total + _ZETA_INT[k] * p / k
    return total


def _lgamma64(xp, z):
    with _quiet(xp):
        reflect = z < 0.5
        w = xp.where(reflect, 1.0 - z, z)
        prod = xp.ones_like(w)
        for _ in range(int(_SHIFT)):
            small = w < _SHIFT
            prod = xp.where(small, prod * w, prod)
            w = xp.where(small, w + 1.0, w)
        inv = 1.0 / w
        inv2 = inv * inv
        tail = xp.zeros_like(w)
        p = inv
        for k, b in enumerate(_BERNOULLI[:8], start=1):
            tail = tail + b / (2 * k * (2 * k - 1)) * p
            p = p * inv2
        big = (w - 0.5) * xp.log(w) - w + 0.5 * math.log(2 * math.pi) + tail - xp.log(prod)
        out = xp.where(reflect, math.log(math.pi) - xp.log(xp.abs(_sin_pi(xp, z))) - big, big)
        near1, near2 = xp.abs(z - 1.0) <= 0.25, xp.abs(z - 2.0) <= 0.25
        e1 = xp.where(near1, z - 1.0, 0.0)
        e2 = xp.where(near2, z - 2.0, 0.0)
        out = xp.where(near1, _lgamma_series_near_one(xp, e1), out)
        out = xp.where(near2, xp.log1p(e2) + _lgamma_series_near_one(xp, e2), out)
        return xp.where(xp.isinf(z), math.inf, out)


def lgamma_array(x):
    """log|Gamma(x)| of a NumPy/CuPy float array, in ``x``'s dtype; +inf at the poles (0, -1, -2, ...).

    Example::

        >>> import numpy as np
        >>> from distgrad.autograd.ops.special import lgamma_array
        >>> [round(float(v), 6) for v in lgamma_array(np.array([0.5, 3.0, -1.5]))]
        [0.572365, 0.693147, 0.860047]
    """
    fn = _scipy(x, "gammaln")
    if fn is not None:
        xp = backend.get_array_module(x)
        return xp.where(xp.isneginf(x), math.inf, fn(x)).astype(x.dtype, copy=False)  # SciPy: -inf
    xp = backend.get_array_module(x)
    return _lgamma64(xp, xp.asarray(x, dtype=xp.float64)).astype(x.dtype, copy=False)


def _digamma64(xp, z):
    with _quiet(xp):
        reflect = z < 0.5
        w = xp.where(reflect, 1.0 - z, z)
        acc = xp.zeros_like(w)
        for _ in range(int(_SHIFT)):
            small = w < _SHIFT
            acc = xp.where(small, acc + 1.0 / w, acc)
            w = xp.where(small, w + 1.0, w)
        inv2 = 1.0 / (w * w)
        tail = xp.zeros_like(w)
        p = inv2
        for k, b in enumerate(_BERNOULLI[:8], start=1):
            tail = tail + b / (2 * k) * p
            p = p * inv2
        big = xp.log(w) - 0.5 / w - tail - acc
        r = z - xp.round(z)
        out = xp.where(reflect, big - math.pi / xp.tan(math.pi * r), big)
        out = xp.where((z == xp.round(z)) & (z < 0), math.nan, out)
        return xp.where(z == 0, -xp.copysign(math.inf, z), out)


def digamma_array(x):
    """The digamma function psi(x) = d/dx lgamma(x), in ``x``'s dtype.

    Like PyTorch (and SciPy): -inf at +0, +inf at -0 and NaN at the negative integers.

    Example::

        >>> import numpy as np
        >>> from distgrad.autograd.ops.special import digamma_array
        >>> round(float(digamma_array(np.array(1.0))), 10)
        -0.5772156649
    """
    fn = _scipy(x, "psi")
    if fn is not None:
        return fn(x).astype(x.dtype, copy=False)
    xp = backend.get_array_module(x)
    return _digamma64(xp, xp.asarray(x, dtype=xp.float64)).astype(x.dtype, copy=False)


def _hurwitz_zeta64(xp, s, q):
    """zeta(s, q) = sum_k (q + k)^-s for an integer ``s >= 2`` and float64 ``q``; inf at q = 0, -1, ..."""
    with _quiet(xp):
        bound = _SHIFT + s  # larger orders need a larger argument for the asymptotic tail
        pole = (q <= 0) & (q == xp.round(q))
        w = xp.where(pole, bound, q)
        total = xp.zeros_like(w)
        lowest = float(xp.where(xp.isfinite(w), w, bound).min()) if w.size else bound
        steps = int(math.ceil(bound - lowest))
        for _ in range(max(steps, 0)):
            small = w < bound
            total = xp.where(small, total + w ** (-s), total)
            w = xp.where(small, w + 1.0, w)
        tail = w ** (1 - s) / (s - 1) + 0.5 * w ** (-s)
        rising = float(s)             # s (s+1) ... (s+2k-2)
        fact = 2.0                    # (2k)!
        p = w ** (-s - 1)
        inv2 = 1.0 / (w * w)
        for k, b in enumerate(_BERNOULLI, start=1):
            tail = tail + b / fact * rising * p
            rising *= (s + 2 * k - 1) * (s + 2 * k)
            fact *= (2 * k + 1) * (2 * k + 2)
            p = p * inv2
        return xp.where(pole, math.inf, xp.where(xp.isposinf(q), 0.0, total + tail))


def _zeta_integers(n):
    import numpy as np  # the table is built once, on the host
    return [math.nan, math.nan] + [float(_hurwitz_zeta64(np, k, np.ones(1))[0]) for k in range(2, n)]


_ZETA_INT = _zeta_integers(40)  # zeta(k) for k = 2..39 (the lgamma series near 1 and 2)


def polygamma_array(n, x):
    """The ``n``-th derivative of digamma, psi^(n)(x), for an int ``n >= 0``, in ``x``'s dtype.

    For ``n >= 1`` it is ``(-1)^(n+1) n! zeta(n + 1, x)``; poles (0, -1, ...) give +inf for odd
    and -inf for even ``n``, as in SciPy.

    Example::

        >>> import numpy as np
        >>> from distgrad.autograd.ops.special import polygamma_array
        >>> round(float(polygamma_array(1, np.array(1.0))), 10)  # pi^2 / 6
        1.6449340668
    """
    if n == 0:
        return digamma_array(x)
    fn = _scipy(x, "polygamma")
    if fn is not None:
        return fn(n, x).astype(x.dtype, copy=False)
    xp = backend.get_array_module(x)
    z = _hurwitz_zeta64(xp, n + 1, xp.asarray(x, dtype=xp.float64))
    sign = 1.0 if n % 2 else -1.0
    return (sign * math.factorial(n) * z).astype(x.dtype, copy=False)


def _erfc_cf(xp, big):
    """``erfc(big) * exp(big**2) * sqrt(pi)`` inverted: the continued fraction ``f`` with erfc = e^-x^2/(f sqrt(pi)).

    Accurate for ``big >= 2.5``.
    """
    f = big.copy()
    for k in range(60, 0, -1):
        f = big + (k / 2.0) / f
    return f


def _erfc64(xp, z):
    with _quiet(xp):
        a = xp.abs(z)
        big = xp.maximum(a, 2.5)
        tail = xp.exp(-big * big) / (_erfc_cf(xp, big) * math.sqrt(math.pi))
        pos = xp.where(a < 2.5, 1.0 - erf_array(a), tail)
        return xp.where(z < 0, 2.0 - pos, pos)


def erfc_array(x):
    """The complementary error function 1 - erf(x), accurate in the far tail, in ``x``'s dtype.

    Example::

        >>> import math
        >>> import numpy as np
        >>> from distgrad.autograd.ops.special import erfc_array
        >>> bool(abs(float(erfc_array(np.array(5.0))) / math.erfc(5.0) - 1) < 1e-12)
        True
    """
    fn = _scipy(x, "erfc")
    if fn is not None:
        return fn(x).astype(x.dtype, copy=False)
    xp = backend.get_array_module(x)
    return _erfc64(xp, xp.asarray(x, dtype=xp.float64)).astype(x.dtype, copy=False)


def _erfinv64(xp, z):
    with _quiet(xp):
        a = xp.abs(z)
        c = 1.0 - a  # exact for a >= 1/2, where the tail formulation is used
        # Winitzki's closed form (about 2e-3 relative) as the starting point for Newton
        log1ma2 = xp.log(c) + xp.log1p(a)
        t = 2.0 / (math.pi * 0.147) + 0.5 * log1ma2
        y = xp.sqrt(xp.maximum(xp.sqrt(t * t - log1ma2 / 0.147) - t, 0.0))
        central = a < 0.5
        log_c = xp.log(xp.where(central, 1.0, c))
        half_sqrt_pi = 0.5 * math.sqrt(math.pi)
        for _ in range(6):
            # |x| < 1/2: Newton on erf(y) = a
            yc = xp.where(central, y, 0.0)
            step_c = (erf_array(yc) - a) * half_sqrt_pi * xp.exp(yc * yc)
            # |x| >= 1/2: Newton on log(erfc(y)) = log(1 - a), with erfc from its continued fraction
            yt = xp.where(central, 1.0, xp.maximum(y, 0.0))
            big = xp.maximum(yt, 2.5)
            f = _erfc_cf(xp, big)
            log_erfc = xp.where(yt >= 2.5, -big * big - xp.log(f * math.sqrt(math.pi)),
                                xp.log(1.0 - erf_array(xp.minimum(yt, 2.5))))
            erfcx = xp.where(yt >= 2.5, 1.0 / (f * math.sqrt(math.pi)),
                             (1.0 - erf_array(xp.minimum(yt, 2.5))) * xp.exp(xp.minimum(yt, 2.5) ** 2))
            step_t = -(log_erfc - log_c) * erfcx * half_sqrt_pi
            y = y - xp.where(central, step_c, step_t)
        y = xp.where(a == 1, math.inf, y)
        y = xp.where((a > 1) | xp.isnan(a), math.nan, y)
        return xp.copysign(y, z)


def erfinv_array(x):
    """The inverse error function on [-1, 1] (±inf at ±1, NaN outside), in ``x``'s dtype.

    Example::

        >>> import numpy as np
        >>> from distgrad.autograd.ops.special import erf_array, erfinv_array
        >>> y = erfinv_array(np.array([-0.9, 0.3, 0.999999]))
        >>> bool(np.allclose(erf_array(y), [-0.9, 0.3, 0.999999], rtol=1e-13, atol=0))
        True
    """
    fn = _scipy(x, "erfinv")
    if fn is not None:
        return fn(x).astype(x.dtype, copy=False)
    xp = backend.get_array_module(x)
    return _erfinv64(xp, xp.asarray(x, dtype=xp.float64)).astype(x.dtype, copy=False)


def _bessel_i64(xp, order, z):
    """I_0 or I_1 of float64 ``z``: the power series below |x| = 20, the Hankel expansion above."""
    with _quiet(xp):
        a = xp.abs(z)
        small = xp.minimum(a, 20.0)
        q = 0.25 * small * small
        term = xp.ones_like(small) if order == 0 else 0.5 * small
        total = term.copy()
        for k in range(1, 80):  # (x/2)^(2k+n) / (k! (k+n)!): all terms positive, no cancellation
            term = term * q / (k * (k + order))
            total = total + term
        big = xp.maximum(a, 20.0)
        mu = 4.0 * order * order
        coef = xp.ones_like(big)
        series = xp.ones_like(big)
        for k in range(1, 30):  # I_n(x) ~ e^x / sqrt(2 pi x) sum_k (-1)^k prod_j (mu - (2j-1)^2) / (k! (8x)^k)
            coef = coef * -(mu - (2 * k - 1) ** 2) / (k * 8.0 * big)
            series = series + coef
        asym = xp.exp(big) / xp.sqrt(2 * math.pi * big) * series
        out = xp.where(a < 20.0, total, asym)
        return out if order == 0 else xp.copysign(out, z)


def i0_array(x):
    """The modified Bessel function of the first kind of order 0, in ``x``'s dtype.

    Example::

        >>> import numpy as np
        >>> from distgrad.autograd.ops.special import i0_array
        >>> round(float(i0_array(np.array(1.0))), 10)
        1.2660658778
    """
    fn = _scipy(x, "i0")
    if fn is not None:
        return fn(x).astype(x.dtype, copy=False)
    xp = backend.get_array_module(x)
    return _bessel_i64(xp, 0, xp.asarray(x, dtype=xp.float64)).astype(x.dtype, copy=False)


def i1_array(x):
    """The modified Bessel function of the first kind of order 1 (the derivative of I_0), in ``x``'s dtype.

    Example::

        >>> import numpy as np
        >>> from distgrad.autograd.ops.special import i1_array
        >>> round(float(i1_array(np.array(-1.0))), 10)
        -0.565159104
    """
    fn = _scipy(x, "i1")
    if fn is not None:
        return fn(x).astype(x.dtype, copy=False)
    xp = backend.get_array_module(x)
    return _bessel_i64(xp, 1, xp.asarray(x, dtype=xp.float64)).astype(x.dtype, copy=False)
