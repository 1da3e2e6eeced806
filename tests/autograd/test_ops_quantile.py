"""quantile and nanquantile: PyTorch parity (values and gradients) over every interpolation, dim/keepdim,
scalar and tensor q, NaNs; gradcheck; errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from error_parity import assert_raises_like_torch

RNG = np.random.default_rng(0)
X = RNG.permutation(24).reshape(2, 3, 4) * 0.37 - 2.0      # distinct values: no tied gradients
XN = X.copy()
XN[0, 1, 2] = XN[1, 2, :] = np.nan
MODES = ["linear", "lower", "higher", "midpoint", "nearest"]


def _pair(torch, name, data, q, **kw):
    xd, xt = distgrad.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    qd, qt = (distgrad.tensor(q, dtype=distgrad.float64), torch.tensor(q, dtype=torch.float64)) \
        if isinstance(q, list) else (q, q)
    od, ot = getattr(distgrad, name)(xd, qd, **kw), getattr(torch, name)(xt, qt, **kw)
    assert tuple(od.shape) == tuple(ot.shape)
    np.testing.assert_allclose(od.detach().numpy(), ot.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = RNG.standard_normal(tuple(ot.shape))
    gd, gt = distgrad.tensor(g), torch.tensor(g)
    (distgrad.nan_to_num(od) * gd).sum().backward()
    (torch.nan_to_num(ot) * gt).sum().backward()
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("interpolation", MODES)
@pytest.mark.parametrize("dim, keepdim", [(None, False), (None, True), (1, False), (-1, True), (0, False)])
@pytest.mark.parametrize("q", [0.3, 1.0, [0.0, 0.25, 0.5, 0.9]], ids=["q0.3", "q1", "qvec"])
def test_matches_torch(q, dim, keepdim, interpolation):
    torch = pytest.importorskip("torch")
    for name, data in (("quantile", X), ("quantile", XN), ("nanquantile", XN), ("nanquantile", X)):
        _pair(torch, name, data, q, dim=dim, keepdim=keepdim, interpolation=interpolation)


def test_methods_and_float32():
    torch = pytest.importorskip("torch")
    x = X.astype(np.float32)
    a = distgrad.tensor(x).quantile(0.7, dim=2)
    b = torch.tensor(x).quantile(0.7, dim=2)
    assert a.dtype == distgrad.float32
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    np.testing.assert_allclose(distgrad.tensor(XN).nanquantile(0.5).numpy(), torch.tensor(XN).nanquantile(0.5).numpy())


def test_gradcheck():
    x = distgrad.tensor(X, requires_grad=True)
    assert gradcheck(lambda t: distgrad.quantile(t, distgrad.tensor([0.2, 0.7], dtype=distgrad.float64), dim=1), [x])
    assert gradgradcheck(lambda t: distgrad.quantile(t, 0.4, dim=-1), [x])
    assert gradcheck(lambda t: distgrad.nanquantile(t, 0.5, dim=0, interpolation="midpoint"), [x])


ERRORS = {
    "q_range": lambda m: m.quantile(m.ones(3), 1.5),
    "int_input": lambda m: m.quantile(m.tensor([1, 2]), 0.5),
    "interpolation": lambda m: m.quantile(m.ones(3), 0.5, interpolation="x"),
    "q_2d": lambda m: m.quantile(m.ones(3), m.ones(2, 2) * 0.5),
    "empty": lambda m: m.quantile(m.ones(0), 0.5),
    "dim": lambda m: m.quantile(m.ones(3), 0.5, dim=2),
    "q_dtype": lambda m: m.quantile(m.ones(3, dtype=m.float64), m.tensor([0.5])),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch(name):
    assert_raises_like_torch(ERRORS[name])
    torch = pytest.importorskip("torch")
    if name != "dim":
        with pytest.raises(RuntimeError) as ref:
            ERRORS[name](torch)
        with pytest.raises(RuntimeError) as ours:
            ERRORS[name](distgrad)
        assert str(ours.value) == str(ref.value)
