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
from distgrad import torch_alias

_missing = torch_alias.missing_attribute(__name__)


def __getattr__(name):
    # resolved on first use: comm sits above nn, so nn's packages import nothing of it at module level
    if name == "DistributedDataParallel":
        from distgrad.comm.ddp import DistributedDataParallel  # deferred: comm sits above nn
        return DistributedDataParallel
    return _missing(name)


def __dir__():
    return ["DistributedDataParallel"]
