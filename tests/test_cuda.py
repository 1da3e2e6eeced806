"""``distgrad.cuda`` and the device API: what a machine without a GPU answers, and the device
bookkeeping (current device, seeds, memory counters, mixed-device errors) against a simulated CuPy.

Tests marked ``no_cuda`` state the CPU-only answers and skip on a GPU machine;
everything with ``FakeCupy`` runs anywhere.  The GPU itself is exercised by
``tests/test_device_parity.py``.
"""
import subprocess
import sys
import types

import numpy as np
import pytest

import distgrad
import distgrad.nn.functional as F
from distgrad import backend
from distgrad import random as drandom
from devices import HAS_CUDA, FakeCupy, fake_gpu_arrays, on_fake_gpu, requires_cuda, to_host

no_cuda = pytest.mark.skipif(HAS_CUDA, reason="states what a machine without CUDA answers")
NOT_AVAILABLE = "CUDA is not available"


# --- a machine without CUDA ----------------------------------------------------------------------------------

@no_cuda
def test_queries_answer_no_gpu():
    assert distgrad.cuda.is_available() is False
    assert distgrad.cuda.device_count() == 0
    assert distgrad.cuda.is_initialized() is False
    assert distgrad.cuda.memory_allocated() == 0
    assert distgrad.cuda.memory_reserved() == 0
    assert distgrad.cuda.synchronize() is None
    assert distgrad.cuda.synchronize("cuda:0") is None
    assert distgrad.cuda.empty_cache() is None


@no_cuda
@pytest.mark.parametrize("call", [
    lambda: distgrad.cuda.current_device(),
    lambda: distgrad.cuda.set_device(0),
    lambda: distgrad.cuda.set_device("cuda:1"),
    lambda: distgrad.cuda.get_device_name(),
    lambda: distgrad.cuda.get_device_capability(0),
    lambda: distgrad.cuda.initial_seed(),
    lambda: distgrad.cuda.device(0).__enter__(),
], ids=["current_device", "set_device", "set_device_str", "get_device_name", "capability", "initial_seed",
        "device_ctx"])
def test_device_bound_calls_raise_runtime_error(call):
    with pytest.raises(RuntimeError, match=NOT_AVAILABLE):
        call()


@no_cuda
@pytest.mark.parametrize("move", [
    lambda: distgrad.ones(2).cuda(),
    lambda: distgrad.ones(2).cuda(0),
    lambda: distgrad.ones(2).to("cuda"),
    lambda: distgrad.ones(2).to("cuda:0"),
    lambda: distgrad.ones(2).to(distgrad.device("cuda", 0)),
    lambda: distgrad.ones(2).to(device="cuda", dtype=distgrad.float64),
    lambda: distgrad.zeros(2, device="cuda"),
    lambda: distgrad.randn(2, device="cuda"),
    lambda: distgrad.tensor([1.0], device="cuda"),
    lambda: distgrad.arange(3, device="cuda:0"),
], ids=["cuda", "cuda0", "to_str", "to_indexed", "to_device", "to_kw", "zeros", "randn", "tensor", "arange"])
def test_moving_or_creating_on_cuda_raises_clearly(move):
    with pytest.raises(RuntimeError, match=NOT_AVAILABLE) as info:
        move()
    assert "cuda" in str(info.value)


@no_cuda
@pytest.mark.parametrize("move", [lambda m: m.cuda(), lambda m: m.to("cuda"),
                                  lambda m: m.to("cuda:0", distgrad.float64)], ids=["cuda", "to", "to_dtype"])
def test_failed_module_move_leaves_the_model_as_it_was(move):
    model = distgrad.nn.Sequential(distgrad.nn.Linear(3, 2), distgrad.nn.BatchNorm1d(2))
    params = list(model.parameters())
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match=NOT_AVAILABLE):
        move(model)
    assert all(a is b for a, b in zip(model.parameters(), params))
    for k, v in model.state_dict().items():
        assert v.device == "cpu" and v.numpy().dtype == before[k].dtype
        np.testing.assert_array_equal(v.numpy(), before[k])


@no_cuda
def test_cuda_seeding_is_a_no_op_that_leaves_cpu_draws_alone():
    distgrad.manual_seed(5)
    a = distgrad.rand(4)
    distgrad.manual_seed(5)
    distgrad.cuda.manual_seed(123)
    distgrad.cuda.manual_seed_all(7)
    distgrad.cuda.seed()
    distgrad.cuda.seed_all()
    assert distgrad.rand(4).tolist() == a.tolist()


