"""RMSprop: hyperparameter checks, PyTorch tracking with momentum/centered/decay, checkpoints."""
import numpy as np
import pytest

import distgrad
from distgrad.optim import RMSprop
from optim_harness import assert_state_matches_torch, fresh_leaf, track_torch


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": -1e-2}, "Invalid learning rate: -0.01"),
    ({"eps": -1.0}, "Invalid epsilon value: -1.0"),
    ({"momentum": -0.9}, "Invalid momentum value: -0.9"),
    ({"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ({"alpha": -0.5}, "Invalid alpha value: -0.5"),
])
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RMSprop([fresh_leaf(2)], **kwargs)


def test_defaults_and_positional_options_match_pytorch():
    w = fresh_leaf(2)
    g = RMSprop([w]).param_groups[0]
    assert (g["lr"], g["alpha"], g["eps"], g["weight_decay"], g["momentum"], g["centered"]) == \
        (1e-2, 0.99, 1e-8, 0, 0, False)
    # PyTorch's RMSprop takes every option positionally, centered included.
    g = RMSprop([w], 0.1, 0.9, 1e-6, 0.01, 0.5, True).param_groups[0]
    assert (g["lr"], g["alpha"], g["eps"], g["weight_decay"], g["momentum"], g["centered"]) == \
        (0.1, 0.9, 1e-6, 0.01, 0.5, True)


def test_state_names():
    w = fresh_leaf(3)
    w.grad = distgrad.ones(3, dtype=distgrad.float64)
    plain = RMSprop([w])
    plain.step()
    assert sorted(plain.state[w]) == ["square_avg", "step"]
    full = RMSprop([w], momentum=0.9, centered=True)
    full.step()
    assert sorted(full.state[w]) == ["grad_avg", "momentum_buffer", "square_avg", "step"]


def test_one_step_by_hand():
    w = distgrad.tensor([1.0, 2.0], dtype=distgrad.float64, requires_grad=True)
    w.grad = distgrad.tensor([0.5, -1.0], dtype=distgrad.float64)
    RMSprop([w], lr=0.1, alpha=0.75, eps=0.0).step()
    # square_avg = 0.25 * g^2, so the step is lr * g / (0.5 * |g|) = 0.2 * sign(g).
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 2.2], rtol=1e-14)


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.01},
    {"lr": 0.01, "alpha": 0.9, "eps": 1e-6},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "momentum": 0.9},
    {"lr": 0.01, "centered": True},
    {"lr": 0.005, "momentum": 0.5, "centered": True, "weight_decay": 0.05},
    {"lr": 0.01, "maximize": True},
    {"lr": 0.01, "alpha": 0.3, "centered": True, "maximize": True},  # lerp's large-weight branch
])
def test_tracks_pytorch(kwargs):
    dg, tc = track_torch("RMSprop", kwargs, extra_param=True)
    assert_state_matches_torch(dg, tc)


def test_tracks_pytorch_with_param_groups():
    def groups(p):
        return [{"params": p[:1], "momentum": 0.9}, {"params": p[1:], "centered": True, "lr": 0.002}]
    dg, tc = track_torch("RMSprop", {"lr": 0.01}, groups=groups, closure=True)
    assert_state_matches_torch(dg, tc)


def test_tracks_pytorch_in_float32():
    track_torch("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}, dtype=np.float32, rtol=5e-5,
                atol=5e-6)


def test_state_dict_round_trip():
    dg, tc = track_torch("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}, steps=4)
    params = [distgrad.zeros(*p.shape, dtype=distgrad.float64, requires_grad=True)
              for p in dg.param_groups[0]["params"]]
    fresh = RMSprop(params)
    fresh.load_state_dict(dg.state_dict())
    assert_state_matches_torch(fresh, tc)
