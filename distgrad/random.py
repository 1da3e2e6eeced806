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
        self._cuda_rng = None

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            seed &= (1 << 64) - 1
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._cuda_rng = None
        return self

    def seed(self):
        s = int(np.random.SeedSequence().entropy) & ((1 << 63) - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The generator state as a uint8 tensor (save it, give it back to ``set_state``)."""
        from distgrad.creation import tensor
        import json
        raw = json.dumps({"seed": self._seed, "state": self._rng.bit_generator.state}).encode()
        return tensor(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state):
        import json
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

    def cupy(self):
        cp = backend.cupy_module()
        if self._cuda_rng is None:
            self._cuda_rng = cp.random.default_rng(self._seed)
        return self._cuda_rng


default_generator = Generator()


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
        return getattr(gen.cupy(), kind)(*args, size=shape)


def uniform_array(shape, low, high, np_dtype, dev, generator=None):
    """An array of U(low, high) samples of ``np_dtype`` on ``dev``."""
    return _draw(dev, generator, "uniform", tuple(shape), low, high).astype(np_dtype, copy=False)


def normal_array(shape, mean, std, np_dtype, dev, generator=None):
    """An array of N(mean, std^2) samples of ``np_dtype`` on ``dev``."""
    return _draw(dev, generator, "normal", tuple(shape), mean, std).astype(np_dtype, copy=False)


def integers_array(shape, low, high, np_dtype, dev, generator=None):
    """An array of integers in [low, high) on ``dev``."""
    return _draw(dev, generator, "integers", tuple(shape), low, high).astype(np_dtype, copy=False)


def permutation_array(n, dev, generator=None):
    gen = generator or default_generator
    if dev.type == "cpu":
        return gen.numpy().permutation(n).astype(np.int64)
    cp = backend.cupy_module()
    with cp.cuda.Device(dev.index):
        return gen.cupy().permutation(n).astype(cp.int64)
