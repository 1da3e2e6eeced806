"""The Optimizer base: construction errors, param groups, zero_grad, hooks, state_dict, failed steps."""
import copy
import warnings

import numpy as np
import pytest

import distgrad
from distgrad.optim import SGD, Adam, Optimizer
from distgrad.optim.optimizer import (register_optimizer_step_post_hook, register_optimizer_step_pre_hook,
                                      required)
from optim_harness import fresh_leaf


# --- construction ------------------------------------------------------------------------------
def test_empty_parameter_list():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        Adam(iter([]))


def test_a_single_tensor_is_not_an_iterable_of_params():
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts, but got distgrad.DoubleTensor"):
        SGD(fresh_leaf(2), lr=0.1)


def test_non_tensor_param():
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is int"):
        SGD([fresh_leaf(2), 3], lr=0.1)


def test_non_leaf_param():
    w = fresh_leaf(2)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        SGD([w * 2], lr=0.1)
    y = w * 2
    y.retain_grad()
    SGD([y], lr=0.1)  # a non-leaf that retains its grad is allowed, as in PyTorch


def test_sets_are_refused_as_a_group_params():
    with pytest.raises(TypeError, match="ordered collections"):
        SGD([{"params": {fresh_leaf(2)}}], lr=0.1)


def test_duplicate_param_in_a_group_warns():
    w = fresh_leaf(2)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        SGD([w, w], lr=0.1)


def test_param_in_two_groups_is_an_error_and_adds_nothing():
    a, b = fresh_leaf(2), fresh_leaf(2)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        SGD([{"params": [a]}, {"params": [b, a]}], lr=0.1)
    opt = SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [b, a]})
    assert len(opt.param_groups) == 1


def test_add_param_group_fills_defaults_and_checks_type():
    a, b = fresh_leaf(2), fresh_leaf(2)
    opt = SGD([a], lr=0.1, momentum=0.9)
    group = {"params": b, "lr": 0.01}
    opt.add_param_group(group)
    assert opt.param_groups[1] is group and group["params"] == [b]
    assert group["lr"] == 0.01 and group["momentum"] == 0.9 and group["nesterov"] is False
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([fresh_leaf(2)])


def test_required_hyperparameter():
    class Plain(Optimizer):
        def __init__(self, params, lr=required):
            super().__init__(params, {"lr": lr})

        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    p._data -= group["lr"] * p._grad._data
    assert repr(required) == "<required parameter>"
    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        Plain([fresh_leaf(2)])
    w = distgrad.ones(2, dtype=distgrad.float64, requires_grad=True)
    opt = Plain([{"params": [w], "lr": 0.5}])
    w.grad = distgrad.ones(2, dtype=distgrad.float64)
    calls = []
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(o))
    opt.step()
    assert calls == [opt]
    np.testing.assert_array_equal(w.detach().numpy(), [0.5, 0.5])


def test_named_parameters():
    a, b = fresh_leaf(2), fresh_leaf(3)
    opt = SGD([("a", a), ("b", b)], lr=0.1)
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(a), id(b)]
    assert opt.param_groups[0]["param_names"] == ["a", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["a", "b"]
    with pytest.raises(ValueError, match="cannot add param group without names"):
        opt.add_param_group({"params": [fresh_leaf(1)]})


def test_repr_matches_pytorch():
    torch = pytest.importorskip("torch")
    groups = lambda fw: [{"params": [fw.zeros(2, requires_grad=True)]},  # noqa: E731
                         {"params": [fw.zeros(2, requires_grad=True)], "lr": 0.5}]
    assert repr(SGD(groups(distgrad), lr=0.1, momentum=0.9)) == \
        repr(torch.optim.SGD(groups(torch), lr=0.1, momentum=0.9))
    assert repr(Adam(groups(distgrad), lr=0.1)) == repr(torch.optim.Adam(groups(torch), lr=0.1))


# --- zero_grad and step --------------------------------------------------------------------------
def test_zero_grad_to_none_and_to_zeros():
    w = fresh_leaf(3)
    opt = SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad()
    assert w.grad is None
    (w * w).sum().backward()
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0, 0.0])


