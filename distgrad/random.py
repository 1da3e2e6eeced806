"""Random numbers: one seeded generator per process (and one per CUDA device).

``manual_seed(s)`` makes every later draw repeat exactly: ``rand``, ``randn``,
``randint``, ``randperm``, ``uniform_``, ``normal_``, dropout masks and data
shuffling all draw from :data:`default_generator` unless given a
:class:`Generator`.

Example::

    >>> import distgrad
    >>> _ = distgrad.manual_seed(0); a = distgrad.rand(2)
    >>> _ = distgrad.manual_seed(0); b = distgrad.rand(2)
    >>> bool((a == b).all())
    True
"""
import json

import numpy as np

from distgrad import backend

_DEFAULT_SEED = 67280421310721  # PyTorch's initial seed, so a fresh process starts the same way


class Generator:
    """A source of random numbers with its own state, like ``torch.Generator``.

    Example::

        >>> g = Generator().manual_seed(3)
        >>> g.initial_seed()
        3
    """

    def __init__(self, device="cpu"):
        self.device = backend.device(device) if not isinstance(device, backend.device) else device
        self._seed = _DEFAULT_SEED
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        self._cuda_rngs = {}   # CUDA ordinal -> CuPy generator (its state lives on that device)
        self._cuda_seeds = {}  # CUDA ordinal -> seed set by distgrad.cuda.manual_seed

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            seed &= (1 << 64) - 1
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._cuda_rngs = {}
        self._cuda_seeds = {}
        return self

    def seed(self):
        s = fresh_seed()
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The generator state as a uint8 tensor (save it, give it back to ``set_state``)."""
        # deferred: creation imports this module for the default generator
        from distgrad.creation import tensor
        raw = json.dumps({"seed": self._seed, "state": self._rng.bit_generator.state}).encode()
        return tensor(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state):
        raw = bytes(np.asarray(new_state.numpy() if hasattr(new_state, "numpy") else new_state,
                               dtype=np.uint8))
        try:
            d = json.loads(raw.decode())
            self._seed = d["seed"]
            self._rng = np.random.Generator(np.random.PCG64())
            self._rng.bit_generator.state = d["state"]
        except (ValueError, KeyError, TypeError) as e:
            raise RuntimeError(f"Generator.set_state: not a distgrad generator state ({e})") from None
        return self

    def numpy(self):
        """The NumPy generator behind this one (host draws)."""
        return self._rng

    def cupy(self, index=None):
        """The CuPy generator of CUDA device ``index`` (default: the current one), made on first use.

        Each device has its own, seeded from this generator's seed (or from
        ``cuda_manual_seed``), because a CuPy generator's state lives in one
        device's memory.
        """
        cp = backend.cupy_module()
        if index is None:
            index = cp.cuda.runtime.getDevice()
        rng = self._cuda_rngs.get(index)
        if rng is None:
            with cp.cuda.Device(index):
                rng = cp.random.default_rng(self._cuda_seeds.get(index, self._seed))
            self._cuda_rngs[index] = rng
        return rng

    def cuda_manual_seed(self, seed, index):
        """Reseed only CUDA device ``index`` (``distgrad.cuda.manual_seed``); its generator restarts lazily."""
        seed = int(seed)
        if seed < 0:
            seed &= (1 << 64) - 1
        self._cuda_seeds[index] = seed
        self._cuda_rngs.pop(index, None)

    def cuda_initial_seed(self, index):
        return self._cuda_seeds.get(index, self._seed)


default_generator = Generator()


def fresh_seed():
    """A non-deterministic 63-bit seed."""
    return int(np.random.SeedSequence().entropy) & ((1 << 63) - 1)


def manual_seed(seed):
    """Seed the default generator (and CUDA's); returns the generator."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


def _draw(dev, generator, kind, shape, *args):
    gen = generator or default_generator
    if dev.type == "cpu":
        return getattr(gen.numpy(), kind)(*args, size=shape)
    with backend.cupy_module().cuda.Device(dev.index):
        return device_draw(gen.cupy(dev.index), kind, shape, *args)


def device_draw(rng, kind, shape, *args):
    """Draw ``kind`` ("uniform", "normal", "integers", "permutation") from a CuPy generator.

    CuPy's ``Generator`` has NumPy's ``uniform``/``integers``/``standard_normal``/
    ``random`` but no ``normal`` and no ``permutation``, so those two are built
    from the others here.
    """
    if kind == "normal":
        mean, std = args
        return rng.standard_normal(size=shape) * std + mean
    if kind == "permutation":
        # the order of n distinct-with-probability-one uniform draws is a uniform permutation
        return rng.random(size=(args[0],)).argsort()
    return getattr(rng, kind)(*args, size=shape)


def uniform_array(shape, low, high, np_dtype, dev, generator=None):
    """An array of U(low, high) samples of ``np_dtype`` on ``dev``."""
    return _draw(dev, generator, "uniform", tuple(shape), low, high).astype(np_dtype, copy=False)


def normal_array(shape, mean, std, np_dtype, dev, generator=None):
    """An array of N(mean, std^2) samples of ``np_dtype`` on ``dev``."""
    return _draw(dev, generator, "normal", tuple(shape), mean, std).astype(np_dtype, copy=False)


def integers_array(shape, low, high, np_dtype, dev, generator=None):
    """An array of integers in [low, high) on ``dev``."""
    return _draw(dev, generator, "integers", tuple(shape), low, high).astype(np_dtype, copy=False)


def poisson_array(rates, dev, generator=None):
    """An array of Poisson(rates) samples (float64 rates, one draw each) on ``dev``."""
    return _draw(dev, generator, "poisson", rates.shape, rates)


def permutation_array(n, dev, generator=None):
    gen = generator or default_generator
    if dev.type == "cpu":
        return gen.numpy().permutation(n).astype(np.int64)
    cp = backend.cupy_module()
    with cp.cuda.Device(dev.index):
        return device_draw(gen.cupy(dev.index), "permutation", None, n).astype(cp.int64)
