"""GPU against CPU: every op and every layer gives the same values, derivatives and buffers on CUDA.

The op list is the PyTorch parity table of ``tests/autograd/test_parity_torch.py``
(every op) plus :data:`device_cases.EXTRA` (conv, pooling, every
``nn.functional`` form), each run in float64 on the CPU and on ``cuda``: same
values, first derivatives and second derivatives (``create_graph=True``),
results on the right device, same ``grad_fn`` names.  Every ``nn`` layer runs
forward and backward on both devices from the same initial weights.  All of
that needs a GPU and skips without one.

What runs everywhere: the coverage check (a new op or layer without a device
case fails it), the extra cases against PyTorch on the CPU (so the table is
right before a GPU ever sees it), and every layer case on the CPU.
"""
import importlib.util
import pathlib

import numpy as np
import pytest

import distgrad
from device_cases import (BASES, CONTAINERS, EXTRA, EXTRA_NON_DIFF, LAYERS, RANDOM_LAYERS, RANDOM_OPS,
                          SHAPE_FUNCTIONS, On, array)
from devices import requires_cuda, to_host

HERE = pathlib.Path(__file__).parent
SEED = 1234
TOL = {"exp_float32": 1e-5}   # float32 transcendental functions may differ by an ulp between CPU and GPU


def _torch_parity_tables():
    """CASES and NON_DIFF of the PyTorch parity suite (empty when torch is not installed)."""
    spec = importlib.util.spec_from_file_location("_torch_parity_cases", HERE / "autograd" / "test_parity_torch.py")
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except pytest.skip.Exception:
        return {}, {}
    return mod.CASES, mod.NON_DIFF


TORCH_CASES, TORCH_NON_DIFF = _torch_parity_tables()
ALL_CASES = {**TORCH_CASES, **EXTRA}
ALL_NON_DIFF = {**TORCH_NON_DIFF, **EXTRA_NON_DIFF}
NOT_OPS = {"return_types", "Tensor", "no_grad", "embedding_lookup",   # not ops, or distgrad-internal helpers
           "multi_head_attention_forward",                             # run by the MultiheadAttention layer case
           "dropout", "dropout1d", "dropout2d", "dropout3d"}           # random: see the dropout layer tests
NOT_OPS |= RANDOM_OPS | SHAPE_FUNCTIONS  # random (see test_ops_sampling.py), or of shapes, not tensors


# --- coverage ------------------------------------------------------------------------------------------------

def _covered(name, keys):
    return any(k == name or k.startswith(name + "_") for k in keys)


def test_every_op_and_layer_has_a_device_case():
    if not TORCH_CASES:
        pytest.skip("the op list comes from tests/autograd/test_parity_torch.py, which needs torch")
    keys = set(ALL_CASES) | set(ALL_NON_DIFF) | {k.removeprefix("F.") for k in ALL_CASES}
    ops = [n for n in dir(distgrad) if callable(getattr(distgrad, n))
           and getattr(getattr(distgrad, n), "__module__", "").startswith("distgrad.autograd.ops")]
    functional = [n for n in dir(distgrad.nn.functional) if not n.startswith("_")
                  and callable(getattr(distgrad.nn.functional, n))]
    missing = sorted({n for n in ops + functional if n not in NOT_OPS and not _covered(n, keys)})
    assert not missing, f"ops without a device parity case (add them to tests/device_cases.py): {missing}"
    layers = [n for n in dir(distgrad.nn) if isinstance(getattr(distgrad.nn, n), type)
              and issubclass(getattr(distgrad.nn, n), distgrad.nn.Module)]
    missing = sorted(set(layers) - set(LAYERS) - RANDOM_LAYERS - CONTAINERS - BASES)
    assert not missing, f"layers without a device parity case (add them to tests/device_cases.py): {missing}"


# --- running a case ------------------------------------------------------------------------------------------

def _inputs(specs, device, seed=SEED):
    rng = np.random.default_rng(seed)
    out = []
    for spec in specs:
        if spec[0] == "index":
            _, high, shape = spec
            out.append(distgrad.tensor(rng.integers(0, high, shape), device=device))
        else:
            out.append(distgrad.tensor(array(spec[0], spec[1], rng), dtype=distgrad.float64, device=device,
                                       requires_grad=True))
    return out