def test_zero_grad_detaches_a_grad_with_history():
    w = fresh_leaf(3)
    (w * w).sum().backward(create_graph=True)
    assert w.grad.grad_fn is not None
    SGD([w], lr=0.1).zero_grad(set_to_none=False)
    assert w.grad.grad_fn is None and not w.grad.requires_grad


def test_base_step_is_abstract():
    class NoStep(Optimizer):
        pass
    with pytest.raises(NotImplementedError):
        NoStep([fresh_leaf(2)], {"lr": 0.1}).step()


def test_closure_runs_with_grad_enabled_and_returns_loss():
    w = fresh_leaf(3)
    opt = SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    with distgrad.no_grad():
        loss = opt.step(closure)
    assert isinstance(loss, distgrad.Tensor) and w.grad is not None


def test_step_records_no_graph():
    w = fresh_leaf(3)
    opt = Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert w.is_leaf and w.grad_fn is None and w.requires_grad


def test_failed_step_changes_nothing():
    a, b = fresh_leaf(3), fresh_leaf(2)
    opt = Adam([{"params": [a]}, {"params": [b]}], lr=0.1)
    a.grad = distgrad.ones(3, dtype=distgrad.float64)
    b.grad = distgrad.ones(2, dtype=distgrad.float64)
    b.data = distgrad.zeros(4, dtype=distgrad.float64)  # now the grad no longer fits its parameter
    before = a.detach().numpy().copy()
    with pytest.raises(RuntimeError, match=r"Adam.step: the gradient of a parameter of shape \[4\] has shape \[2\]"):
        opt.step()
    np.testing.assert_array_equal(a.detach().numpy(), before)
    assert len(opt.state) == 0


def test_nan_gradient_propagates_like_pytorch():
    w = distgrad.ones(2, dtype=distgrad.float64, requires_grad=True)
    w.grad = distgrad.tensor([float("nan"), 1.0], dtype=distgrad.float64)
    SGD([w], lr=0.5).step()
    out = w.detach().numpy()
    assert np.isnan(out[0]) and out[1] == 0.5


# --- hooks ------------------------------------------------------------------------------------
def test_step_hooks_order_arguments_and_removal():
    w = fresh_leaf(2)
    w.grad = distgrad.ones(2, dtype=distgrad.float64)
    opt = SGD([w], lr=0.1)
    log = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: log.append(("pre", o is opt, args[0] is opt)))
    h2 = opt.register_step_post_hook(lambda o, args, kwargs: log.append(("post", o is opt)))
    g1 = register_optimizer_step_pre_hook(lambda o, args, kwargs: log.append(("gpre",)))
    g2 = register_optimizer_step_post_hook(lambda o, args, kwargs: log.append(("gpost",)))
    try:
        opt.step()
    finally:
        g1.remove()
        g2.remove()
    assert log == [("gpre",), ("pre", True, True), ("post", True), ("gpost",)]
    h1.remove()
    h2.remove()
    log.clear()
    opt.step()
    assert log == []


def test_pre_hook_can_replace_the_arguments():
    w = fresh_leaf(2)
    opt = SGD([w], lr=0.1)
    called = []

    def closure():
        called.append(True)
        opt.zero_grad()
        (w * w).sum().backward()
        return 1.5
    opt.register_step_pre_hook(lambda o, args, kwargs: ((o,), {"closure": closure}))
    assert opt.step() == 1.5 and called
    opt2 = SGD([w], lr=0.1)
    opt2.register_step_pre_hook(lambda o, args, kwargs: "bad")
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt2.step()


