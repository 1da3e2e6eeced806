"""Samplers: which dataset indices a DataLoader reads, and in what order.

``SequentialSampler`` (0, 1, 2, ...), ``RandomSampler`` (a shuffle, or draws with
replacement), ``SubsetRandomSampler`` (a shuffle of given indices),
``WeightedRandomSampler`` (draws by weight) and ``BatchSampler`` (groups indices into
lists).  Random samplers draw from a ``distgrad.Generator``: pass one for a private,
reproducible stream, or rely on ``distgrad.manual_seed``.

Example::

    >>> import distgrad
    >>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6]]
    >>> g = distgrad.Generator().manual_seed(0)
    >>> sorted(RandomSampler(range(5), generator=g))
    [0, 1, 2, 3, 4]
"""
import itertools
import typing

import numpy as np

from distgrad import backend
from distgrad import random as _random
from distgrad.creation import randint, randperm, tensor

T_co = typing.TypeVar("T_co", covariant=True)


class Sampler(typing.Generic[T_co]):
    """Base class of samplers: subclasses define ``__iter__`` (and usually ``__len__``).

    Example::

        >>> class Evens(Sampler):
        ...     def __init__(self, n): self.n = n
        ...     def __iter__(self): return iter(range(0, self.n, 2))
        >>> list(Evens(5))
        [0, 2, 4]
    """

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler[int]):
    """Indices ``0 .. len(data_source) - 1`` in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


def _fresh_generator():
    """A generator seeded from the default one, so each epoch shuffles differently yet reproducibly."""
    seed = int(_random.integers_array((), 0, 2 ** 63 - 1, np.int64, backend.CPU))
    return _random.Generator().manual_seed(seed)


class RandomSampler(Sampler[int]):
    """A random order of the dataset, or ``num_samples`` draws with replacement.

    Without replacement, ``num_samples`` larger than the dataset repeats whole
    permutations.  Without a ``generator`` each pass seeds a private generator from the
    default one (as PyTorch does), so ``distgrad.manual_seed`` makes the epochs repeat.

    Example::

        >>> len(RandomSampler(range(10), replacement=True, num_samples=25))
        25
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        n = self.num_samples
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={n}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        g = self.generator if self.generator is not None else _fresh_generator()
        total = self.num_samples
        if self.replacement:
            # draws in chunks of 32, like PyTorch, so a long epoch does not build one huge array
            for _ in range(total // 32):
                yield from randint(0, n, (32,), generator=g).tolist()
            yield from randint(0, n, (total % 32,), generator=g).tolist()
        else:
            for _ in range(total // n):
                yield from randperm(n, generator=g).tolist()
            yield from randperm(n, generator=g).tolist()[:total % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given ``indices`` in a random order (a fresh one each pass).

    Example::

        >>> sorted(SubsetRandomSampler([10, 20, 30]))
        [10, 20, 30]
    """

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices drawn with probability proportional to ``weights``.

    Example::

        >>> list(WeightedRandomSampler([0.0, 1.0, 0.0], 3))
        [1, 1, 1]
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        self.weights = tensor(w)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        w = self.weights.numpy()
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if w.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not self.replacement:
            if self.num_samples > w.size:
                raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
            if self.num_samples > np.count_nonzero(w):
                raise RuntimeError("invalid multinomial distribution (with replacement=False, "
                                   "not enough non-negative category to sample)")
        rng = (self.generator or _random.default_generator).numpy()
        draws = rng.choice(w.size, size=self.num_samples, replace=self.replacement, p=w / w.sum())
        yield from draws.tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler[typing.List[int]]):
    """Group the indices of ``sampler`` into lists of ``batch_size``; ``drop_last`` drops a short tail.

    Example::

        >>> list(BatchSampler(range(5), 2, drop_last=True))
        [[0, 1], [2, 3]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
