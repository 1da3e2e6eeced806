"""Training on every device: seeded random numbers, optimizers, whole training steps, checkpoints with
``map_location`` and DistributedDataParallel, each on the CPU and (with a GPU) on CUDA.

Tests taking the ``device`` fixture run once per device (the CUDA case skips
without a GPU); the GPU-against-CPU comparisons need a GPU.
"""
import io

import numpy as np
import pytest

import distgrad
import distgrad.distributed as dist
from devices import requires_cuda, to_host


# --- random numbers ------------------------------------------------------------------------------------------

def _draws(device, generator=None):
    kw = {"device": device, "generator": generator}
    t = distgrad.empty(500, device=device)
    return [distgrad.rand(3, 4, **kw), distgrad.randn(1000, **kw), distgrad.randint(2, 9, (400,), **kw),
            distgrad.randperm(50, **kw), t.normal_(1.0, 2.0, generator=generator).clone(),
            t.uniform_(-1.0, 1.0, generator=generator).clone()]


def test_seeded_draws_repeat_on_the_device(device):
    distgrad.manual_seed(11)
    first = _draws(device)
    distgrad.manual_seed(11)
    again = _draws(device)
    for a, b in zip(first, again):
        assert a.device.type == device
        np.testing.assert_array_equal(to_host(a), to_host(b))
    distgrad.manual_seed(12)
    assert not np.array_equal(to_host(_draws(device)[1]), to_host(first[1]))


def test_draws_have_the_right_dtypes_and_distributions(device):
    u, n, k, p, nrm, uni = _draws(device)
    assert (u.dtype, n.dtype, k.dtype, p.dtype) == (distgrad.float32, distgrad.float32, distgrad.int64,
                                                    distgrad.int64)
    assert 0.0 <= float(u.min()) and float(u.max()) < 1.0
    assert abs(float(n.mean())) < 0.15 and abs(float(n.std()) - 1.0) < 0.1
    assert set(np.unique(to_host(k)).tolist()) <= set(range(2, 9)) and int(k.min()) == 2 and int(k.max()) == 8
    assert sorted(to_host(p).tolist()) == list(range(50))
    assert abs(float(nrm.mean()) - 1.0) < 0.4 and abs(float(nrm.std()) - 2.0) < 0.3
    assert -1.0 <= float(uni.min()) and float(uni.max()) < 1.0


def test_a_generator_object_gives_its_own_stream(device):
    g = distgrad.Generator(device=device).manual_seed(5)
    a = _draws(device, g)
    distgrad.manual_seed(0)                       # the default generator does not affect g
    g.manual_seed(5)
    for x, y in zip(a, _draws(device, g)):
        np.testing.assert_array_equal(to_host(x), to_host(y))


@requires_cuda
def test_cuda_seed_affects_only_the_gpu():
    distgrad.manual_seed(1)
    cpu, gpu = distgrad.rand(5), distgrad.rand(5, device="cuda")
    distgrad.manual_seed(1)
    distgrad.cuda.manual_seed(99)
    assert distgrad.rand(5).tolist() == cpu.tolist()
    assert not np.array_equal(to_host(distgrad.rand(5, device="cuda")), to_host(gpu))
    assert distgrad.cuda.initial_seed() == 99


# --- optimizers and training steps ---------------------------------------------------------------------------

OPTIMIZERS = {
    "SGD": lambda ps: distgrad.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "Adam": lambda ps: distgrad.optim.Adam(ps, lr=1e-2, amsgrad=True),
    "AdamW": lambda ps: distgrad.optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
    "RMSprop": lambda ps: distgrad.optim.RMSprop(ps, lr=1e-2, momentum=0.5, centered=True),
    "Adagrad": lambda ps: distgrad.optim.Adagrad(ps, lr=0.1, lr_decay=1e-3),
}


def _net():
    nn = distgrad.nn
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 10))


def _train(device, make_opt, steps=3, dtype=distgrad.float64):
    distgrad.manual_seed(0)
    model = _net().to(device=device, dtype=dtype)
    opt = make_opt(model.parameters())
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(steps):
        x = distgrad.tensor(rng.standard_normal((6, 1, 8, 8)), dtype=dtype, device=device)
        y = distgrad.tensor(rng.integers(0, 10, 6), device=device)
        opt.zero_grad()
        loss = distgrad.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, opt, losses


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_steps_run_on_the_device(device, name):
    model, opt, losses = _train(device, OPTIMIZERS[name])
    assert all(p.device.type == device for p in model.parameters())
    for state in opt.state.values():
        for key, v in state.items():
            if isinstance(v, distgrad.Tensor) and key != "step":
                assert v.device.type == device, key
    assert np.isfinite(losses).all()