def test_state_dict_and_load_hooks():
    w = fresh_leaf(2)
    opt = SGD([w], lr=0.1)
    log = []
    opt.register_state_dict_pre_hook(lambda o: log.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: dict(sd, extra=1))
    sd = opt.state_dict()
    assert log == ["pre"] and sd["extra"] == 1

    def change_lr(o, sd):
        sd = copy.deepcopy(sd)
        sd["param_groups"][0]["lr"] = 0.7
        return sd
    opt.register_load_state_dict_pre_hook(change_lr)
    opt.register_load_state_dict_post_hook(lambda o: log.append("loaded"), prepend=True)
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.7 and log[-1] == "loaded"


# --- state_dict ---------------------------------------------------------------------------------
def test_state_dict_layout():
    a, b, c = fresh_leaf(2), fresh_leaf(3), fresh_leaf(1)
    opt = SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    for p in (a, c):
        p.grad = distgrad.ones(*p.shape, dtype=distgrad.float64)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sorted(sd["state"]) == [0, 2]
    assert sd["state"][2]["momentum_buffer"].shape == (1,)
    assert sd["param_groups"][1]["lr"] == 0.5 and "params" in sd["param_groups"][0]


def _snapshot(opt):
    return ([{k: v for k, v in g.items()} for g in opt.param_groups],
            {id(p): {k: v.numpy().copy() for k, v in s.items()} for p, s in opt.state.items()})


@pytest.mark.parametrize("corrupt, message", [
    (lambda sd: sd["param_groups"].append({"params": [], "lr": 0.1}), "different number of parameter groups"),
    (lambda sd: sd["param_groups"][0]["params"].pop(), "doesn't match the size of optimizer's group"),
    (lambda sd: sd["state"][1].update(exp_avg=distgrad.zeros(7, dtype=distgrad.float64)),
     r"state 'exp_avg' of parameter 1 has shape \[7\] but the parameter has shape \[3\]"),
])
def test_failed_load_changes_nothing(corrupt, message):
    a, b = fresh_leaf(2), fresh_leaf(3)
    opt = Adam([a, b], lr=0.1)
    a.grad, b.grad = distgrad.ones(2, dtype=distgrad.float64), distgrad.ones(3, dtype=distgrad.float64)
    opt.step()
    sd = copy.deepcopy(opt.state_dict())
    sd["param_groups"][0]["lr"] = 0.9
    sd["state"][0]["exp_avg"] = sd["state"][0]["exp_avg"] * 0 + 5
    corrupt(sd)
    groups_before, state_before = _snapshot(opt)
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(sd)
    groups_after, state_after = _snapshot(opt)
    assert groups_after == groups_before
    assert state_after.keys() == state_before.keys()
    for k in state_before:
        for name in state_before[k]:
            np.testing.assert_array_equal(state_after[k][name], state_before[k][name])


def test_load_keeps_its_own_params_and_copies_state():
    a = fresh_leaf(2)
    src = SGD([a], lr=0.3, momentum=0.9)
    a.grad = distgrad.ones(2, dtype=distgrad.float64)
    src.step()
    b = fresh_leaf(2)
    dst = SGD([b], lr=0.1)
    sd = src.state_dict()
    dst.load_state_dict(sd)
    assert len(dst.param_groups[0]["params"]) == 1 and dst.param_groups[0]["params"][0] is b
    assert dst.param_groups[0]["lr"] == 0.3
    assert dst.param_groups[0] is not sd["param_groups"][0]
    buf = dst.state[b]["momentum_buffer"]
    buf._data[...] = 0
    assert src.state[a]["momentum_buffer"].numpy()[0] != 0


def test_deepcopy_of_an_optimizer_follows_the_copied_params():
    w = fresh_leaf(2)
    opt = SGD([w], lr=0.1, momentum=0.9)
    w.grad = distgrad.ones(2, dtype=distgrad.float64)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clone = copy.deepcopy(opt)
    p = clone.param_groups[0]["params"][0]
    assert p is not w and p in clone.state
