"""``get_worker_info()``: which DataLoader worker is running the current dataset code.

distgrad's DataLoader runs its workers in the calling process (see
:class:`~distgrad.utils.data.DataLoader`), so "being in a worker" is a scope: while a
worker fetches data, runs ``worker_init_fn`` or starts iterating an
:class:`~distgrad.utils.data.IterableDataset`, :func:`get_worker_info` returns that
worker's :class:`WorkerInfo`; everywhere else it returns None, as in PyTorch's main
process.  The scope is thread-local, so loaders in other threads do not see it.

Example::

    >>> from distgrad.utils.data import IterableDataset, DataLoader, get_worker_info
    >>> class Range(IterableDataset):
    ...     def __iter__(self):
    ...         info = get_worker_info()
    ...         start, step = (0, 1) if info is None else (info.id, info.num_workers)
    ...         return iter(range(start, 6, step))
    >>> [int(x) for x in DataLoader(Range(), batch_size=None, num_workers=2)]
    [0, 1, 2, 3, 4, 5]
"""
import contextlib
import threading

_state = threading.local()


class WorkerInfo:
    """What a worker knows about itself: ``id``, ``num_workers``, ``seed`` and ``dataset``.

    ``seed`` is the loader's base seed plus the worker id, as in PyTorch; ``dataset`` is
    the dataset object the worker reads (the loader's own, since workers share the process).
    Attributes cannot be reassigned.

    Example::

        >>> info = WorkerInfo(id=0, num_workers=2, seed=7, dataset=None)
        >>> info.num_workers
        2
    """

    __initialized = False

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        return super().__setattr__(key, val)

    def __repr__(self):
        items = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__keys)
        return f"{self.__class__.__name__}({items})"


def get_worker_info():
    """The :class:`WorkerInfo` of the DataLoader worker running this code, or None outside workers."""
    return getattr(_state, "info", None)


@contextlib.contextmanager
def in_worker(info):
    """Run the enclosed code as worker ``info`` (None: as the main process)."""
    previous = getattr(_state, "info", None)
    _state.info = info
    try:
        yield info
    finally:
        _state.info = previous
