"""distgrad.comm: process groups and collectives over MPI, shaped like ``torch.distributed``.

``import distgrad.distributed as dist`` (or ``distgrad.comm``) and use it as
``torch.distributed``: ``init_process_group``, ``get_rank``,
``all_reduce``, ``broadcast``, ``all_gather`` ... with ``async_op=True``
Work handles, sub-groups from ``new_group`` and object collectives.  Run the
script with ``distgrad-launch -n 4 train.py`` (or ``mpiexec``/``srun``); as a
plain ``python train.py`` it is a world of one process and runs unchanged.

The modules, bottom up:

* :mod:`env` (how the process was started, lazy MPI), :mod:`reduce_op`
  (ReduceOp, dtype and op mapping), :mod:`buffers` (host staging),
  :mod:`selfcomm` (the world of one process), :mod:`work` (Work, Future),
  :mod:`executor` (the communication thread);
* :mod:`gpu` (the GPU transports: NCCL, CUDA-aware MPI, host copies);
* :mod:`process_group` (the ProcessGroup class: array-level collectives) and
  :mod:`prepared_allreduce` (its registered-buffer fast path);
* :mod:`watchdog` (fail fast, timeouts), :mod:`world` (init_process_group,
  the default group, new_group, rank queries);
* :mod:`collectives` (the Tensor API), :mod:`objects` (pickled objects),
  :mod:`differentiable` (collectives with a backward, ``dist.nn``),
  :mod:`timeline` (a Chrome trace of training);
* :mod:`ddp` (DistributedDataParallel: its reducer, buckets, comm hooks and
  SyncBatchNorm), on top of all of these.

Example::

    >>> import distgrad, distgrad.distributed as dist
    >>> dist.init_process_group(backend="mpi")
    >>> t = distgrad.ones(2) * (dist.get_rank() + 1)
    >>> dist.all_reduce(t)
    >>> t
    tensor([1., 1.])
"""
from distgrad.comm.collectives import (P2POp, all_gather, all_gather_into_tensor, all_reduce,  # noqa: F401
                                       all_to_all, all_to_all_single, barrier, batch_isend_irecv, broadcast,
                                       gather, irecv, isend, recv, reduce, reduce_scatter,
                                       reduce_scatter_tensor, scatter, send)
from distgrad.comm import differentiable as nn  # noqa: F401  (dist.nn, as torch.distributed.nn)
from distgrad.comm.prepared_allreduce import PreparedAllreduce  # noqa: F401
from distgrad.comm.process_group import ProcessGroup  # noqa: F401
from distgrad.comm.objects import (all_gather_object, broadcast_object, broadcast_object_list,  # noqa: F401
                                   gather_object, scatter_object_list)
from distgrad.comm.world import (GroupMember, default_group, destroy_process_group,  # noqa: F401
                                 get_backend, get_global_rank, get_group_rank, get_local_rank,
                                 get_local_world_size, get_node_local_rank, get_process_group_ranks,
                                 get_rank, get_world_size, group, init_process_group, is_available,
                                 is_gloo_available, is_initialized, is_mpi_available,
                                 is_nccl_available, new_group)
from distgrad.comm.reduce_op import ReduceOp  # noqa: F401
from distgrad.comm.work import Future, Work  # noqa: F401