def test_set_device_and_device_context_argument_rules():
    distgrad.cuda.set_device(-1)           # PyTorch: a negative ordinal means "no device", a no-op
    with distgrad.cuda.device(None):
        pass
    with distgrad.cuda.device(-1):
        pass
    with distgrad.cuda.device_of(distgrad.zeros(1)):
        pass
    with pytest.raises(ValueError, match="Expected a cuda device, but got: cpu"):
        distgrad.cuda.set_device("cpu")
    with pytest.raises(ValueError, match="Expected a cuda device, but got: cpu"):
        distgrad.cuda.device(distgrad.device("cpu"))
    with pytest.raises(TypeError):
        distgrad.cuda.set_device(True)
    with pytest.raises(TypeError):
        distgrad.cuda.set_device(None)


# --- the CPU path of the device API --------------------------------------------------------------------------

def test_cpu_moves_return_the_tensor_itself(device):
    x = distgrad.randn(3, device=device)
    assert x.device.type == device
    assert x.to(device) is x
    assert x.to(x.device) is x
    assert x.to(device, copy=True) is not x
    np.testing.assert_array_equal(to_host(x.to(device, copy=True)), to_host(x))
    assert x.cpu().device == "cpu"
    assert x.cpu().is_cuda is False
    assert x.is_cuda is (device == "cuda")


def test_cpu_moves_keep_gradients_flowing(device):
    x = distgrad.randn(3, requires_grad=True, device=device)
    (x.cpu() * 2).sum().backward()
    assert x.grad.device == x.device
    np.testing.assert_allclose(to_host(x.grad), [2.0, 2.0, 2.0])


def test_module_cpu_keeps_parameter_objects(device):
    lin = distgrad.nn.Linear(2, 2).to(device)
    w = lin.weight
    assert lin.cpu() is lin and lin.weight is w and w.device == "cpu"


def test_device_objects_match_torch():
    torch = pytest.importorskip("torch")
    for spec in ["cpu", "cuda", "cuda:0", "cuda:3"]:
        ours, theirs = distgrad.device(spec), torch.device(spec)
        assert (str(ours), repr(ours).replace("distgrad", "torch"), ours.type, ours.index) == \
               (str(theirs), repr(theirs), theirs.type, theirs.index)
    assert distgrad.device("cuda", 1) == "cuda:1" and distgrad.device("cpu") != "cuda"
    for bad in ["gpu", "cuda:x"]:
        with pytest.raises(RuntimeError):
            torch.device(bad)
        with pytest.raises(RuntimeError):
            distgrad.device(bad)


# --- importing without CuPy ----------------------------------------------------------------------------------

_PROBE = (
    "import distgrad, sys; x = distgrad.arange(6.0).reshape(2, 3); y = (x.exp() @ x.t()).sum(); "
    "print(distgrad.cuda.is_available(), distgrad.cuda.device_count(), distgrad.backend.cupy_module() is None, "
    "round(float(y), 6), 'mpi4py.MPI' in sys.modules)")


