"""``ProcessGroup.prepare_allreduce``: a buffer registered once, then one ``start()`` per step.

Tests taking the ``world`` fixture run twice: in a world of one process, and
(marked ``mpi``) on every rank under ``mpiexec -n 2|3 python -m pytest
--with-mpi -m mpi tests/comm``; the others are marked for one of the two.  Each rank's data is a function of its rank,
so every rank computes the expected sums itself.
"""
import time

import numpy as np
import pytest

import distgrad
import distgrad.comm as dist
from distgrad import nn
from distgrad.comm import env
from distgrad.comm.prepared_allreduce import sleep_until_all_arrive
from distgrad.nn.parallel import DistributedDataParallel as DDP
from test_collectives import DTYPES, expected_reduction, rank_data, valid

mpi = pytest.mark.mpi(min_size=2)
single = pytest.mark.skipif(env.launched_by_mpi(), reason="world-of-one test (runs without mpiexec)")
OPS = [dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX, dist.ReduceOp.BOR]


@pytest.fixture(autouse=True, scope="module")
def _world():
    dist.init_process_group(timeout=60)
    yield


@pytest.fixture(params=[pytest.param("one process", marks=single), pytest.param("ranks", marks=mpi)])
def world(request):
    """Run the test in a world of one process and again on several ranks."""
    return request.param


def _pg():
    return dist.default_group()


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_values_match_allreduce_for_every_dtype(op, dtype, world):
    rank, size = dist.get_rank(), dist.get_world_size()
    buf = rank_data(rank, dtype).copy()
    if not valid(op, dtype):
        with pytest.raises(ValueError, match=op.name):     # refused at registration, before any communication
            _pg().prepare_allreduce(buf, op)
        return
    prepared = _pg().prepare_allreduce(buf, op)
    work = prepared.start(async_op=False)
    assert work.is_completed()
    np.testing.assert_array_equal(buf, expected_reduction(op, dtype, size))
    assert buf.dtype == dtype.np


@pytest.mark.parametrize("op", [dist.ReduceOp.SUM, dist.ReduceOp.AVG], ids=lambda op: op.name)
@pytest.mark.parametrize("polite", [False, True], ids=["spin", "sleep_while_waiting"])
def test_reuse_across_steps(op, polite, world):
    rank, size = dist.get_rank(), dist.get_world_size()
    buf = np.zeros(5, dtype=np.float32)
    prepared = _pg().prepare_allreduce(buf, op, name="step buffer", sleep_while_waiting=polite)
    before = _pg().entered()
    for step in range(4):
        buf[...] = np.arange(5) * (rank + 1) + step
        prepared.start().wait()
        total = sum(np.arange(5) * (r + 1) + step for r in range(size)).astype(np.float32)
        want = total / size if op == dist.ReduceOp.AVG else total
        np.testing.assert_allclose(buf, want, rtol=1e-6)
    assert prepared.buffer is buf
    assert _pg().entered() - before == 4                   # one numbered collective per start


def test_async_work_and_future(world):
    rank, size = dist.get_rank(), dist.get_world_size()
    buf = np.full(1000, rank + 1, dtype=np.float64)
    prepared = _pg().prepare_allreduce(buf)
    work = prepared.start()                                 # asynchronous by default
    assert isinstance(work, dist.Work)
    assert work.wait() is True
    assert work.is_completed()
    np.testing.assert_array_equal(buf, np.full(1000, size * (size + 1) / 2))
    fut = prepared.start(async_op=True).get_future()
    fut.wait()
    np.testing.assert_array_equal(buf, np.full(1000, size * size * (size + 1) / 2))


