"""The in-place random fills beyond ``uniform_``/``normal_``: ``exponential_``, ``geometric_``,
``log_normal_``, ``cauchy_``, ``random_`` and ``bernoulli_``.

Each draws from distgrad's seeded generator (or the ``generator`` given) by inverting the
distribution's CDF at uniform draws, so one body serves NumPy and CuPy, and checks its
parameters with PyTorch's messages.  Like PyTorch's, they are not recorded by autograd
(the result has no gradient history) and bump the tensor's version.

Example::

    >>> import distgrad
    >>> _ = distgrad.manual_seed(0)
    >>> bool((distgrad.empty(1000).exponential_(2.0) > 0).all())
    True
"""
import math

from distgrad import backend
from distgrad import dtypes
from distgrad import random
from distgrad.autograd.ops.inplace import check_inplace


def _uniform01(t, generator):
    """Float64 U[0, 1) draws of ``t``'s shape on its device."""
    return random.uniform_array(t.shape, 0.0, 1.0, "float64", t.device, generator)


def _fill(t, values):
    t._data[...] = values.astype(t._data.dtype, copy=False)
    t._bump_version()
    return t


def _floating(t, what):
    if t._data.dtype.kind != "f":
        raise RuntimeError(f"{what} distribution is a continuous probability distribution. dtype must be a "
                           f"floating point but you specified {dtypes.torch_name(t._data.dtype)}")


def exponential_(t, lambd=1.0, *, generator=None):
    """Fill with Exponential(``lambd``) samples, mean ``1 / lambd`` (``Tensor.exponential_``).

    Example::

        >>> distgrad.zeros(3).exponential_().shape
        distgrad.Size([3])
    """
    check_inplace(t, "exponential_")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd:g}")
    _floating(t, "Exponential")
    xp = backend.get_array_module(t._data)
    return _fill(t, -xp.log1p(-_uniform01(t, generator)) / lambd)


def geometric_(t, p, *, generator=None):
    """Fill with the number of Bernoulli(``p``) trials up to the first success, 1, 2, ... (``Tensor.geometric_``).

    Example::

        >>> bool((distgrad.zeros(5).geometric_(0.5) >= 1).all())
        True
    """
    check_inplace(t, "geometric_")
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p:g}")
    xp = backend.get_array_module(t._data)
    return _fill(t, xp.floor(xp.log1p(-_uniform01(t, generator)) / math.log1p(-p)) + 1)


def log_normal_(t, mean=1.0, std=2.0, *, generator=None):
    """Fill with ``exp(N(mean, std^2))`` samples (``Tensor.log_normal_``).

    Example::

        >>> bool((distgrad.zeros(4).log_normal_() > 0).all())
        True
    """
    check_inplace(t, "log_normal_")
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std:g}")
    _floating(t, "LogNormal")
    xp = backend.get_array_module(t._data)
    return _fill(t, xp.exp(random.normal_array(t.shape, mean, std, "float64", t.device, generator)))


def cauchy_(t, median=0.0, sigma=1.0, *, generator=None):
    """Fill with Cauchy(``median``, ``sigma``) samples (``Tensor.cauchy_``).

    Example::

        >>> distgrad.zeros(2).cauchy_().shape
        distgrad.Size([2])
    """
    check_inplace(t, "cauchy_")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma:g}")
    _floating(t, "Cauchy")
    xp = backend.get_array_module(t._data)
    return _fill(t, median + sigma * xp.tan(math.pi * (_uniform01(t, generator) - 0.5)))


_MANTISSA = {"float16": 11, "float32": 24, "float64": 53}


def random_(t, from_=None, to=None, *, generator=None, **kwargs):
    """Fill with integers: in [0, ``from_``) given one bound, in [``from_``, ``to``) given two, and
    given none in [0, 2^mantissa] for floats (so every value is exact) or the dtype's range for
    integers (``Tensor.random_``; PyTorch's keyword ``from`` is accepted too).

    Example::

        >>> x = distgrad.zeros(100).random_(3)
        >>> sorted(set(x.tolist())) == [0.0, 1.0, 2.0]
        True
    """
    check_inplace(t, "random_")
    if "from" in kwargs:
        from_ = kwargs.pop("from")
    if kwargs:
        raise TypeError(f"random_() got an unexpected keyword argument '{next(iter(kwargs))}'")
    xp = backend.get_array_module(t._data)
    kind, name = t._data.dtype.kind, t._data.dtype.name
    if from_ is None and to is None:
        low, high = 0, (2 if kind == "b" else 2 ** _MANTISSA[name] + 1 if kind == "f"
                        else int(xp.iinfo(t._data.dtype).max))
    elif to is None:
        low, high = 0, int(from_)
    else:
        low, high = int(from_), int(to)
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    return _fill(t, random.integers_array(t.shape, low, high, "int64", t.device, generator))


def bernoulli_(t, p=0.5, *, generator=None):
    """Fill with 1 (probability ``p``, a number or a tensor broadcast to ``t``) or 0 (``Tensor.bernoulli_``).

    Example::

        >>> sorted(set(distgrad.zeros(50).bernoulli_(0.5).tolist()))
        [0.0, 1.0]
    """
    check_inplace(t, "bernoulli_")
    xp = backend.get_array_module(t._data)
    prob = p._data if hasattr(p, "_data") else p
    if bool(xp.any((xp.asarray(prob) < 0) | (xp.asarray(prob) > 1))):
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    return _fill(t, _uniform01(t, generator) < prob)
