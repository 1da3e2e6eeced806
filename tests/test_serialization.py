"""distgrad.save / distgrad.load: round trips of every dtype and structure, map_location,
atomic writes, and rejection of crafted or corrupt files (no pickle is ever run)."""
import collections
import io
import json
import math
import os
import pickle

import numpy as np
import pytest

import distgrad
from distgrad import safetensors_format as fmt

ALL_DTYPES = [distgrad.float64, distgrad.float32, distgrad.float16, distgrad.int64, distgrad.int32,
              distgrad.int16, distgrad.int8, distgrad.uint8, distgrad.bool]


def roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    distgrad.save(obj, buf)
    buf.seek(0)
    return distgrad.load(buf, **load_kwargs)


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.numpy(), b.numpy())


class _Unpicklable:
    def __reduce__(self):
        raise TypeError("cannot pickle this on purpose")


# --- round trips ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3, 4)], ids=str)
def test_each_dtype_and_shape_round_trips(tmp_path, dtype, shape):
    t = (distgrad.randn(*shape, dtype=distgrad.float64) * 50).to(dtype)
    path = tmp_path / "t.safetensors"
    distgrad.save({"x": t}, path)
    back = distgrad.load(path)
    assert list(back) == ["x"] and same(back["x"], t)
    assert back["x"].requires_grad is False and back["x"].grad_fn is None


def test_bare_tensor_and_non_dict_roots():
    t = distgrad.arange(6).reshape(2, 3)
    assert same(roundtrip(t), t)
    assert roundtrip([1, 2.5, "a"]) == [1, 2.5, "a"]
    assert roundtrip(None) is None
    assert roundtrip((t, 3))[1] == 3


def test_scalars_and_types_are_preserved_exactly():
    obj = {"i": 3, "big": 2 ** 80, "neg": -7, "f": 0.1, "nz": -0.0, "inf": float("inf"), "b": False,
           "none": None, "s": "héllo\n\"q\"", "empty_s": "", "t": (1, (2.0, None)), "l": [[], {}, ()],
           "dtype": distgrad.int16, "dev": distgrad.device("cpu"), "size": distgrad.Size([2, 3])}
    back = roundtrip(obj)
    assert back == obj
    assert math.isnan(roundtrip({"n": float("nan")})["n"])
    assert math.copysign(1.0, back["nz"]) == -1.0
    for k in obj:
        assert type(back[k]) is type(obj[k]), k
    assert type(back["t"][1]) is tuple and type(back["size"]) is distgrad.Size
    assert back["dtype"] is distgrad.int16


def test_non_string_keys_round_trip_with_their_types():
    obj = {0: "a", 1: {2: "b"}, -3: 1, 1.5: "f", True: "t", None: "n", (1, "x"): "tup"}
    back = roundtrip(obj)
    assert back == obj
    assert all(type(a) is type(b) for a, b in zip(back, obj))
    assert list(back) == list(obj)


def test_ordered_dict_and_key_order_survive():
    sd = collections.OrderedDict((k, distgrad.ones(1) * i) for i, k in enumerate("zyxa"))
    back = roundtrip(sd)
    assert type(back) is collections.OrderedDict and list(back) == list("zyxa")
    assert type(roundtrip({"a": 1})) is dict


def test_numpy_scalars_save_as_python_numbers_and_arrays_as_arrays():
    back = roundtrip({"a": np.int32(4), "b": np.float32(0.5), "c": np.bool_(True),
                      "arr": np.arange(4, dtype=np.int16)})
    assert back["a"] == 4 and type(back["a"]) is int
    assert back["b"] == 0.5 and type(back["b"]) is float and back["c"] is True
    assert isinstance(back["arr"], np.ndarray) and back["arr"].dtype == np.int16
    assert back["arr"].tolist() == [0, 1, 2, 3]