def _probe(prelude):
    out = subprocess.run([sys.executable, "-c", prelude + _PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_import_without_cupy_changes_nothing():
    blocked = _probe("import sys; sys.modules['cupy'] = None; ")   # `import cupy` raises ImportError
    plain = _probe("")
    assert blocked[:3] == ["False", "0", "True"]
    assert blocked[3] == plain[3]                       # the same numbers on the CPU path
    assert blocked[4] == "False"                        # and importing distgrad never started MPI


def test_import_with_a_broken_cupy_falls_back_to_cpu(tmp_path):
    # a CuPy whose CUDA runtime fails to load raises something other than ImportError on import
    (tmp_path / "cupy").mkdir()
    (tmp_path / "cupy" / "__init__.py").write_text("raise OSError('libcudart.so.12: cannot open shared object')\n")
    out = _probe(f"import sys; sys.path.insert(0, {str(tmp_path)!r}); ")
    assert out[:3] == ["False", "0", "True"]


# --- the device bookkeeping against a simulated CuPy ---------------------------------------------------------

@pytest.fixture
def fake_cupy(monkeypatch):
    fake = FakeCupy(2)
    monkeypatch.setattr(backend, "_cupy", fake)
    yield fake


def test_cupy_without_a_gpu_answers_no_gpu(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", FakeCupy(None))
    assert distgrad.cuda.is_available() is False and distgrad.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="CuPy found no CUDA device"):
        distgrad.cuda.current_device()
    with pytest.raises(RuntimeError, match=NOT_AVAILABLE):
        distgrad.ones(1).cuda()


def test_current_device_follows_set_device_and_the_context(fake_cupy):
    cuda = distgrad.cuda
    assert cuda.is_available() and cuda.device_count() == 2 and cuda.current_device() == 0
    cuda.set_device(1)
    assert cuda.current_device() == 1
    assert backend.normalize_device("cuda") == "cuda:1"   # a bare "cuda" means the current device
    with cuda.device("cuda:0"):
        assert cuda.current_device() == 0
        with cuda.device(distgrad.device("cuda", 1)):
            assert cuda.current_device() == 1
        assert cuda.current_device() == 0
    assert cuda.current_device() == 1
    cuda.set_device(distgrad.device("cuda:0"))
    assert cuda.current_device() == 0
    with pytest.raises(RuntimeError, match="invalid device ordinal 2: 2 CUDA device"):
        cuda.set_device(2)
    with pytest.raises(RuntimeError, match="invalid device ordinal 5"):
        with cuda.device(5):
            pass
    assert cuda.current_device() == 0


def test_device_properties_memory_and_synchronize(fake_cupy):
    cuda = distgrad.cuda
    assert cuda.get_device_name() == "Fake GPU 0" and cuda.get_device_name(1) == "Fake GPU 1"
    assert cuda.get_device_capability("cuda:1") == (9, 0)
    fake_cupy.pool.used = {0: 1024, 1: 4096}
    fake_cupy.pool.held = {0: 2048, 1: 8192}
    assert cuda.memory_allocated() == 1024 and cuda.memory_allocated(1) == 4096
    assert cuda.memory_reserved("cuda:1") == 8192
    assert cuda.current_device() == 0            # reading device 1's counters did not move this thread
    cuda.empty_cache()
    assert fake_cupy.pool.freed == 1 and cuda.memory_reserved() == 1024
    cuda.synchronize()
    cuda.synchronize(1)
    assert fake_cupy.runtime.synchronized == [0, 1] and cuda.current_device() == 0


def test_seeds_reach_each_device_generator(fake_cupy):
    gen, cuda = drandom.default_generator, distgrad.cuda
    distgrad.manual_seed(3)
    assert gen.cupy(0).seed == 3 and gen.cupy(1).seed == 3 and gen.cupy(1).device == 1
    assert gen.cupy(1) is gen.cupy(1)             # made once per device
    cuda.manual_seed(7)                           # only the current device
    assert gen.cupy(0).seed == 7 and gen.cupy(1).seed == 3 and cuda.initial_seed() == 7
    cuda.manual_seed_all(9)
    assert gen.cupy(0).seed == 9 and gen.cupy(1).seed == 9
    distgrad.manual_seed(4)                       # the global seed reseeds every device again
    assert gen.cupy(0).seed == 4 and gen.cupy(1).seed == 4 and cuda.initial_seed() == 4
    cuda.seed()
    assert gen.cupy(0).seed != 4 and gen.cupy(1).seed == 4


def test_device_draws_use_only_the_methods_cupy_has(fake_cupy):
    dev = distgrad.device("cuda", 1)
    distgrad.manual_seed(0)
    u = drandom.uniform_array((2000,), -1.0, 3.0, np.float32, dev)
    n = drandom.normal_array((20000,), 2.0, 0.5, np.float64, dev)
    k = drandom.integers_array((500,), 3, 7, np.int64, dev)
    p = drandom.permutation_array(50, dev)
    assert u.dtype == np.float32 and -1.0 <= u.min() and u.max() < 3.0
    assert abs(n.mean() - 2.0) < 0.02 and abs(n.std() - 0.5) < 0.02
    assert set(np.unique(k)) == {3, 4, 5, 6}
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(50))
    assert fake_cupy.runtime.current == 0         # drew inside device 1's context and came back
    distgrad.manual_seed(0)
    first = drandom.permutation_array(50, dev)
    distgrad.manual_seed(0)
    np.testing.assert_array_equal(drandom.permutation_array(50, dev), first)   # seeded draws repeat


# --- mixing devices in one op --------------------------------------------------------------------------------

@pytest.fixture
def gpu_arrays(monkeypatch):
    fake_gpu_arrays(monkeypatch)


def _on_gpu(t):
    out = distgrad.Tensor._make(on_fake_gpu(t._data))
    return out.requires_grad_() if t.requires_grad else out


MIXED = {
    "add": lambda c, g: c + g,
    "mul_": lambda c, g: c.clone().mul_(g),
    "matmul": lambda c, g: c @ g.t(),
    "bmm": lambda c, g: distgrad.bmm(c[None], g.t()[None]),
    "maximum": lambda c, g: distgrad.maximum(c, g),
    "pow": lambda c, g: c ** g,
    "where": lambda c, g: distgrad.where(c > 0, c, g),
    "where_cond": lambda c, g: distgrad.where(_on_gpu(c > 0), c, c),
    "compare": lambda c, g: c < g,
    "cat": lambda c, g: distgrad.cat([c, g]),
    "stack": lambda c, g: distgrad.stack([g, c]),
    "linear": lambda c, g: F.linear(c, g),
    "mse_loss": lambda c, g: F.mse_loss(c, g),
    "binary_cross_entropy": lambda c, g: F.binary_cross_entropy(c.sigmoid(), g.sigmoid()),
    "layer_norm": lambda c, g: F.layer_norm(c, (3,), weight=g[0]),
    "gather": lambda c, g: c.gather(1, _on_gpu(distgrad.zeros(4, 1, dtype=distgrad.int64))),
    "scatter_add": lambda c, g: c.scatter_add(0, distgrad.zeros(4, 3, dtype=distgrad.int64), g),
    "conv1d": lambda c, g: F.conv1d(c[None], g[:, :, None]),
}


@pytest.mark.parametrize("requires_grad", [False, True], ids=["no_grad", "grad"])
@pytest.mark.parametrize("name", sorted(MIXED))
def test_mixing_devices_raises_naming_both(gpu_arrays, name, requires_grad):
    c = distgrad.randn(4, 3, requires_grad=requires_grad)
    g = _on_gpu(distgrad.randn(4, 3, requires_grad=requires_grad))
    with pytest.raises(RuntimeError, match="same device") as info:
        MIXED[name](c, g)
    assert "cpu" in str(info.value) and "cuda:0" in str(info.value)


def test_a_cpu_scalar_tensor_joins_a_cuda_tensor(gpu_arrays):
    g = _on_gpu(distgrad.randn(2, 3, requires_grad=True))
    s = distgrad.tensor(2.0, requires_grad=True)
    for out in (g * s, s * g, g + distgrad.tensor(1, dtype=distgrad.int64)):
        assert out.device == "cuda:0"
    (g * s).backward(_on_gpu(distgrad.ones(2, 3)))   # the gradient comes back to the CPU scalar
    assert s.grad.device == "cpu" and g.grad.device == "cuda:0"
    np.testing.assert_allclose(s.grad.item(), to_host(g).sum(), rtol=1e-6)
    np.testing.assert_allclose(to_host(g.grad), np.full((2, 3), 2.0))
    with pytest.raises(RuntimeError, match="cuda:0 and cpu"):
        g + distgrad.ones(3)                      # a 1-element tensor is not a scalar


def test_copy_moves_across_devices(gpu_arrays):
    g = _on_gpu(distgrad.arange(3.0))
    c = distgrad.zeros(3)
    c.copy_(g)
    assert c.device == "cpu" and c.tolist() == [0.0, 1.0, 2.0]
    back = _on_gpu(distgrad.zeros(3))
    back.copy_(c)
    assert back.device == "cuda:0" and to_host(back).tolist() == [0.0, 1.0, 2.0]


def test_moving_between_gpus_copies_onto_the_target(fake_cupy):
    class Arr:
        def __init__(self, dev):
            self.device = types.SimpleNamespace(id=dev)

    fake_cupy.ndarray = Arr
    fake_cupy.copy = lambda a: Arr(fake_cupy.runtime.current)
    fake_cupy.asarray = lambda a: Arr(fake_cupy.runtime.current)
    on0 = Arr(0)
    assert backend.to_device(on0, distgrad.device("cuda:0")) is on0
    moved = backend.to_device(on0, distgrad.device("cuda:1"))
    assert moved is not on0 and moved.device.id == 1
    assert backend.to_device(np.zeros(2), distgrad.device("cuda:1")).device.id == 1
    assert fake_cupy.runtime.current == 0


# --- DLPack ------------------------------------------------------------------------------------------------

def test_from_dlpack_shares_memory():
    a = np.arange(3.0)
    t = distgrad.from_dlpack(a)
    a[0] = 7.0
    assert t.tolist() == [7.0, 1.0, 2.0] and t.dtype == distgrad.float64 and t.device == "cpu"
    torch = pytest.importorskip("torch")
    theirs = torch.arange(4, dtype=torch.float32)
    ours = distgrad.from_dlpack(theirs)
    ours.mul_(2)
    assert theirs.tolist() == [0.0, 2.0, 4.0, 6.0] and ours.dtype == distgrad.float32
    back = torch.from_dlpack(ours)                # and the other way round
    back[0] = -1.0
    assert ours.tolist()[0] == -1.0
    with pytest.raises(TypeError):
        distgrad.from_dlpack(torch.zeros(2, dtype=torch.complex64))


@requires_cuda
def test_from_dlpack_with_pytorch_cuda_tensors():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch was built without CUDA")
    theirs = torch.arange(4.0, device="cuda")
    ours = distgrad.from_dlpack(theirs)
    assert ours.device == "cuda:0"
    ours.add_(1)
    torch.cuda.synchronize()
    assert theirs.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert torch.from_dlpack(ours).device.type == "cuda"
