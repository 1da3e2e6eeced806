"""Scheduler behaviour beyond the lr values: construction checks, warnings, state_dict, resuming."""
import warnings

import numpy as np
import pytest

import distgrad
from distgrad.optim import SGD, Adam
from distgrad.optim import lr_scheduler as sch


def _opt(lr=0.1, **kwargs):
    return SGD([distgrad.zeros(2, requires_grad=True)], lr=lr, **kwargs)


def test_base_records_initial_lr_and_base_lrs():
    opt = SGD([{"params": [distgrad.zeros(1, requires_grad=True)]},
               {"params": [distgrad.zeros(1, requires_grad=True)], "lr": 0.5}], lr=0.1)
    s = sch.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert s.base_lrs == [0.1, 0.5] and s.last_epoch == 0 and s.get_last_lr() == [0.1, 0.5]
    assert isinstance(s, sch.LRScheduler)


def test_not_an_optimizer():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        sch.StepLR([], step_size=2)
    with pytest.raises(TypeError, match="str is not an Optimizer"):
        sch.OneCycleLR("sgd", max_lr=1.0, total_steps=5)
    with pytest.raises(TypeError, match="int is not an Optimizer"):
        sch.ReduceLROnPlateau(3)


def test_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        sch.StepLR(_opt(), step_size=2, last_epoch=5)


