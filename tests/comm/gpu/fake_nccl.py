"""A stand-in for ``cupy.cuda.nccl`` that moves host memory through MPI, for tests without a GPU.

It has the module's constants and ``NcclCommunicator``'s pointer-based
methods with NCCL's signatures (``allReduce(sendbuf, recvbuf, count,
datatype, op, stream)`` ...).  Each call turns the raw pointers back into
NumPy arrays of ``count`` elements of ``datatype`` and runs the collective
with mpi4py over a private communicator (or, in a world of one, copies), so
a wrong pointer, count, datatype, root or reduction in distgrad's NCCL path
gives wrong numbers here.  Every call is recorded in ``calls``.
"""
import ctypes

import numpy as np

available = True
NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32, NCCL_INT64, NCCL_UINT64 = 0, 1, 2, 3, 4, 5
NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 6, 7, 8
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN = 0, 1, 2, 3

_DTYPES = {NCCL_INT8: np.int8, NCCL_UINT8: np.uint8, NCCL_INT32: np.int32, NCCL_INT64: np.int64,
           NCCL_FLOAT32: np.float32, NCCL_FLOAT64: np.float64}
_OP_NAMES = {NCCL_SUM: "SUM", NCCL_PROD: "PROD", NCCL_MAX: "MAX", NCCL_MIN: "MIN"}

calls = []       # (method, datatype name, count, op name or root)
unique_ids = []  # every id get_unique_id handed out
destroyed = []   # communicators whose destroy() was called
MPI = None       # set by the test to mpi4py.MPI under mpiexec; None: a world of one
members = None   # world ranks of the next communicator's group (None: all); real NCCL finds them by the id


def get_version():
    return 22105


def get_unique_id():
    uid = bytes(np.random.default_rng().integers(0, 256, 128, dtype=np.uint8))
    unique_ids.append(uid)
    return uid


def _view(ptr, count, datatype):
    dt = np.dtype(_DTYPES[datatype])
    raw = (ctypes.c_char * (count * dt.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dt, count=count)


class NcclCommunicator:
    """One rank's communicator among ``ndev`` ranks, made from the id rank 0 created."""

    def __init__(self, ndev, commId, rank):
        self.ndev, self.uid, self._rank = ndev, commId, rank
        self._mpi = None
        if MPI is not None and ndev > 1:
            world = MPI.COMM_WORLD
            ranks = list(range(world.Get_size())) if members is None else list(members)
            # collective over the members only, as NCCL's rendezvous is
            self._mpi = world.Create_group(world.Get_group().Incl(ranks))
        if self._mpi is not None:
            assert self._mpi.Get_size() == ndev and self._mpi.Get_rank() == rank
            ids = self._mpi.allgather(commId)
            assert all(i == commId for i in ids), "ranks were given different unique ids"

    def rank_id(self):
        return self._rank

    def destroy(self):
        destroyed.append(self)
        if self._mpi is not None:
            self._mpi.Free()
            self._mpi = None

    def _mpi_op(self, op):
        return getattr(MPI, _OP_NAMES[op])

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        calls.append(("allReduce", np.dtype(_DTYPES[datatype]).name, count, _OP_NAMES[op]))
        send, recv = _view(sendbuf, count, datatype), _view(recvbuf, count, datatype)
        if self._mpi is None:
            recv[...] = send
        else:
            self._mpi.Allreduce(MPI.IN_PLACE if sendbuf == recvbuf else send, recv, self._mpi_op(op))

    def broadcast(self, sendbuff, recvbuff, count, datatype, root, stream):
        calls.append(("broadcast", np.dtype(_DTYPES[datatype]).name, count, root))
        recv = _view(recvbuff, count, datatype)
        if self._rank == root and sendbuff != recvbuff:
            recv[...] = _view(sendbuff, count, datatype)
        if self._mpi is not None:
            self._mpi.Bcast(recv, root)

    def reduce(self, sendbuf, recvbuf, count, datatype, op, root, stream):
        calls.append(("reduce", np.dtype(_DTYPES[datatype]).name, count, (_OP_NAMES[op], root)))
        send = _view(sendbuf, count, datatype).copy()
        if self._mpi is None:
            _view(recvbuf, count, datatype)[...] = send
            return
        out = np.empty_like(send) if self._rank == root else None
        self._mpi.Reduce(send, out, self._mpi_op(op), root)
        if self._rank == root:
            _view(recvbuf, count, datatype)[...] = out

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):
        calls.append(("allGather", np.dtype(_DTYPES[datatype]).name, count, None))
        send = _view(sendbuf, count, datatype).copy()
        recv = _view(recvbuf, count * self.ndev, datatype)
        if self._mpi is None:
            recv[...] = send
        else:
            self._mpi.Allgather(send, recv)

    def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):
        calls.append(("reduceScatter", np.dtype(_DTYPES[datatype]).name, recvcount, _OP_NAMES[op]))
        send = _view(sendbuf, recvcount * self.ndev, datatype).copy()
        recv = _view(recvbuf, recvcount, datatype)
        if self._mpi is None:
            recv[...] = send
        else:
            self._mpi.Reduce_scatter_block(send, recv, self._mpi_op(op))
