"""Every collective against NumPy's answer, for every reduction and dtype.

Multi-rank tests run under ``mpiexec -n 2|3 python -m pytest --with-mpi
tests/comm``; each rank's data is a deterministic function of its rank, so
every rank can compute the expected answer itself.  Argument errors are
raised on every rank before any communication, so they cannot hang.  The
unmarked tests check the same calls in a world of one process.
"""
import warnings

import numpy as np
import pytest

import distgrad
import distgrad.comm as dist
from distgrad.comm import env

mpi = pytest.mark.mpi(min_size=2)
single = pytest.mark.skipif(env.launched_by_mpi(), reason="world-of-one test (runs without mpiexec)")

DTYPES = [distgrad.bool, distgrad.uint8, distgrad.int8, distgrad.int16, distgrad.int32, distgrad.int64,
          distgrad.float16, distgrad.float32, distgrad.float64]
OPS = [dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.PRODUCT, dist.ReduceOp.MIN, dist.ReduceOp.MAX,
       dist.ReduceOp.BAND, dist.ReduceOp.BOR, dist.ReduceOp.BXOR]


@pytest.fixture(autouse=True, scope="module")
def _world():
    dist.init_process_group(timeout=60)
    yield


def rank_data(rank, dtype, n=7):
    """Small values (so products fit in int8), different on every rank."""
    if dtype is distgrad.bool:
        return (np.arange(n) + rank) % 3 == 0
    return ((np.arange(n) * (rank + 2)) % 3 + 1 + (rank % 2)).astype(dtype.np)


def expected_reduction(op, dtype, size, n=7):
    stack = np.stack([rank_data(r, dtype, n) for r in range(size)])
    if dtype is distgrad.bool:
        anyv, allv = stack.any(0), stack.all(0)
        return {dist.ReduceOp.SUM: anyv, dist.ReduceOp.MAX: anyv, dist.ReduceOp.BOR: anyv,
                dist.ReduceOp.PRODUCT: allv, dist.ReduceOp.MIN: allv, dist.ReduceOp.BAND: allv,
                dist.ReduceOp.BXOR: np.logical_xor.reduce(stack, 0)}[op]
    acc = np.dtype(np.float32) if dtype is distgrad.float16 else dtype.np  # float16 is reduced in float32
    s = stack.astype(acc)
    res = {dist.ReduceOp.SUM: lambda: np.add.reduce(s, 0, dtype=acc),
           dist.ReduceOp.AVG: lambda: np.add.reduce(s, 0, dtype=acc) / acc.type(size),
           dist.ReduceOp.PRODUCT: lambda: np.multiply.reduce(s, 0, dtype=acc),
           dist.ReduceOp.MIN: lambda: s.min(0), dist.ReduceOp.MAX: lambda: s.max(0),
           dist.ReduceOp.BAND: lambda: np.bitwise_and.reduce(s, 0),
           dist.ReduceOp.BOR: lambda: np.bitwise_or.reduce(s, 0),
           dist.ReduceOp.BXOR: lambda: np.bitwise_xor.reduce(s, 0)}[op]()
    return res.astype(dtype.np)


def valid(op, dtype):
    if op == dist.ReduceOp.AVG:
        return dtype.is_floating_point
    if op in (dist.ReduceOp.BAND, dist.ReduceOp.BOR, dist.ReduceOp.BXOR):
        return not dtype.is_floating_point
    return True


def check_reduction(op, dtype, fn):
    """Run ``fn(tensor)`` (a reduction) on this rank's data; compare against NumPy or expect ValueError."""
    rank, size = dist.get_rank(), dist.get_world_size()
    t = distgrad.from_numpy(rank_data(rank, dtype).copy())
    if not valid(op, dtype):
        with pytest.raises(ValueError, match=op.name):
            fn(t)
        return None
    fn(t)
    return t.numpy(), expected_reduction(op, dtype, size)


@mpi
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
def test_all_reduce_every_op_and_dtype(op, dtype):
    res = check_reduction(op, dtype, lambda t: dist.all_reduce(t, op=op))
    if res is not None:
        got, want = res
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@mpi
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("op", [dist.ReduceOp.SUM, dist.ReduceOp.MAX, dist.ReduceOp.AVG], ids=lambda o: o.name)
def test_reduce_every_destination(op, dtype):
    size = dist.get_world_size()
    for dst in range(size):
        before = rank_data(dist.get_rank(), dtype)
        res = check_reduction(op, dtype, lambda t: dist.reduce(t, dst=dst, op=op))
        if res is None:
            return
        got, want = res
        np.testing.assert_array_equal(got, want if dist.get_rank() == dst else before)


