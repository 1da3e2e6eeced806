"""Files written by ``torch.save`` load in distgrad (zip and legacy formats), and whole objects round-trip.

PyTorch writes the reference files in each test (skipped where torch is not installed);
files distgrad writes are read back both ways where PyTorch can read them.
"""
import collections
import io
import pickle
import zipfile

import numpy as np
import pytest

import distgrad
from distgrad import serialization

import example_models


def torch_file(obj, legacy=False, **kw):
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy, **kw)
    return buf.getvalue()


def load(data, **kw):
    return distgrad.load(io.BytesIO(data), **kw)


@pytest.fixture(autouse=True)
def _no_leftover_safe_globals():
    serialization.clear_safe_globals()
    yield
    serialization.clear_safe_globals()


# --- what a torch.save file holds ------------------------------------------------------------------------

@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_tensors_of_every_dtype_and_layout_load_with_their_values(legacy):
    torch = pytest.importorskip("torch")
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    obj = {"f64": base, "f32": base.float(), "f16": base.half(), "i64": base.long(), "i32": base.int(),
           "i16": base.short(), "i8": base.char(), "u8": base.byte(), "b": base > 10,
           "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3), "t": base.t(), "col": base[:, 2],
           "strided": base[::2, 1::3]}
    out = load(torch_file(obj, legacy))
    assert list(out) == list(obj)
    for k, v in obj.items():
        got = out[k]
        assert type(got) is distgrad.Tensor, k
        assert str(got.dtype).split(".")[1] == str(v.dtype).split(".")[1], k
        assert tuple(got.shape) == tuple(v.shape), k
        np.testing.assert_array_equal(got.numpy(), v.numpy(), err_msg=k)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_state_dict_metadata_parameters_and_plain_values(legacy):
    torch = pytest.importorskip("torch")
    lin = torch.nn.Linear(3, 2)
    obj = {"sd": lin.state_dict(), "param": lin.weight, "grad_leaf": torch.ones(2, requires_grad=True),
           "epoch": 7, "lr": 1e-3, "name": "run", "none": None, "tuple": (1, 2.5), "list": [1, "a"],
           "dtype": torch.float16, "device": torch.device("cpu"), "size": torch.Size([2, 3]), "bytes": b"\x00x",
           "set": {1, 2}, "complex": 1 + 2j, "counter": collections.Counter("aab")}
    out = load(torch_file(obj, legacy))
    sd = out["sd"]
    assert type(sd) is collections.OrderedDict and list(sd) == ["weight", "bias"]
    assert sd._metadata == {"": {"version": 1}}  # what load_state_dict hooks read
    np.testing.assert_array_equal(sd["weight"].numpy(), lin.weight.detach().numpy())
    assert type(out["param"]) is distgrad.nn.Parameter and out["param"].requires_grad
    assert out["grad_leaf"].requires_grad and out["grad_leaf"].is_leaf
    assert not sd["weight"].requires_grad
    assert out["dtype"] is distgrad.float16 and out["device"] == distgrad.device("cpu")
    assert out["size"] == distgrad.Size([2, 3]) and type(out["size"]) is distgrad.Size
    for k in ("epoch", "lr", "name", "none", "tuple", "list", "bytes", "set", "complex", "counter"):
        assert out[k] == obj[k], k


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_tensors_sharing_a_storage_share_memory_after_loading(legacy):
    torch = pytest.importorskip("torch")
    w = torch.arange(6.).reshape(2, 3)
    out = load(torch_file({"a": w, "tied": w, "row": w[1]}, legacy))
    out["row"].add_(10)
    assert out["a"][1, 0].item() == 13.0 and out["tied"][1, 2].item() == 15.0


def test_map_location_forms():
    t = torch_file({"x": pytest.importorskip("torch").ones(2)})
    assert load(t, map_location="cpu")["x"].device == distgrad.device("cpu")
    assert load(t, map_location={"cpu": "cpu"})["x"].device == distgrad.device("cpu")
    seen = []
    out = load(t, map_location=lambda tensor, loc: seen.append(loc) or tensor * 2)
    assert seen == ["cpu"] and out["x"].tolist() == [2.0, 2.0]
    if not distgrad.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            load(t, map_location="cuda")