@requires_cuda
@pytest.mark.parametrize("dtype", [distgrad.float64, distgrad.float32], ids=str)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_on_cuda_matches_cpu(name, dtype):
    rtol = 1e-9 if dtype == distgrad.float64 else 1e-3
    m_c, o_c, l_c = _train("cpu", OPTIMIZERS[name], dtype=dtype)
    m_g, o_g, l_g = _train("cuda", OPTIMIZERS[name], dtype=dtype)
    np.testing.assert_allclose(l_g, l_c, rtol=rtol)
    for (k, a), b in zip(m_c.state_dict().items(), m_g.state_dict().values()):
        np.testing.assert_allclose(to_host(b), to_host(a), rtol=rtol, atol=rtol * 1e-2, err_msg=k)


# --- checkpoints ---------------------------------------------------------------------------------------------

def _roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    distgrad.save(obj, buf)
    buf.seek(0)
    return distgrad.load(buf, **load_kwargs)


def test_checkpoints_restore_to_the_device_or_map_location(device):
    model, opt, _ = _train(device, OPTIMIZERS["Adam"], steps=1)
    ckpt = {"model": model.state_dict(), "opt": opt.state_dict()}
    back = _roundtrip(ckpt)                       # default: where each tensor was saved
    for k, v in back["model"].items():
        assert v.device == model.state_dict()[k].device
        np.testing.assert_array_equal(to_host(v), to_host(model.state_dict()[k]))
    on_cpu = _roundtrip(ckpt, map_location="cpu")
    assert all(v.device == "cpu" for v in on_cpu["model"].values())
    mapped = _roundtrip(ckpt, map_location={"cuda:0": "cpu"})
    assert all(v.device == "cpu" for v in mapped["model"].values())
    # a fresh model on this device loads the CPU copy; the optimizer state follows the parameters
    distgrad.manual_seed(5)
    fresh = _net().to(device=device, dtype=distgrad.float64)
    fresh.load_state_dict(on_cpu["model"])
    fresh_opt = OPTIMIZERS["Adam"](fresh.parameters())
    fresh_opt.load_state_dict(on_cpu["opt"])
    for state in fresh_opt.state.values():
        assert state["exp_avg"].device.type == device
    for a, b in zip(fresh.parameters(), model.parameters()):
        np.testing.assert_array_equal(to_host(a), to_host(b))


@requires_cuda
def test_cpu_checkpoint_loads_onto_the_gpu():
    model = _net()
    back = _roundtrip(model.state_dict(), map_location="cuda")
    assert all(v.device.type == "cuda" for v in back.values())
    back = _roundtrip(model.state_dict(), map_location=lambda t, where: t.cuda())
    assert all(v.device.type == "cuda" for v in back.values())


# --- DistributedDataParallel ---------------------------------------------------------------------------------

def test_ddp_step_on_the_device_matches_a_plain_step(device):
    dist.init_process_group()
    if dist.get_world_size() != 1:
        pytest.skip("a world-of-one comparison")
    sgd = OPTIMIZERS["SGD"]
    plain, _, losses = _train(device, sgd, steps=2)

    distgrad.manual_seed(0)
    inner = _net().to(device=device, dtype=distgrad.float64)
    ids = [distgrad.cuda.current_device()] if device == "cuda" else None
    ddp = distgrad.nn.parallel.DistributedDataParallel(inner, device_ids=ids, bucket_cap_mb=0.001)
    opt = sgd(ddp.parameters())
    rng = np.random.default_rng(0)
    got = []
    for _ in range(2):
        x = distgrad.tensor(rng.standard_normal((6, 1, 8, 8)), device=device)
        y = distgrad.tensor(rng.integers(0, 10, 6), device=device)
        opt.zero_grad()
        loss = distgrad.nn.functional.cross_entropy(ddp(x), y)
        loss.backward()
        opt.step()
        got.append(loss.item())
    np.testing.assert_allclose(got, losses, rtol=1e-12)
    for a, b in zip(inner.parameters(), plain.parameters()):
        assert a.device.type == device
        np.testing.assert_allclose(to_host(a), to_host(b), rtol=1e-12)
