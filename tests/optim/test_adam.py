"""Adam: hyperparameter checks, PyTorch tracking for every option, state layout and checkpoints."""
import numpy as np
import pytest

import distgrad
from distgrad.optim import Adam
from optim_harness import assert_state_matches_torch, fresh_leaf, track_torch


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": -1}, "Invalid learning rate: -1"),
    ({"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
    ({"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
    ({"betas": (-0.1, 0.999)}, "Invalid beta parameter at index 0: -0.1"),
    ({"betas": (0.9, 1.5)}, "Invalid beta parameter at index 1: 1.5"),
    ({"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ({"betas": (0, 0.999)}, "betas must be either both floats or both Tensors"),
])
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Adam([fresh_leaf(2)], **kwargs)


def test_unsupported_and_conflicting_flags():
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
        Adam([fresh_leaf(2)], fused=True, foreach=True)
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        Adam([fresh_leaf(2)], differentiable=True)


def test_first_step_moves_each_coordinate_by_lr():
    # With bias correction the first Adam step is lr * g / (|g| + eps') = lr * sign(g).
    w = distgrad.tensor([1.0, -1.0, 3.0], dtype=distgrad.float64, requires_grad=True)
    w.grad = distgrad.tensor([2.0, -0.5, 1e-3], dtype=distgrad.float64)
    Adam([w], lr=0.1, eps=0.0).step()
    np.testing.assert_allclose(w.detach().numpy(), [0.9, -0.9, 2.9], rtol=1e-12)


def test_state_names_and_step_counter():
    w = fresh_leaf(3)
    opt = Adam([w], amsgrad=True)
    w.grad = distgrad.ones(3, dtype=distgrad.float64)
    opt.step()
    opt.step()
    state = opt.state[w]
    assert sorted(state) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert state["step"].item() == 2.0 and state["step"].dtype == distgrad.float32
    assert state["step"].device == distgrad.device("cpu")
    assert state["exp_avg"].dtype == distgrad.float64


def test_grad_none_is_skipped():
    a, b = fresh_leaf(2), fresh_leaf(2)
    before = b.detach().numpy().copy()
    opt = Adam([a, b], lr=0.1)
    a.grad = distgrad.ones(2, dtype=distgrad.float64)
    opt.step()
    np.testing.assert_array_equal(b.detach().numpy(), before)
    assert b not in opt.state and a in opt.state


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.01},
    {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "amsgrad": True},
    {"lr": 0.01, "maximize": True},
    {"lr": 0.01, "weight_decay": 0.05, "maximize": True, "amsgrad": True},
    {"lr": 0.01, "betas": (0.3, 0.9)},  # lerp weight above one half takes PyTorch's other branch
    {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
])
def test_tracks_pytorch(kwargs):
    dg, tc = track_torch("Adam", kwargs, extra_param=True)
    assert_state_matches_torch(dg, tc)


def test_tracks_pytorch_with_param_groups():
    def groups(p):
        return [{"params": p[:2], "lr": 0.05, "betas": (0.5, 0.9)}, {"params": p[2:], "amsgrad": True}]
    dg, tc = track_torch("Adam", {"lr": 0.01}, groups=groups, closure=True)
    assert_state_matches_torch(dg, tc)


def test_tracks_pytorch_in_float32():
    track_torch("Adam", {"lr": 0.01, "amsgrad": True}, dtype=np.float32, rtol=2e-5, atol=2e-6)


def test_tensor_lr_is_accepted():
    w = fresh_leaf(3)
    opt = Adam([w], lr=distgrad.tensor(0.1))
    w.grad = distgrad.ones(3, dtype=distgrad.float64)
    before = w.detach().numpy().copy()
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), before - 0.1, rtol=1e-6)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        Adam([w], lr=distgrad.tensor([0.1, 0.2]))


def test_state_dict_round_trip_and_loading_old_step_format():
    dg, tc = track_torch("Adam", {"lr": 0.01, "amsgrad": True}, steps=5)
    sd = dg.state_dict()
    params = [distgrad.zeros(*p.shape, dtype=distgrad.float64, requires_grad=True)
              for p in dg.param_groups[0]["params"]]
    fresh = Adam(params, lr=0.5)
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["lr"] == 0.01 and fresh.param_groups[0]["amsgrad"] is True
    assert_state_matches_torch(fresh, tc)
    # A state_dict made of plain numbers for 'step' (older checkpoints) loads with tensor steps.
    sd2 = dg.state_dict()
    sd2 = {"state": {k: dict(v, step=float(v["step"].item())) for k, v in sd2["state"].items()},
           "param_groups": sd2["param_groups"]}
    fresh.load_state_dict(sd2)
    assert isinstance(fresh.state[params[0]]["step"], distgrad.Tensor)


def test_amsgrad_switched_on_later_creates_its_buffer():
    w = fresh_leaf(2)
    opt = Adam([w], lr=0.1)
    w.grad = distgrad.ones(2, dtype=distgrad.float64)
    opt.step()
    opt.param_groups[0]["amsgrad"] = True
    opt.step()
    assert "max_exp_avg_sq" in opt.state[w]