@mpi
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_broadcast_from_every_rank(dtype):
    for src in range(dist.get_world_size()):
        t = distgrad.from_numpy(rank_data(dist.get_rank(), dtype).copy())
        v0 = t._version
        assert dist.broadcast(t, src=src) is None
        np.testing.assert_array_equal(t.numpy(), rank_data(src, dtype))
        assert t._version == v0 + 1


@mpi
@pytest.mark.parametrize("dtype", [distgrad.bool, distgrad.int8, distgrad.float16, distgrad.float64], ids=str)
def test_all_gather_equal_and_uneven(dtype):
    rank, size = dist.get_rank(), dist.get_world_size()
    out = [distgrad.zeros(7, dtype=dtype) for _ in range(size)]
    dist.all_gather(out, distgrad.from_numpy(rank_data(rank, dtype)))
    for r in range(size):
        np.testing.assert_array_equal(out[r].numpy(), rank_data(r, dtype))
    # Rank r contributes r + 1 elements: all_gather accepts per-rank sizes.
    out = [distgrad.zeros(r + 1, dtype=dtype) for r in range(size)]
    dist.all_gather(out, distgrad.from_numpy(rank_data(rank, dtype, rank + 1)))
    for r in range(size):
        np.testing.assert_array_equal(out[r].numpy(), rank_data(r, dtype, r + 1))


@mpi
def test_all_gather_into_tensor_concatenated_and_stacked():
    rank, size = dist.get_rank(), dist.get_world_size()
    x = distgrad.arange(6.0).reshape(2, 3) + 10 * rank
    want = np.stack([np.arange(6.0).reshape(2, 3) + 10 * r for r in range(size)])
    cat = distgrad.zeros(2 * size, 3)
    dist.all_gather_into_tensor(cat, x)
    np.testing.assert_array_equal(cat.numpy(), want.reshape(2 * size, 3))
    stacked = distgrad.zeros(size, 2, 3)
    dist.all_gather_into_tensor(stacked, x)
    np.testing.assert_array_equal(stacked.numpy(), want)
    with pytest.raises(ValueError, match="all_gather_into_tensor"):
        dist.all_gather_into_tensor(distgrad.zeros(2 * size + 1, 3), x)


@mpi
@pytest.mark.parametrize("op", [dist.ReduceOp.SUM, dist.ReduceOp.MAX, dist.ReduceOp.AVG], ids=lambda o: o.name)
def test_reduce_scatter_tensor(op):
    rank, size = dist.get_rank(), dist.get_world_size()
    inputs = [np.arange(size * 4, dtype=np.float32).reshape(size, 4) * (r + 1) for r in range(size)]
    full = {dist.ReduceOp.SUM: sum(inputs), dist.ReduceOp.MAX: np.maximum.reduce(inputs),
            dist.ReduceOp.AVG: sum(inputs) / np.float32(size)}[op]
    out = distgrad.zeros(4)
    dist.reduce_scatter_tensor(out, distgrad.from_numpy(inputs[rank].reshape(-1).copy()), op=op)
    np.testing.assert_allclose(out.numpy(), full[rank], rtol=1e-6)
    out = distgrad.zeros(4)
    dist.reduce_scatter_tensor(out, distgrad.from_numpy(inputs[rank].copy()), op=op)  # stacked input
    np.testing.assert_allclose(out.numpy(), full[rank], rtol=1e-6)


@mpi
def test_reduce_scatter_list_with_uneven_pieces():
    rank, size = dist.get_rank(), dist.get_world_size()
    pieces = [distgrad.full((j + 1,), float(rank + j)) for j in range(size)]
    out = distgrad.zeros(rank + 1)
    dist.reduce_scatter(out, pieces)
    np.testing.assert_array_equal(out.numpy(), np.full(rank + 1, sum(r + rank for r in range(size)), np.float32))


