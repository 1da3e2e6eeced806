"""Every scheduler's lr sequence (and OneCycleLR's momentum) against PyTorch's over 50 steps."""
import numpy as np
import pytest

import distgrad

torch = pytest.importorskip("torch")

STEPS = 50


def _optimizers(opt_name="SGD", opt_kwargs=None):
    """The same two-group optimizer in both frameworks (the schedulers only look at the groups)."""
    opt_kwargs = {"momentum": 0.9} if opt_kwargs is None and opt_name == "SGD" else (opt_kwargs or {})
    pair = []
    for fw in (distgrad, torch):
        a, b = fw.zeros(2, requires_grad=True), fw.zeros(3, requires_grad=True)
        groups = [{"params": [a]}, {"params": [b], "lr": 0.05}]
        pair.append(getattr(fw.optim, opt_name)(groups, lr=0.1, **opt_kwargs))
    return pair


def _assert_same_groups(dg_opt, t_opt, step, keys=("lr",)):
    for i, (ga, gb) in enumerate(zip(dg_opt.param_groups, t_opt.param_groups)):
        for key in keys:
            np.testing.assert_allclose(np.asarray(ga[key], dtype=float), np.asarray(gb[key], dtype=float),
                                       rtol=1e-12, atol=1e-15,
                                       err_msg=f"group {i} '{key}' differs from PyTorch's at step {step}")


def _track(name, kwargs, opt_name="SGD", opt_kwargs=None, keys=("lr",), steps=STEPS):
    dg_opt, t_opt = _optimizers(opt_name, opt_kwargs)
    dg = getattr(distgrad.optim.lr_scheduler, name)(dg_opt, **kwargs)
    tc = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    _assert_same_groups(dg_opt, t_opt, "init", keys)
    for step in range(steps):
        dg_opt.step()
        t_opt.step()
        dg.step()
        tc.step()
        _assert_same_groups(dg_opt, t_opt, step, keys)
        np.testing.assert_allclose(dg.get_last_lr(), tc.get_last_lr(), rtol=1e-12, atol=1e-15)
    return dg, tc


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", {"step_size": 7}),
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 12, 12, 30], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.93}),
    ("CosineAnnealingLR", {"T_max": 50}),
    ("CosineAnnealingLR", {"T_max": 9, "eta_min": 0.001}),  # past T_max the recursion climbs back up
    ("LambdaLR", {"lr_lambda": lambda epoch: 1.0 / (1 + epoch)}),
    ("LambdaLR", {"lr_lambda": [lambda e: 0.9 ** e, lambda e: 1 + (e % 4)]}),
    ("MultiplicativeLR", {"lr_lambda": lambda epoch: 0.97}),
    ("ConstantLR", {"factor": 0.25, "total_iters": 6}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.6, "total_iters": 20}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.0, "total_iters": 30}),
    ("PolynomialLR", {"total_iters": 20, "power": 2.0}),
])
def test_lr_sequence_tracks_pytorch(name, kwargs):
    dg, tc = _track(name, kwargs)
    # The schedulers' state dicts hold the same entries as PyTorch's.
    assert set(dg.state_dict()) == set(tc.state_dict())


@pytest.mark.parametrize("kwargs", [
    {"max_lr": 1.0, "total_steps": STEPS},
    {"max_lr": [1.0, 0.3], "total_steps": STEPS, "anneal_strategy": "linear"},
    {"max_lr": 0.5, "epochs": 5, "steps_per_epoch": 10, "three_phase": True},
    {"max_lr": 0.5, "total_steps": STEPS, "pct_start": 0.5, "div_factor": 10.0, "final_div_factor": 100.0,
     "base_momentum": [0.8, 0.7], "max_momentum": 0.99},
])
def test_one_cycle_with_momentum_tracks_pytorch(kwargs):
    dg, tc = _track("OneCycleLR", kwargs, keys=("lr", "momentum", "initial_lr", "max_lr", "min_lr"))
    assert set(dg.state_dict()) == set(tc.state_dict())


def test_one_cycle_cycles_adam_beta1():
    dg, tc = _track("OneCycleLR", {"max_lr": 0.01, "total_steps": STEPS, "three_phase": True}, opt_name="Adam")
    for ga, gb in zip(dg.optimizer.param_groups, tc.optimizer.param_groups):
        np.testing.assert_allclose(ga["betas"], gb["betas"], rtol=1e-12)


def test_one_cycle_without_momentum_cycling():
    _track("OneCycleLR", {"max_lr": 0.2, "total_steps": STEPS, "cycle_momentum": False},
           opt_name="Adagrad", opt_kwargs={})


@pytest.mark.parametrize("kwargs", [
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4},
    {"base_lr": [0.01, 0.02], "max_lr": 0.2, "step_size_up": 3, "step_size_down": 7, "mode": "triangular2"},
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5, "mode": "exp_range", "gamma": 0.97,
     "base_momentum": 0.7, "max_momentum": [0.9, 0.95]},
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 6, "scale_fn": lambda x: 1.0 / (1 + x),
     "scale_mode": "iterations"},
])
def test_cyclic_with_momentum_tracks_pytorch(kwargs):
    dg, tc = _track("CyclicLR", kwargs, keys=("lr", "momentum"))
    assert set(dg.state_dict()) == set(tc.state_dict())


def test_cyclic_cycles_adam_beta1():
    dg, tc = _track("CyclicLR", {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 5}, opt_name="Adam")
    for ga, gb in zip(dg.optimizer.param_groups, tc.optimizer.param_groups):
        np.testing.assert_allclose(ga["betas"], gb["betas"], rtol=1e-12)


