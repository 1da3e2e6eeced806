"""Special functions: the fallback numerics against SciPy, gradients (first and second order),
parity of values and gradients with PyTorch, the torch.special aliases and the errors."""
import math

import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.autograd.ops import special as S

F64 = distgrad.float64


def t64(values, grad=True):
    return distgrad.tensor(values, dtype=F64, requires_grad=grad)


# --- the array numerics without SciPy -----------------------------------------------------------
@pytest.fixture
def no_scipy(monkeypatch):
    monkeypatch.setattr(S, "_scipy", lambda x, name: None)


def _rel(a, b):
    m = np.isfinite(b)
    return np.max(np.abs(a[m] - b[m]) / np.maximum(np.abs(b[m]), 1.0))


def test_fallback_numerics_match_scipy(no_scipy):
    sp = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-20, 30, 500), rng.uniform(0, 3, 300), np.linspace(-5.5, 5.5, 301),
                        [1e-8, 1e3, 1e10]])
    assert _rel(S.lgamma_array(x), sp.gammaln(x)) < 1e-13
    assert _rel(S.digamma_array(x), sp.psi(x)) < 1e-13
    for n in (1, 2, 3):
        assert _rel(S.polygamma_array(n, x), sp.polygamma(n, x)) < 1e-13
    tail = np.linspace(-3, 26, 300)
    assert np.max(np.abs(S.erfc_array(tail) / sp.erfc(tail) - 1)) < 1e-12
    u = np.concatenate([rng.uniform(-1, 1, 500), 1 - np.logspace(-16, -1, 30), -1 + np.logspace(-16, -1, 30)])
    assert _rel(S.erfinv_array(u), sp.erfinv(u)) < 1e-13
    b = np.linspace(-40, 40, 801)
    assert _rel(S.i0_array(b), sp.i0(b)) < 1e-13
    assert _rel(S.i1_array(b), sp.i1(b)) < 1e-13


def test_fallback_special_values(no_scipy):
    assert np.all(np.isposinf(S.lgamma_array(np.array([0.0, -1.0, -np.inf, np.inf]))))
    d = S.digamma_array(np.array([0.0, -0.0, -2.0]))
    assert np.isneginf(d[0]) and np.isposinf(d[1]) and np.isnan(d[2])
    e = S.erfinv_array(np.array([1.0, -1.0, 1.5]))
    assert np.isposinf(e[0]) and np.isneginf(e[1]) and np.isnan(e[2])
    assert S.lgamma_array(np.array([1.5], dtype=np.float32)).dtype == np.float32


# --- gradients ------------------------------------------------------------------------------------
POS = [0.3, 1.7, 4.2, 11.0]
MIXED = [-2.4, -0.6, 0.4, 1.3, 3.0]
UNIT = [-0.9, -0.2, 0.35, 0.8]

