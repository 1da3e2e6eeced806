"""Differentiable collectives, like ``torch.distributed.nn.functional`` (``distgrad.distributed.nn``).

Unlike the in-place collectives these return new tensors and record a
backward that is itself a collective, so a loss that depends on other ranks'
values (SyncBatchNorm's global statistics, a contrastive loss over the whole
batch) gets correct gradients on every rank.  Every rank must run backward
through them, since each backward communicates:

* ``all_reduce(x, SUM)``: out = sum_r x_r, so dL/dx_r = sum_j g_j, an all_reduce
  of the gradient; AVG divides it by the group size; MAX/MIN send it to the
  elements that attained the extreme (split evenly among ties).
* ``all_gather(x)`` returns one tensor per rank; backward sums, over all ranks,
  the gradients for this rank's piece: a reduce_scatter.
* ``reduce_scatter(output, input_list)``: backward all-gathers the gradient.
* ``broadcast(x, src)``: backward sums the gradients into ``src`` (a reduce);
  the other ranks' inputs get zero gradient.
* ``reduce(x, dst)``: backward broadcasts ``dst``'s gradient.

Example::

    >>> import distgrad, distgrad.comm as dist
    >>> from distgrad.comm import differentiable as dnn
    >>> dist.init_process_group()
    >>> x = distgrad.ones(3, requires_grad=True)
    >>> dnn.all_reduce(x).sum().backward()
    >>> x.grad          # world size times ones
    tensor([1., 1., 1.])
"""
from distgrad.autograd.function import ArrayFunction
from distgrad.comm.collectives import _group_rank
from distgrad.comm.world import resolve
from distgrad.comm.reduce_op import RedOpType, ReduceOp, as_red_op


def _group(group, name):
    pg = resolve(group, name)
    if pg is None:
        raise RuntimeError(f"distgrad.comm.nn.{name}: this rank is not a member of the given group")
    return pg


class _AllReduce(ArrayFunction):
    node_name = "AllReduceBackward0"

    @staticmethod
    def forward(ctx, op, pg, x):
        out = x.copy()
        pg.allreduce(out, op, name="nn.all_reduce")
        ctx.op, ctx.pg = op, pg
        if op in (RedOpType.MAX, RedOpType.MIN):
            ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        op, pg = ctx.op, ctx.pg
        if op in (RedOpType.SUM, RedOpType.AVG):
            return None, None, _AllReduce.apply(op, pg, g)
        if op in (RedOpType.MAX, RedOpType.MIN):
            x, out = ctx.saved_tensors
            hit = (x == out).to(g.dtype)
            ties = _AllReduce.apply(RedOpType.SUM, pg, hit)
            total = _AllReduce.apply(RedOpType.SUM, pg, g)
            return None, None, total * hit / ties.clamp(min=1)
        raise RuntimeError(f"distgrad.comm.nn.all_reduce: backward is not implemented for ReduceOp.{op.name} "
                           "(only SUM, AVG, MAX and MIN)")


def all_reduce(tensor, op=ReduceOp.SUM, group=None):
    """The reduction of ``tensor`` over the group, as a new tensor with a collective backward."""
    pg = _group(group, "all_reduce")
    return _AllReduce.apply(as_red_op(op, "distgrad.comm.nn.all_reduce"), pg, tensor)


class _AllGather(ArrayFunction):
    node_name = "AllGatherBackward0"

    @staticmethod
    def forward(ctx, pg, x):
        outs = [x.copy() for _ in range(pg.size())]
        pg.allgather(outs, x, name="nn.all_gather")
        ctx.pg = pg
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        pg = ctx.pg
        return None, _ReduceScatter.apply(RedOpType.SUM, pg, *grads)


def all_gather(tensor, group=None):
    """A tuple with every rank's ``tensor`` (rank order); backward reduce-scatters the gradients."""
    pg = _group(group, "all_gather")
    out = _AllGather.apply(pg, tensor)
    return out if isinstance(out, tuple) else (out,)


