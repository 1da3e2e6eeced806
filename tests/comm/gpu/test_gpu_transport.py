"""The GPU transport of collectives (NCCL / CUDA-aware MPI / host staging): the choice, its agreement
across ranks, its single log line, and the three data paths giving the same answers.

No GPU is needed: :class:`FakeCudaArray` (host memory that distgrad treats as a
device array) stands in for CuPy arrays, :mod:`fake_nccl` for ``cupy.cuda.nccl``
(its pointer-based calls are carried out with MPI on the host), and the
CUDA-aware MPI path hands MPI host buffers, which any MPI reads.  So the
staging, dtype and reduction mapping, pointers, counts, roots, AVG division
and write-back of every path are checked for real; the CUDA streams and
events they also use run only on a GPU machine.

Multi-rank tests run under ``mpiexec -n 2|3 python -m pytest --with-mpi tests/comm``.
"""
import ctypes
import importlib
import logging
import subprocess
import types

import numpy as np
import pytest

import distgrad
import distgrad.comm as dist
import fake_nccl
from distgrad import backend
from distgrad.comm import env
from distgrad.comm.gpu import binding
from distgrad.comm.gpu import device_ops as gpu_ops
from distgrad.comm.gpu import transport as gpu
from distgrad.comm.process_group import ProcessGroup
from distgrad.comm.reduce_op import RedOpType
from devices import HAS_CUDA, FakeCudaArray, FakeCupy, on_fake_gpu, requires_cuda
from test_collectives import DTYPES, OPS, expected_reduction, rank_data, valid

group_mod = importlib.import_module("distgrad.comm.process_group")
mpi = pytest.mark.mpi(min_size=2)
single = pytest.mark.skipif(env.launched_by_mpi(), reason="world-of-one test (runs without mpiexec)")
TRANSPORTS = [gpu.NCCL, gpu.CUDA_MPI, gpu.HOST]
REAL_IS_DEVICE_ARRAY = gpu.is_device_array
_ENV_VALUE = {gpu.NCCL: "nccl", gpu.CUDA_MPI: "mpi", gpu.HOST: "host"}


@pytest.fixture(autouse=True, scope="module")
def _world():
    dist.init_process_group(timeout=60)
    yield


@pytest.fixture(autouse=True)
def _device_arrays(monkeypatch):
    """FakeCudaArray counts as a device array; no forced transport; no channel left from another test."""
    monkeypatch.setattr(gpu, "is_device_array", lambda a: isinstance(a, FakeCudaArray))
    monkeypatch.delenv(gpu.TRANSPORT_VAR, raising=False)
    fake_nccl.calls.clear()
    fake_nccl.MPI = env.loaded_mpi()
    gpu.reset()
    yield
    gpu.reset()


def use(monkeypatch, transport):
    """Force ``transport`` on this rank (NCCL through fake_nccl)."""
    monkeypatch.setenv(gpu.TRANSPORT_VAR, _ENV_VALUE[transport])
    monkeypatch.setattr(gpu, "nccl_module", lambda: fake_nccl)
    monkeypatch.setattr(gpu, "mpi_cuda_support", lambda MPI: (True, "test"))
    gpu.reset()


def no_host_staging(monkeypatch):
    """Fail the test if a collective goes through host staging."""
    def refuse(*a, **k):
        raise AssertionError("host staging was used")
    monkeypatch.setattr(group_mod, "Staged", refuse)
    monkeypatch.setattr(group_mod, "host_input", refuse)


# --- the choice ----------------------------------------------------------------------------------------------

NCCL_MOD = types.SimpleNamespace(get_version=lambda: 22105)


@pytest.mark.parametrize("setting, nccl, aware, want", [
    (None, NCCL_MOD, (True, "q"), gpu.NCCL),
    ("auto", None, (True, "q"), gpu.CUDA_MPI),
    ("", None, (False, "q"), gpu.HOST),
    ("nccl", None, (True, "q"), gpu.CUDA_MPI),        # nccl asked for but missing: next one down
    ("nccl", None, (False, "q"), gpu.HOST),
    ("mpi", NCCL_MOD, (True, "q"), gpu.CUDA_MPI),
    ("mpi", NCCL_MOD, (False, "q"), gpu.CUDA_MPI),    # taken on trust: some CUDA-aware MPIs cannot say so
    ("HOST", NCCL_MOD, (True, "q"), gpu.HOST),
])
def test_choice_of_this_process(setting, nccl, aware, want):
    environ = {} if setting is None else {gpu.TRANSPORT_VAR: setting}
    name, reason = gpu.choose(environ, nccl, aware)
    assert name == want and reason
    if want == gpu.NCCL:
        assert "NCCL 22105" in reason


