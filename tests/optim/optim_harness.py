"""Shared helpers for the optimizer tests: one small model trained side by side in distgrad and PyTorch.

``track_torch`` builds the same parameters (same initial values) in both
frameworks, feeds the same batches for ``steps`` steps and asserts after every
step that the parameters agree, so any drift in an update rule shows up at the
step where it starts.
"""
import numpy as np
import pytest

import distgrad

SHAPES = [(5, 4), (4,), (4, 3)]


def initial_arrays(seed=0, shapes=SHAPES, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def batches(steps, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((8, 5)).astype(dtype), rng.standard_normal((8, 3)).astype(dtype))
            for _ in range(steps)]


def loss_of(fw, params, x, y):
    """A two-layer tanh network with a squared-error loss, written once for both frameworks."""
    w1, b1, w2 = params[:3]
    h = (fw.tensor(x) @ w1 + b1).tanh()
    out = h @ w2
    return ((out - fw.tensor(y)) ** 2).mean()


def make_params(fw, arrays):
    return [fw.tensor(a.copy(), requires_grad=True) for a in arrays]


def as_numpy(t):
    return np.asarray(t.detach().numpy()).copy()


def assert_params_close(dg_params, t_params, step, rtol, atol):
    for i, (a, b) in enumerate(zip(dg_params, t_params)):
        np.testing.assert_allclose(as_numpy(a), as_numpy(b), rtol=rtol, atol=atol,
                                   err_msg=f"parameter {i} differs from PyTorch's after step {step}")


def track_torch(name, kwargs, steps=50, groups=None, extra_param=False, closure=False, rtol=1e-10, atol=1e-12,
                dtype=np.float64, sched=None):
    """Train the same model with ``distgrad.optim.<name>`` and ``torch.optim.<name>``; compare every step.

    ``groups(params) -> param groups`` builds per-group options; ``extra_param``
    adds a parameter the loss does not use (its grad stays None: it must be
    skipped); ``sched`` is ``(scheduler name, kwargs)``.  Returns both optimizers.
    """
    torch = pytest.importorskip("torch")
    shapes = SHAPES + ([(2, 2)] if extra_param else [])
    init = initial_arrays(shapes=shapes, dtype=dtype)
    data = batches(steps, dtype=dtype)
    runs = []
    for fw in (distgrad, torch):
        params = make_params(fw, init)
        opt = getattr(fw.optim, name)(groups(params) if groups else params, **kwargs)
        scheduler = getattr(fw.optim.lr_scheduler, sched[0])(opt, **sched[1]) if sched else None
        runs.append((fw, params, opt, scheduler))
    for step, (x, y) in enumerate(data):
        for fw, params, opt, scheduler in runs:
            def run_closure(fw=fw, params=params, opt=opt):
                opt.zero_grad()
                loss = loss_of(fw, params, x, y)
                loss.backward()
                return loss
            if closure:
                loss = opt.step(run_closure)
                assert loss is not None
            else:
                run_closure()
                opt.step()
            if scheduler is not None:
                scheduler.step()
        assert_params_close(runs[0][1], runs[1][1], step, rtol, atol)
    if extra_param:
        np.testing.assert_array_equal(as_numpy(runs[0][1][-1]), init[-1])
    return runs[0][2], runs[1][2]


def assert_state_matches_torch(dg_opt, t_opt, rtol=1e-10, atol=1e-12):
    """The two state_dicts have the same layout (keys, groups, state names) and the same values."""
    torch = pytest.importorskip("torch")
    a, b = dg_opt.state_dict(), t_opt.state_dict()
    assert sorted(a["state"]) == sorted(b["state"])
    assert len(a["param_groups"]) == len(b["param_groups"])
    for ga, gb in zip(a["param_groups"], b["param_groups"]):
        assert set(ga) == set(gb)
        assert ga["params"] == gb["params"]
    for k, sa in a["state"].items():
        sb = b["state"][k]
        assert set(sa) == set(sb), f"state {k}: {sorted(sa)} vs PyTorch's {sorted(sb)}"
        for name, va in sa.items():
            vb = sb[name]
            if isinstance(vb, torch.Tensor):
                assert isinstance(va, distgrad.Tensor)
                assert va.shape == tuple(vb.shape) and str(va.dtype).split(".")[1] == str(vb.dtype).split(".")[1]
                np.testing.assert_allclose(as_numpy(va), vb.detach().numpy(), rtol=rtol, atol=atol)
            else:
                assert va == vb


def fresh_leaf(*shape):
    """A float64 leaf tensor that requires grad."""
    return distgrad.randn(*shape, dtype=distgrad.float64, requires_grad=True)