SMOOTH = {
    "lgamma": (distgrad.lgamma, MIXED),
    "digamma": (distgrad.digamma, MIXED),
    "polygamma1": (lambda x: distgrad.polygamma(1, x), POS),
    "polygamma3": (lambda x: distgrad.polygamma(3, x), POS),
    "mvlgamma3": (lambda x: distgrad.mvlgamma(x, 3), [1.2, 2.5, 6.0]),
    "erfc": (distgrad.erfc, MIXED),
    "erfinv": (distgrad.erfinv, UNIT),
    "i0": (distgrad.i0, MIXED + [0.0]),
    "i1": (distgrad.special.i1, MIXED + [0.0]),
    "sinc": (distgrad.sinc, MIXED + [0.5]),
    "logit": (distgrad.logit, [0.1, 0.45, 0.9]),
    "logit_eps": (lambda x: distgrad.logit(x, eps=0.2), [0.1, 0.45, 0.9]),
    "entr": (distgrad.special.entr, [0.1, 0.7, 2.0]),
    "ndtr": (distgrad.special.ndtr, MIXED),
    "exp2": (distgrad.special.exp2, MIXED),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_gradcheck_and_gradgradcheck(name):
    fn, values = SMOOTH[name]
    x = t64(values)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("log1p", [False, True])
def test_xlogy_gradients(log1p):
    fn = distgrad.special.xlog1py if log1p else distgrad.xlogy
    a = t64([[0.5, -1.2, 2.0]])
    b = t64([[0.3], [1.4]])
    assert gradcheck(fn, (a, b))
    assert gradgradcheck(fn, (a, b))


def test_xlogy_zero_input_gives_zero_value_and_gradient():
    a = t64([0.0, 0.0, 2.0])
    b = t64([0.0, 3.0, 3.0])  # d/dx at x = 0 is log(y), except 0 where log(y) = -inf (PyTorch's rule)
    out = distgrad.xlogy(a, b)
    assert out.tolist()[:2] == [0.0, 0.0]
    out.sum().backward()
    assert a.grad.tolist() == [0.0, pytest.approx(math.log(3.0)), pytest.approx(math.log(3.0))]
    assert math.isnan(distgrad.xlogy(distgrad.tensor([0.0]), distgrad.tensor([float("nan")])).item())


# --- parity with PyTorch ------------------------------------------------------------------------
def _torch_fns(torch):
    return {
        "lgamma": torch.lgamma, "digamma": torch.digamma,
        "polygamma1": lambda x: torch.polygamma(1, x), "polygamma3": lambda x: torch.polygamma(3, x),
        "mvlgamma3": lambda x: torch.mvlgamma(x, 3), "erfc": torch.erfc, "erfinv": torch.erfinv,
        "i0": torch.i0, "i1": torch.special.i1, "sinc": torch.sinc, "logit": torch.logit,
        "logit_eps": lambda x: torch.logit(x, eps=0.2), "entr": torch.special.entr,
        "ndtr": torch.special.ndtr, "exp2": torch.special.exp2,
    }


def _second_order(fn, x):
    (g,) = distgrad.autograd.grad(fn(x).sum(), x, create_graph=True)
    (gg,) = distgrad.autograd.grad(g.sum(), x)
    return g.detach().numpy(), gg.numpy()


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_parity_with_torch(name):
    torch = pytest.importorskip("torch")
    fn, values = SMOOTH[name]
    tfn = _torch_fns(torch)[name]
    x = t64(values)
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    # PyTorch's own polygamma(n >= 1) is good to about 1e-9 relative (ours follows SciPy to 1e-14)
    rtol = 1e-8 if name.startswith("polygamma") or name == "mvlgamma3" else 1e-10
    np.testing.assert_allclose(fn(x).detach().numpy(), tfn(tx).detach().numpy(), rtol=rtol, atol=1e-12)
    g, gg = _second_order(fn, x)
    (tg,) = torch.autograd.grad(tfn(tx).sum(), tx, create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), tx)
    np.testing.assert_allclose(g, tg.detach().numpy(), rtol=max(rtol, 1e-9), atol=1e-10)
    if name not in ("sinc", "i1"):  # at x = 0 PyTorch's own second derivatives are special-cased
        np.testing.assert_allclose(gg, tgg.numpy(), rtol=max(rtol, 1e-8), atol=1e-9)


@pytest.mark.parametrize("log1p", [False, True])
def test_xlogy_parity_with_torch(log1p):
    torch = pytest.importorskip("torch")
    av, bv = [[0.0, -1.2, 2.0]], [[0.3], [1.4]]
    a, b = t64(av), t64(bv)
    ta = torch.tensor(av, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(bv, dtype=torch.float64, requires_grad=True)
    out = (distgrad.special.xlog1py if log1p else distgrad.xlogy)(a, b)
    tout = (torch.special.xlog1py if log1p else torch.xlogy)(ta, tb)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12)


