"""Double backward, op by op: every op of the parity suites, with a constant output gradient.

For each op (tests/autograd/test_parity_torch.CASES and tests/device_cases.EXTRA) the first-order gradient
of each input must require grad exactly when PyTorch's does (PyTorch's backward formulas that take the input,
like the pools', make it require grad even where the second derivative is zero), and differentiating it
again must give PyTorch's values (zeros where PyTorch's are zeros).
"""
import numpy as np
import pytest

import distgrad

import device_cases as DC
import test_parity_torch as P

torch = pytest.importorskip("torch")

CASES = {name: (fn, specs, False) for name, (fn, specs) in P.CASES.items()}
CASES.update({f"extra:{name}": (fn, specs, True) for name, (fn, specs) in DC.EXTRA.items()})


def _inputs(specs, extra):
    if not extra:
        return P._inputs(specs, 0)
    rng = np.random.default_rng(0)
    arrays = [DC.array(kind, shape, rng) for kind, shape in specs]
    return ([distgrad.tensor(a, dtype=distgrad.float64, requires_grad=True) for a in arrays],
            [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays])


def _np(t):
    return None if t is None else np.asarray((t.detach() + 0).tolist())  # + 0 materialises a torch ZeroTensor


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_order_gradients_follow_pytorch(name):
    fn, specs, extra = CASES[name]
    ours, theirs = _inputs(specs, extra)
    out_d, out_t = fn(distgrad, *ours), fn(torch, *theirs)
    g = np.random.default_rng(1).standard_normal(tuple(out_t.shape))
    grads_d = distgrad.autograd.grad(out_d, ours, distgrad.tensor(g, dtype=distgrad.float64), create_graph=True,
                                     allow_unused=True)
    grads_t = torch.autograd.grad(out_t, theirs, torch.tensor(g, dtype=torch.float64), create_graph=True,
                                  allow_unused=True)
    flags_d = [a is not None and a.requires_grad for a in grads_d]
    flags_t = [b is not None and b.requires_grad for b in grads_t]
    assert flags_d == flags_t, f"first-order gradients that require grad: distgrad {flags_d}, torch {flags_t}"
    rng = np.random.default_rng(2)
    vs = [rng.standard_normal(tuple(t.shape)) for t in theirs]
    s_d = [(a * distgrad.tensor(v)).sum() for a, v, f in zip(grads_d, vs, flags_d) if f]
    s_t = [(b * torch.tensor(v)).sum() for b, v, f in zip(grads_t, vs, flags_t) if f]
    if not s_t:
        return
    try:
        second_t = torch.autograd.grad(sum(s_t), theirs, allow_unused=True)
    except (NotImplementedError, RuntimeError) as e:
        if "not implemented" not in str(e):
            raise
        pytest.skip(f"PyTorch has no second derivative here: {e}")
    second_d = distgrad.autograd.grad(sum(s_d), ours, allow_unused=True)
    single = out_t.dtype in (torch.float32, torch.float16) or "float32" in name or "float16" in name
    for i, (a, b) in enumerate(zip(second_d, second_t)):
        what = f"{name}: second derivative w.r.t. input {i}"
        if single and a is not None and b is not None:
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-4, atol=1e-5, err_msg=what)
        else:
            P._close(_np(a), _np(b), what)