def _derivatives(fn, specs, device):
    """Output, first derivatives (with a random output gradient) and second derivatives of a case on ``device``."""
    m = On(device)
    xs = _inputs(specs, device)
    out = fn(m, *xs)
    rng = np.random.default_rng(SEED + 1)
    g = distgrad.tensor(rng.standard_normal(tuple(out.shape)), dtype=out.dtype, device=device, requires_grad=True)
    firsts = distgrad.autograd.grad(out, xs, g, create_graph=True, allow_unused=True)
    vs = [distgrad.tensor(rng.standard_normal(tuple(x.shape)), dtype=distgrad.float64, device=device) for x in xs]
    terms = [(d * v).sum() for d, v in zip(firsts, vs) if d is not None and d.requires_grad]
    seconds = distgrad.autograd.grad(sum(terms), xs + [g], allow_unused=True) if terms else []
    return out, list(firsts), list(seconds)


def _same(cpu, gpu, what, rtol=1e-9):
    if cpu is None or gpu is None:
        assert cpu is None and gpu is None, f"{what}: a gradient on one device only"
        return
    assert gpu.device.type == "cuda", f"{what}: on {gpu.device}"
    assert gpu.dtype == cpu.dtype and tuple(gpu.shape) == tuple(cpu.shape), what
    np.testing.assert_allclose(to_host(gpu), to_host(cpu), rtol=rtol, atol=rtol * 1e-3, err_msg=what)


# --- everywhere: the extra cases against PyTorch, the layer cases on the CPU ---------------------------------

@pytest.mark.parametrize("name", sorted(EXTRA))
def test_extra_case_matches_torch_on_cpu(name):
    torch = pytest.importorskip("torch")
    fn, specs = EXTRA[name]
    ours = _inputs(specs, "cpu")
    theirs = [torch.tensor(to_host(x), requires_grad=x.requires_grad) for x in ours]
    out_d, out_t = fn(distgrad, *ours), fn(torch, *theirs)
    rtol = max(TOL.get(name, 0.0), 1e-7)
    np.testing.assert_allclose(to_host(out_d), out_t.detach().numpy(), rtol=rtol, atol=1e-10, err_msg=name)
    g = np.random.default_rng(SEED + 1).standard_normal(tuple(out_t.shape))
    grads_d = distgrad.autograd.grad(out_d, ours, distgrad.tensor(g, dtype=out_d.dtype), allow_unused=True)
    grads_t = torch.autograd.grad(out_t, theirs, torch.tensor(g, dtype=out_t.dtype), allow_unused=True)
    for i, (a, b) in enumerate(zip(grads_d, grads_t)):
        if b is None:
            assert a is None or not np.any(to_host(a)), f"{name}: input {i}"
        else:
            np.testing.assert_allclose(to_host(a), b.numpy(), rtol=rtol, atol=1e-10, err_msg=f"{name}: input {i}")


@pytest.mark.parametrize("name", sorted(EXTRA_NON_DIFF))
def test_extra_integer_case_matches_torch_on_cpu(name):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(SEED).standard_normal((3, 4))
    out_d, out_t = EXTRA_NON_DIFF[name](distgrad, distgrad.tensor(a)), EXTRA_NON_DIFF[name](torch, torch.tensor(a))
    assert str(out_d.dtype).split(".")[-1] == str(out_t.dtype).split(".")[-1]
    np.testing.assert_array_equal(to_host(out_d), out_t.numpy())