def test_special_values_match_torch():
    torch = pytest.importorskip("torch")
    v = [0.0, -0.0, -1.0, -2.5, 1e-300, 171.5, float("inf"), float("-inf"), float("nan")]
    x, tx = distgrad.tensor(v, dtype=F64), torch.tensor(v, dtype=torch.float64)
    for ours, theirs in [(distgrad.lgamma, torch.lgamma), (distgrad.digamma, torch.digamma),
                         (distgrad.erfc, torch.erfc), (distgrad.i0, torch.i0), (distgrad.sinc, torch.sinc)]:
        np.testing.assert_allclose(ours(x).numpy(), theirs(tx).numpy(), rtol=1e-12, equal_nan=True)
    u = [-1.0, 1.0, 1.5, 0.0]
    np.testing.assert_array_equal(distgrad.erfinv(distgrad.tensor(u, dtype=F64)).numpy(),
                                  torch.erfinv(torch.tensor(u, dtype=torch.float64)).numpy())


def test_dtypes_follow_torch():
    torch = pytest.importorskip("torch")
    ints = distgrad.tensor([1, 2, 3])
    for name in ("lgamma", "digamma", "erfc", "erfinv", "i0", "sinc"):
        assert str(getattr(distgrad, name)(ints).dtype).split(".")[1] == \
            str(getattr(torch, name)(torch.tensor([1, 2, 3])).dtype).split(".")[1]
    assert distgrad.xlogy(2, distgrad.tensor([1.0, 2.0])).dtype == distgrad.float32
    assert distgrad.xlogy(distgrad.tensor([1, 2]), 3).dtype == distgrad.float32
    assert distgrad.xlogy(distgrad.tensor([1.0], dtype=F64), distgrad.tensor([2.0])).dtype == F64


def test_methods_and_aliases():
    x = distgrad.tensor([0.5, 2.0], dtype=F64)
    np.testing.assert_array_equal(x.polygamma(2).numpy(), distgrad.polygamma(2, x).numpy())
    np.testing.assert_array_equal(x.mvlgamma(1).numpy(), x.lgamma().numpy())
    np.testing.assert_array_equal(distgrad.special.gammaln(x).numpy(), x.lgamma().numpy())
    np.testing.assert_array_equal(distgrad.special.psi(x).numpy(), x.digamma().numpy())
    np.testing.assert_array_equal(distgrad.special.multigammaln(x + 1, 2).numpy(), (x + 1).mvlgamma(2).numpy())
    np.testing.assert_array_equal(distgrad.special.expit(x).numpy(), x.sigmoid().numpy())
    np.testing.assert_array_equal(distgrad.special.polygamma(0, x).numpy(), x.digamma().numpy())
    assert distgrad.special.round(distgrad.tensor([1.25]), decimals=1).tolist() == [1.2000000476837158]
    np.testing.assert_allclose(distgrad.special.softmax(x, 0).numpy(), distgrad.softmax(x, 0).numpy())
    np.testing.assert_allclose(distgrad.special.log_softmax(x, 0).numpy(), distgrad.log_softmax(x, 0).numpy())
    np.testing.assert_allclose(distgrad.special.logsumexp(x, 0).numpy(), math.log(math.exp(0.5) + math.exp(2)))
    for name in ("erf", "erfc", "erfinv", "xlogy", "log1p", "expm1", "sinc", "logit", "i0"):
        assert callable(getattr(distgrad.special, name))
    assert x.erfc().tolist() == distgrad.erfc(x).tolist() and x.erfinv is not None and x.i0 is not None
    assert x.xlogy(x).tolist() == distgrad.xlogy(x, x).tolist() and x.sinc().shape == x.shape
    assert x.logit(0.1).shape == x.shape


def test_errors():
    x = distgrad.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="negative n"):
        distgrad.polygamma(-1, x)
    with pytest.raises(TypeError, match="polygamma"):
        distgrad.polygamma(1.5, x)
    with pytest.raises(RuntimeError, match=r"\(p-1\)/2"):
        distgrad.mvlgamma(x, 3)
    with pytest.raises(RuntimeError, match="greater than or equal to 1"):
        distgrad.mvlgamma(x, 0)
    with pytest.raises(TypeError, match="xlogy"):
        distgrad.xlogy(1.0, 2.0)
    with pytest.raises(RuntimeError):
        distgrad.xlogy(distgrad.ones(2), distgrad.ones(3))