class _ReduceScatter(ArrayFunction):
    node_name = "ReduceScatterBackward0"

    @staticmethod
    def forward(ctx, op, pg, *inputs):
        out = inputs[pg.rank()].copy()
        pg.reduce_scatter(out, list(inputs), op, name="nn.reduce_scatter")
        ctx.op, ctx.pg = op, pg
        return out

    @staticmethod
    def backward(ctx, g):
        op, pg = ctx.op, ctx.pg
        if op not in (RedOpType.SUM, RedOpType.AVG):
            raise RuntimeError(f"distgrad.comm.nn.reduce_scatter: backward is only implemented for ReduceOp.SUM "
                               f"and AVG, got {op.name}")
        grads = _AllGather.apply(pg, g)
        grads = grads if isinstance(grads, tuple) else (grads,)
        if op == RedOpType.AVG:
            grads = tuple(gr / pg.size() for gr in grads)
        return (None, None) + grads


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None):
    """Reduce ``input_list`` over the group; returns rank ``i``'s entry (``output`` gives its shape)."""
    pg = _group(group, "reduce_scatter")
    if len(input_list) != pg.size():
        raise ValueError(f"distgrad.comm.nn.reduce_scatter: input_list has {len(input_list)} entries, expected "
                         f"one per rank ({pg.size()})")
    if tuple(input_list[pg.rank()].shape) != tuple(output.shape):
        raise ValueError(f"distgrad.comm.nn.reduce_scatter: output shape {list(output.shape)} differs from "
                         f"input_list[{pg.rank()}] shape {list(input_list[pg.rank()].shape)}")
    return _ReduceScatter.apply(as_red_op(op, "distgrad.comm.nn.reduce_scatter"), pg, *input_list)


class _Broadcast(ArrayFunction):
    node_name = "BroadcastBackward0"

    @staticmethod
    def forward(ctx, root, pg, x):
        out = x.copy()
        pg.broadcast(out, root, name="nn.broadcast")
        ctx.root, ctx.pg = root, pg
        return out

    @staticmethod
    def backward(ctx, g):
        gx = _Reduce.apply(ctx.root, RedOpType.SUM, ctx.pg, g)
        if ctx.pg.rank() != ctx.root:
            gx = gx * 0
        return None, None, gx


def broadcast(tensor, src, group=None):
    """Rank ``src``'s ``tensor`` on every rank; backward sums every rank's gradient into ``src``."""
    pg = _group(group, "broadcast")
    return _Broadcast.apply(_group_rank(pg, src, None, "src", "distgrad.comm.nn.broadcast"), pg, tensor)


class _Reduce(ArrayFunction):
    node_name = "ReduceBackward0"

    @staticmethod
    def forward(ctx, root, op, pg, x):
        out = x.copy()
        pg.reduce(out, root, op, name="nn.reduce")
        ctx.root, ctx.op, ctx.pg = root, op, pg
        return out

    @staticmethod
    def backward(ctx, g):
        if ctx.op not in (RedOpType.SUM, RedOpType.AVG):
            raise RuntimeError(f"distgrad.comm.nn.reduce: backward is only implemented for ReduceOp.SUM and AVG, "
                               f"got {ctx.op.name}")
        gx = _Broadcast.apply(ctx.root, ctx.pg, g)
        if ctx.op == RedOpType.AVG:
            gx = gx / ctx.pg.size()
        return None, None, None, gx


def reduce(tensor, dst, op=ReduceOp.SUM, group=None):
    """The reduction over the group on rank ``dst`` (others get their input back); backward broadcasts."""
    pg = _group(group, "reduce")
    root = _group_rank(pg, dst, None, "dst", "distgrad.comm.nn.reduce")
    return _Reduce.apply(root, as_red_op(op, "distgrad.comm.nn.reduce"), pg, tensor)
