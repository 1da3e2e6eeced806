"""Optimizers driving nn modules: a Linear model trained side by side with PyTorch's, and checkpoints."""
import numpy as np
import pytest

import distgrad
from distgrad import nn

torch = pytest.importorskip("torch")

if not hasattr(nn, "Linear"):
    pytest.skip("distgrad.nn.Linear is not available yet", allow_module_level=True)


def _models():
    """Two-layer Linear models with the same weights in both frameworks (float64)."""
    distgrad.manual_seed(0)
    dg = [nn.Linear(6, 5, dtype=distgrad.float64), nn.Linear(5, 2, dtype=distgrad.float64)]
    tc = [torch.nn.Linear(6, 5, dtype=torch.float64), torch.nn.Linear(5, 2, dtype=torch.float64)]
    with torch.no_grad():
        for a, b in zip(dg, tc):
            b.weight.copy_(torch.from_numpy(a.weight.detach().numpy().copy()))
            b.bias.copy_(torch.from_numpy(a.bias.detach().numpy().copy()))
    return dg, tc


def _params(layers):
    return [p for layer in layers for p in layer.parameters()]


def _loss(fw, layers, x, y):
    h = layers[0](fw.tensor(x)).tanh()
    return ((layers[1](h) - fw.tensor(y)) ** 2).mean()


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.005, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.01}),
])
def test_linear_model_tracks_pytorch(name, kwargs):
    dg_layers, tc_layers = _models()
    dg_opt = getattr(distgrad.optim, name)(_params(dg_layers), **kwargs)
    tc_opt = getattr(torch.optim, name)(_params(tc_layers), **kwargs)
    dg_sched = distgrad.optim.lr_scheduler.CosineAnnealingLR(dg_opt, T_max=20)
    tc_sched = torch.optim.lr_scheduler.CosineAnnealingLR(tc_opt, T_max=20)
    rng = np.random.default_rng(0)
    for step in range(50):
        x, y = rng.standard_normal((16, 6)), rng.standard_normal((16, 2))
        for fw, layers, opt, sched in ((distgrad, dg_layers, dg_opt, dg_sched), (torch, tc_layers, tc_opt, tc_sched)):
            opt.zero_grad()
            _loss(fw, layers, x, y).backward()
            opt.step()
            sched.step()
        for a, b in zip(_params(dg_layers), _params(tc_layers)):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=f"{name}: parameters differ from PyTorch's after step {step}")


def test_generator_of_parameters_and_named_parameters():
    layer = nn.Linear(3, 2)
    opt = distgrad.optim.SGD(layer.parameters(), lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 2
    named = distgrad.optim.Adam(layer.named_parameters(), lr=0.1)
    assert named.param_groups[0]["param_names"] == ["weight", "bias"]


def test_model_and_optimizer_checkpoint_resume_identically():
    dg_layers, _ = _models()
    opt = distgrad.optim.Adam(_params(dg_layers), lr=0.01)
    rng = np.random.default_rng(1)
    data = [(rng.standard_normal((8, 6)), rng.standard_normal((8, 2))) for _ in range(10)]

    def train(layers, opt, batches):
        for x, y in batches:
            opt.zero_grad()
            _loss(distgrad, layers, x, y).backward()
            opt.step()

    train(dg_layers, opt, data[:5])
    model_state = [layer.state_dict() for layer in dg_layers]
    opt_state = opt.state_dict()
    resumed = [nn.Linear(6, 5, dtype=distgrad.float64), nn.Linear(5, 2, dtype=distgrad.float64)]
    for layer, state in zip(resumed, model_state):
        layer.load_state_dict({k: v.clone() for k, v in state.items()})
    resumed_opt = distgrad.optim.Adam(_params(resumed), lr=0.5)
    resumed_opt.load_state_dict(opt_state)
    train(dg_layers, opt, data[5:])
    train(resumed, resumed_opt, data[5:])
    for a, b in zip(_params(dg_layers), _params(resumed)):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
