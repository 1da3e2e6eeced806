"""A new optimizer written against the base loop: only its checks and its rule, in a few lines.

``Signum`` (sign-SGD with momentum) gives ``_hyper``, ``_init_state`` and
``_update``; the base ``Optimizer.step`` supplies the rest: closure, gradient
checks, skipping None grads, lazy state, the ``state["step"]`` counter, version
bumps, hooks and PyTorch-layout checkpoints.
"""
import copy

import numpy as np
import pytest

import distgrad
from distgrad.autograd.raw import array_of, bump_version
from distgrad.optim import Optimizer


class Signum(Optimizer):
    """``m = beta * m + (1 - beta) * g;  p = p - lr * sign(m)``."""

    _param_shaped_state = ("momentum",)
    _counts_steps = True

    def __init__(self, params, lr=0.01, beta=0.9):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta value: {beta}")
        super().__init__(params, {"lr": lr, "beta": beta})

    @staticmethod
    def _hyper(group):
        return float(group["lr"]), float(group["beta"])

    def _init_state(self, hyper, param, state):
        state["step"] = self._step_state(param)
        state["momentum"] = self._zeros_state(param)

    def _update(self, hyper, param, grad, state):
        lr, beta = hyper
        m_t = state["momentum"]
        m, tmp = array_of(m_t), self._scratch(param, 1)
        np.multiply(m, beta, out=m)
        np.multiply(grad, 1 - beta, out=tmp)
        np.add(m, tmp, out=m)
        bump_version(m_t)
        np.sign(m, out=tmp)
        np.multiply(tmp, -lr, out=tmp)
        np.add(param, tmp, out=param)


def _target_loss(w):
    return ((w - distgrad.tensor([3.0, -2.0], dtype=distgrad.float64)) ** 2).sum()


def _train(opt, w, steps):
    for _ in range(steps):
        opt.zero_grad()
        _target_loss(w).backward()
        opt.step()


def test_a_new_optimizer_trains():
    w = distgrad.zeros(2, dtype=distgrad.float64, requires_grad=True)
    opt = Signum([w], lr=0.05, beta=0.5)
    first = float(_target_loss(w).detach())
    v0 = w._version
    _train(opt, w, 100)
    assert float(_target_loss(w).detach()) < 0.01 * first
    assert w._version == v0 + 100 and w.is_leaf and w.grad_fn is None
    assert float(opt.state[w]["step"]) == 100.0 and opt.state[w]["momentum"]._version == 100
    with pytest.raises(ValueError, match="Invalid beta value"):
        Signum([w], beta=1.0)


def test_a_new_optimizer_gets_the_base_loop():
    a, b = (distgrad.zeros(2, dtype=distgrad.float64, requires_grad=True) for _ in range(2))
    opt = Signum([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    calls = []
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(o))
    b.grad = distgrad.tensor([1.0, -1.0], dtype=distgrad.float64)
    assert opt.step(lambda: 7.0) == 7.0 and calls == [opt]
    assert a not in opt.state  # no grad: skipped, no state made
    np.testing.assert_array_equal(b.detach().numpy(), [-0.5, 0.5])
    a.grad = distgrad.ones(2, dtype=distgrad.float64)
    a.data = distgrad.zeros(3, dtype=distgrad.float64)  # now the grad no longer fits its parameter
    with pytest.raises(RuntimeError, match=r"Signum.step: the gradient of a parameter of shape \[3\] has shape \[2\]"):
        opt.step()
    np.testing.assert_array_equal(b.detach().numpy(), [-0.5, 0.5])


def test_a_new_optimizer_round_trips_its_state_dict():
    w = distgrad.zeros(2, dtype=distgrad.float64, requires_grad=True)
    opt = Signum([w], lr=0.05)
    _train(opt, w, 5)
    sd = opt.state_dict()
    assert sorted(sd["state"][0]) == ["momentum", "step"] and sd["param_groups"][0]["params"] == [0]
    w2 = distgrad.tensor(w.detach().numpy().copy(), requires_grad=True)
    opt2 = Signum([w2], lr=0.3, beta=0.1)
    opt2.load_state_dict(copy.deepcopy(sd))
    assert opt2.param_groups[0]["lr"] == 0.05 and opt2.param_groups[0]["beta"] == 0.9
    np.testing.assert_array_equal(opt2.state[w2]["momentum"].numpy(), sd["state"][0]["momentum"].numpy())
    _train(opt, w, 5)
    _train(opt2, w2, 5)
    np.testing.assert_array_equal(w2.detach().numpy(), w.detach().numpy())
    assert float(opt2.state[w2]["step"]) == 10.0
    bad = copy.deepcopy(sd)
    bad["state"][0]["momentum"] = distgrad.zeros(3, dtype=distgrad.float64)
    with pytest.raises(ValueError, match=r"state 'momentum' of parameter 0 has shape \[3\]"):
        opt2.load_state_dict(bad)


def test_scratch_views_are_made_once_per_shape():
    w = distgrad.zeros(4, 3, dtype=distgrad.float64, requires_grad=True)
    opt = Signum([w])
    big, small = np.zeros((4, 3)), np.zeros(5)
    view = opt._scratch(small, 1)
    assert opt._scratch(small, 1) is view and view.shape == (5,)
    grown = opt._scratch(big, 1)  # the shared buffer grows; the smaller view is remade from it
    assert grown.shape == (4, 3) and opt._scratch(small, 1) is not view
    assert np.shares_memory(opt._scratch(small, 1), grown)