def test_full_training_checkpoint_with_optimizer_int_keys():
    w, b = distgrad.randn(4, 3), distgrad.randn(4)
    ckpt = {
        "model": collections.OrderedDict([("fc.weight", w), ("fc.bias", b)]),
        "optimizer": {"state": {0: {"step": distgrad.tensor(7.0), "exp_avg": distgrad.randn(4, 3),
                                    "exp_avg_sq": distgrad.rand(4, 3)},
                                1: {"step": distgrad.tensor(7.0), "exp_avg": distgrad.randn(4),
                                    "exp_avg_sq": distgrad.rand(4)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                                        "amsgrad": False, "maximize": False, "foreach": None, "params": [0, 1]}]},
        "scheduler": {"step_size": 30, "gamma": 0.1, "last_epoch": 12, "_last_lr": [1e-4]},
        "epoch": 12, "rng": distgrad.get_rng_state(),
    }
    back = roundtrip(ckpt)
    assert list(back["optimizer"]["state"]) == [0, 1]
    assert all(type(k) is int for k in back["optimizer"]["state"])
    group = back["optimizer"]["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and type(group["betas"]) is tuple
    assert group == ckpt["optimizer"]["param_groups"][0]
    assert back["scheduler"] == ckpt["scheduler"] and back["epoch"] == 12
    for k in ("exp_avg", "exp_avg_sq", "step"):
        assert same(back["optimizer"]["state"][1][k], ckpt["optimizer"]["state"][1][k])
    assert same(back["model"]["fc.weight"], w)
    distgrad.set_rng_state(back["rng"])


def test_views_and_shared_storage_are_saved_as_copies():
    base = distgrad.arange(24, dtype=distgrad.float32).reshape(4, 6)
    views = {"base": base, "t": base.t(), "strided": base[::2, 1::3], "row": base[1], "again": base}
    back = roundtrip(views)
    for k, v in views.items():
        assert same(back[k], v), k
    back["base"].add_(100)
    assert back["row"][0].item() == 6.0 and back["again"][0, 0].item() == 0.0
    assert base[0, 0].item() == 0.0


def test_loaded_tensors_are_writable_and_independent_of_the_file(tmp_path):
    path = tmp_path / "c.safetensors"
    distgrad.save({"a": distgrad.zeros(3), "b": distgrad.zeros(2, dtype=distgrad.int8)}, path)
    for mmap in (False, True):
        back = distgrad.load(path, mmap=mmap)
        back["a"].add_(1.0)
        back["b"][0] = 5
        assert back["a"].tolist() == [1.0, 1.0, 1.0] and back["b"].tolist() == [5, 0]
        assert distgrad.load(path)["a"].tolist() == [0.0, 0.0, 0.0]


def test_requires_grad_is_kept_on_a_plain_leaf():
    w = distgrad.randn(3, requires_grad=True)
    y = w * 2
    back = roundtrip({"w": w, "y": y, "d": w.detach()})
    assert back["w"].requires_grad and back["w"].is_leaf and type(back["w"]) is distgrad.Tensor
    assert back["y"].requires_grad and back["y"].grad_fn is None
    assert not back["d"].requires_grad
    (back["w"] * back["w"]).sum().backward()
    assert np.allclose(back["w"].grad.numpy(), 2 * w.detach().numpy())


def test_parameters_load_as_plain_tensors():
    nn = pytest.importorskip("distgrad.nn")
    p = nn.Parameter(distgrad.ones(2))
    back = roundtrip({"p": p})
    assert type(back["p"]) is distgrad.Tensor and back["p"].requires_grad and back["p"].is_leaf
    assert same(back["p"].detach(), p.detach())


# --- bad input to save changes nothing ---------------------------------------------------------------

@pytest.mark.parametrize("bad, err, words", [
    ({"f": lambda x: x}, pickle.PicklingError, "lambda"),
    ({"nested": [distgrad.ones(1), _Unpicklable()]}, TypeError, "cannot pickle"),
])
def test_unpicklable_objects_raise_and_leave_the_file_alone(tmp_path, bad, err, words):
    path = tmp_path / "ckpt.safetensors"
    distgrad.save({"old": distgrad.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(err, match=words):
        distgrad.save(bad, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    buf = io.BytesIO()
    with pytest.raises(err):
        distgrad.save(bad, buf)
    assert buf.getvalue() == b""


@pytest.mark.parametrize("obj", [
    {"s": {1, 2}, "f": frozenset({3})},
    {"b": b"bytes", "ba": bytearray(b"xy")},
    {(1, "k"): [1.5, None, {"deep": (2,)}], 3: complex(1, 2)},
])
def test_data_beyond_the_safetensors_structure_is_pickled_and_loads_weights_only(obj):
    buf = io.BytesIO()
    distgrad.save(obj, buf)
    assert buf.getvalue()[:4] == b"PK\x03\x04"  # PyTorch's zip format, as torch.save writes it
    assert distgrad.load(io.BytesIO(buf.getvalue())) == obj


def test_tensor_keys_cycles_and_deep_nesting_go_to_the_pickle_format():
    key = distgrad.ones(1)
    back = roundtrip({key: 1})
    (k, v), = back.items()
    assert same(k, key) and v == 1
    a = []
    a.append(a)
    back = roundtrip({"a": a})
    assert back["a"][0] is back["a"]
    deep = []
    for _ in range(300):
        deep = [deep]
    back = roundtrip(deep)
    for _ in range(300):
        back = back[0]
    assert back == []
    shared = [1, 2]
    assert roundtrip({"x": shared, "y": shared}) == {"x": [1, 2], "y": [1, 2]}


def test_bad_target_and_pickle_arguments():
    with pytest.raises(TypeError, match="path or a binary file"):
        distgrad.save({}, 42)
    with pytest.raises(TypeError, match="path or a binary file"):
        distgrad.load(42)
    with pytest.raises(ValueError, match="pickle_module"):
        distgrad.save({}, io.BytesIO(), pickle_module=io)
    with pytest.raises(RuntimeError, match="explicit pickle_module"):
        distgrad.load(io.BytesIO(), pickle_module=pickle, weights_only=True)
    with pytest.raises(TypeError, match="encoding"):
        distgrad.load(io.BytesIO(), encoding="latin1")


def test_file_objects_are_written_and_read_at_their_position():
    buf = io.BytesIO()
    buf.write(b"prefix")
    distgrad.save({"a": distgrad.ones(2)}, buf)
    end = buf.tell()
    buf.write(b"tail")
    view = io.BytesIO(buf.getvalue()[6:end])
    assert same(distgrad.load(view)["a"], distgrad.ones(2))


# --- atomic writes -----------------------------------------------------------------------------------

def test_a_writer_failing_midway_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    old = {"w": distgrad.arange(10, dtype=distgrad.float32)}
    distgrad.save(old, path)
    before = path.read_bytes()
    calls = []

    def failing_write(f, arr):
        calls.append(arr.nbytes)
        f.write(memoryview(arr.reshape(-1)).cast("B")[: arr.nbytes // 2])
        raise OSError("No space left on device")

    monkeypatch.setattr(fmt, "_write_bytes", failing_write)
    with pytest.raises(OSError, match="No space"):
        distgrad.save({"w": distgrad.zeros(1000)}, path)
    assert calls
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.safetensors"]
    assert same(distgrad.load(path)["w"], old["w"])


def test_a_failing_fsync_or_rename_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    distgrad.save({"w": distgrad.ones(3)}, path)
    before = path.read_bytes()

    def boom(*args):
        raise OSError("I/O error")

    for target in ("fsync", "replace"):
        with monkeypatch.context() as m:
            m.setattr(os, target, boom)
            with pytest.raises(OSError, match="I/O"):
                distgrad.save({"w": distgrad.zeros(3)}, path)
        assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.safetensors"]


def test_atomic_save_replaces_keeps_mode_and_writes_through_symlinks(tmp_path):
    real = tmp_path / "epoch3.safetensors"
    distgrad.save({"v": distgrad.tensor([1])}, real)
    os.chmod(real, 0o640)
    link = tmp_path / "latest.safetensors"
    link.symlink_to(real)
    distgrad.save({"v": distgrad.tensor([2])}, link)
    assert link.is_symlink() and distgrad.load(real)["v"].tolist() == [2]
    assert (os.stat(real).st_mode & 0o777) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["epoch3.safetensors", "latest.safetensors"]
    with pytest.raises(IsADirectoryError):
        distgrad.save({}, tmp_path)
    with pytest.raises(RuntimeError, match="Parent directory .* does not exist"):
        distgrad.save({}, tmp_path / "missing" / "x.safetensors")
    with pytest.raises(FileNotFoundError):
        distgrad.load(tmp_path / "missing.safetensors")
    distgrad.save({"v": distgrad.tensor([3])}, str(real))
    assert distgrad.load(str(real))["v"].tolist() == [3]


# --- map_location ------------------------------------------------------------------------------------

def _with_saved_location(obj, location):
    """Bytes of a checkpoint whose tensors claim to have been saved from ``location``."""
    buf = io.BytesIO()
    distgrad.save(obj, buf)
    raw = buf.getvalue()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header["__metadata__"]["distgrad.structure"] = header["__metadata__"]["distgrad.structure"].replace(
        '"cpu"', json.dumps(location))
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    return len(new).to_bytes(8, "little") + new + raw[8 + n:]


def test_map_location_forms_on_cpu():
    t = distgrad.arange(3)
    for loc in ("cpu", distgrad.device("cpu"), {"cpu": "cpu"}, {}, None):
        back = roundtrip({"t": t}, map_location=loc)
        assert same(back["t"], t) and back["t"].device == "cpu"
    seen = []

    def fn(tensor, location):
        seen.append(location)
        return tensor + 1

    assert roundtrip({"t": t}, map_location=fn)["t"].tolist() == [1, 2, 3] and seen == ["cpu"]
    assert roundtrip({"t": t}, map_location=lambda s, loc: None)["t"].tolist() == [0, 1, 2]
    with pytest.raises(TypeError, match="map_location returned"):
        roundtrip({"t": t}, map_location=lambda s, loc: "x")
    with pytest.raises(TypeError, match="map_location must be"):
        roundtrip({"t": t}, map_location=3.5)


@pytest.mark.skipif(distgrad.backend.cuda_is_available(), reason="needs a machine without CUDA")
def test_cuda_checkpoint_on_a_cpu_machine():
    raw = _with_saved_location({"t": distgrad.ones(2), "n": 1}, "cuda:0")
    with pytest.raises(RuntimeError, match="map_location='cpu'"):
        distgrad.load(io.BytesIO(raw))
    assert distgrad.load(io.BytesIO(raw), map_location="cpu")["t"].device == "cpu"
    assert distgrad.load(io.BytesIO(raw), map_location={"cuda:0": "cpu"})["t"].tolist() == [1.0, 1.0]
    locs = []
    distgrad.load(io.BytesIO(raw), map_location=lambda s, loc: locs.append(loc) or s)
    assert locs == ["cuda:0"]
    with pytest.raises(RuntimeError, match="CUDA"):
        roundtrip({"t": distgrad.ones(1)}, map_location="cuda")


@pytest.mark.skipif(not distgrad.backend.cuda_is_available(), reason="needs CUDA")
def test_cuda_tensors_restore_to_their_device(tmp_path):
    t = distgrad.randn(3, 4, device="cuda")
    path = tmp_path / "g.safetensors"
    distgrad.save({"t": t, "c": t.cpu()}, path)
    back = distgrad.load(path)
    assert back["t"].device == t.device and back["c"].device == "cpu"
    assert np.array_equal(back["t"].cpu().numpy(), t.cpu().numpy())
    assert distgrad.load(path, map_location="cpu")["t"].device == "cpu"
    assert distgrad.load(path, map_location={"cpu": "cuda:0"})["c"].device == "cuda:0"


# --- a real training checkpoint --------------------------------------------------------------------

def test_resuming_from_a_checkpoint_matches_uninterrupted_training(tmp_path):
    nn = pytest.importorskip("distgrad.nn")
    optim = pytest.importorskip("distgrad.optim")
    if not (hasattr(nn, "Linear") and hasattr(optim, "Adam") and hasattr(optim, "lr_scheduler")):
        pytest.skip("distgrad.nn.Linear / optim.Adam / lr_scheduler are not there yet")
    x, y = distgrad.randn(8, 3), distgrad.randn(8, 1)

    def make():
        distgrad.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
        opt = optim.Adam(model.parameters(), lr=0.05, betas=(0.8, 0.99))
        return model, opt, optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

    def train(model, opt, sched, steps):
        for _ in range(steps):
            opt.zero_grad()
            d = model(x) - y
            (d * d).sum().backward()
            opt.step()
            sched.step()

    reference = make()
    train(*reference, 6)
    first = make()
    train(*first, 3)
    path = tmp_path / "ckpt.safetensors"
    distgrad.save({"model": first[0].state_dict(), "optimizer": first[1].state_dict(),
                   "scheduler": first[2].state_dict(), "epoch": 3}, path)
    ckpt = distgrad.load(path)
    assert ckpt["epoch"] == 3 and ckpt["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.99)
    assert sorted(ckpt["optimizer"]["state"]) == [0, 1, 2, 3]
    resumed = make()
    resumed[0].load_state_dict(ckpt["model"])
    resumed[1].load_state_dict(ckpt["optimizer"])
    resumed[2].load_state_dict(ckpt["scheduler"])
    train(*resumed, 3)
    for (name, p), q in zip(reference[0].named_parameters(), resumed[0].parameters()):
        assert np.allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6, atol=1e-7), name
    assert resumed[1].param_groups[0]["lr"] == reference[1].param_groups[0]["lr"]