@mpi
def test_all_to_all_and_single():
    rank, size = dist.get_rank(), dist.get_world_size()
    ins = [distgrad.tensor([100 * rank + j] * (j + 1)) for j in range(size)]
    outs = [distgrad.zeros(rank + 1, dtype=distgrad.int64) for _ in range(size)]
    dist.all_to_all(outs, ins)
    for i in range(size):
        np.testing.assert_array_equal(outs[i].numpy(), [100 * i + rank] * (rank + 1))
    x = distgrad.arange(size * 2.0) + 10 * rank
    y = distgrad.zeros(size * 2)
    dist.all_to_all_single(y, x)
    np.testing.assert_array_equal(y.numpy(), [10 * i + 2 * rank + k for i in range(size) for k in range(2)])
    # Uneven: rank r sends j + 1 rows to rank j, so rank r receives r + 1 rows from each rank.
    x = distgrad.cat([distgrad.full((j + 1, 2), float(10 * rank + j)) for j in range(size)])
    y = distgrad.zeros(size * (rank + 1), 2)
    dist.all_to_all_single(y, x, output_split_sizes=[rank + 1] * size,
                           input_split_sizes=[j + 1 for j in range(size)])
    want = np.concatenate([np.full((rank + 1, 2), 10 * i + rank, np.float32) for i in range(size)])
    np.testing.assert_array_equal(y.numpy(), want)


@mpi
def test_gather_and_scatter():
    rank, size = dist.get_rank(), dist.get_world_size()
    dst = size - 1
    x = distgrad.full((3,), float(rank))
    outs = [distgrad.zeros(3) for _ in range(size)] if rank == dst else None
    dist.gather(x, outs, dst=dst)
    if rank == dst:
        for r in range(size):
            np.testing.assert_array_equal(outs[r].numpy(), [r] * 3)
    got = distgrad.zeros(2, dtype=distgrad.int32)
    ins = [distgrad.full((2,), 7 * r, dtype=distgrad.int32) for r in range(size)] if rank == 0 else None
    dist.scatter(got, ins, src=0)
    np.testing.assert_array_equal(got.numpy(), [7 * rank] * 2)


@mpi
def test_send_recv_ring_and_any_source():
    rank, size = dist.get_rank(), dist.get_world_size()
    right, left = (rank + 1) % size, (rank - 1) % size
    buf = distgrad.zeros(5)
    # Post the receive first, then send: the comm thread must not block on the receive.
    rw = dist.irecv(buf, src=left, tag=3)
    sw = dist.isend(distgrad.arange(5.0) + rank, dst=right, tag=3)
    assert rw.wait() is True and sw.wait() is True
    np.testing.assert_array_equal(buf.numpy(), np.arange(5.0) + left)
    if rank == 0:
        senders = set()
        for _ in range(size - 1):
            got = distgrad.zeros(1, dtype=distgrad.int64)
            src = dist.recv(got, tag=9)
            assert got.item() == 1000 + src
            senders.add(src)
        assert senders == set(range(1, size))
    else:
        dist.send(distgrad.tensor([1000 + rank]), dst=0, tag=9)
    with pytest.raises(ValueError, match="destination rank should not be the same"):
        dist.send(buf, dst=rank)


@mpi
def test_async_handles_and_futures():
    rank, size = dist.get_rank(), dist.get_world_size()
    ts = [distgrad.full((1000,), float(rank + k)) for k in range(4)]
    works = [dist.all_reduce(t, async_op=True) for t in ts]
    fut = works[1].get_future().then(lambda f: f.value()[0].sum().item())
    for w in reversed(works):  # waiting out of order is fine: they complete in issue order
        assert w.wait() is True
        assert w.is_completed() and w.is_success() and w.exception() is None
    total = sum(range(size))
    for k, t in enumerate(ts):
        np.testing.assert_array_equal(t.numpy(), np.full(1000, total + size * k, np.float32))
    assert fut.wait() == 1000 * (total + size)
    assert works[0].result()[0] is ts[0]
    w = dist.barrier(async_op=True)
    assert w.wait()


@mpi
def test_non_contiguous_tensor_is_reduced_in_place():
    rank, size = dist.get_rank(), dist.get_world_size()
    base = distgrad.arange(12.0).reshape(3, 4) * (rank + 1)
    view = base.t()  # non-contiguous
    dist.all_reduce(view)
    np.testing.assert_array_equal(base.numpy(), np.arange(12.0).reshape(3, 4) * sum(range(1, size + 1)))


