"""Collectives on Tensors, with ``torch.distributed``'s names, signatures and semantics.

Every function works in place on the tensors it is given, through mpi4py's
buffer methods (never by pickling tensor data), and returns None, or a
:class:`Work` handle with ``async_op=True``.  ``src``/``dst`` are world ranks
(as in PyTorch, whatever ``group`` is); ``group_src``/``group_dst`` give ranks
within ``group`` instead.  A rank that is not a member of ``group`` gets
PyTorch's warning and the call does nothing.

Tensors may be non-contiguous (they are staged through a contiguous copy and
written back), of any distgrad dtype, and on a GPU (staged through host
memory).  The array-level work happens in :class:`distgrad.comm.process_group.ProcessGroup`.
Every function has the same three steps, each written once here:
:func:`_begin` (argument checks, group resolution), the array call, and
:func:`_complete` (version bumps, the Work or None).

Example::

    >>> import distgrad, distgrad.comm as dist
    >>> dist.init_process_group()
    >>> t = distgrad.arange(4.0) * (dist.get_rank() + 1)
    >>> dist.all_reduce(t, op=dist.ReduceOp.SUM)   # t now holds the sum over ranks
    >>> out = [distgrad.zeros(4) for _ in range(dist.get_world_size())]
    >>> dist.all_gather(out, t)
"""
from distgrad.autograd import grad_mode
from distgrad.autograd.raw import array_of, bump_version
from distgrad.autograd.tensor import Tensor
from distgrad.comm import buffers
from distgrad.comm.reduce_op import ReduceOp
from distgrad.comm.world import default_group, resolve


def _check_tensor(param, name, where):
    if not isinstance(param, Tensor):
        raise TypeError(f"{where}: expected parameter `{name}` to be a distgrad.Tensor, got "
                        f"{type(param).__name__}")


def _check_tensor_list(param, name, where):
    if not isinstance(param, (list, tuple)) or not all(isinstance(p, Tensor) for p in param):
        raise TypeError(f"{where}: expected parameter `{name}` to be a list of distgrad.Tensor, got "
                        f"{type(param).__name__}")


def _begin(where, group, *params):
    """The prologue of every collective: check the Tensor arguments, then resolve ``group``.

    ``params`` are ``(parameter name, value)`` pairs, checked in order: a
    parameter whose name ends in ``_list`` must be a list of Tensors, any
    other a Tensor.  Returns the ProcessGroup, or None (after PyTorch's
    warning) on a rank outside the group, where the collective does nothing.
    """
    for name, value in params:
        if name.endswith("_list"):
            _check_tensor_list(value, name, where)
        else:
            _check_tensor(value, name, where)
    return resolve(group, where)


def _writable(tensors, where):
    """Refuse to overwrite a leaf that requires grad (as any in-place op does)."""
    if not grad_mode.state.enabled:
        return
    for t in tensors:
        if t.grad_fn is None and t._requires_grad:
            raise RuntimeError(f"{where}: a leaf Variable that requires grad is being used in an in-place "
                               "operation; run it on tensor.detach() or under distgrad.no_grad()")


def _same_device(tensors, where):
    buffers.check_device(where, [array_of(t) for t in tensors])


def _arrays(tensors):
    return [array_of(t) for t in tensors]


def _complete(work, outputs, async_op):
    """The epilogue of every collective: record the in-place change of ``outputs``; the Work or None."""
    for t in outputs:
        bump_version(t)
    work._result = list(outputs)
    return work if async_op else None


def _group_rank(pg, global_rank, group_rank, what, where):
    """PyTorch's rule: exactly one of a world rank and a group rank; return the group rank."""
    where = pg._where(where)  # name this rank in the messages
    if group_rank is not None:
        if global_rank is not None:
            raise ValueError(f"{where}: can't specify both {what} and group_{what}")
        return group_rank
    if global_rank is None:
        raise ValueError(f"{where}: must specify {what} or group_{what}")
    if not isinstance(global_rank, int) or isinstance(global_rank, bool):
        raise TypeError(f"{where}: {what} must be an int rank, got {global_rank!r}")
    if global_rank not in pg.ranks:
        raise ValueError(f"{where}: {what} rank {global_rank} is not part of group {pg.name} (world ranks "
                         f"{pg.ranks}); the world has ranks 0..{_world_size() - 1}")
    return pg.ranks.index(global_rank)


