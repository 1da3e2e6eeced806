"""``distgrad.utils.data``: datasets, samplers and the DataLoader, as ``torch.utils.data``.

Example::

    >>> import distgrad
    >>> from distgrad.utils.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(distgrad.randn(8, 3), distgrad.arange(8))
    >>> [tuple(x.shape) for x, _ in DataLoader(ds, batch_size=5)]
    [(5, 3), (3, 3)]
"""
from distgrad.utils.data.collate import default_collate, default_convert  # noqa: F401
from distgrad.utils.data.dataloader import DataLoader  # noqa: F401
from distgrad.utils.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset,  # noqa: F401
                                         StackDataset, Subset, TensorDataset, random_split)
from distgrad.utils.data.distributed import DistributedSampler  # noqa: F401
from distgrad.utils.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,  # noqa: F401
                                         SubsetRandomSampler, WeightedRandomSampler)
from distgrad.utils.data.worker import WorkerInfo, get_worker_info  # noqa: F401

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
           "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset",
           "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "WorkerInfo", "default_collate",
           "default_convert", "get_worker_info", "random_split"]
