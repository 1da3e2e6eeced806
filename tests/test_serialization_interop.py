"""Checkpoints move between distgrad and PyTorch through the safetensors format, both ways."""
import collections

import numpy as np
import pytest

import distgrad

safetensors = pytest.importorskip("safetensors")
torch = pytest.importorskip("torch")
from safetensors.numpy import load_file as np_load_file  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

PAIRS = [(distgrad.float64, torch.float64), (distgrad.float32, torch.float32), (distgrad.float16, torch.float16),
         (distgrad.int64, torch.int64), (distgrad.int32, torch.int32), (distgrad.int16, torch.int16),
         (distgrad.int8, torch.int8), (distgrad.uint8, torch.uint8), (distgrad.bool, torch.bool)]


def as_np(t):
    return t.detach().cpu().numpy()


def test_every_dtype_from_distgrad_to_torch(tmp_path):
    state = collections.OrderedDict()
    for i, (d, _) in enumerate(PAIRS):
        state[f"t{i}.{d}"] = (distgrad.randn(3, 2 + i, dtype=distgrad.float64) * 40).to(d)
    state["scalar"] = distgrad.tensor(2.5)
    state["empty"] = distgrad.zeros(0, 4)
    path = tmp_path / "m.safetensors"
    distgrad.save(state, path)
    back = load_file(str(path))
    assert set(back) == set(state)
    for i, (d, td) in enumerate(PAIRS):
        name = f"t{i}.{d}"
        assert back[name].dtype == td and np.array_equal(back[name].numpy(), as_np(state[name]))
    assert back["scalar"].shape == () and back["scalar"].item() == 2.5
    assert back["empty"].shape == (0, 4)
    assert set(np_load_file(str(path))) == set(state)


def test_every_dtype_from_torch_to_distgrad(tmp_path):
    g = torch.Generator().manual_seed(0)
    state = {f"p{i}": (torch.randn(4, i + 1, generator=g, dtype=torch.float64) * 40).to(td)
             for i, (_, td) in enumerate(PAIRS)}
    state["zero_dim"] = torch.tensor(7, dtype=torch.int64)
    path = tmp_path / "t.safetensors"
    save_file(state, str(path), metadata={"format": "pt", "author": "someone"})
    back = distgrad.load(path)
    assert isinstance(back, dict) and set(back) == set(state)
    for i, (d, _) in enumerate(PAIRS):
        t = back[f"p{i}"]
        assert isinstance(t, distgrad.Tensor) and t.dtype == d and t.device == "cpu"
        assert np.array_equal(t.numpy(), state[f"p{i}"].numpy())
    assert back["zero_dim"].shape == () and back["zero_dim"].item() == 7


def torch_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                               torch.nn.Linear(8, 3))


def test_a_torch_model_state_dict_loads_into_distgrad_and_computes_the_same(tmp_path):
    model = torch_model()
    model.train()
    model(torch.randn(16, 5))  # move the BatchNorm running statistics off their initial values
    model.eval()
    path = tmp_path / "torch_model.safetensors"
    save_file(model.state_dict(), str(path))
    sd = distgrad.load(path)
    assert set(sd) == set(model.state_dict())
    assert sd["1.num_batches_tracked"].dtype == distgrad.int64 and sd["1.num_batches_tracked"].item() == 1
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    h = distgrad.tensor(x) @ sd["0.weight"].t() + sd["0.bias"]
    h = (h - sd["1.running_mean"]) / (sd["1.running_var"] + 1e-5).sqrt() * sd["1.weight"] + sd["1.bias"]
    out = h.relu() @ sd["3.weight"].t() + sd["3.bias"]
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert np.allclose(out.numpy(), want, atol=1e-5)


def test_distgrad_weights_load_into_a_torch_model(tmp_path):
    model = torch_model()
    sd = {k: distgrad.tensor(v.numpy()) * 2 for k, v in model.state_dict().items()
          if v.dtype.is_floating_point}
    sd["1.num_batches_tracked"] = distgrad.tensor(5)
    path = tmp_path / "dg.safetensors"
    distgrad.save(sd, path)
    fresh = torch_model()
    fresh.load_state_dict(load_file(str(path)))
    for k, v in fresh.state_dict().items():
        assert np.array_equal(v.numpy(), as_np(sd[k])), k


def test_distgrad_nn_state_dict_round_trips_through_torch(tmp_path):
    nn = pytest.importorskip("distgrad.nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("distgrad.nn.Linear is not there yet")
    lin = nn.Linear(4, 3)
    path = tmp_path / "lin.safetensors"
    distgrad.save(lin.state_dict(), path)
    tl = torch.nn.Linear(4, 3)
    tl.load_state_dict(load_file(str(path)))
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    with torch.no_grad():
        want = tl(torch.from_numpy(x)).numpy()
    assert np.allclose(lin(distgrad.tensor(x)).detach().numpy(), want, atol=1e-6)
    back = distgrad.load(path)
    assert all(not t.requires_grad for t in back.values())
    lin2 = nn.Linear(4, 3)
    lin2.load_state_dict(back)
    assert np.array_equal(as_np(lin2.weight), as_np(lin.weight))


def test_nested_distgrad_checkpoint_is_still_a_valid_safetensors_file(tmp_path):
    ckpt = {"model": {"w": distgrad.ones(2, 2)}, "optimizer": {"state": {0: {"exp_avg": distgrad.zeros(2, 2)}},
                                                               "param_groups": [{"lr": 0.1, "params": [0]}]},
            "epoch": 4}
    path = tmp_path / "ckpt.safetensors"
    distgrad.save(ckpt, path)
    flat = load_file(str(path))
    assert set(flat) == {"model.w", "optimizer.state.0.exp_avg"}
    assert flat["model.w"].tolist() == [[1.0, 1.0], [1.0, 1.0]]
    with safetensors.safe_open(str(path), "pt") as f:
        assert f.metadata()["format"] == "pt"
    assert distgrad.load(path)["epoch"] == 4


def test_non_contiguous_and_shared_tensors_reach_torch_correctly(tmp_path):
    base = distgrad.arange(12, dtype=distgrad.float32).reshape(3, 4)
    sd = {"base": base, "t": base.t(), "step": base[:, ::2], "tied": base}
    path = tmp_path / "views.safetensors"
    distgrad.save(sd, path)
    back = load_file(str(path))
    for k, v in sd.items():
        assert np.array_equal(back[k].numpy(), as_np(v)), k
