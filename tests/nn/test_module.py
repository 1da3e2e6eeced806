"""nn.Module and nn.Parameter: registration, iteration, state_dict, hooks, conversion, repr."""
import copy

import numpy as np
import pytest

import distgrad
from distgrad import nn
from nn_helpers import np_of, same_repr


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.body = nn.Sequential(nn.ReLU(), nn.Linear(4, 2))
        self.register_buffer("steps", distgrad.zeros(1))
        self.register_buffer("scratch", distgrad.zeros(2), persistent=False)

    def forward(self, x):
        return self.body(self.fc(x))


# --- Parameter ---------------------------------------------------------------------------------
def test_parameter_basics():
    t = distgrad.ones(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, distgrad.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert repr(p).endswith("requires_grad=True)")
    with distgrad.no_grad():
        t.add_(1)
    assert p.tolist() == t.tolist()  # storage is shared
    assert nn.Parameter(t, requires_grad=False).requires_grad is False
    assert nn.Parameter().shape == (0,)
    with pytest.raises(TypeError):
        nn.Parameter([1.0])
    with pytest.raises(RuntimeError):
        nn.Parameter(distgrad.tensor([1, 2]))


def test_parameter_repr_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 2.5], [3.0, -1.0]], dtype=np.float32)
    assert repr(nn.Parameter(distgrad.tensor(a))) == repr(torch.nn.Parameter(torch.tensor(a)))


def test_parameter_deepcopy_keeps_type():
    p = nn.Parameter(distgrad.ones(2))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad and q is not p
    assert not np.shares_memory(p._data, q._data)