def test_buffers_that_allreduce_stages_work_the_same(world):
    rank, size = dist.get_rank(), dist.get_world_size()
    base = np.stack([np.arange(4.0) + rank] * 2, axis=1)
    view = base[:, 1]                                       # not contiguous: staged and written back
    half = (np.arange(4) + rank).astype(np.float16)         # reduced in float32
    flags = np.array([rank == 0, False, True])              # bool: a logical or
    for buf in (view, half, flags):
        _pg().prepare_allreduce(buf).start().wait()
    np.testing.assert_array_equal(view, sum(np.arange(4.0) + r for r in range(size)))
    np.testing.assert_array_equal(base[:, 0], np.arange(4.0) + rank)
    np.testing.assert_array_equal(half, sum((np.arange(4) + r) for r in range(size)).astype(np.float16))
    np.testing.assert_array_equal(flags, [True, False, True])


def test_registration_errors(world):
    with pytest.raises(TypeError, match="NumPy or CuPy array"):
        _pg().prepare_allreduce([1.0, 2.0])
    with pytest.raises(TypeError, match="NumPy or CuPy array"):
        _pg().prepare_allreduce(distgrad.ones(3))          # the array, not the Tensor
    with pytest.raises(ValueError, match="AVG needs a floating-point"):
        _pg().prepare_allreduce(np.ones(3, dtype=np.int32), dist.ReduceOp.AVG)
    with pytest.raises(ValueError, match="BAND needs an integer or bool"):
        _pg().prepare_allreduce(np.ones(3, dtype=np.float32), dist.ReduceOp.BAND)


def test_matching_registrations_pass_the_peer_check(world):
    prepared = _pg().prepare_allreduce(np.ones(6, dtype=np.float32))
    prepared.check_peers()
    assert "6 elements" in repr(prepared) and "SUM" in repr(prepared)


@single
def test_world_of_one_keeps_the_buffer():
    buf = np.arange(3.0)
    prepared = _pg().prepare_allreduce(buf, dist.ReduceOp.AVG)
    for _ in range(3):
        prepared.start().wait()
    np.testing.assert_array_equal(buf, [0.0, 1.0, 2.0])


@mpi
def test_ranks_with_different_sizes_all_raise_the_same_error():
    rank = dist.get_rank()
    prepared = _pg().prepare_allreduce(np.ones(3 + (rank == 1), dtype=np.float32), name="bucket 0")
    with pytest.raises(ValueError, match="prepared different buffers") as info:
        prepared.check_peers()
    assert "rank 0 has 3 elements of float32" in str(info.value)
    assert "rank 1 has 4 elements of float32" in str(info.value)


@mpi
def test_ranks_with_different_dtypes_all_raise_the_same_error():
    rank = dist.get_rank()
    prepared = _pg().prepare_allreduce(np.ones(3, dtype=np.float64 if rank == 1 else np.float32))
    with pytest.raises(ValueError, match="prepared different buffers") as info:
        prepared.check_peers()
    assert "rank 1 has 3 elements of float64" in str(info.value)


@mpi
def test_prepared_allreduce_on_a_sub_group():
    rank, size = dist.get_rank(), dist.get_world_size()
    sub = dist.new_group([0, 1])
    buf = np.full(4, rank + 1.0)
    if sub is dist.GroupMember.NON_GROUP_MEMBER:
        return
    sub.prepare_allreduce(buf).start().wait()
    np.testing.assert_array_equal(buf, np.full(4, 3.0))


@mpi
def test_early_rank_waits_for_the_late_one():
    rank = dist.get_rank()
    results = []

    def arrive():
        if rank == 0:
            time.sleep(0.05)
        sleep_until_all_arrive(env.loaded_mpi().COMM_WORLD)
        results.append(True)
    _pg().run_numbered("arrival", arrive)
    assert results == [True]


def test_ddp_buckets_are_prepared_allreduces(world):
    model = DDP(nn.Linear(4, 3))
    buckets = model.reducer.buckets
    assert buckets and all(isinstance(b.allreduce, dist.PreparedAllreduce) for b in buckets)
    assert all(b.allreduce.buffer is b.flat for b in buckets)
    model(distgrad.ones(2, 4)).sum().backward()
    np.testing.assert_allclose(model.module.weight.grad.numpy(), np.full((3, 4), 2.0))
