"""Random sampling ops: bernoulli, multinomial, normal (with tensor mean/std), poisson.

Every draw comes from distgrad's seeded generator (:data:`distgrad.default_generator`
or the ``generator=`` given), so ``distgrad.manual_seed`` makes them repeat;
the streams are NumPy's / CuPy's, not PyTorch's, so the same seed gives other
numbers than in PyTorch (the distributions are the same).  The results carry
no gradient: sampling is not differentiable (PyTorch's ``normal`` records a
zero gradient for ``mean``/``std``; use ``mean + std * randn_like(mean)`` for a
reparameterised sample).  ``randperm``, ``rand``, ``randn`` and ``randint``
are in :mod:`distgrad.creation`.

Example::

    >>> import distgrad
    >>> _ = distgrad.manual_seed(0)
    >>> distgrad.bernoulli(distgrad.tensor([0.0, 1.0]))
    tensor([0., 1.])
    >>> distgrad.multinomial(distgrad.tensor([0.0, 0.0, 5.0]), 2, replacement=True)
    tensor([2, 2])
"""
from distgrad import backend
from distgrad import dtypes
from distgrad import random
from distgrad.autograd.tensor import Tensor


def _uniform(like, shape, generator):
    return random.uniform_array(shape, 0.0, 1.0, "float64", like.device, generator)


def bernoulli(input, p=None, *, generator=None):
    """Samples 0 or 1 with probability ``input`` (or the number ``p``) of a 1, in ``input``'s dtype.

    Example::

        >>> import distgrad
        >>> distgrad.zeros(3).bernoulli(1.0)
        tensor([1., 1., 1.])
    """
    probs = input._data if p is None else input._xp().full(input._data.shape, float(p))
    xp = input._xp()
    if probs.size and (bool((probs < 0).any()) or bool((probs > 1).any()) or bool(xp.isnan(probs).any())):
        raise RuntimeError("bernoulli(): Expected p_in >= 0 && p_in <= 1 to be true, but got probabilities "
                           f"outside [0, 1] (tensor of shape {list(input.shape)})")
    draws = _uniform(input, input._data.shape, generator) < probs
    return Tensor._make(draws.astype(input._data.dtype))


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Draws ``num_samples`` category indices from each row of non-negative weights ``input`` (1-D or 2-D).

    With replacement each draw inverts the row's cumulative distribution;
    without, the ``num_samples`` largest keys ``u ** (1 / w)`` (``u`` uniform)
    give a weighted sample without replacement (Efraimidis and Spirakis); once
    the categories of positive weight run out, the zero-weight ones follow in
    index order, as PyTorch 2 does on the CPU.

    Example::

        >>> import distgrad
        >>> sorted(distgrad.multinomial(distgrad.tensor([1.0, 0.0, 2.0]), 2).tolist())
        [0, 2]
    """
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial(): prob_dist must be 1 or 2 dim, got {input.ndim}")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"multinomial(): only supports floating-point dtypes for input, got {input.dtype}")
    if num_samples <= 0:
        raise RuntimeError("multinomial(): cannot sample n_sample <= 0 samples")
    xp = input._xp()
    w = input._data.reshape(-1, input.shape[-1]).astype(xp.float64)
    if not bool(xp.isfinite(w).all()) or bool((w < 0).any()):
        raise RuntimeError("multinomial(): probability tensor contains either `inf`, `nan` or element < 0")
    if bool((w.sum(axis=1) <= 0).any()):
        raise RuntimeError("multinomial(): invalid multinomial distribution (sum of probabilities <= 0)")
    if replacement:
        cdf = xp.cumsum(w, axis=1)
        cdf = cdf / cdf[:, -1:]
        u = _uniform(input, (w.shape[0], num_samples), generator)
        out = xp.stack([xp.searchsorted(c, r, side="right") for c, r in zip(cdf, u)])
        out = xp.minimum(out, w.shape[1] - 1)  # u within an ulp of 1
    else:
        if num_samples > w.shape[1]:
            raise RuntimeError("multinomial(): cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        u = _uniform(input, w.shape, generator)
        with_weight = w > 0
        keys = xp.where(with_weight, xp.log(xp.maximum(u, 1e-300)) / xp.where(with_weight, w, 1.0), -xp.inf)
        out = xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    out = out.astype(xp.int64)
    return Tensor._make(out.reshape(num_samples) if input.ndim == 1 else out)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None):
    """Samples of N(mean, std^2); ``mean`` and ``std`` may be tensors (broadcast) or numbers with ``size``.

    Example::

        >>> import distgrad
        >>> distgrad.normal(2.0, 0.0, (2,))
        tensor([2., 2.])
        >>> distgrad.normal(distgrad.tensor([0.0, 10.0]), 0.0)
        tensor([ 0., 10.])
    """
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal(): with a number mean and std, 'size' must be given")
        if float(std) < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        shape = (size,) if isinstance(size, int) else tuple(size)
        draws = random.normal_array(shape, float(mean), float(std), "float64", backend.normalize_device(device),
                                    generator)
        return Tensor._make(draws.astype(dt.np))
    if size is not None:
        raise RuntimeError("normal(): 'size' is only allowed when mean and std are numbers")
    like = tensors[0]
    xp = like._xp()
    m = mean._data if isinstance(mean, Tensor) else float(mean)
    s = std._data if isinstance(std, Tensor) else float(std)
    if bool((xp.asarray(s) < 0).any()):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    shape = xp.broadcast(xp.asarray(m), xp.asarray(s)).shape
    out_dtype = like._data.dtype if like._data.dtype.kind == "f" else dtypes.get_default_dtype().np
    draws = random.normal_array(shape, 0.0, 1.0, "float64", like.device, generator)
    return Tensor._make((draws * s + m).astype(out_dtype))


def poisson(input, generator=None):
    """Samples of a Poisson distribution with rates ``input`` (non-negative), in ``input``'s dtype.

    Example::

        >>> import distgrad
        >>> distgrad.poisson(distgrad.zeros(2))
        tensor([0., 0.])
    """
    xp = input._xp()
    rates = input._data
    if rates.size and (bool((rates < 0).any()) or bool(xp.isnan(rates).any())):
        raise RuntimeError("poisson(): invalid Poisson rate, expected rate to be non-negative")
    draws = random.poisson_array(rates.astype(xp.float64), input.device, generator)
    return Tensor._make(draws.astype(rates.dtype))