def test_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="DISTGRAD_GPU_TRANSPORT='ucx'"):
        gpu.choose({gpu.TRANSPORT_VAR: "ucx"}, None, (False, ""))


def _compile(tmp_path, name, source):
    cc = "cc"
    path = tmp_path / f"lib{name}.so"
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    try:
        subprocess.run([cc, "-shared", "-fPIC", "-o", str(path), str(src)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("no C compiler to build a stand-in MPI library")
    return types.SimpleNamespace(__file__=str(path))


@single
def test_cuda_awareness_is_asked_of_the_mpi_library(tmp_path):
    ompi = _compile(tmp_path, "ompi", "int MPIX_Query_cuda_support(void) { return 1; }\n")
    assert gpu.mpi_cuda_support(ompi) == (True, "MPIX_Query_cuda_support() = 1")
    ompi0 = _compile(tmp_path, "ompi0", "int MPIX_Query_cuda_support(void) { return 0; }\n")
    assert gpu.mpi_cuda_support(ompi0)[0] is False
    mpich = _compile(tmp_path, "mpich",
                     "int MPIX_GPU_query_support(int t, int *f) { *f = (t == 0); return 0; }\n")
    assert gpu.mpi_cuda_support(mpich) == (True, "MPIX_GPU_query_support(CUDA) = 1 (rc 0)")
    plain = _compile(tmp_path, "plain", "int MPI_Init(int *c, char ***v) { return 0; }\n")
    assert gpu.mpi_cuda_support(plain) == (False, "the MPI library has no CUDA-awareness query")
    assert gpu.mpi_cuda_support(None)[0] is False
    assert gpu.mpi_cuda_support(types.SimpleNamespace(__file__=str(tmp_path / "missing.so")))[0] is False


@mpi
def test_the_real_mpi_library_answers_the_query():
    aware, how = gpu.mpi_cuda_support(env.loaded_mpi())
    assert isinstance(aware, bool) and ("MPIX_" in how or "no CUDA-awareness query" in how)
    if "MPIX_Query_cuda_support" in how:
        lib = ctypes.CDLL(env.loaded_mpi().__file__)
        assert aware == (lib.MPIX_Query_cuda_support() == 1)


# --- agreement among ranks, and the log line -----------------------------------------------------------------

class _TwoRankComm:
    """Rank 1's view of a two-rank group whose rank 0 has transport level ``other``."""

    def __init__(self, other, uid):
        self.other, self.uid = other, uid

    def allreduce(self, value, op=None):
        assert op == "MIN"
        return min(value, self.other)

    def bcast(self, obj, root=0):
        assert root == 0 and obj is None   # rank 1 has nothing to send: the id comes from rank 0
        return self.uid


def _rank1_group(other_level, uid=b"id-from-rank-0"):
    fake_mpi = types.SimpleNamespace(IN_PLACE=object(), MIN="MIN")
    return ProcessGroup(_TwoRankComm(other_level, uid), [0, 1], 1, "pair", 30.0, None, fake_mpi)


@single
@pytest.mark.parametrize("mine, other, want", [
    (gpu.NCCL, gpu.NCCL, gpu.NCCL), (gpu.NCCL, gpu.HOST, gpu.HOST), (gpu.NCCL, gpu.CUDA_MPI, gpu.CUDA_MPI),
    (gpu.CUDA_MPI, gpu.NCCL, gpu.CUDA_MPI), (gpu.HOST, gpu.NCCL, gpu.HOST)])
def test_the_group_takes_the_least_capable_rank(monkeypatch, caplog, mine, other, want):
    use(monkeypatch, mine)
    pg = _rank1_group(gpu._LEVEL[other])
    with caplog.at_level(logging.INFO, logger="distgrad.comm"):
        ch = gpu.channel(pg, on_fake_gpu(np.zeros(3, np.float32)))
    assert ch.transport == want
    if want != mine:
        assert "least capable rank" in ch.reason
    if want == gpu.NCCL:                          # opened with rank 0's id, as rank 1 of 2
        assert (ch.comm.uid, ch.comm.ndev, ch.comm.rank_id()) == (b"id-from-rank-0", 2, 1)
    assert [r.getMessage() for r in caplog.records] == [
        f"distgrad.comm: collectives on GPU tensors in group pair (2 ranks) use {want} ({ch.reason})"]


@single
def test_the_choice_is_logged_once(monkeypatch, caplog):
    use(monkeypatch, gpu.NCCL)
    with caplog.at_level(logging.INFO, logger="distgrad.comm"):
        t = distgrad.Tensor._make(on_fake_gpu(np.ones(4, np.float32)))
        for _ in range(3):
            dist.all_reduce(t)
            dist.broadcast(t, src=0)
        other = dist.new_group([0])
        dist.all_reduce(t, group=other)           # same decision on another group: not logged again
    lines = [r.getMessage() for r in caplog.records if "GPU tensors" in r.getMessage()]
    assert lines == ["distgrad.comm: collectives on GPU tensors in group world (1 rank) use nccl "
                     "(NCCL 22105 via cupy.cuda.nccl)"]
    assert [c[0] for c in fake_nccl.calls].count("allReduce") == 4


@single
def test_destroying_a_group_destroys_its_nccl_communicator(monkeypatch):
    use(monkeypatch, gpu.NCCL)
    sub = dist.new_group([0])
    t = distgrad.Tensor._make(on_fake_gpu(np.ones(2, np.float32)))
    dist.all_reduce(t, group=sub)
    comm = gpu.channel(sub, t._data).comm
    fake_nccl.destroyed.clear()
    dist.destroy_process_group(sub)
    assert fake_nccl.destroyed == [comm]
    dist.all_reduce(t)                            # the world's channel is untouched
    assert fake_nccl.destroyed == [comm]


@single
def test_without_logging_configured_rank_0_prints_the_choice(monkeypatch, capsys):
    monkeypatch.setattr(gpu, "logger", logging.Logger("isolated"))   # no handlers anywhere
    use(monkeypatch, gpu.HOST)
    dist.all_reduce(distgrad.Tensor._make(on_fake_gpu(np.ones(2, np.float32))))
    dist.all_reduce(distgrad.Tensor._make(on_fake_gpu(np.ones(2, np.float32))))
    err = capsys.readouterr().err
    assert err.count("use host (DISTGRAD_GPU_TRANSPORT=host)") == 1


@single
def test_a_group_of_one_keeps_gpu_collectives_on_the_device(monkeypatch):
    no_host_staging(monkeypatch)
    x = on_fake_gpu(np.arange(6, dtype=np.float32).reshape(2, 3))
    t = distgrad.Tensor._make(x)
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    dist.broadcast(t, src=0)
    out = distgrad.Tensor._make(on_fake_gpu(np.zeros((1, 2, 3), np.float32)))
    dist.all_gather_into_tensor(out, t)
    red = distgrad.Tensor._make(on_fake_gpu(np.zeros((2, 3), np.float32)))
    dist.reduce_scatter_tensor(red, t)
    for got in (t, out[0], red):
        assert isinstance(got._data, FakeCudaArray)
        np.testing.assert_array_equal(np.asarray(got._data), np.arange(6, dtype=np.float32).reshape(2, 3))
    assert gpu.channel(dist.default_group(), x).transport == gpu.LOCAL


# --- the data paths ------------------------------------------------------------------------------------------

@single
def test_nccl_moves_what_nccl_has_and_leaves_the_rest_to_the_host(monkeypatch):
    use(monkeypatch, gpu.NCCL)
    pg = dist.default_group()
    checks = [(np.bool_, RedOpType.SUM, ("allReduce", "uint8", 5, "MAX")),
              (np.bool_, RedOpType.PRODUCT, ("allReduce", "uint8", 5, "MIN")),
              (np.int16, RedOpType.SUM, ("allReduce", "int32", 5, "SUM")),
              (np.float16, RedOpType.AVG, ("allReduce", "float32", 5, "SUM")),
              (np.int64, RedOpType.PRODUCT, ("allReduce", "int64", 5, "PROD")),
              (np.int32, RedOpType.BXOR, None), (np.uint8, RedOpType.BAND, None), (np.bool_, RedOpType.BXOR, None)]
    for np_dtype, op, call in checks:
        fake_nccl.calls.clear()
        a = on_fake_gpu(np.arange(5).astype(np_dtype))
        pg.allreduce(a, op)
        assert fake_nccl.calls == ([call] if call else []), (np_dtype, op)
        np.testing.assert_array_equal(np.asarray(a), np.arange(5).astype(np_dtype))
    fake_nccl.calls.clear()
    a = on_fake_gpu(np.zeros((3, 2), np.float64))
    pg.broadcast(a, 0)
    pg.allgather_into(on_fake_gpu(np.zeros(6, np.float64)), a)
    assert fake_nccl.calls == [("broadcast", "uint8", 48, 0), ("allGather", "uint8", 48, None)]


def test_device_staging_shares_or_copies_and_writes_back():
    x = np.arange(12, dtype=np.float16).reshape(3, 4)
    st = gpu_ops.DeviceStaged(x, np.float16)
    assert st.wire.base is not None and np.shares_memory(st.wire, x)
    t = x.T                                          # non-contiguous, reduced in float32
    st = gpu_ops.DeviceStaged(t, np.float32)
    assert st.wire.dtype == np.float32 and st.wire.flags.c_contiguous and not np.shares_memory(st.wire, x)
    np.testing.assert_array_equal(st.wire, t.reshape(-1).astype(np.float32))
    st.wire *= 2
    st.commit()
    np.testing.assert_array_equal(x, np.arange(12, dtype=np.float16).reshape(3, 4) * 2)
    b = np.array([[True, False], [False, True]]).T
    st = gpu_ops.DeviceStaged(b, np.uint8)           # raw bytes of a transposed view
    assert st.wire.dtype == np.uint8 and st.wire.tolist() == [1, 0, 0, 1]
    st.wire[:] = [0, 1, 1, 0]
    st.commit()
    assert b.tolist() == [[False, True], [True, False]]
    out = np.zeros((2, 3), np.int16)[:, ::2]
    st = gpu_ops.DeviceStaged(out, np.int32, copy_in=False)
    st.wire[:] = [1, 2, 3, 4]
    st.commit()
    assert out.tolist() == [[1, 2], [3, 4]]


def test_bind_local_device(monkeypatch):
    fake = FakeCupy(4)
    monkeypatch.setattr(backend, "_cupy", fake)
    assert binding.bind_local_device(5) == 1 and fake.runtime.current == 1
    assert binding.bind_local_device(2) == 1            # a device other than 0 was chosen already: kept
    assert binding.bind_local_device(0, device_id="cuda:3") == 3 and fake.runtime.current == 3
    assert binding.bind_local_device(0, device_id=2) == 2
    monkeypatch.setattr(backend, "_cupy", None)
    assert binding.bind_local_device(3) is None
    with pytest.raises(RuntimeError, match="device_id=cuda:0 was given but CUDA is not available"):
        binding.bind_local_device(0, device_id="cuda:0")
    with pytest.raises(ValueError, match="must name a CUDA device, got cpu"):
        binding.check_device_id("cpu")


@single
@pytest.mark.skipif(HAS_CUDA, reason="states what a machine without CUDA answers")
def test_a_bad_device_id_changes_nothing():
    dist.destroy_process_group()
    try:
        with pytest.raises(RuntimeError, match="device_id=cuda:1 was given but CUDA is not available"):
            dist.init_process_group(device_id=distgrad.device("cuda:1"))
        assert not dist.is_initialized()
    finally:
        dist.init_process_group(timeout=60)


@single
def test_nccl_availability_follows_the_binding(monkeypatch):
    assert dist.is_nccl_available() is (gpu.nccl_module() is not None)
    monkeypatch.setattr(gpu, "nccl_module", lambda: fake_nccl)
    assert dist.is_nccl_available() is True


# --- every transport, every collective, several ranks --------------------------------------------------------

def _dev_tensor(array):
    return distgrad.Tensor._make(on_fake_gpu(array))


def _host(t):
    return np.asarray(backend.to_device(t._data, backend.CPU))


def _run_everything(dtype, transport, make=_dev_tensor):
    """Every supported collective on this rank's data (tensors from ``make``); returns {case: host result}."""
    rank, size = dist.get_rank(), dist.get_world_size()
    out = {}
    for op in OPS:
        if not valid(op, dtype):
            continue
        t = make(rank_data(rank, dtype))
        dist.all_reduce(t, op=op)
        out[f"all_reduce {op.name}"] = _host(t)
        base = make(np.stack([rank_data(rank, dtype)] * 2, axis=1))
        t = base[:, 1]                                        # a non-contiguous view, reduced in place
        assert not t.is_contiguous()
        dist.all_reduce(t, op=op)
        out[f"all_reduce view {op.name}"] = _host(t)
        out[f"beside the view {op.name}"] = _host(base[:, 0])
        t = make(rank_data(rank, dtype, 2 * size))
        red = make(np.zeros(2, dtype.np))
        dist.reduce_scatter_tensor(red, t, op=op)
        out[f"reduce_scatter {op.name}"] = _host(red)
    if valid(dist.ReduceOp.SUM, dtype):
        for dst in range(size):
            t = make(rank_data(rank, dtype))
            dist.reduce(t, dst=dst, op=dist.ReduceOp.SUM)
            out[f"reduce {dst}"] = _host(t)
    for src in range(size):
        t = make(rank_data(rank, dtype))
        dist.broadcast(t, src=src)
        out[f"broadcast {src}"] = _host(t)
    gathered = make(np.zeros((size, 7), dtype.np))
    dist.all_gather_into_tensor(gathered, make(rank_data(rank, dtype)))
    out["all_gather"] = _host(gathered)
    work = dist.all_reduce(t := make(rank_data(rank, dtype)), async_op=True)
    work.wait()
    out["async all_reduce"] = _host(t)
    for v in out.values():
        assert v.dtype == dtype.np
    return out


def _expected(dtype):
    rank, size = dist.get_rank(), dist.get_world_size()
    want = {}
    for op in OPS:
        if not valid(op, dtype):
            continue
        full = expected_reduction(op, dtype, size)
        want[f"all_reduce {op.name}"] = full
        want[f"all_reduce view {op.name}"] = full
        want[f"beside the view {op.name}"] = rank_data(rank, dtype)
        want[f"reduce_scatter {op.name}"] = expected_reduction(op, dtype, size, 2 * size)[2 * rank:2 * rank + 2]
    if valid(dist.ReduceOp.SUM, dtype):
        for dst in range(size):
            want[f"reduce {dst}"] = (expected_reduction(dist.ReduceOp.SUM, dtype, size) if rank == dst
                                     else rank_data(rank, dtype))
    for src in range(size):
        want[f"broadcast {src}"] = rank_data(src, dtype)
    want["all_gather"] = np.stack([rank_data(r, dtype) for r in range(size)])
    want["async all_reduce"] = expected_reduction(dist.ReduceOp.SUM, dtype, size)
    return want


@mpi
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_all_three_transports_give_the_same_answers(monkeypatch, dtype):
    results = {}
    for transport in TRANSPORTS:
        use(monkeypatch, transport)
        fake_nccl.calls.clear()
        results[transport] = _run_everything(dtype, transport)
        assert gpu.channel(dist.default_group(), on_fake_gpu(np.zeros(1))).transport == transport
        if transport == gpu.NCCL:
            assert fake_nccl.calls, "the NCCL path was not used"
        else:
            assert not fake_nccl.calls
    want = _expected(dtype)
    for transport, got in results.items():
        assert sorted(got) == sorted(want)
        for case in want:
            np.testing.assert_array_equal(got[case], want[case], err_msg=f"{transport}: {case}")
            np.testing.assert_array_equal(got[case], results[gpu.HOST][case])


@mpi
def test_device_paths_never_stage_through_host_memory(monkeypatch):
    for transport in (gpu.NCCL, gpu.CUDA_MPI):
        use(monkeypatch, transport)
        with monkeypatch.context() as m:
            no_host_staging(m)
            got = _run_everything(distgrad.float32, transport)
        want = _expected(distgrad.float32)
        for case in want:
            np.testing.assert_array_equal(got[case], want[case], err_msg=f"{transport}: {case}")


@mpi
@pytest.mark.parametrize("op", [dist.ReduceOp.SUM, dist.ReduceOp.AVG], ids=lambda op: op.name)
def test_prepared_allreduce_of_a_device_array_takes_the_group_transport(monkeypatch, op):
    rank, size = dist.get_rank(), dist.get_world_size()
    want = expected_reduction(op, distgrad.float32, size)
    for transport in TRANSPORTS:
        use(monkeypatch, transport)
        fake_nccl.calls.clear()
        buf = on_fake_gpu(rank_data(rank, distgrad.float32))
        prepared = dist.default_group().prepare_allreduce(buf, op)
        for step in range(2):                                  # the same registration, step after step
            np.copyto(np.asarray(buf), rank_data(rank, distgrad.float32))
            if transport == gpu.HOST:
                prepared.start().wait()
            else:
                with monkeypatch.context() as m:
                    no_host_staging(m)
                    prepared.start().wait()
            np.testing.assert_array_equal(np.asarray(buf), want, err_msg=f"{transport}, step {step}")
        assert bool(fake_nccl.calls) == (transport == gpu.NCCL)
        assert gpu.channel(dist.default_group(), buf).transport == transport


@mpi
def test_sub_groups_get_their_own_channel(monkeypatch):
    use(monkeypatch, gpu.NCCL)
    rank, size = dist.get_rank(), dist.get_world_size()
    evens = dist.new_group(list(range(0, size, 2)))
    t = _dev_tensor(np.full(3, rank + 1.0, np.float32))
    dist.all_reduce(t)
    np.testing.assert_array_equal(np.asarray(t._data), np.full(3, size * (size + 1) / 2, np.float32))
    if rank % 2 == 0:
        members = list(range(0, size, 2))
        monkeypatch.setattr(fake_nccl, "members", members)
        t = _dev_tensor(np.full(3, rank + 1.0, np.float32))
        dist.all_reduce(t, group=evens)
        np.testing.assert_array_equal(np.asarray(t._data), np.full(3, sum(r + 1 for r in members), np.float32))
        ch = gpu.channel(evens, t._data)
        assert ch.transport == gpu.NCCL and ch.comm.ndev == len(members)   # forced: even a group of one
        assert ch is not gpu.channel(dist.default_group(), t._data)


# --- real GPUs (skipped without one) -------------------------------------------------------------------------

def _cuda_tensor(array):
    return distgrad.tensor(array, device="cuda")


def _real_transport(monkeypatch, transport):
    """Use the real CuPy arrays and libraries with ``transport`` forced (skip when this machine lacks it)."""
    monkeypatch.setattr(gpu, "is_device_array", REAL_IS_DEVICE_ARRAY)
    if transport == gpu.NCCL and gpu.nccl_module() is None:
        pytest.skip("CuPy has no NCCL here")
    if transport == gpu.CUDA_MPI and env.loaded_mpi() is not None and not gpu.mpi_cuda_support(env.loaded_mpi())[0]:
        pytest.skip("this MPI is not CUDA-aware")
    if transport != gpu.LOCAL:
        monkeypatch.setenv(gpu.TRANSPORT_VAR, _ENV_VALUE[transport])
    gpu.reset()


@single
@requires_cuda
@pytest.mark.parametrize("transport", TRANSPORTS + [gpu.LOCAL])
@pytest.mark.parametrize("dtype", [distgrad.bool, distgrad.int16, distgrad.float16, distgrad.float32], ids=str)
def test_real_gpu_collectives_in_a_world_of_one(monkeypatch, transport, dtype):
    _real_transport(monkeypatch, transport)
    got = _run_everything(dtype, transport, _cuda_tensor)
    assert gpu.channel(dist.default_group(), distgrad.zeros(1, device="cuda")._data).transport == transport
    want = _expected(dtype)
    for case in want:
        np.testing.assert_array_equal(got[case], want[case], err_msg=f"{transport}: {case}")


@mpi
@pytest.mark.skipif(not HAS_CUDA, reason="needs one GPU per rank")
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_real_gpus_every_transport_same_answers(monkeypatch, transport):
    if distgrad.cuda.device_count() < dist.get_local_world_size():
        pytest.skip("needs one GPU per rank on each node")
    assert distgrad.cuda.current_device() == dist.get_local_rank() % distgrad.cuda.device_count()
    _real_transport(monkeypatch, transport)
    for dtype in DTYPES:
        got = _run_everything(dtype, transport, _cuda_tensor)
        want = _expected(dtype)
        for case in want:
            np.testing.assert_array_equal(got[case], want[case], err_msg=f"{transport} {dtype}: {case}")
