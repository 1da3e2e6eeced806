"""Process groups: initialisation in every start mode, ranks, sub-groups, teardown.

Unmarked tests check the world of one process (plain ``python``, no MPI);
``mpi``-marked ones run under ``mpiexec -n 2|3 python -m pytest --with-mpi``.
"""
import datetime
import os
import subprocess
import sys

import pytest

import distgrad
import distgrad.comm as dist
import distgrad.distributed
from distgrad.comm import env, watchdog

mpi = pytest.mark.mpi(min_size=2)
single = pytest.mark.skipif(env.launched_by_mpi(), reason="world-of-one test (runs without mpiexec)")


@pytest.fixture
def world():
    dist.init_process_group(timeout=60)
    yield dist.default_group()


def test_launcher_detection_from_environment():
    assert env.launched_by_mpi({"OMPI_COMM_WORLD_SIZE": "2"})
    assert env.launched_by_mpi({"PMI_SIZE": "4", "PMI_RANK": "1"})
    assert env.launched_by_mpi({"PMIX_RANK": "0"})
    assert env.launched_by_mpi({"SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "4"})
    assert not env.launched_by_mpi({"SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "1"})
    assert not env.launched_by_mpi({"SLURM_NTASKS": "8", "SLURM_JOB_ID": "5"})  # a batch script
    assert not env.launched_by_mpi({})
    # The launcher's in-process mode (-n 1) wins over everything, in the launcher's process only.
    assert not env.launched_by_mpi({"OMPI_COMM_WORLD_SIZE": "2", env.INPROCESS_VAR: str(os.getpid())})
    assert env.launched_by_mpi({"OMPI_COMM_WORLD_SIZE": "2", env.INPROCESS_VAR: str(os.getpid() + 1)})
    assert env.launcher_world_size({"OMPI_COMM_WORLD_SIZE": "3"}) == 3


def test_timeout_resolution(monkeypatch):
    monkeypatch.delenv(watchdog.TIMEOUT_VAR, raising=False)
    assert watchdog.resolve_timeout(None, "x") == 300.0
    monkeypatch.setenv(watchdog.TIMEOUT_VAR, "7.5")
    assert watchdog.resolve_timeout(None, "x") == 7.5
    assert watchdog.resolve_timeout(datetime.timedelta(minutes=2), "x") == 120.0
    assert watchdog.resolve_timeout(3, "x") == 3.0
    monkeypatch.setenv(watchdog.TIMEOUT_VAR, "soon")
    with pytest.raises(ValueError, match="DISTGRAD_TIMEOUT='soon'"):
        watchdog.resolve_timeout(None, "init_process_group")
    with pytest.raises(ValueError, match="positive"):
        watchdog.resolve_timeout(0, "init_process_group")
    with pytest.raises(TypeError, match="timedelta"):
        watchdog.resolve_timeout("5", "init_process_group")


def test_reduce_op_matches_pytorch_names():
    assert repr(dist.ReduceOp.SUM) == "<RedOpType.SUM: 0>"
    assert [op.name for op in dist.ReduceOp.RedOpType] == ["SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR",
                                                           "BXOR", "PREMUL_SUM"]
    assert dist.ReduceOp(dist.ReduceOp.MAX) == dist.ReduceOp.MAX
    assert distgrad.distributed.ReduceOp is dist.ReduceOp
    assert distgrad.distributed.all_reduce is dist.all_reduce


@single
def test_plain_process_never_initialises_mpi_and_is_fast():
    code = ("import sys, time; t = time.time(); import distgrad.distributed as d; d.init_process_group('mpi');"
            "print(d.get_rank(), d.get_world_size(), 'mpi4py.MPI' in sys.modules, round(time.time() - t, 2))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    rank, size, mpi_loaded, seconds = out.stdout.split()
    assert (rank, size, mpi_loaded) == ("0", "1", "False"), out.stderr
    assert float(seconds) < 10


@single
def test_world_of_one(world):
    dist.init_process_group("gloo")  # idempotent, whatever the backend name
    assert dist.is_initialized() and dist.is_available()
    assert (dist.get_rank(), dist.get_world_size(), dist.get_local_rank(), dist.get_local_world_size()) == (0, 1, 0, 1)
    assert dist.GroupMember.WORLD is world and dist.group.WORLD is world
    assert dist.get_backend() == "mpi"
    assert dist.get_process_group_ranks(world) == [0]
    assert dist.barrier() is None
    g = dist.new_group([0])
    assert (dist.get_rank(g), dist.get_world_size(g), dist.get_global_rank(g, 0), dist.get_group_rank(g, 0)) == \
        (0, 1, 0, 0)
    t = distgrad.ones(2)
    dist.all_reduce(t, group=g)
    assert t.tolist() == [1.0, 1.0]


@single
def test_world_of_one_rejects_impossible_requests(world):
    with pytest.raises(ValueError, match="world_size=2 was requested.*distgrad-launch -n 2"):
        dist.init_process_group(world_size=2)
    with pytest.raises(ValueError, match="rank=1 was requested"):
        dist.init_process_group(rank=1)
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        dist.init_process_group("tpu")
    with pytest.raises(ValueError, match="rank 1 is out of range"):
        dist.new_group([0, 1])
    with pytest.raises(ValueError, match="duplicates"):
        dist.new_group([0, 0])
    with pytest.raises(ValueError, match="Group rank 3 is not part"):
        dist.get_global_rank(world, 3)
    with pytest.raises(ValueError, match="Global rank 2 is not part"):
        dist.get_group_rank(world, 2)


@single
def test_destroy_and_reinitialise(world):
    g = dist.new_group([0])
    dist.destroy_process_group(g)
    with pytest.raises(RuntimeError, match="destroyed"):
        dist.all_reduce(distgrad.ones(1), group=g)
    with pytest.raises(ValueError, match="Invalid process group"):
        dist.destroy_process_group(g)
    dist.destroy_process_group()
    assert not dist.is_initialized() and dist.GroupMember.WORLD is None
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(distgrad.ones(1))
    dist.init_process_group(timeout=datetime.timedelta(seconds=30))
    assert dist.default_group().timeout == 30.0 and dist.get_world_size() == 1


def test_node_local_rank_from_environment(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert dist.get_node_local_rank() == 3
    monkeypatch.delenv("LOCAL_RANK")
    assert dist.get_node_local_rank(fallback_rank=1) == 1
    with pytest.raises(RuntimeError, match="LOCAL_RANK is not in the environment"):
        dist.get_node_local_rank()


@mpi
def test_ranks_match_mpi(world):
    from mpi4py import MPI
    assert dist.get_rank() == MPI.COMM_WORLD.Get_rank()
    assert dist.get_world_size() == MPI.COMM_WORLD.Get_size()
    local = dist.get_local_rank()
    assert 0 <= local < dist.get_local_world_size() <= dist.get_world_size()
    if "OMPI_COMM_WORLD_LOCAL_RANK" in os.environ:
        assert local == int(os.environ["OMPI_COMM_WORLD_LOCAL_RANK"])
    ranks = [None] * dist.get_world_size()
    dist.all_gather_object(ranks, (dist.get_rank(), local))
    assert [r for r, _ in ranks] == list(range(dist.get_world_size()))
    assert len({lr for _, lr in ranks}) == len(ranks)  # one node here: local ranks are distinct
    dist.init_process_group("mpi")  # idempotent under MPI as well
    with pytest.raises(ValueError, match="world_size=99"):
        dist.init_process_group(world_size=99)


@mpi
def test_sub_group_ranks_translate(world):
    rank, size = dist.get_rank(), dist.get_world_size()
    odd = dist.new_group(list(range(1, size, 2)))
    all_ = dist.new_group()
    assert dist.get_world_size(all_) == size and dist.get_rank(all_) == rank
    if rank % 2:
        assert dist.get_process_group_ranks(odd) == list(range(1, size, 2))
        assert dist.get_global_rank(odd, 0) == 1 and dist.get_group_rank(odd, rank) == rank // 2
        t = distgrad.ones(1)
        dist.all_reduce(t, group=odd)
        assert t.item() == len(range(1, size, 2))
    else:
        assert odd is dist.GroupMember.NON_GROUP_MEMBER
        assert dist.get_rank(odd) == -1 and dist.get_world_size(odd) == -1
    t = distgrad.full((1,), float(rank))
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=all_)
    assert t.item() == size - 1
    dist.destroy_process_group(all_)
    dist.barrier()


@mpi
def test_same_ranks_give_distinct_groups(world):
    size = dist.get_world_size()
    a = dist.new_group(list(range(size)))
    b = dist.new_group(list(range(size)))
    assert a is not b and a.name != b.name
    x, y = distgrad.ones(1), distgrad.ones(1) * 2
    wa = dist.all_reduce(x, group=a, async_op=True)
    wb = dist.all_reduce(y, group=b, async_op=True)
    assert wb.wait() and wa.wait()
    assert (x.item(), y.item()) == (size, 2 * size)
