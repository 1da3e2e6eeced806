"""Adagrad: hyperparameter checks, eager state, PyTorch tracking with lr_decay/decay/accumulator."""
import numpy as np
import pytest

import distgrad
from distgrad.optim import Adagrad
from optim_harness import assert_state_matches_torch, fresh_leaf, track_torch


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": -1}, "Invalid learning rate: -1"),
    ({"lr_decay": -0.1}, "Invalid lr_decay value: -0.1"),
    ({"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ({"initial_accumulator_value": -1.0}, "Invalid initial_accumulator_value value: -1.0"),
    ({"eps": -1e-10}, "Invalid epsilon value: -1e-10"),
])
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Adagrad([fresh_leaf(2)], **kwargs)


def test_state_exists_before_the_first_step():
    w = fresh_leaf(3)
    opt = Adagrad([w], initial_accumulator_value=0.25)
    state = opt.state_dict()["state"][0]
    assert sorted(state) == ["step", "sum"]
    assert state["step"].item() == 0.0
    np.testing.assert_array_equal(state["sum"].numpy(), [0.25] * 3)


def test_lr_decay_by_hand():
    w = distgrad.zeros(1, dtype=distgrad.float64, requires_grad=True)
    opt = Adagrad([w], lr=1.0, lr_decay=0.5, eps=0.0)
    w.grad = distgrad.ones(1, dtype=distgrad.float64)
    opt.step()  # clr = 1, sum = 1: step 1
    opt.step()  # clr = 1 / 1.5, sum = 2: step 1 / (1.5 * sqrt(2))
    np.testing.assert_allclose(w.detach().numpy(), [-1.0 - 1.0 / (1.5 * np.sqrt(2.0))], rtol=1e-14)


def test_param_added_later_gets_state_on_first_step():
    a, b = fresh_leaf(2), fresh_leaf(2)
    opt = Adagrad([a], lr=0.1)
    opt.add_param_group({"params": [b], "initial_accumulator_value": 1.0})
    assert b not in opt.state
    b.grad = distgrad.ones(2, dtype=distgrad.float64)
    opt.step()
    np.testing.assert_array_equal(opt.state[b]["sum"].numpy(), [2.0, 2.0])
    assert opt.state[a]["step"].item() == 0.0


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.05},
    {"lr": 0.05, "lr_decay": 0.01},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.05, "initial_accumulator_value": 0.3},
    {"lr": 0.05, "eps": 1e-4, "maximize": True},
    {"lr": 0.05, "lr_decay": 0.05, "weight_decay": 0.02, "initial_accumulator_value": 0.1, "maximize": True},
])
def test_tracks_pytorch(kwargs):
    dg, tc = track_torch("Adagrad", kwargs, extra_param=True)
    assert_state_matches_torch(dg, tc)


def test_tracks_pytorch_with_param_groups():
    def groups(p):
        return [{"params": p[:2], "lr": 0.1, "lr_decay": 0.1}, {"params": p[2:]}]
    dg, tc = track_torch("Adagrad", {"lr": 0.02}, groups=groups, closure=True)
    assert_state_matches_torch(dg, tc)


def test_state_dict_round_trip():
    dg, tc = track_torch("Adagrad", {"lr": 0.05, "lr_decay": 0.01}, steps=4)
    params = [distgrad.zeros(*p.shape, dtype=distgrad.float64, requires_grad=True)
              for p in dg.param_groups[0]["params"]]
    fresh = Adagrad(params, lr=1.0)
    fresh.load_state_dict(dg.state_dict())
    assert_state_matches_torch(fresh, tc)