@mpi
def test_sub_groups_and_non_members():
    rank, size = dist.get_rank(), dist.get_world_size()
    members = [0, size - 1]
    g = dist.new_group(members)
    t = distgrad.ones(2) * (rank + 1)
    if rank in members:
        assert dist.get_rank(g) == members.index(rank) and dist.get_world_size(g) == 2
        dist.all_reduce(t, group=g)
        np.testing.assert_array_equal(t.numpy(), [1 + size] * 2)
        b = distgrad.full((1,), float(rank))
        dist.broadcast(b, src=size - 1, group=g)  # src is a world rank, as in PyTorch
        assert b.item() == size - 1
        b = distgrad.full((1,), float(rank))
        dist.broadcast(b, group=g, group_src=0)
        assert b.item() == 0
        with pytest.raises(ValueError, match="not part of group"):
            dist.broadcast(b, src=1 if size > 2 else 5, group=g)
    else:
        assert g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert dist.all_reduce(t, group=g) is None
        assert "does not belong to the given group" in str(caught[0].message)
        np.testing.assert_array_equal(t.numpy(), [rank + 1] * 2)
    # Only the members take part in a locally synchronised group.
    if rank in members:
        h = dist.new_group(members, use_local_synchronization=True)
        x = distgrad.ones(1)
        dist.all_reduce(x, group=h)
        assert x.item() == 2
        dist.destroy_process_group(h)
        with pytest.raises(RuntimeError, match="destroyed"):
            dist.all_reduce(x, group=h)
    dist.barrier()


@mpi
def test_object_collectives():
    rank, size = dist.get_rank(), dist.get_world_size()
    objs = [None] * size
    dist.all_gather_object(objs, {"rank": rank, "name": "r" * rank})
    assert objs == [{"rank": r, "name": "r" * r} for r in range(size)]
    lst = [rank, "x", None] if rank == 1 else [None, None, None]
    dist.broadcast_object_list(lst, src=1)
    assert lst == [1, "x", None]
    assert dist.broadcast_object({"lr": 0.1} if rank == 0 else None, src=0) == {"lr": 0.1}
    gathered = [None] * size if rank == 0 else None
    dist.gather_object(("hi", rank), gathered, dst=0)
    if rank == 0:
        assert gathered == [("hi", r) for r in range(size)]
    out = [None]
    dist.scatter_object_list(out, [[r] * r for r in range(size)] if rank == 0 else None, src=0)
    assert out == [[rank] * rank]


@mpi
def test_argument_errors_name_the_collective_and_rank():
    rank, size = dist.get_rank(), dist.get_world_size()
    t = distgrad.ones(3)
    with pytest.raises(ValueError, match=rf"all_gather \(rank {rank}\).*{size}"):
        dist.all_gather([distgrad.ones(3)] * (size + 1), t)
    with pytest.raises(ValueError, match=rf"all_gather \(rank {rank}\).*3 elements, expected 4"):
        dist.all_gather([distgrad.ones(4)] * size, t)
    with pytest.raises(ValueError, match=rf"broadcast \(rank {rank}\): src rank 99"):
        dist.broadcast(t, src=99)
    with pytest.raises(ValueError, match="AVG needs a floating-point"):
        dist.all_reduce(distgrad.ones(3, dtype=distgrad.int64), op=dist.ReduceOp.AVG)
    with pytest.raises(ValueError, match="same dtype"):
        dist.all_gather([distgrad.ones(3, dtype=distgrad.float64)] * size, t)
    with pytest.raises(TypeError, match="distgrad.Tensor"):
        dist.all_reduce(np.ones(3))
    with pytest.raises(TypeError, match="ReduceOp"):
        dist.all_reduce(t, op="sum")
    dist.barrier()  # the errors above were local: everyone is still in step


@mpi
def test_array_level_allreduce_started_from_gradient_hooks():
    """The DDP pattern: start an async allreduce of a flat numpy bucket during backward, wait after."""
    rank, size = dist.get_rank(), dist.get_world_size()
    pg = dist.default_group()
    w = distgrad.full((256,), float(rank + 1), requires_grad=True)
    b = distgrad.full((64,), 1.0, requires_grad=True)
    works = []

    def hook(p):
        bucket = np.ascontiguousarray(p.grad.numpy().reshape(-1))
        works.append((p, bucket, pg.allreduce(bucket, dist.ReduceOp.AVG, async_op=True)))
    w.register_post_accumulate_grad_hook(hook)
    b.register_post_accumulate_grad_hook(hook)
    ((w * w).sum() + (b * (rank + 1)).sum()).backward()
    assert len(works) == 2
    for p, bucket, work in works:
        work.wait()
        p.grad = distgrad.from_numpy(bucket.reshape(p.shape))
    mean_rank = sum(range(1, size + 1)) / size
    np.testing.assert_allclose(w.grad.numpy(), np.full(256, 2 * mean_rank), rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), np.full(64, mean_rank), rtol=1e-6)