# --- registration ------------------------------------------------------------------------------
def test_attribute_registration_and_lookup():
    net = Net()
    assert list(net._parameters) == [] and list(net._modules) == ["fc", "body"]
    assert [n for n, _ in net.named_parameters()] == ["fc.weight", "fc.bias", "body.1.weight", "body.1.bias"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]
    assert [n for n, _ in net.named_children()] == ["fc", "body"]
    assert [n for n, _ in net.named_modules()] == ["", "fc", "body", "body.0", "body.1"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == []
    assert [n for n, _ in net.fc.named_parameters(prefix="x")] == ["x.weight", "x.bias"]
    del net.steps
    assert "steps" not in dict(net.named_buffers())
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        net.nope


def test_setattr_type_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = distgrad.zeros(2, 2)
    m.weight = None
    assert m.weight is None and "weight" in m._parameters
    seq = nn.Sequential(nn.ReLU())
    with pytest.raises(TypeError, match="child module"):
        seq.__setattr__("0", 3)
    with pytest.raises(AttributeError, match="before Module.__init__"):
        class Bad(nn.Module):
            def __init__(self):
                self.p = nn.Parameter(distgrad.ones(1))
        Bad()


def test_register_errors_match_torch_types():
    m = nn.Linear(2, 3)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("weight", distgrad.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", distgrad.zeros(1))
    with pytest.raises(TypeError, match="cannot assign 'int' object to buffer"):
        m.register_buffer("xy", 3)
    with pytest.raises(KeyError, match="empty string"):
        m.add_module("", nn.ReLU())
    with pytest.raises(TypeError, match="should be a string"):
        m.add_module(3, nn.ReLU())
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("a", 3)
    with pytest.raises(TypeError):
        m.register_parameter("q", distgrad.zeros(1))
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


def test_shared_parameters_listed_once():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_get_submodule_parameter_buffer():
    net = Net()
    assert net.get_submodule("body.1") is net.body[1]
    assert net.get_parameter("body.1.bias") is net.body[1].bias
    assert net.get_buffer("steps") is net.steps
    with pytest.raises(AttributeError, match="has no attribute `zz`"):
        net.get_submodule("body.zz")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        net.get_parameter("steps")


def test_dir_lists_registered_names():
    names = dir(Net())
    for n in ("fc", "body", "steps", "forward", "training"):
        assert n in names


# --- modes, grads, apply, conversion ---------------------------------------------------------
def test_train_eval_requires_grad_zero_grad():
    net = Net()
    assert net.training and net.body[0].training
    net.eval()
    assert not net.training and not net.body[1].training
    net.train()
    assert net.body[1].training
    with pytest.raises(ValueError):
        net.train("yes")
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    net(distgrad.ones(2, 3)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_apply_visits_children_first():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Sequential", "Net"]


def test_to_double_keeps_parameter_objects():
    net = Net()
    w = net.fc.weight
    net(distgrad.ones(1, 3)).sum().backward()
    assert net.double() is net
    assert net.fc.weight is w and w.dtype == distgrad.float64 and w.grad.dtype == distgrad.float64
    assert net.steps.dtype == distgrad.float64
    net.to(distgrad.float32)
    assert w.dtype == distgrad.float32
    net.half().float()
    assert w.dtype == distgrad.float32
    net.to("cpu")
    with pytest.raises(TypeError, match="floating point"):
        net.to(distgrad.int64)


def test_int_buffers_survive_dtype_conversion():
    bn = nn.BatchNorm1d(2).double()
    assert bn.num_batches_tracked.dtype == distgrad.int64
    assert bn.running_mean.dtype == distgrad.float64


def test_deepcopy_module():
    net = Net()
    twin = copy.deepcopy(net)
    assert twin.fc.weight is not net.fc.weight
    np.testing.assert_array_equal(np_of(twin.fc.weight), np_of(net.fc.weight))
    assert isinstance(twin.fc.weight, nn.Parameter)


# --- state_dict ---------------------------------------------------------------------------------
def test_state_dict_keys_and_sharing():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["steps", "fc.weight", "fc.bias", "body.1.weight", "body.1.bias"]
    assert not sd["fc.weight"].requires_grad
    assert np.shares_memory(sd["fc.weight"]._data, net.fc.weight._data)
    assert net.state_dict(keep_vars=True)["fc.weight"] is net.fc.weight
    assert list(net.state_dict(prefix="m."))[0] == "m.steps"


def test_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        n = lib.nn
        return n.Sequential(n.Linear(3, 4), n.BatchNorm1d(4), n.ReLU(),
                            n.Sequential(n.Linear(4, 4), n.LayerNorm(4)), n.Embedding(5, 4),
                            n.GroupNorm(2, 4), n.ModuleDict({"h": n.Linear(4, 1)}),
                            n.ModuleList([n.Bilinear(2, 2, 2)]))
    assert list(build(distgrad).state_dict()) == list(build(torch).state_dict())


def test_load_state_dict_roundtrip_and_strict_false():
    a, b = Net(), Net()
    res = b.load_state_dict(a.state_dict())
    assert repr(res) == "<All keys matched successfully>"
    np.testing.assert_array_equal(np_of(a.fc.weight), np_of(b.fc.weight))
    assert not np.shares_memory(a.fc.weight._data, b.fc.weight._data)
    sd = a.state_dict()
    del sd["fc.bias"]
    sd["extra"] = distgrad.zeros(1)
    res = b.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc.bias"] and res.unexpected_keys == ["extra"]
    assert "_IncompatibleKeys(missing_keys=['fc.bias'], unexpected_keys=['extra'])" == repr(res)


def test_load_state_dict_reports_everything_and_changes_nothing():
    net = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = {k: np_of(v) for k, v in net.state_dict().items()}
    bad = {"0.weight": distgrad.ones(3, 2), "0.bias": distgrad.ones(4), "1.weight": distgrad.ones(1, 3),
           "foo": distgrad.ones(1)}
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(bad)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Sequential:\n\t")
    assert 'Missing key(s) in state_dict: "1.bias". ' in msg
    assert 'Unexpected key(s) in state_dict: "foo". ' in msg
    assert ("size mismatch for 0.bias: copying a param with shape distgrad.Size([4]) from checkpoint, the shape "
            "in current model is distgrad.Size([3]).") in msg
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(np_of(v), before[k])
    with pytest.raises(RuntimeError, match="size mismatch"):
        net.load_state_dict({**bad, "1.bias": distgrad.ones(1)}, strict=False)
    np.testing.assert_array_equal(np_of(net[0].weight), before["0.weight"])
    with pytest.raises(RuntimeError, match="expected Tensor"):
        net.load_state_dict({**net.state_dict(), "1.bias": [1.0]})
    with pytest.raises(TypeError, match="dict-like"):
        net.load_state_dict([1, 2])


def test_load_state_dict_error_message_matches_torch():
    torch = pytest.importorskip("torch")
    d, t = nn.Linear(2, 3), torch.nn.Linear(2, 3)
    for mod, lib in ((d, distgrad), (t, torch)):
        with pytest.raises(RuntimeError) as e:
            mod.load_state_dict({"weight": lib.zeros(3, 3), "foo": lib.zeros(1)})
        if lib is torch:
            want = str(e.value).replace("torch.", "distgrad.")
        else:
            got = str(e.value)
    assert got == want


def test_load_state_dict_assign_and_casts():
    net = nn.Linear(2, 2)
    w = net.weight
    sd = {"weight": distgrad.ones(2, 2, dtype=distgrad.float64), "bias": distgrad.zeros(2)}
    net.load_state_dict(sd)
    assert net.weight is w and w.dtype == distgrad.float32 and w.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    net.load_state_dict(sd, assign=True)
    assert net.weight is not w and isinstance(net.weight, nn.Parameter) and net.weight.requires_grad
    assert net.weight.dtype == distgrad.float64


def test_non_persistent_buffer_excluded_and_unexpected():
    net = Net()
    assert "scratch" not in net.state_dict()
    res = net.load_state_dict({**net.state_dict(), "scratch": distgrad.zeros(2)}, strict=False)
    assert res.unexpected_keys == ["scratch"]


# --- hooks --------------------------------------------------------------------------------------
def test_forward_hooks_order_replace_and_remove():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre") or (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append("post") or out + 1)
    m.register_forward_hook(lambda mod, args, out: calls.append("first"), prepend=True)
    out = m(distgrad.ones(1, 2))
    assert calls == ["pre", "first", "post"]
    np.testing.assert_allclose(np_of(out), np_of(m.bias.reshape(1, 2) + 1), rtol=1e-6)
    h1.remove()
    h2.remove()
    calls.clear()
    m(distgrad.ones(1, 2))
    assert calls == ["first"]


def test_forward_hooks_with_kwargs_and_always_call():
    m = nn.Identity()
    m.register_forward_pre_hook(lambda mod, args, kwargs: ((args[0] + 1,), kwargs), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: out * 10, with_kwargs=True)
    assert m(distgrad.ones(1)).tolist() == [20.0]

    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")
    b, seen = Boom(), []
    b.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError):
        b(1)
    assert seen == [None]


def test_full_backward_hook_sees_and_replaces_grads():
    m = nn.Linear(3, 2)
    seen = {}

    def hook(mod, grad_input, grad_output):
        seen["gi"], seen["go"] = grad_input, grad_output
        return (grad_input[0] * 2,)
    m.register_full_backward_hook(hook)
    x = distgrad.randn(4, 3, requires_grad=True)
    m(x).sum().backward()
    assert seen["go"][0].shape == (4, 2) and seen["gi"][0].shape == (4, 3)
    expected = 2 * np_of(distgrad.ones(4, 2) @ m.weight)
    np.testing.assert_allclose(np_of(x.grad), expected, rtol=1e-6)
    assert m.weight.grad is not None


def test_full_backward_hook_without_input_grad_and_pre_hook():
    torch = pytest.importorskip("torch")
    for lib in (distgrad, torch):
        m = lib.nn.Linear(3, 2)
        seen = []
        m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,))
        m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, float(go[0].sum()))))
        with pytest.warns(UserWarning, match="no inputs require gradients"):
            m(lib.ones(4, 3)).sum().backward()
        assert seen[0][0] == (None,) and seen[0][1] == 24.0
        np.testing.assert_allclose(np_of(m.bias.grad), [12.0, 12.0])