def _layer_run(name, device, dtype=distgrad.float64):
    make, specs = LAYERS[name]
    distgrad.manual_seed(0)
    layer = make().to(device=device, dtype=dtype)
    xs = [x.to(dtype) if x.is_floating_point() else x for x in _inputs(specs, device)]
    xs = [x.detach().requires_grad_() if x.is_floating_point() else x for x in xs]
    out = layer(*xs)
    out = out[0] if isinstance(out, tuple) else out   # MultiheadAttention: (output, weights)
    g = distgrad.tensor(np.random.default_rng(SEED + 2).standard_normal(tuple(out.shape)), dtype=out.dtype,
                        device=device)
    out.backward(g)
    return layer, xs, out


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_case_runs_on_cpu(name):
    layer, xs, out = _layer_run(name, "cpu")
    assert out.device == "cpu" and np.isfinite(to_host(out)).all()
    for x in xs:
        if x.requires_grad:
            assert x.grad is not None and x.grad.shape == x.shape
    for pname, p in layer.named_parameters():
        assert p.grad is not None, f"{name}.{pname} got no gradient"


# --- on a GPU ------------------------------------------------------------------------------------------------

@requires_cuda
@pytest.mark.parametrize("name", sorted(ALL_CASES))
def test_op_on_cuda_matches_cpu(name):
    fn, specs = ALL_CASES[name]
    out_c, first_c, second_c = _derivatives(fn, specs, "cpu")
    out_g, first_g, second_g = _derivatives(fn, specs, "cuda")
    rtol = TOL.get(name, 1e-9)
    _same(out_c, out_g, f"{name}: values", rtol)
    if out_c.grad_fn is not None:
        assert out_g.grad_fn.name() == out_c.grad_fn.name()
    for i, (c, g) in enumerate(zip(first_c, first_g)):
        _same(c, g, f"{name}: d out / d input {i}", rtol)
    for i, (c, g) in enumerate(zip(second_c, second_g)):
        _same(c, g, f"{name}: second derivative {i}", rtol)


@requires_cuda
@pytest.mark.parametrize("name", sorted(ALL_NON_DIFF))
def test_integer_result_on_cuda_matches_cpu(name):
    a = np.random.default_rng(SEED).standard_normal((3, 4))
    fn = ALL_NON_DIFF[name]
    out_c, out_g = fn(On("cpu"), distgrad.tensor(a)), fn(On("cuda"), distgrad.tensor(a, device="cuda"))
    assert out_g.device.type == "cuda" and out_g.dtype == out_c.dtype
    np.testing.assert_array_equal(to_host(out_g), to_host(out_c))


@requires_cuda
@pytest.mark.parametrize("dtype", [distgrad.float64, distgrad.float32], ids=str)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_on_cuda_matches_cpu(name, dtype):
    rtol = 1e-9 if dtype == distgrad.float64 else 2e-4
    layer_c, xs_c, out_c = _layer_run(name, "cpu", dtype)
    layer_g, xs_g, out_g = _layer_run(name, "cuda", dtype)
    _same(out_c, out_g, f"{name}: output", rtol)
    for i, (c, g) in enumerate(zip(xs_c, xs_g)):
        _same(c.grad, g.grad, f"{name}: input {i} gradient", rtol)
    params_g = dict(layer_g.named_parameters())
    for pname, p in layer_c.named_parameters():
        _same(p, params_g[pname], f"{name}.{pname}", rtol)
        _same(p.grad, params_g[pname].grad, f"{name}.{pname} gradient", rtol)
    buffers_g = dict(layer_g.named_buffers())
    for bname, b in layer_c.named_buffers():
        _same(b, buffers_g[bname], f"{name} buffer {bname}", rtol)


@requires_cuda
@pytest.mark.parametrize("name", sorted(RANDOM_LAYERS))
def test_dropout_on_cuda_drops_and_scales(name):
    layer = getattr(distgrad.nn, name)(p=0.25).cuda()
    shape = {"Dropout": (200, 100), "Dropout1d": (50, 40, 10), "Dropout2d": (20, 100, 3, 3),
             "Dropout3d": (10, 200, 2, 2, 2)}[name]
    x = distgrad.ones(*shape, device="cuda", requires_grad=True)
    distgrad.manual_seed(3)
    y = layer(x)
    distgrad.manual_seed(3)
    assert bool((layer(x) == y).all())                       # seeded: the same mask again
    vals = np.unique(to_host(y))
    np.testing.assert_allclose(vals, [0.0, 1 / 0.75], rtol=1e-6)
    kept = float((y != 0).float().mean())
    assert abs(kept - 0.75) < 0.03
    y.sum().backward()
    np.testing.assert_array_equal(to_host(x.grad), to_host(y))
    layer.eval()
    assert layer(x) is x or bool((layer(x) == x).all())