@single
def test_world_of_one_collectives_keep_the_data():
    t = distgrad.arange(4.0)
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX, dist.ReduceOp.PRODUCT):
        dist.all_reduce(t, op=op)
        np.testing.assert_array_equal(t.numpy(), np.arange(4.0))
    dist.broadcast(t, src=0)
    dist.reduce(t, dst=0)
    out = [distgrad.zeros(4)]
    dist.all_gather(out, t)
    np.testing.assert_array_equal(out[0].numpy(), np.arange(4.0))
    o = distgrad.zeros(1, 4)
    dist.all_gather_into_tensor(o, t)
    np.testing.assert_array_equal(o.numpy(), [np.arange(4.0)])
    r = distgrad.zeros(4)
    dist.reduce_scatter_tensor(r, t)
    np.testing.assert_array_equal(r.numpy(), np.arange(4.0))
    w = dist.all_reduce(t, async_op=True)
    assert w.wait() and w.is_completed() and w.get_future().wait() == [t]


@single
def test_world_of_one_errors():
    t = distgrad.ones(2)
    with pytest.raises(ValueError, match=r"broadcast \(rank 0\): src rank 1 is not part of group world"):
        dist.broadcast(t, src=1)
    with pytest.raises(ValueError, match="destination rank should not be the same"):
        dist.send(t, dst=0)
    with pytest.raises(ValueError, match="should not be the same"):
        dist.recv(t, src=0)
    with pytest.raises(ValueError, match="BXOR needs an integer or bool"):
        dist.all_reduce(t, op=dist.ReduceOp.BXOR)
    with pytest.raises(ValueError, match="PREMUL_SUM"):
        dist.all_reduce(t, op=dist.ReduceOp.PREMUL_SUM)
    leaf = distgrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        dist.all_reduce(leaf)
    with distgrad.no_grad():
        dist.all_reduce(leaf)
    # Sending to oneself asynchronously is allowed (as in PyTorch); an unmatched receive errors.
    got = distgrad.zeros(2)
    sw, rw = dist.isend(distgrad.tensor([3.0, 4.0]), dst=0, tag=1), dist.irecv(got, src=0, tag=1)
    assert sw.wait() and rw.wait() and got.tolist() == [3.0, 4.0]
    with pytest.raises(RuntimeError, match="would wait forever"):
        dist.irecv(got, tag=2).wait()


@single
def test_world_of_one_objects_and_float16_bool():
    objs = [None]
    dist.all_gather_object(objs, {"a": [1, 2]})
    assert objs == [{"a": [1, 2]}]
    assert dist.broadcast_object("cfg") == "cfg"
    h = distgrad.tensor([0.5, 1.5], dtype=distgrad.float16)
    dist.all_reduce(h, op=dist.ReduceOp.AVG)
    assert h.dtype is distgrad.float16 and h.tolist() == [0.5, 1.5]
    b = distgrad.tensor([True, False])
    dist.all_reduce(b, op=dist.ReduceOp.BXOR)
    assert b.tolist() == [True, False]


def test_waiting_inside_the_communication_thread_raises_instead_of_deadlocking():
    import threading
    from distgrad.comm.work import COMM_THREADS, Work
    pending = Work("all_reduce")
    COMM_THREADS.add(threading.get_ident())  # pretend to be the comm thread running a Future callback
    try:
        with pytest.raises(RuntimeError, match="inside a Future callback would deadlock"):
            pending.wait()
    finally:
        COMM_THREADS.discard(threading.get_ident())
    pending._complete()
    assert pending.wait() is True


@mpi
def test_batch_isend_irecv_ring():
    rank, size = dist.get_rank(), dist.get_world_size()
    got = distgrad.zeros(3, dtype=distgrad.float64)
    ops = [dist.P2POp(dist.irecv, got, (rank - 1) % size),
           dist.P2POp(dist.isend, distgrad.full((3,), float(rank), dtype=distgrad.float64), (rank + 1) % size)]
    for w in dist.batch_isend_irecv(ops):
        w.wait()
    np.testing.assert_array_equal(got.numpy(), np.full(3, float((rank - 1) % size)))
    with pytest.raises(ValueError, match="Invalid ``op``"):
        dist.P2POp(dist.all_reduce, got, 0)


def test_future_chains_values_and_errors():
    from distgrad.comm.work import Future
    f = Future()
    doubled = f.then(lambda fut: fut.value() * 2)
    failed = doubled.then(lambda fut: 1 / 0)
    assert not doubled.done()
    f.set_result(21)
    assert doubled.wait() == 42
    with pytest.raises(ZeroDivisionError):
        failed.wait()
    with pytest.raises(RuntimeError, match="already set"):
        f.set_result(1)