def _world_size():
    return default_group().size()


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over the group so every rank ends with the same result, in place."""
    where = "all_reduce"
    pg = _begin(where, group, ("tensor", tensor))
    if pg is None:
        return None
    _writable([tensor], where)
    return _complete(pg.allreduce(array_of(tensor), op, async_op), [tensor], async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank of the group."""
    where = "broadcast"
    pg = _begin(where, group, ("tensor", tensor))
    if pg is None:
        return None
    root = _group_rank(pg, src, group_src, "src", where)
    _writable([tensor], where)
    return _complete(pg.broadcast(array_of(tensor), root, async_op), [tensor], async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` over the group into rank ``dst``'s ``tensor``; the others' stay unchanged."""
    where = "reduce"
    pg = _begin(where, group, ("tensor", tensor))
    if pg is None:
        return None
    root = _group_rank(pg, dst, group_dst, "dst", where)
    _writable([tensor], where)
    return _complete(pg.reduce(array_of(tensor), root, op, async_op), [tensor], async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Gather every rank's ``tensor`` into ``tensor_list`` (one tensor per rank, in rank order)."""
    where = "all_gather"
    pg = _begin(where, group, ("tensor_list", tensor_list), ("tensor", tensor))
    if pg is None:
        return None
    _same_device(list(tensor_list) + [tensor], where)
    _writable(tensor_list, where)
    return _complete(pg.allgather(_arrays(tensor_list), array_of(tensor), async_op), tensor_list, async_op)


def _check_stacked_or_concat(where, big, small, size, big_name, small_name):
    bs, ss = tuple(big.shape), tuple(small.shape)
    concat = (size * ss[0],) + ss[1:] if ss else (size,)
    if bs != concat and bs != (size,) + ss:
        raise ValueError(f"{where}: {big_name} of shape {list(bs)} must be the {small_name} shape {list(ss)} "
                         f"concatenated ({list(concat)}) or stacked ({[size] + list(ss)}) over the "
                         f"{size} ranks")


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Gather every rank's ``input_tensor`` into ``output_tensor`` (concatenated or stacked along dim 0)."""
    where = "all_gather_into_tensor"
    pg = _begin(where, group, ("output_tensor", output_tensor), ("input_tensor", input_tensor))
    if pg is None:
        return None
    _check_stacked_or_concat(where, output_tensor, input_tensor, pg.size(), "output_tensor", "input_tensor")
    _same_device([output_tensor, input_tensor], where)
    _writable([output_tensor], where)
    work = pg.allgather_into(array_of(output_tensor), array_of(input_tensor), async_op)
    return _complete(work, [output_tensor], async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list`` element-wise over the group; rank ``i`` receives entry ``i`` in ``output``."""
    where = "reduce_scatter"
    pg = _begin(where, group, ("output", output), ("input_list", input_list))
    if pg is None:
        return None
    _same_device([output] + list(input_list), where)
    _writable([output], where)
    return _complete(pg.reduce_scatter(array_of(output), _arrays(input_list), op, async_op), [output], async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` over the group and give rank ``i`` its ``i``-th block (concatenated or stacked)."""
    where = "reduce_scatter_tensor"
    pg = _begin(where, group, ("output", output), ("input", input))
    if pg is None:
        return None
    _check_stacked_or_concat(where, input, output, pg.size(), "input", "output")
    _same_device([output, input], where)
    _writable([output], where)
    return _complete(pg.reduce_scatter_block(array_of(output), array_of(input), op, async_op), [output], async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Send ``input_tensor_list[j]`` to rank ``j``; receive rank ``i``'s into ``output_tensor_list[i]``."""
    where = "all_to_all"
    pg = _begin(where, group, ("output_tensor_list", output_tensor_list), ("input_tensor_list", input_tensor_list))
    if pg is None:
        return None
    _same_device(list(output_tensor_list) + list(input_tensor_list), where)
    _writable(output_tensor_list, where)
    work = pg.alltoall(_arrays(output_tensor_list), _arrays(input_tensor_list), async_op)
    return _complete(work, output_tensor_list, async_op)


def _splits(where, t, splits, size, name):
    """Element counts per rank for splitting ``t`` along dim 0 (equal splits when ``splits`` is None)."""
    rows = t.shape[0] if t.ndim else 1
    row = t.numel() // rows if rows else 0
    if splits is None:
        if rows % size:
            raise ValueError(f"{where}: {name} has {rows} rows along dim 0, which do not split evenly over "
                             f"{size} ranks; pass the split sizes")
        return [rows // size * row] * size
    splits = [int(s) for s in splits]
    if len(splits) != size or sum(splits) != rows or min(splits) < 0:
        raise ValueError(f"{where}: {name} split sizes {splits} must be {size} non-negative numbers adding "
                         f"up to its {rows} rows")
    return [s * row for s in splits]


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op=False):
    """Split ``input`` along dim 0 and send piece ``j`` to rank ``j``; gather the pieces into ``output``."""
    where = "all_to_all_single"
    pg = _begin(where, group, ("output", output), ("input", input))
    if pg is None:
        return None
    n = pg.size()
    in_counts = _splits(where, input, input_split_sizes, n, "input")
    out_counts = _splits(where, output, output_split_sizes, n, "output")
    _same_device([output, input], where)
    _writable([output], where)
    work = pg.alltoallv(array_of(output), array_of(input), out_counts, in_counts, async_op)
    return _complete(work, [output], async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Collect every rank's ``tensor`` into ``gather_list`` on rank ``dst`` (other ranks pass None)."""
    where = "gather"
    checked = [("tensor", tensor)] + ([("gather_list", gather_list)] if gather_list is not None else [])
    pg = _begin(where, group, *checked)
    if pg is None:
        return None
    root = _group_rank(pg, 0 if dst is None and group_dst is None else dst, group_dst, "dst", where)
    if pg.rank() == root:
        if gather_list is None:
            raise ValueError(f"{where}: Argument ``gather_list`` must be specified on the destination rank")
        outs = list(gather_list)
    elif gather_list:
        raise ValueError(f"{where}: Argument ``gather_list`` must NOT be specified on non-destination ranks "
                         f"(this is world rank {pg.ranks[pg.rank()]})")
    else:
        outs = []
    _same_device(outs + [tensor], where)
    _writable(outs, where)
    work = pg.gather(array_of(tensor), _arrays(outs) if pg.rank() == root else None, root, async_op)
    return _complete(work, outs, async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Rank ``src`` sends ``scatter_list[i]`` to rank ``i``, which receives it in ``tensor``."""
    where = "scatter"
    checked = [("tensor", tensor)] + ([("scatter_list", scatter_list)] if scatter_list is not None else [])
    pg = _begin(where, group, *checked)
    if pg is None:
        return None
    root = _group_rank(pg, 0 if src is None and group_src is None else src, group_src, "src", where)
    ins = _arrays(scatter_list) if scatter_list else None
    _same_device([tensor] + (list(scatter_list) if scatter_list else []), where)
    _writable([tensor], where)
    return _complete(pg.scatter(array_of(tensor), ins, root, async_op), [tensor], async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Block until every rank of the group reached this barrier."""
    pg = _begin("barrier", group)
    if pg is None:
        return None
    work = pg.barrier(async_op)
    return work if async_op else None


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Start sending ``tensor`` to rank ``dst``; returns a Work (do not modify ``tensor`` before it completes)."""
    where = "isend"
    pg = _begin(where, group, ("tensor", tensor))
    if pg is None:
        return None
    peer = _group_rank(pg, dst, group_dst, "dst", where)
    return pg.send(array_of(tensor), peer, tag, name=where)


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Start receiving into ``tensor`` from rank ``src`` (None: any rank); returns a Work."""
    where = "irecv"
    pg = _begin(where, group, ("tensor", tensor))
    if pg is None:
        return None
    peer = None if src is None and group_src is None else _group_rank(pg, src, group_src, "src", where)
    _writable([tensor], where)
    work = pg.recv(array_of(tensor), peer, tag, name=where)
    bump_version(tensor)
    work._result = [tensor]
    return work


def _not_self(pg, peer, what, where):
    if peer == pg.rank():
        raise ValueError(f"{where}: Invalid {what} rank: {what} rank should not be the same as the rank of the "
                         "current process.")


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` and wait until it went out."""
    where = "send"
    pg = _begin(where, group, ("tensor", tensor))
    if pg is None:
        return None
    peer = _group_rank(pg, dst, group_dst, "dst", where)
    _not_self(pg, peer, "destination", where)
    pg.send(array_of(tensor), peer, tag, name=where).wait()
    return None


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (None: any rank); return the sender's world rank."""
    where = "recv"
    pg = _begin(where, group, ("tensor", tensor))
    if pg is None:
        return -1
    peer = None if src is None and group_src is None else _group_rank(pg, src, group_src, "src", where)
    if peer is not None:
        _not_self(pg, peer, "source", where)
    _writable([tensor], where)
    work = pg.recv(array_of(tensor), peer, tag, name=where)
    bump_version(tensor)
    work.wait()
    return pg.ranks[work._source]


class P2POp:
    """One point-to-point operation for :func:`batch_isend_irecv`: ``P2POp(isend, tensor, peer)``."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op is not isend and op is not irecv:
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``distgrad.comm.isend`` or "
                             "``distgrad.comm.irecv``.")
        self.op, self.tensor, self.peer, self.group = op, tensor, peer, group
        self.tag, self.group_peer = tag, group_peer


def batch_isend_irecv(p2p_op_list):
    """Start every operation of the list (in order) and return their Work handles."""
    if not isinstance(p2p_op_list, (list, tuple)) or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type ``distgrad.comm.P2POp``.")
    works = []
    for p in p2p_op_list:
        if p.op is isend:
            works.append(isend(p.tensor, p.peer, p.group, p.tag, p.group_peer))
        else:
            works.append(irecv(p.tensor, p.peer, p.group, p.tag, p.group_peer))
    return works