@requires_cuda
def test_containers_move_their_tensors():
    m = distgrad.nn.Module()
    m.blocks = distgrad.nn.ModuleList([distgrad.nn.Linear(2, 2)])
    m.heads = distgrad.nn.ModuleDict({"a": distgrad.nn.Linear(2, 1)})
    m.plist = distgrad.nn.ParameterList([distgrad.nn.Parameter(distgrad.ones(3))])
    m.pdict = distgrad.nn.ParameterDict({"s": distgrad.nn.Parameter(distgrad.zeros(1))})
    m.register_buffer("step", distgrad.tensor(0))
    before = list(m.parameters())
    m.cuda()
    assert all(p.device.type == "cuda" for p in m.parameters()) and m.step.device.type == "cuda"
    assert all(a is b for a, b in zip(m.parameters(), before))
    m.cpu()
    assert all(p.device == "cpu" for p in m.parameters()) and m.step.device == "cpu"


def test_gradcheck_runs_on_the_device(device):
    x = distgrad.randn(3, 2, dtype=distgrad.float64, device=device, requires_grad=True)
    w = distgrad.randn(2, 4, dtype=distgrad.float64, device=device, requires_grad=True)
    assert distgrad.autograd.gradcheck(lambda a, b: (a @ b).tanh(), [x, w])
    assert distgrad.autograd.gradgradcheck(lambda a, b: (a @ b).tanh(), [x, w])

    class WrongGrad(distgrad.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    assert distgrad.autograd.gradcheck(WrongGrad.apply, [x], raise_exception=False) is False


# --- the CUDA kernels behind conv's im2col/col2im ------------------------------------------------------------

def test_cuda_kernels_switch(monkeypatch):
    from distgrad import backend
    from distgrad.autograd.ops import cuda_kernels
    from devices import FakeCupy
    fake = FakeCupy(1)
    monkeypatch.setattr(backend, "_cupy", fake)
    assert cuda_kernels.enabled(fake) and not cuda_kernels.enabled(np)
    monkeypatch.setenv(cuda_kernels.KERNELS_VAR, "0")
    assert not cuda_kernels.enabled(fake)


@requires_cuda
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("hw, kernel, stride, padding, dilation", [
    ((5, 6), (3, 3), (1, 1), (1, 1), (1, 1)), ((7, 5), (3, 2), (2, 1), (1, 0), (1, 2)),
    ((6, 6), (2, 2), (2, 2), (0, 1), (1, 1)), ((4, 9), (1, 3), (1, 3), (0, 2), (1, 1)),
    ((32, 32), (3, 3), (2, 2), (1, 1), (1, 1))])
def test_cuda_kernels_match_the_array_expressions(monkeypatch, dtype, hw, kernel, stride, padding, dilation):
    from distgrad import backend
    from distgrad.autograd.ops import conv, conv_args, cuda_kernels
    cp = backend.cupy_module()
    rng = np.random.default_rng(0)
    x = cp.asarray(rng.standard_normal((2, 3) + hw).astype(dtype))
    geom = conv_args.conv_geometry("conv2d", 2, x.shape, (4, 3) + kernel, None, stride, padding, dilation, 1)
    cols = cp.asarray(rng.standard_normal((2, 3 * kernel[0] * kernel[1], geom.out_size[0] * geom.out_size[1]))
                      .astype(dtype))
    fast = conv.im2col(x, geom), conv.col2im(cols, geom, 3)
    monkeypatch.setenv(cuda_kernels.KERNELS_VAR, "0")
    slow = conv.im2col(x, geom), conv.col2im(cols, geom, 3)
    cp.testing.assert_array_equal(fast[0], slow[0])
    cp.testing.assert_allclose(fast[1], slow[1], rtol=1e-2 if dtype == "float16" else 1e-6)
