"""The collectives on GPU arrays, over NCCL or CUDA-aware MPI (on the channel :mod:`distgrad.comm.gpu.transport` chose).

Each method checks its arguments the way the host path does, stages the
array into a contiguous device "wire" in the dtype the transport reduces in
(bool as uint8; float16 as float32 and, for NCCL, int16 as int32 when
reducing; raw bytes when only moving data), and hands
``ProcessGroup.issue`` a ``run`` (the communication) and a ``finish``
(AVG division, write-back), which the communication thread runs in issue
order.  The data never leaves the GPU.

Ordering with the caller's kernels: at issue time an event is recorded on
the caller's current stream.  NCCL's stream waits for that event; CUDA-aware
MPI (which knows nothing of streams) waits for it on the host.  The Work
completes only after the result is written back and the device finished, so
``wait()`` means what it means for CPU tensors.

A reduction NCCL cannot do (BAND/BOR/BXOR) makes a method return None, and
the caller runs that one call over the host path; the decision depends only
on the dtype and the op, so every rank makes the same one.

NumPy arrays stand in for device arrays in tests: then there are no streams
or events, and the same code paths run over MPI or the world-of-one comm.
"""
import contextlib

import numpy as np

from distgrad import backend
from distgrad.comm import buffers
from distgrad.comm.reduce_op import RedOpType, check_reduction, mpi_datatype, mpi_op, wire_dtype
from distgrad.comm.selfcomm import IN_PLACE as _SELF_IN_PLACE

_BYTES = np.dtype(np.uint8)


class DeviceStaged:
    """A flat contiguous array ``wire`` of dtype ``wire_dtype`` on ``array``'s device standing in for ``array``.

    Shares ``array``'s memory when it can (contiguous, same item size);
    ``commit()`` writes the wire back otherwise.
    """

    __slots__ = ("array", "wire", "_shared")

    def __init__(self, array, wire_dtype, copy_in=True):
        self.array = array
        xp = backend.get_array_module(array)
        wire_dtype = np.dtype(wire_dtype)
        same_size = wire_dtype.itemsize == array.dtype.itemsize
        if array.flags.c_contiguous and (same_size or wire_dtype == _BYTES):
            self.wire = array.reshape(-1).view(wire_dtype)
            self._shared = True
            return
        self._shared = False
        if wire_dtype == _BYTES:
            self.wire = xp.ascontiguousarray(array).reshape(-1).view(_BYTES)
        elif not copy_in:
            self.wire = xp.empty(array.size, dtype=wire_dtype)
        elif same_size:
            self.wire = xp.ascontiguousarray(array).reshape(-1).view(wire_dtype)
        else:
            self.wire = array.astype(wire_dtype).reshape(-1)

    def commit(self):
        if self._shared:
            return
        wire = self.wire
        if wire.dtype.itemsize == self.array.dtype.itemsize or wire.dtype == _BYTES:
            wire = wire.view(self.array.dtype)
        else:
            wire = wire.astype(self.array.dtype)
        self.array[...] = wire.reshape(self.array.shape)


# --- NCCL's types and reductions ----------------------------------------------------------------------------

def nccl_wire(np_dtype, reducing):
    """The dtype an array of ``np_dtype`` travels as over NCCL: bytes unless reduced; NCCL has no
    int16 or bool, and float16 is reduced in float32 as on the other transports."""
    d = np.dtype(np_dtype)
    if not reducing:
        return _BYTES
    return {np.dtype(np.bool_): _BYTES, np.dtype(np.int16): np.dtype(np.int32),
            np.dtype(np.float16): np.dtype(np.float32)}.get(d, d)


def nccl_datatype(nccl, wire):
    names = {np.dtype(np.int8): "NCCL_INT8", np.dtype(np.uint8): "NCCL_UINT8", np.dtype(np.int32): "NCCL_INT32",
             np.dtype(np.int64): "NCCL_INT64", np.dtype(np.float32): "NCCL_FLOAT32",
             np.dtype(np.float64): "NCCL_FLOAT64"}
    return getattr(nccl, names[np.dtype(wire)])