# --- repr ---------------------------------------------------------------------------------------
def test_repr_matches_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        n = lib.nn

        class Custom(n.Module):
            def __init__(self):
                super().__init__()
                self.enc = n.Sequential(n.Linear(4, 8), n.GELU(approximate="tanh"), n.Dropout(0.2))
                self.blocks = n.ModuleList([n.Linear(8, 8) for _ in range(3)] + [n.LayerNorm(8)])
                self.heads = n.ModuleDict({"a": n.Linear(8, 2), "b": n.Softmax(dim=-1)})
                self.none = None
        return Custom()
    same_repr(build(distgrad), build(torch))
    same_repr(distgrad.nn.Module(), torch.nn.Module())


def test_forgotten_super_init_is_a_clear_error():
    class Forgot(nn.Module):
        def __init__(self):
            pass

        def forward(self, x):
            return x
    with pytest.raises(AttributeError, match=r"Forgot: Module.__init__\(\) was never called"):
        Forgot()(1)


def test_to_accepts_pytorch_argument_forms():
    m = nn.Linear(2, 2)
    m.to("cpu", distgrad.float64, False)
    assert m.weight.dtype == distgrad.float64
    m.to(device="cpu", dtype=distgrad.float32, non_blocking=True)
    assert m.weight.dtype == distgrad.float32
    m.to(distgrad.zeros(1, dtype=distgrad.float64))
    assert m.bias.dtype == distgrad.float64
    with pytest.raises(TypeError):
        m.to(3.5)
