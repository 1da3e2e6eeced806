"""SGD: hyperparameter checks, PyTorch tracking for every option, state_dict, param groups."""
import numpy as np
import pytest

import distgrad
from distgrad.optim import SGD
from optim_harness import assert_state_matches_torch, fresh_leaf, track_torch


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": -1}, "Invalid learning rate: -1"),
    ({"lr": 0.1, "momentum": -0.5}, "Invalid momentum value: -0.5"),
    ({"lr": 0.1, "weight_decay": -1e-4}, "Invalid weight_decay value: -0.0001"),
    ({"lr": 0.1, "nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    ({"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
     "Nesterov momentum requires a momentum and zero dampening"),
])
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SGD([fresh_leaf(2)], **kwargs)


def test_defaults_match_pytorch_signature():
    opt = SGD([fresh_leaf(2)])
    group = opt.param_groups[0]
    assert group["lr"] == 1e-3 and group["momentum"] == 0 and group["dampening"] == 0
    assert group["weight_decay"] == 0 and group["nesterov"] is False and group["maximize"] is False


def test_plain_step_is_lr_times_grad():
    w = distgrad.tensor([1.0, -2.0], dtype=distgrad.float64, requires_grad=True)
    w.grad = distgrad.tensor([0.5, 0.25], dtype=distgrad.float64)
    v0 = w._version
    SGD([w], lr=0.1).step()
    np.testing.assert_allclose(w.detach().numpy(), [0.95, -2.025])
    assert w._version > v0
    assert w.grad_fn is None and w.requires_grad


def test_momentum_buffer_starts_as_grad_then_accumulates():
    w = distgrad.zeros(2, dtype=distgrad.float64, requires_grad=True)
    opt = SGD([w], lr=1.0, momentum=0.5, dampening=0.5)
    w.grad = distgrad.ones(2, dtype=distgrad.float64)
    opt.step()
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"].numpy(), [1.0, 1.0])
    opt.step()
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"].numpy(), [1.0, 1.0])  # 0.5*1 + 0.5*1
    np.testing.assert_allclose(w.detach().numpy(), [-2.0, -2.0])


def test_no_state_without_momentum():
    w = fresh_leaf(3)
    opt = SGD([w], lr=0.1)
    w.grad = distgrad.ones(3, dtype=distgrad.float64)
    opt.step()
    assert len(opt.state) == 0
    assert opt.state_dict()["state"] == {}


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.05},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.05, "nesterov": True},
    {"lr": 0.05, "maximize": True},
    {"lr": 0.02, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01, "maximize": True},
])
def test_tracks_pytorch(kwargs):
    dg, tc = track_torch("SGD", kwargs, extra_param=True)
    assert_state_matches_torch(dg, tc)


def test_tracks_pytorch_with_param_groups_and_closure():
    def groups(p):
        return [{"params": p[:1], "lr": 0.1, "momentum": 0.5}, {"params": p[1:], "nesterov": True}]
    dg, tc = track_torch("SGD", {"lr": 0.03, "momentum": 0.9}, groups=groups, closure=True)
    assert [g["lr"] for g in dg.param_groups] == [0.1, 0.03]
    assert_state_matches_torch(dg, tc)


def test_tracks_pytorch_in_float32():
    track_torch("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, dtype=np.float32, rtol=1e-5, atol=1e-6)


def test_state_dict_round_trip_continues_identically():
    a = fresh_leaf(4)
    b = distgrad.zeros(4, dtype=distgrad.float64, requires_grad=True)
    opt_a = SGD([a], lr=0.1, momentum=0.9)
    grads = [distgrad.randn(4, dtype=distgrad.float64) for _ in range(6)]
    for g in grads[:3]:
        a.grad = g
        opt_a.step()
    b.data = a.detach().clone()
    opt_b = SGD([b], lr=0.5, momentum=0.1)
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.param_groups[0]["lr"] == 0.1 and opt_b.param_groups[0]["momentum"] == 0.9
    assert opt_b.param_groups[0]["params"][0] is b
    # The loaded buffer is a copy: stepping one optimizer leaves the other alone.
    assert opt_b.state[b]["momentum_buffer"]._data is not opt_a.state[a]["momentum_buffer"]._data
    for g in grads[3:]:
        a.grad = g
        b.grad = g.clone()
        opt_a.step()
        opt_b.step()
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=0, atol=0)


def test_loads_state_cast_to_parameter_dtype():
    w64 = fresh_leaf(3)
    opt = SGD([w64], lr=0.1, momentum=0.9)
    w64.grad = distgrad.ones(3, dtype=distgrad.float64)
    opt.step()
    w32 = distgrad.zeros(3, requires_grad=True)
    opt32 = SGD([w32], lr=0.1, momentum=0.9)
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[w32]["momentum_buffer"].dtype == distgrad.float32