@pytest.mark.parametrize("kwargs", [
    {"T_0": 7},
    {"T_0": 3, "T_mult": 2, "eta_min": 0.001},
])
def test_warm_restarts_tracks_pytorch(kwargs):
    dg, tc = _track("CosineAnnealingWarmRestarts", kwargs)
    assert set(dg.state_dict()) == set(tc.state_dict())


def test_warm_restarts_with_fractional_epochs():
    dg_opt, t_opt = _optimizers()
    dg = distgrad.optim.lr_scheduler.CosineAnnealingWarmRestarts(dg_opt, T_0=4, T_mult=2, eta_min=0.01)
    tc = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(t_opt, T_0=4, T_mult=2, eta_min=0.01)
    for epoch in range(12):
        for i in range(5):
            dg.step(epoch + i / 5)
            tc.step(epoch + i / 5)
            _assert_same_groups(dg_opt, t_opt, (epoch, i))
    assert dg.T_i == tc.T_i and dg.last_epoch == tc.last_epoch


@pytest.mark.parametrize("kwargs", [
    {},
    {"mode": "max", "factor": 0.5, "patience": 2},
    {"patience": 1, "threshold": 0.05, "threshold_mode": "abs", "cooldown": 3},
    {"factor": 0.2, "patience": 0, "min_lr": [0.01, 0.02], "eps": 1e-3},
    {"mode": "max", "patience": 0, "threshold_mode": "abs", "threshold": 0.0, "min_lr": 1e-3},
])
def test_reduce_on_plateau_tracks_pytorch(kwargs):
    dg_opt, t_opt = _optimizers()
    dg = distgrad.optim.lr_scheduler.ReduceLROnPlateau(dg_opt, **kwargs)
    tc = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    rng = np.random.default_rng(3)
    metric = 1.0
    for step in range(STEPS):
        metric += rng.choice([-0.1, 0.0, 0.0, 0.02, 0.1]) * rng.random()
        dg.step(distgrad.tensor(metric) if step % 2 else metric)
        tc.step(metric)
        _assert_same_groups(dg_opt, t_opt, step)
        assert dg.num_bad_epochs == tc.num_bad_epochs and dg.cooldown_counter == tc.cooldown_counter
        np.testing.assert_allclose(dg.get_last_lr(), tc.get_last_lr(), rtol=1e-12)
    assert set(dg.state_dict()) == set(tc.state_dict())


def _build(fw, opt, spec):
    name, kwargs = spec
    return getattr(fw.optim.lr_scheduler, name)(opt, **kwargs)


@pytest.mark.parametrize("specs, milestones", [
    ([("LinearLR", {"start_factor": 0.1, "total_iters": 5}), ("CosineAnnealingLR", {"T_max": 45})], [5]),
    ([("ConstantLR", {"factor": 0.5, "total_iters": 4}), ("ExponentialLR", {"gamma": 0.9}),
      ("StepLR", {"step_size": 4, "gamma": 0.5})], [3, 12]),
    ([("ExponentialLR", {"gamma": 0.8}), ("MultiStepLR", {"milestones": [3, 8]})], [10]),
])
def test_sequential_tracks_pytorch(specs, milestones):
    dg_opt, t_opt = _optimizers()
    dg = distgrad.optim.lr_scheduler.SequentialLR(dg_opt, [_build(distgrad, dg_opt, s) for s in specs], milestones)
    tc = torch.optim.lr_scheduler.SequentialLR(t_opt, [_build(torch, t_opt, s) for s in specs], milestones)
    _assert_same_groups(dg_opt, t_opt, "init")
    for step in range(STEPS):
        dg_opt.step()
        t_opt.step()
        dg.step()
        tc.step()
        _assert_same_groups(dg_opt, t_opt, step)
        np.testing.assert_allclose(dg.get_last_lr(), tc.get_last_lr(), rtol=1e-12)


def test_chained_tracks_pytorch():
    specs = [("ConstantLR", {"factor": 0.1, "total_iters": 3}), ("ExponentialLR", {"gamma": 0.95}),
             ("CosineAnnealingLR", {"T_max": 20})]
    dg_opt, t_opt = _optimizers()
    dg = distgrad.optim.lr_scheduler.ChainedScheduler([_build(distgrad, dg_opt, s) for s in specs])
    tc = torch.optim.lr_scheduler.ChainedScheduler([_build(torch, t_opt, s) for s in specs])
    for step in range(STEPS):
        dg_opt.step()
        t_opt.step()
        dg.step()
        tc.step()
        _assert_same_groups(dg_opt, t_opt, step)
        np.testing.assert_allclose(dg.get_last_lr(), tc.get_last_lr(), rtol=1e-12)


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", {"step_size": 4, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5]}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.01}),
    ("LinearLR", {"start_factor": 0.2, "total_iters": 6}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 3}),
    ("PolynomialLR", {"total_iters": 8, "power": 0.5}),
])
def test_step_with_epoch_uses_the_closed_form(name, kwargs):
    dg_opt, t_opt = _optimizers()
    dg = getattr(distgrad.optim.lr_scheduler, name)(dg_opt, **kwargs)
    tc = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    for epoch in [3, 7, 1, 12, 5]:
        dg_opt.step()
        t_opt.step()
        with pytest.warns(UserWarning, match="epoch parameter"):
            dg.step(epoch)
        with pytest.warns(UserWarning):
            tc.step(epoch)
        _assert_same_groups(dg_opt, t_opt, epoch)