def nccl_reduction(nccl, op, np_dtype):
    """NCCL's reduction for ``op`` on data of ``np_dtype``, or None when NCCL has none (bitwise ops)."""
    if np.dtype(np_dtype) == np.bool_:
        table = {RedOpType.SUM: "NCCL_MAX", RedOpType.MAX: "NCCL_MAX", RedOpType.BOR: "NCCL_MAX",
                 RedOpType.PRODUCT: "NCCL_MIN", RedOpType.MIN: "NCCL_MIN", RedOpType.BAND: "NCCL_MIN"}
    else:
        table = {RedOpType.SUM: "NCCL_SUM", RedOpType.AVG: "NCCL_SUM", RedOpType.PRODUCT: "NCCL_PROD",
                 RedOpType.MIN: "NCCL_MIN", RedOpType.MAX: "NCCL_MAX"}
    name = table.get(op)
    return None if name is None else getattr(nccl, name)


def _ptr(array):
    data = array.data
    return data.ptr if hasattr(data, "ptr") else array.ctypes.data


# --- streams and events (none for host stand-ins) -----------------------------------------------------------

class _HostStream:
    ptr = 0

    def wait_event(self, event):
        pass

    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class DeviceOps:
    """The five device collectives of one call on group ``pg`` over channel ``ch``."""

    def __init__(self, pg, ch, name):
        self.pg, self.ch, self.name = pg, ch, name
        self.where = pg._where(name)
        self.nccl = ch.nccl
        self.size = pg.size()
        self.rank = pg.rank()

    # plumbing -------------------------------------------------------------------------------------
    def _device_ctx(self, array):
        cp = backend.cupy_module()
        if cp is None or not isinstance(array, cp.ndarray):
            return contextlib.nullcontext()
        return cp.cuda.Device(array.device.id)

    def _ready_event(self, array):
        """An event on the caller's current stream, recorded now: the data is ready once it fires."""
        cp = backend.cupy_module()
        if cp is None or not isinstance(array, cp.ndarray):
            return None
        with cp.cuda.Device(array.device.id):
            ev = cp.cuda.Event(block=False, disable_timing=True)
            ev.record(cp.cuda.get_current_stream())
        return ev

    def _stream(self, array):
        """The stream this call communicates and finishes on (NCCL: the channel's own)."""
        cp = backend.cupy_module()
        if cp is None or not isinstance(array, cp.ndarray):
            return _HostStream()
        if self.nccl is None:
            return cp.cuda.get_current_stream()
        if self.ch.stream is None:
            with cp.cuda.Device(self.ch.device):
                self.ch.stream = cp.cuda.Stream(non_blocking=True)
        return self.ch.stream

    def _check_device(self, array):
        if self.nccl is not None and backend.is_array(array) and not isinstance(array, np.ndarray):
            idx = array.device.id
            if idx != self.ch.device:
                raise RuntimeError(f"{self.where}: group {self.pg.name}'s NCCL communicator belongs to "
                                   f"cuda:{self.ch.device}, but the tensor is on cuda:{idx}; keep one GPU per "
                                   "process (distgrad.cuda.set_device(local_rank))")

    def _run(self, array, communicate, finish, async_op):
        """Queue ``communicate(stream)`` then ``finish()`` (on the same stream) as one collective."""
        self._check_device(array)
        ready = self._ready_event(array)

        def run():
            with self._device_ctx(array):
                stream = self._stream(array)
                if ready is not None:
                    if self.nccl is not None:
                        stream.wait_event(ready)
                    else:
                        ready.synchronize()  # MPI reads the buffer right away, from the host's side
                communicate(stream)

        def done():
            with self._device_ctx(array):
                stream = self._stream(array)
                with stream:
                    if finish is not None:
                        finish()
                stream.synchronize()
        return self.pg.issue(self.name, run, done, buffers.describe(array), async_op)

    def _mpi_spec(self, wire):
        return [wire, mpi_datatype(self.ch.MPI, wire.dtype) if self.ch.MPI is not None else None]

    def _in_place(self):
        return self.ch.MPI.IN_PLACE if self.ch.MPI is not None else _SELF_IN_PLACE

    def _reduction(self, op, np_dtype):
        """(validated op, transport op); transport op None means "not on this transport"."""
        op = check_reduction(self.where, op, np_dtype)
        if self.nccl is not None:
            return op, nccl_reduction(self.nccl, op, np_dtype)
        return op, (mpi_op(self.ch.MPI, op, np_dtype) if self.ch.MPI is not None else "self")  # SelfComm: any

    def _wire(self, np_dtype, reducing):
        return nccl_wire(np_dtype, reducing) if self.nccl is not None else wire_dtype(np_dtype, reducing)

    def _avg(self, op, wire):
        if op == RedOpType.AVG:
            wire /= self.size

    # collectives ------------------------------------------------------------------------------------
    def allreduce(self, array, op, async_op):
        op, top = self._reduction(op, array.dtype)
        if top is None:
            return None
        st = DeviceStaged(array, self._wire(array.dtype, True))
        w = st.wire

        def communicate(stream):
            if self.nccl is not None:
                self.ch.comm.allReduce(_ptr(w), _ptr(w), w.size, nccl_datatype(self.nccl, w.dtype), top, stream.ptr)
            else:
                self.ch.comm.Allreduce(self._in_place(), self._mpi_spec(w), top)

        def finish():
            self._avg(op, w)
            st.commit()
        return self._run(array, communicate, finish, async_op)

    def broadcast(self, array, root, async_op):
        self.pg._check_root(self.name, root, "src")
        is_root = self.rank == root
        st = DeviceStaged(array, self._wire(array.dtype, False), copy_in=is_root)
        w = st.wire

        def communicate(stream):
            if self.nccl is not None:
                self.ch.comm.broadcast(_ptr(w), _ptr(w), w.size, nccl_datatype(self.nccl, w.dtype), root, stream.ptr)
            else:
                self.ch.comm.Bcast(self._mpi_spec(w), root)
        return self._run(array, communicate, None if is_root else st.commit, async_op)

    def reduce(self, array, root, op, async_op):
        self.pg._check_root(self.name, root, "dst")
        op, top = self._reduction(op, array.dtype)
        if top is None:
            return None
        is_root = self.rank == root
        st = DeviceStaged(array, self._wire(array.dtype, True))
        w = st.wire

        def communicate(stream):
            if self.nccl is not None:
                self.ch.comm.reduce(_ptr(w), _ptr(w), w.size, nccl_datatype(self.nccl, w.dtype), top, root,
                                    stream.ptr)
            elif is_root:
                self.ch.comm.Reduce(self._in_place(), self._mpi_spec(w), top, root)
            else:
                self.ch.comm.Reduce(self._mpi_spec(w), None, top, root)

        def finish():
            if is_root:
                self._avg(op, w)
                st.commit()
        return self._run(array, communicate, finish, async_op)

    def allgather_into(self, output, input, async_op):
        buffers.check_same_dtype(self.where, [output, input])
        self.pg._check_count(self.name, "output", int(output.size), self.size * int(input.size))
        wd = self._wire(input.dtype, False)
        send = DeviceStaged(input, wd)
        recv = DeviceStaged(output, wd, copy_in=False)

        def communicate(stream):
            s, r = send.wire, recv.wire
            if self.nccl is not None:
                self.ch.comm.allGather(_ptr(s), _ptr(r), s.size, nccl_datatype(self.nccl, s.dtype), stream.ptr)
            else:
                self.ch.comm.Allgather(self._mpi_spec(s), self._mpi_spec(r))
        return self._run(input, communicate, recv.commit, async_op)

    def reduce_scatter_block(self, output, input, op, async_op):
        buffers.check_same_dtype(self.where, [output, input])
        op, top = self._reduction(op, input.dtype)
        if top is None:
            return None
        self.pg._check_count(self.name, "input", int(input.size), self.size * int(output.size))
        wd = self._wire(input.dtype, True)
        send = DeviceStaged(input, wd)
        recv = DeviceStaged(output, wd, copy_in=False)

        def communicate(stream):
            s, r = send.wire, recv.wire
            if self.nccl is not None:
                self.ch.comm.reduceScatter(_ptr(s), _ptr(r), r.size, nccl_datatype(self.nccl, s.dtype), top,
                                           stream.ptr)
            else:
                self.ch.comm.Reduce_scatter_block(self._mpi_spec(s), self._mpi_spec(r), top)

        def finish():
            self._avg(op, recv.wire)
            recv.commit()
        return self._run(input, communicate, finish, async_op)