def test_mmap_maps_the_records(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "m.pt"
    torch.save({"w": torch.arange(1000.)}, path)
    out = distgrad.load(path, mmap=True)
    arr = out["w"].numpy()
    while arr is not None and not isinstance(arr, np.memmap):
        arr = getattr(arr, "base", None)
    assert arr is not None, "the tensor is not a view of a mapping of the file"
    out["w"].add_(1)  # copy-on-write: the file keeps its bytes
    assert distgrad.load(path)["w"][0].item() == 0.0
    legacy = tmp_path / "l.pt"
    torch.save({"w": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="mmap can only be used"):
        distgrad.load(legacy, mmap=True)


def test_big_endian_records_are_swapped():
    data = torch_file({"x": pytest.importorskip("torch").arange(4, dtype=pytest.importorskip("torch").int32)})
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename.endswith("byteorder"):
                body = b"big"
            elif "/data/" in info.filename:
                body = np.frombuffer(body, "<i4").astype(">i4").tobytes()
            dst.writestr(info.filename, body)
    assert load(out.getvalue())["x"].tolist() == [0, 1, 2, 3]


def test_weights_only_defaults_and_environment(monkeypatch):
    data = torch_file({"x": pytest.importorskip("torch").ones(1)})
    assert load(data, weights_only=False)["x"].tolist() == [1.0]
    assert load(data, pickle_module=pickle)["x"].tolist() == [1.0]  # an explicit pickle_module: trusted
    with pytest.raises(RuntimeError, match="explicit pickle_module"):
        load(data, pickle_module=pickle, weights_only=True)
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(RuntimeError, match="Only one of"):
        load(data)


def test_an_unsupported_dtype_is_named():
    torch = pytest.importorskip("torch")
    with pytest.raises(pickle.UnpicklingError, match="ComplexFloatStorage.*complex64"):
        load(torch_file({"z": torch.ones(2, dtype=torch.complex64)}))


# --- the example models: PyTorch's state dict gives PyTorch's outputs ------------------------------------

@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm", "transformer"])
def test_a_pytorch_state_dict_of_each_example_model_gives_pytorchs_outputs(kind, legacy):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference, (input_kind, shape) = example_models.build(kind, torch_side=True)
    ours, _ = example_models.build(kind, torch_side=False)
    reference.eval()
    ours.eval()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32) if input_kind == "float" else rng.integers(0, 20, shape)
    with torch.no_grad():
        want = reference(torch.from_numpy(x)).numpy()
    result = ours.load_state_dict(load(torch_file(reference.state_dict(), legacy)))
    assert not result.missing_keys and not result.unexpected_keys
    with distgrad.no_grad():
        got = ours(distgrad.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# --- whole objects saved by distgrad ---------------------------------------------------------------------

def _model():
    nn = distgrad.nn
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.LayerNorm(8), nn.Linear(8, 3))
    m.register_buffer("steps", distgrad.tensor(3))
    return m


MODEL_CLASSES = [distgrad.nn.Sequential, distgrad.nn.Linear, distgrad.nn.ReLU, distgrad.nn.LayerNorm]


def test_a_whole_model_round_trips_inside_safe_globals(tmp_path):
    model = _model()
    path = tmp_path / "model.pt"
    distgrad.save(model, path)
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    with pytest.raises(pickle.UnpicklingError, match="distgrad.nn.containers.Sequential is not allowed"):
        distgrad.load(path)
    with serialization.safe_globals(MODEL_CLASSES):
        back = distgrad.load(path)
    assert serialization.get_safe_globals() == []
    assert type(back) is distgrad.nn.Sequential and back is not model
    x = distgrad.randn(5, 4)
    np.testing.assert_array_equal(back(x).detach().numpy(), model(x).detach().numpy())
    assert list(back.state_dict()) == list(model.state_dict())
    assert all(type(p) is distgrad.nn.Parameter for p in back.parameters())
    back(x).sum().backward()
    assert back[0].weight.grad is not None and model[0].weight.grad is None
    assert type(distgrad.load(path, weights_only=False)) is distgrad.nn.Sequential


def test_torch_spellings_of_allowed_classes_resolve_to_them():
    # a pickle naming PyTorch's module path for a class distgrad has, allowed by distgrad's object
    stream = (b"\x80\x02ctorch.nn.modules.linear\nIdentity\nq\x00)\x81q\x01}q\x02X\x08\x00\x00\x00training"
              b"q\x03\x88sb.")
    from distgrad.weights_unpickler import WeightsUnpickler
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.linear.Identity is not allowed"):
        WeightsUnpickler(io.BytesIO(stream)).load()
    serialization.add_safe_globals([distgrad.nn.Identity])
    out = WeightsUnpickler(io.BytesIO(stream)).load()
    assert type(out) is distgrad.nn.Identity and out.training is True


def test_safe_globals_api_matches_pytorch():
    torch = pytest.importorskip("torch")

    def f():
        pass
    for mod in (torch.serialization, serialization):
        mod.clear_safe_globals()
        mod.add_safe_globals([f, (f, "x.y")])
        assert set(mod.get_safe_globals()) == {f, (f, "x.y")}
        with mod.safe_globals([len]):
            assert len in mod.get_safe_globals()
        assert len not in mod.get_safe_globals()
        mod.clear_safe_globals()
        assert mod.get_safe_globals() == []


def test_malformed_safe_globals_entries_raise_with_pytorchs_messages():
    # PyTorch raises these when it next loads; distgrad raises them when the entry is given
    for bad, err, words in [((len, "a", "b"), ValueError, "length: 3"), ((len, 3), TypeError, "str of callable")]:
        with pytest.raises(err, match=words):
            serialization.add_safe_globals([bad])
    assert serialization.get_safe_globals() == []


def test_whole_models_pickled_by_pytorch_load_with_pytorchs_outputs():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    cnn = example_models.build("cnn", torch_side=True)[0]
    lstm = torch.nn.LSTM(4, 5, num_layers=2, batch_first=True)
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    nn = distgrad.nn
    allowed = [nn.Sequential, nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Linear, nn.LSTM,
               nn.TransformerEncoderLayer, nn.MultiheadAttention, nn.LayerNorm, nn.Dropout,
               nn.modules.linear.NonDynamicallyQuantizableLinear, distgrad.nn.functional.relu]
    rng = np.random.default_rng(1)
    for model, shape in [(cnn, (2, 1, 8, 8)), (lstm, (2, 3, 4)), (layer, (2, 3, 8))]:
        model.eval()
        x = rng.standard_normal(shape).astype(np.float32)
        with torch.no_grad():
            want = model(torch.from_numpy(x))
        want = (want[0] if isinstance(want, tuple) else want).numpy()
        data = torch_file(model)
        with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules"):
            load(data)
        with serialization.safe_globals(allowed):
            ours = load(data)
        got = ours(distgrad.from_numpy(x))
        got = (got[0] if isinstance(got, tuple) else got).detach().numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        ours.register_forward_hook(lambda *a, **k: None, with_kwargs=True)  # hook registries are distgrad's
        ours(distgrad.from_numpy(x))


def test_signatures_match_pytorchs():
    torch = pytest.importorskip("torch")
    import inspect
    for name in ("save", "load"):
        ours, theirs = inspect.signature(getattr(distgrad, name)), inspect.signature(getattr(torch, name))
        assert [(p.name, p.kind) for p in ours.parameters.values()] == \
            [(p.name, p.kind) for p in theirs.parameters.values()], name
        for p in ours.parameters.values():
            if p.name not in ("pickle_module", "pickle_protocol"):  # PyTorch's defaults are its own modules
                assert p.default == theirs.parameters[p.name].default, (name, p.name)
    for name in ("add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals"):
        assert list(inspect.signature(getattr(serialization, name)).parameters) == \
            list(inspect.signature(getattr(torch.serialization, name)).parameters), name
