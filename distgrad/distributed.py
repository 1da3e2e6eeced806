"""``distgrad.distributed``: the ``torch.distributed`` names, implemented by :mod:`distgrad.comm`.

So that ``import distgrad as torch`` scripts keep ``import torch.distributed
as dist`` working as ``import distgrad.distributed as dist``; every name here
is the one in :mod:`distgrad.comm`.  ``dist.nn.all_reduce`` and friends are the
differentiable collectives (``torch.distributed.nn.functional``).

Example::

    >>> import distgrad.distributed as dist
    >>> dist.init_process_group("gloo")
    >>> dist.get_world_size()
    1
"""
from distgrad.comm import differentiable as nn  # noqa: F401  (dist.nn, as torch.distributed.nn)
from distgrad.comm.collectives import (P2POp, all_gather, all_gather_into_tensor, all_reduce,  # noqa: F401
                                       all_to_all, all_to_all_single, barrier, batch_isend_irecv, broadcast,
                                       gather, irecv, isend, recv, reduce, reduce_scatter,
                                       reduce_scatter_tensor, scatter, send)
from distgrad.comm.prepared_allreduce import PreparedAllreduce  # noqa: F401
from distgrad.comm.process_group import ProcessGroup  # noqa: F401
from distgrad.comm.objects import (all_gather_object, broadcast_object, broadcast_object_list,  # noqa: F401
                                   gather_object, scatter_object_list)
from distgrad.comm.world import (GroupMember, destroy_process_group, get_backend,  # noqa: F401
                                 get_global_rank, get_group_rank, get_local_rank,
                                 get_local_world_size, get_node_local_rank, get_process_group_ranks,
                                 get_rank, get_world_size, group, init_process_group, is_available,
                                 is_gloo_available, is_initialized, is_mpi_available,
                                 is_nccl_available, new_group)
from distgrad.comm.reduce_op import ReduceOp  # noqa: F401
from distgrad.comm.work import Work  # noqa: F401
