"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
import collections

import numpy as np
import pytest

import distgrad
from distgrad import nn
from nn_helpers import np_of, same_repr


def test_sequential_forward_index_slice_len_iter():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    x = distgrad.randn(4, 2)
    np.testing.assert_allclose(np_of(seq(x)), np_of(c(b(a(x)))))
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and list(tail._modules) == ["1", "2"] and tail[0] is b
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)


def test_sequential_mutation_renumbers():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    del seq[0]
    assert list(seq._modules) == ["0", "1"] and isinstance(seq[0], nn.Tanh)
    seq.append(nn.ReLU())
    seq.insert(0, nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Identity", "Tanh", "Sigmoid", "ReLU"]
    assert list(seq._modules) == ["0", "1", "2", "3"]
    popped = seq.pop(1)
    assert isinstance(popped, nn.Tanh) and len(seq) == 3
    seq.extend([nn.Tanh()])
    assert len(seq + nn.Sequential(nn.ReLU())) == 5
    assert len(seq * 2) == 8
    with pytest.raises(ValueError):
        seq + [nn.ReLU()]


def test_sequential_ordered_dict_names():
    seq = nn.Sequential(collections.OrderedDict([("conv", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(seq.state_dict()) == ["conv.weight", "conv.bias"]
    assert seq.conv is seq[0]
    with pytest.raises(TypeError):
        nn.Sequential({"a": nn.ReLU()})


def test_module_list():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml.insert(1, nn.Sigmoid())
    assert [type(m).__name__ for m in ml] == ["Linear", "Sigmoid", "Linear", "Linear", "ReLU", "Tanh"]
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    del ml[0]
    assert list(ml._modules) == [str(i) for i in range(5)]
    ml += nn.ModuleList([nn.ReLU()])
    assert len(ml) == 6 and isinstance(ml.pop(-1), nn.ReLU)
    with pytest.raises(IndexError):
        ml[10]
    with pytest.raises(TypeError):
        ml.extend(nn.ReLU())
    with pytest.raises(NotImplementedError):
        ml(distgrad.ones(1))


def test_module_dict():
    md = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2
    md["c"] = nn.Tanh()
    md.update([("d", nn.Sigmoid())])
    assert list(md) == ["a", "b", "c", "d"]
    assert isinstance(md.pop("b"), nn.ReLU) and list(md) == ["a", "c", "d"]
    assert [k for k, _ in md.items()] == ["a", "c", "d"]
    with pytest.raises(ValueError):
        md.update([("x",)])
    md.clear()
    assert len(md) == 0


def test_parameter_list_and_dict():
    pl = nn.ParameterList([distgrad.zeros(2), nn.Parameter(distgrad.ones(3))])
    assert all(isinstance(p, nn.Parameter) for p in pl)
    pl.append(distgrad.zeros(1))
    assert len(pl) == 3 and [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    assert pl[-1].shape == (1,) and len(pl[:2]) == 2
    pd = nn.ParameterDict({"w": distgrad.ones(2)})
    pd["b"] = distgrad.zeros(1)
    assert list(pd) == ["w", "b"] and isinstance(pd["b"], nn.Parameter)
    assert list(pd.state_dict()) == ["w", "b"]
    del pd["w"]
    assert list(pd.keys()) == ["b"]


def test_container_reprs_match_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        n = lib.nn
        return n.Sequential(
            n.Linear(2, 3), n.ReLU(inplace=True),
            n.ModuleList([n.Linear(3, 3), n.Linear(3, 3), n.Tanh(), n.Linear(3, 3)]),
            n.ModuleDict({"x": n.Sigmoid()}),
            n.Sequential(),
            n.ModuleList())
    same_repr(build(distgrad), build(torch))
    pl_d = nn.ParameterList([distgrad.zeros(2, 3), distgrad.zeros(4)])
    pl_t = torch.nn.ParameterList([torch.zeros(2, 3), torch.zeros(4)])
    same_repr(pl_d, pl_t)
    pd_d = nn.ParameterDict({"a": distgrad.zeros(2, dtype=distgrad.float64)})
    pd_t = torch.nn.ParameterDict({"a": torch.zeros(2, dtype=torch.float64)})
    same_repr(pd_d, pd_t)


def test_sequential_slicing_matches_torch_keys():
    torch = pytest.importorskip("torch")
    d = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 1))
    t = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.ReLU(), torch.nn.Linear(1, 1))
    assert list(d[1:].state_dict()) == list(t[1:].state_dict())
    del d[0]
    del t[0]
    assert list(d.state_dict()) == list(t.state_dict())
