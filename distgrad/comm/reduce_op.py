"""``ReduceOp`` and the explicit mapping of dtypes and reductions onto MPI.

Reductions follow PyTorch's NCCL rules, the strictest of its backends:

* ``AVG`` is a sum divided by the group size and needs a floating-point
  tensor (an integer or bool average would have to round).
* On bool tensors ``SUM``/``MAX``/``BOR`` are a logical or, ``PRODUCT``/``MIN``/
  ``BAND`` a logical and, ``BXOR`` an exclusive or.
* ``BAND``/``BOR``/``BXOR`` need integer or bool tensors.
* float16 is reduced in float32 (MPI has no portable half type) and rounded
  back once, which is also more accurate than summing in half precision.

Example::

    >>> from distgrad.comm import ReduceOp
    >>> ReduceOp.SUM
    <RedOpType.SUM: 0>
"""
import enum

import numpy as np

from distgrad.dtypes import from_np


class RedOpType(enum.IntEnum):
    """The reductions, numbered as in PyTorch."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8

    def __repr__(self):
        return f"<RedOpType.{self.name}: {int(self)}>"

    def __str__(self):
        return f"RedOpType.{self.name}"


class ReduceOp:
    """The element-wise reductions of ``all_reduce``, ``reduce`` and ``reduce_scatter``.

    Use the class attributes: ``ReduceOp.SUM``, ``AVG``, ``PRODUCT``, ``MIN``,
    ``MAX``, ``BAND``, ``BOR``, ``BXOR``.  ``ReduceOp(ReduceOp.MAX)`` wraps one
    and compares equal to it.

    Example::

        >>> ReduceOp(ReduceOp.MAX) == ReduceOp.MAX
        True
    """

    RedOpType = RedOpType
    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM

    def __init__(self, op=RedOpType.SUM):
        self.op = as_red_op(op, "ReduceOp")

    def __eq__(self, other):
        if isinstance(other, ReduceOp):
            return self.op == other.op
        return self.op == other

    def __hash__(self):
        return hash(self.op)

    def __repr__(self):
        return f"ReduceOp({self.op!r})"


def as_red_op(op, where):
    """Turn a ``ReduceOp.X`` (or a ReduceOp instance) into its RedOpType, or raise TypeError."""
    if isinstance(op, ReduceOp):
        return op.op
    if isinstance(op, RedOpType):
        return op
    raise TypeError(f"{where}: op must be one of distgrad.comm.ReduceOp.SUM/AVG/PRODUCT/MIN/MAX/BAND/BOR/BXOR, "
                    f"got {op!r}")


def check_reduction(where, op, np_dtype):
    """Validate ``op`` for arrays of ``np_dtype`` and return its RedOpType.

    ``where`` names the collective and the rank for the error message.
    """
    op = as_red_op(op, where)
    kind = np.dtype(np_dtype).kind
    name = _dtype_name(np_dtype)
    if op == RedOpType.PREMUL_SUM:
        raise ValueError(f"{where}: ReduceOp.PREMUL_SUM is an NCCL-only reduction and is not supported; "
                         "multiply by the factor and use ReduceOp.SUM")
    if op == RedOpType.AVG and kind != "f":
        raise ValueError(f"{where}: ReduceOp.AVG needs a floating-point tensor, got {name} "
                         "(sum with ReduceOp.SUM and divide, choosing how to round)")
    if op in (RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR) and kind not in "biu":
        raise ValueError(f"{where}: ReduceOp.{op.name} needs an integer or bool tensor, got {name}")
    return op


def _dtype_name(np_dtype):
    try:
        return str(from_np(np.dtype(np_dtype)))
    except TypeError:
        return str(np.dtype(np_dtype))


# Explicit NumPy -> MPI datatype names; looked up on the MPI module once MPI is loaded.
_MPI_TYPE_NAMES = {
    np.dtype(np.int8): "INT8_T",
    np.dtype(np.uint8): "UINT8_T",
    np.dtype(np.int16): "INT16_T",
    np.dtype(np.uint16): "UINT16_T",
    np.dtype(np.int32): "INT32_T",
    np.dtype(np.int64): "INT64_T",
    np.dtype(np.float32): "FLOAT",
    np.dtype(np.float64): "DOUBLE",
}


def wire_dtype(np_dtype, reducing):
    """The NumPy dtype an array of ``np_dtype`` travels as over MPI.

    bool travels as uint8; float16 as float32 when it is reduced (so the
    arithmetic happens in float32) and as its raw 16 bits otherwise.
    """
    d = np.dtype(np_dtype)
    if d == np.bool_:
        return np.dtype(np.uint8)
    if d == np.float16:
        return np.dtype(np.float32) if reducing else np.dtype(np.uint16)
    if d not in _MPI_TYPE_NAMES:
        raise TypeError(f"distgrad.comm: no MPI datatype for {d}")
    return d


def mpi_datatype(MPI, wire):
    """The MPI datatype object for a wire dtype from :func:`wire_dtype`."""
    return getattr(MPI, _MPI_TYPE_NAMES[np.dtype(wire)])


def mpi_op(MPI, op, np_dtype):
    """The MPI reduction for RedOpType ``op`` on data of (original) dtype ``np_dtype``.

    AVG reduces with SUM; the caller divides afterwards.
    """
    if np.dtype(np_dtype) == np.bool_:
        table = {RedOpType.SUM: MPI.MAX, RedOpType.MAX: MPI.MAX, RedOpType.BOR: MPI.MAX,
                 RedOpType.PRODUCT: MPI.MIN, RedOpType.MIN: MPI.MIN, RedOpType.BAND: MPI.MIN,
                 RedOpType.BXOR: MPI.BXOR}
        return table[op]
    table = {RedOpType.SUM: MPI.SUM, RedOpType.AVG: MPI.SUM, RedOpType.PRODUCT: MPI.PROD,
             RedOpType.MIN: MPI.MIN, RedOpType.MAX: MPI.MAX, RedOpType.BAND: MPI.BAND,
             RedOpType.BOR: MPI.BOR, RedOpType.BXOR: MPI.BXOR}
    return table[op]
