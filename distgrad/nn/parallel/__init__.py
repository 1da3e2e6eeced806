"""``distgrad.nn.parallel``: where PyTorch scripts import ``DistributedDataParallel`` from.

The class lives in :mod:`distgrad.comm.ddp.distributed_data_parallel` (with
the reducer and buckets it uses, in :mod:`distgrad.comm.ddp`); this package
only gives it PyTorch's import path, so
``from torch.nn.parallel import DistributedDataParallel as DDP`` keeps working
as ``from distgrad.nn.parallel import DistributedDataParallel as DDP``.

Example::

    >>> import distgrad, distgrad.distributed as dist
    >>> from distgrad.nn.parallel import DistributedDataParallel as DDP
    >>> dist.init_process_group()
    >>> DDP(distgrad.nn.Linear(2, 2)).module
    Linear(in_features=2, out_features=2, bias=True)
"""
from distgrad.comm.ddp import DistributedDataParallel  # noqa: F401
