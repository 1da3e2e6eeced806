"""distgrad.comm.gpu: how collectives on GPU (CuPy) arrays travel.

:mod:`~distgrad.comm.gpu.transport` chooses, per group, between NCCL,
CUDA-aware MPI and copies through host memory;
:mod:`~distgrad.comm.gpu.device_ops` runs the collectives on the chosen
transport; :mod:`~distgrad.comm.gpu.binding` picks the GPU each process uses.
:class:`distgrad.comm.ProcessGroup` is the only caller.
"""
