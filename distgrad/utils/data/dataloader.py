"""``DataLoader``: iterate a dataset in batches, shuffled or sampled, collated into tensors.

It takes PyTorch's arguments with PyTorch's meaning and checks: ``batch_size``,
``shuffle``, ``sampler``, ``batch_sampler``, ``drop_last``, ``collate_fn``, ``generator``,
``worker_init_fn``, ``persistent_workers`` ..., and the same errors for options that
exclude each other.  Map-style datasets are read through a sampler (sequential, or
:class:`~distgrad.utils.data.RandomSampler` when ``shuffle=True``); iterable datasets are
read as streams.

Workers run in the calling process.  ``num_workers > 0`` is accepted and behaves like
PyTorch's worker pool as far as the data goes: batch ``i`` of a map-style dataset is
fetched "by" worker ``i % num_workers`` (so :func:`~distgrad.utils.data.get_worker_info`
answers there), every worker calls ``worker_init_fn`` and iterates its own pass over an
iterable dataset, and the batches come out in the same order as from PyTorch with
``in_order=True``.  For a map-style dataset the batches are identical to
``num_workers=0``.  There is no parallelism, so ``timeout``, ``prefetch_factor``,
``multiprocessing_context``, ``pin_memory`` and ``in_order`` are validated but change
nothing, and worker code shares the process (and its random generators) with the caller.

Example::

    >>> import distgrad
    >>> from distgrad.utils.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(distgrad.arange(10).float(), distgrad.arange(10))
    >>> loader = DataLoader(ds, batch_size=4, shuffle=True, generator=distgrad.Generator().manual_seed(0))
    >>> [y.shape[0] for x, y in loader], len(loader)
    ([4, 4, 2], 3)
"""
import math
import multiprocessing
import warnings

import numpy as np

from distgrad import backend
from distgrad import random as _random
from distgrad.utils.data.collate import default_collate, default_convert
from distgrad.utils.data.dataset import IterableDataset
from distgrad.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from distgrad.utils.data.worker import WorkerInfo, in_worker


class _InfiniteConstantSampler(Sampler):
    """The "sampler" of an iterable dataset: a placeholder index, forever."""

    def __iter__(self):
        while True:
            yield None


class _MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn

    def fetch(self, index):
        if self.auto_collation:
            getitems = getattr(self.dataset, "__getitems__", None)
            data = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        else:
            data = self.dataset[index]
        return self.collate_fn(data)


class _IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.it = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.it))
        data = []
        for _ in index:
            try:
                data.append(next(self.it))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


class DataLoader:
    """Batches of ``dataset``: see the module docstring for the options and how workers run.

    Example::

        >>> from distgrad.utils.data import DataLoader
        >>> list(DataLoader([1.0, 2.0, 3.0], batch_size=2))
        [tensor([1., 2.], dtype=distgrad.float64), tensor([3.], dtype=distgrad.float64)]
    """

    __initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        _check_context(multiprocessing_context, num_workers)

        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, "
                                 f"but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)
        self.persistent_workers = persistent_workers
        self._dataset_is_iterable = iterable
        self._IterableDataset_len_called = None
        self._iterator = None
        self.__initialized = True

    def __setattr__(self, attr, val):
        if self.__initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                                           "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after {self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = _DataLoaderIter(self)
            else:
                self._iterator._reset(self)
            return self._iterator
        return _DataLoaderIter(self)

    def __len__(self):
        if self._dataset_is_iterable:
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)


def _check_context(ctx, num_workers):
    if ctx is None:
        return
    if num_workers == 0:
        raise ValueError("multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
                         f"but got num_workers={num_workers}")
    if isinstance(ctx, str):
        methods = multiprocessing.get_all_start_methods()
        if ctx not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start method in {methods!r}, "
                             f"but got multiprocessing_context={ctx!r}")
    elif not isinstance(ctx, multiprocessing.context.BaseContext):
        raise TypeError("multiprocessing_context option should be a valid context object or a string specifying "
                        f"the start method, but got multiprocessing_context={ctx}")


class _DataLoaderIter:
    """One pass over a DataLoader, with its workers emulated in-process (see the module docstring)."""

    def __init__(self, loader):
        self._iterable = loader._dataset_is_iterable
        self._index_sampler = loader._index_sampler
        if loader.pin_memory and not backend.cuda_is_available():
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device pinned "
                          "memory won't be used.", stacklevel=3)
        # drawn even when unused, as PyTorch does, so the generator advances the same way for any num_workers
        self._base_seed = int(_random.integers_array((), 0, 2 ** 63 - 1, np.int64, backend.CPU, loader.generator))
        k = loader.num_workers
        self._infos = [WorkerInfo(id=w, num_workers=k, seed=self._base_seed + w, dataset=loader.dataset)
                       for w in range(k)] or [None]
        if loader.worker_init_fn is not None and k > 0:
            for info in self._infos:
                with in_worker(info):
                    loader.worker_init_fn(info.id)
        self._reset(loader)

    def _reset(self, loader):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._len_called = loader._IterableDataset_len_called
        kind = _IterableFetcher if self._iterable else _MapFetcher
        self._fetchers = []
        for info in self._infos:
            with in_worker(info):
                self._fetchers.append(kind(loader.dataset, loader._auto_collation, loader.collate_fn,
                                           loader.drop_last))
        self._active = [True] * len(self._fetchers)
        self._turn = 0
        self._num_workers = loader.num_workers
        self._dataset = loader.dataset

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._index_sampler)

    def _next_worker(self):
        """The next worker in round-robin order that has not run out of data (None when all have)."""
        for _ in range(len(self._active)):
            w = self._turn
            self._turn = (w + 1) % len(self._active)
            if self._active[w]:
                return w
        return None

    def _next_data(self):
        while True:
            w = self._next_worker()
            if w is None:
                raise StopIteration
            index = next(self._sampler_iter)
            with in_worker(self._infos[w]):
                if not self._iterable:
                    return self._fetchers[w].fetch(index)
                try:
                    return self._fetchers[w].fetch(index)
                except StopIteration:
                    self._active[w] = False  # this worker's stream is done; the others go on

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        if self._iterable and self._len_called is not None and self._num_yielded > self._len_called:
            msg = (f"Length of IterableDataset {self._dataset} was reported to be {self._len_called}(when accessing "
                   f"len(dataloader)), but {self._num_yielded} samples have been fetched. ")
            if self._num_workers > 0:
                msg += ("For multiprocessing data-loading, this could be caused by not properly configuring the "
                        "IterableDataset replica at each worker.")
            warnings.warn(msg, stacklevel=2)
        return data