def test_scheduler_before_optimizer_warns():
    s = sch.ExponentialLR(_opt(), gamma=0.5)
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`"):
        s.step()


def test_right_order_does_not_warn():
    opt = _opt()
    s = sch.ExponentialLR(opt, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        s.step()
        s.get_last_lr()


def test_overridden_optimizer_step_warns():
    opt = _opt()
    s = sch.ExponentialLR(opt, gamma=0.5)
    opt.step = lambda closure=None: None
    with pytest.warns(UserWarning, match="has been overridden after learning rate scheduler"):
        s.step()


def test_get_lr_outside_step_warns():
    s = sch.StepLR(_opt(), step_size=2)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        s.get_lr()


@pytest.mark.parametrize("make, message", [
    (lambda o: sch.LinearLR(o, start_factor=0.0), "Starting multiplicative factor expected to be greater than 0"),
    (lambda o: sch.LinearLR(o, end_factor=1.5), "Ending multiplicative factor expected to be between 0 and 1"),
    (lambda o: sch.ConstantLR(o, factor=2.0), "Constant multiplicative factor expected to be between 0 and 1"),
    (lambda o: sch.LambdaLR(o, [lambda e: 1.0, lambda e: 1.0]), "Expected 1 lr_lambdas, but got 2"),
    (lambda o: sch.OneCycleLR(o, max_lr=1.0), "You must define either total_steps OR"),
    (lambda o: sch.OneCycleLR(o, max_lr=1.0, total_steps=0), "Expected positive integer total_steps, but got 0"),
    (lambda o: sch.OneCycleLR(o, max_lr=1.0, epochs=2, steps_per_epoch=-1),
     "Expected positive integer steps_per_epoch, but got -1"),
    (lambda o: sch.OneCycleLR(o, max_lr=1.0, total_steps=5, pct_start=1), "Expected float between 0 and 1 pct_start"),
    (lambda o: sch.OneCycleLR(o, max_lr=1.0, total_steps=5, anneal_strategy="exp"),
     "anneal_strategy must be one of 'cos' or 'linear', instead got exp"),
    (lambda o: sch.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=5),
     "max_lr must have the same length as optimizer.param_groups"),
    (lambda o: sch.CyclicLR(o, base_lr=0.1, max_lr=1.0, mode="sine"), "mode is invalid and scale_fn is None"),
    (lambda o: sch.CyclicLR(o, base_lr=[0.1, 0.2], max_lr=1.0),
     "base_lr must have the same length as optimizer.param_groups"),
    (lambda o: sch.CosineAnnealingWarmRestarts(o, T_0=0), "Expected positive integer T_0, but got 0"),
    (lambda o: sch.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=1.5), "Expected integer T_mult >= 1, but got 1.5"),
    (lambda o: sch.CosineAnnealingWarmRestarts(o, T_0=5, eta_min="0"), "Expected float or int eta_min"),
    (lambda o: sch.CosineAnnealingWarmRestarts(o, T_0=5).step(-1), "Expected non-negative epoch, but got -1"),
    (lambda o: sch.ReduceLROnPlateau(o, factor=1.0), "Factor should be < 1.0."),
    (lambda o: sch.ReduceLROnPlateau(o, mode="avg"), "mode avg is unknown!"),
    (lambda o: sch.ReduceLROnPlateau(o, threshold_mode="pct"), "threshold mode pct is unknown!"),
    (lambda o: sch.ReduceLROnPlateau(o, min_lr=[0.1, 0.2]), "expected 1 min_lrs, got 2"),
    (lambda o: sch.SequentialLR(o, [sch.StepLR(o, 2), sch.StepLR(o, 3)], milestones=[]),
     "expects number of schedulers provided to be one more than the number of milestone points"),
    (lambda o: sch.SequentialLR(o, [], milestones=[]), "expects at least one scheduler"),
    (lambda o: sch.SequentialLR(o, [sch.StepLR(_opt(), 2)], milestones=[]),
     "expects all schedulers to belong to the same optimizer"),
    (lambda o: sch.SequentialLR(o, [sch.ReduceLROnPlateau(o)], milestones=[]),
     "does not support `ReduceLROnPlateau`"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make(_opt())


def test_one_cycle_refuses_momentumless_optimizer_and_does_not_touch_it():
    opt = distgrad.optim.Adagrad([distgrad.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        sch.OneCycleLR(opt, max_lr=1.0, total_steps=5)
    assert "initial_lr" not in opt.param_groups[0] and "max_lr" not in opt.param_groups[0]


def test_one_cycle_past_the_end_raises_and_keeps_its_place():
    opt = _opt(momentum=0.9)
    s = sch.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        s.step()
    lr = opt.param_groups[0]["lr"]
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
        s.step()
    assert s.last_epoch == 3 and opt.param_groups[0]["lr"] == lr


def _run(s, opt, n):
    for _ in range(n):
        opt.step()
        s.step()


@pytest.mark.parametrize("make", [
    lambda o: sch.StepLR(o, step_size=3, gamma=0.5),
    lambda o: sch.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    lambda o: sch.OneCycleLR(o, max_lr=1.0, total_steps=30, three_phase=True),
    lambda o: sch.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.9),
    lambda o: sch.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    lambda o: sch.SequentialLR(o, [sch.LinearLR(o, 0.1, total_iters=4), sch.ExponentialLR(o, 0.9)], [4]),
])
def test_state_dict_round_trip_resumes_the_schedule(make):
    opt_a = _opt(momentum=0.9)
    a = make(opt_a)
    _run(a, opt_a, 8)
    opt_b = _opt(momentum=0.9)
    b = make(opt_b)
    b.load_state_dict(a.state_dict())
    opt_b.load_state_dict(opt_a.state_dict())
    assert "optimizer" not in a.state_dict()
    for _ in range(12):
        _run(a, opt_a, 1)
        _run(b, opt_b, 1)
        assert b.get_last_lr() == a.get_last_lr()
        assert opt_b.param_groups[0]["momentum"] == opt_a.param_groups[0]["momentum"]


def test_lambda_state_saves_callable_objects_but_not_functions():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch
    opt = SGD([{"params": [distgrad.zeros(1, requires_grad=True)]},
               {"params": [distgrad.zeros(1, requires_grad=True)]}], lr=1.0)
    s = sch.LambdaLR(opt, [Decay(0.5), lambda e: 1.0])
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [{"rate": 0.5}, None]
    sd["lr_lambdas"][0]["rate"] = 0.25
    s.load_state_dict(sd)
    assert s.lr_lambdas[0].rate == 0.25 and "lr_lambdas" in sd


def test_reduce_on_plateau_state_and_new_groups():
    opt = _opt(lr=1.0)
    s = sch.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    s.step(1.0)
    s.step(2.0)
    assert opt.param_groups[0]["lr"] == 0.5 and s.get_last_lr() == [0.5]
    state = s.state_dict()
    other = sch.ReduceLROnPlateau(_opt(lr=1.0), mode="max")
    other.load_state_dict(state)
    assert other.mode == "min" and other.best == 1.0 and other.mode_worse == float("inf")
    opt.add_param_group({"params": [distgrad.zeros(1, requires_grad=True)], "lr": 1.0})
    s.step(3.0)  # a scalar min_lr extends to the new group
    assert [g["lr"] for g in opt.param_groups] == [0.25, 0.5]
    fixed = sch.ReduceLROnPlateau(_opt(lr=1.0), patience=0, min_lr=[0.0])
    fixed.optimizer.add_param_group({"params": [distgrad.zeros(1, requires_grad=True)]})
    fixed.step(1.0)
    with pytest.raises(RuntimeError, match="differs from when `ReduceLROnPlateau` was initialized"):
        fixed.step(2.0)


def test_tensor_lr_is_updated_in_place():
    lr = distgrad.tensor(0.5, dtype=distgrad.float64)
    opt = Adam([distgrad.zeros(2, requires_grad=True)], lr=lr)
    s = sch.ExponentialLR(opt, gamma=0.5)
    opt.step()
    s.step()
    assert opt.param_groups[0]["lr"] is lr and lr.item() == 0.25
    last = s.get_last_lr()[0]
    assert isinstance(last, distgrad.Tensor) and last is not lr and last.item() == 0.25


def test_two_chainable_schedulers_compose():
    opt = _opt(lr=1.0)
    a = sch.ExponentialLR(opt, gamma=0.5)
    b = sch.MultiplicativeLR(opt, lambda e: 0.1)
    opt.step()
    a.step()
    b.step()
    np.testing.assert_allclose(opt.param_groups[0]["lr"], 0.05)


def test_custom_scheduler_subclass():
    class Halving(sch.LRScheduler):
        def get_lr(self):
            return [base * 0.5 ** self.last_epoch for base in self.base_lrs]
    opt = _opt(lr=1.0)
    s = Halving(opt)
    _run(s, opt, 3)
    assert s.get_last_lr() == [0.125]
    assert issubclass(sch._LRScheduler, sch.LRScheduler)


def test_checkpoint_through_distgrad_save_and_load(tmp_path):
    def build():
        w = distgrad.zeros(2, requires_grad=True)
        opt = Adam([w], lr=0.1)
        return w, opt, [sch.MultiStepLR(opt, [3, 5, 5]), sch.ReduceLROnPlateau(opt, patience=0)]
    w, opt, (multi, plateau) = build()
    for i in range(4):
        w.grad = distgrad.ones(2)
        opt.step()
        multi.step()
        plateau.step(float(i))
    path = tmp_path / "ckpt.safetensors"
    distgrad.save({"opt": opt.state_dict(), "multi": multi.state_dict(), "plateau": plateau.state_dict()}, path)
    ckpt = distgrad.load(path)
    w2, opt2, (multi2, plateau2) = build()
    opt2.load_state_dict(ckpt["opt"])
    multi2.load_state_dict(ckpt["multi"])
    plateau2.load_state_dict(ckpt["plateau"])
    np.testing.assert_array_equal(opt2.state[w2]["exp_avg"].numpy(), opt.state[w]["exp_avg"].numpy())
    opt.step()
    opt2.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        multi.step(5)  # the closed form needs the milestones back as a Counter
    with pytest.warns(UserWarning, match="epoch parameter"):
        multi2.step(5)
    assert multi2.get_last_lr() == multi.get_last_lr()
    plateau.step(10.0)
    plateau2.step(10.0)
    assert plateau2.get_last_lr() == plateau.get_last_lr() and plateau2.best == plateau.best


def test_cyclic_state_keeps_a_callable_scale_object():
    class Shrink:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, cycle):
            return self.rate ** cycle
    opt = _opt(momentum=0.9)
    s = sch.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2, scale_fn=Shrink(0.5))
    sd = s.state_dict()
    assert sd["_scale_fn_custom"] == {"rate": 0.5} and "_scale_fn_ref" not in sd
    sd["_scale_fn_custom"]["rate"] = 0.25
    s.load_state_dict(sd)
    assert s.scale_fn(2) == 0.0625 and sd["_scale_fn_custom"] == {"rate": 0.25}
