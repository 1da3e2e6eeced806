"""``DistributedSampler``: each data-parallel rank reads its own equal share of the dataset.

Every rank builds the same index list (the same permutation, seeded by ``seed + epoch``),
makes its length a multiple of ``num_replicas`` (repeating indices from the start, or
dropping the tail with ``drop_last``), and takes every ``num_replicas``-th index from
position ``rank``.  The shards are therefore disjoint, equally long, and together cover
the dataset; call :meth:`DistributedSampler.set_epoch` at the start of every epoch so the
order changes between epochs.

Example::

    >>> shards = [list(DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=False))
    ...           for r in range(3)]
    >>> shards
    [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
"""
import math

from distgrad import random as _random
from distgrad.creation import randperm
from distgrad.utils.data.sampler import Sampler


def _process_group():
    """``distgrad.comm``, imported only when the caller leaves num_replicas or rank to it."""
    try:
        from distgrad import comm  # deferred: comm wraps optional mpi4py; only needed to ask the world size/rank
    except ImportError:
        comm = None
    if comm is None or not hasattr(comm, "get_world_size") or not hasattr(comm, "get_rank"):
        raise RuntimeError("DistributedSampler: distgrad.comm is not available to tell the world size and "
                           "rank; pass num_replicas and rank explicitly")
    return comm


class DistributedSampler(Sampler):
    """Restrict loading to this rank's shard of ``dataset`` (see the module docstring).

    ``num_replicas`` and ``rank`` default to the world size and rank of the initialized
    ``distgrad.comm`` process group.  With ``shuffle`` the order is a permutation seeded
    by ``seed + epoch``, identical on every rank; ``seed`` must be the same everywhere.

    Example::

        >>> s = DistributedSampler(range(7), num_replicas=2, rank=1, drop_last=True)
        >>> len(s), s.total_size
        (3, 6)
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None:
            num_replicas = _process_group().get_world_size()
        if rank is None:
            rank = _process_group().get_rank()
        if not isinstance(num_replicas, int) or isinstance(num_replicas, bool) or num_replicas < 1:
            raise ValueError(f"Invalid num_replicas {num_replicas!r}, num_replicas should be a positive integer")
        if not isinstance(rank, int) or isinstance(rank, bool) or rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            # the largest multiple of num_replicas not above n: every rank gets the same count
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            g = _random.Generator().manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[:self.total_size]
        else:
            padding = self.total_size - len(indices)  # < num_replicas, and 0 for an empty dataset
            if padding:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        if len(indices) != self.total_size:
            raise AssertionError(f"Number of indices ({len(indices)}) does not match total_size ({self.total_size})")
        shard = indices[self.rank:self.total_size:self.num_replicas]
        if len(shard) != self.num_samples:
            raise AssertionError(f"Number of subsampled indices ({len(shard)}) does not match "
                                 f"num_samples ({self.num_samples})")
        return iter(shard)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use ``epoch`` in the shuffle seed, so each epoch gets a new order (the same on all ranks)."""
        self.epoch = epoch
