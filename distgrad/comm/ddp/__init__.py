"""distgrad.comm.ddp: DistributedDataParallel and what it is built from.

:mod:`~distgrad.comm.ddp.distributed_data_parallel` holds the module wrapper
(construction checks, forward, ``no_sync``); :mod:`~distgrad.comm.ddp.reducer`
averages gradients while backward runs, over the flat buffers of
:mod:`~distgrad.comm.ddp.bucket`, each reduced with a prepared allreduce of
its :class:`~distgrad.comm.ProcessGroup`; :mod:`~distgrad.comm.ddp.comm_hooks`
lets a bucket be reduced another way; :mod:`~distgrad.comm.ddp.sync_batchnorm`
is batch norm with statistics over every rank.  Users import
``DistributedDataParallel`` from :mod:`distgrad.nn.parallel`.

Example::

    >>> import distgrad, distgrad.distributed as dist
    >>> from distgrad.comm.ddp import DistributedDataParallel
    >>> dist.init_process_group()
    >>> DistributedDataParallel(distgrad.nn.Linear(2, 2)).module
    Linear(in_features=2, out_features=2, bias=True)
"""
from distgrad.comm.ddp.distributed_data_parallel import DistributedDataParallel  # noqa: F401
from distgrad.comm.ddp.sync_batchnorm import SyncBatchNorm  # noqa: F401
