"""AdamW: decoupled weight decay, its defaults, PyTorch tracking and checkpoints."""
import numpy as np
import pytest

import distgrad
from distgrad.optim import Adam, AdamW
from optim_harness import assert_state_matches_torch, fresh_leaf, track_torch


def test_is_an_adam_with_pytorch_defaults():
    opt = AdamW([fresh_leaf(2)])
    assert isinstance(opt, Adam)
    group = opt.param_groups[0]
    assert group["weight_decay"] == 1e-2 and group["lr"] == 1e-3 and group["betas"] == (0.9, 0.999)
    assert group["decoupled_weight_decay"] is True and group["amsgrad"] is False


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": -0.5}, "Invalid learning rate: -0.5"),
    ({"weight_decay": -1.0}, "Invalid weight_decay value: -1.0"),
    ({"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
    ({"eps": -1.0}, "Invalid epsilon value: -1.0"),
])
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdamW([fresh_leaf(2)], **kwargs)


def test_decay_acts_on_the_weights_not_the_gradient():
    # A zero gradient leaves Adam's moments at zero, so only the decay moves the weights.
    w = distgrad.ones(3, dtype=distgrad.float64, requires_grad=True)
    opt = AdamW([w], lr=0.1, weight_decay=0.5)
    w.grad = distgrad.zeros(3, dtype=distgrad.float64)
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.95] * 3, rtol=1e-15)
    np.testing.assert_array_equal(opt.state[w]["exp_avg"].numpy(), [0.0] * 3)


def test_differs_from_adam_with_l2():
    a = distgrad.tensor([2.0, -1.0], dtype=distgrad.float64, requires_grad=True)
    b = distgrad.tensor([2.0, -1.0], dtype=distgrad.float64, requires_grad=True)
    oa, ob = AdamW([a], lr=0.1, weight_decay=0.3), Adam([b], lr=0.1, weight_decay=0.3)
    for _ in range(3):
        a.grad = distgrad.tensor([0.1, 0.2], dtype=distgrad.float64)
        b.grad = distgrad.tensor([0.1, 0.2], dtype=distgrad.float64)
        oa.step()
        ob.step()
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.01},
    {"lr": 0.01, "weight_decay": 0.2},
    {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
    {"lr": 0.01, "weight_decay": 0.1, "maximize": True},
    {"lr": 0.02, "betas": (0.5, 0.95), "eps": 1e-5, "weight_decay": 0.0},
])
def test_tracks_pytorch(kwargs):
    dg, tc = track_torch("AdamW", kwargs, extra_param=True)
    assert_state_matches_torch(dg, tc)


def test_tracks_pytorch_with_param_groups():
    def groups(p):
        return [{"params": p[:1], "weight_decay": 0.5}, {"params": p[1:], "lr": 0.03}]
    dg, tc = track_torch("AdamW", {"lr": 0.01}, groups=groups)
    assert_state_matches_torch(dg, tc)


def test_loaded_groups_stay_decoupled():
    w = fresh_leaf(2)
    opt = AdamW([w])
    sd = opt.state_dict()
    sd["param_groups"][0]["decoupled_weight_decay"] = False
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True
