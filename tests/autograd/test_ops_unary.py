"""Elementwise functions: gradients (first and second order), values against NumPy/math,
integer-to-float promotion, clamp's bounds and the in-place variants' rules."""
import math

import numpy as np
import pytest

import distgrad
from distgrad import backend
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64


def rnd(*shape):
    return distgrad.randn(*shape, dtype=F64).requires_grad_()


def pos(*shape):
    return (distgrad.rand(*shape, dtype=F64) + 0.5).requires_grad_()


def away_from_zero(*shape):
    """Random values with |x| >= 0.2, away from the kinks of abs/relu/clamp."""
    x = distgrad.randn(*shape, dtype=F64)
    return (x + distgrad.sign(x) * 0.2).requires_grad_()


# name -> (fn, input maker, numpy reference, smooth)
UNARY = {
    "neg": (distgrad.neg, rnd, np.negative, True),
    "exp": (distgrad.exp, rnd, np.exp, True),
    "expm1": (distgrad.expm1, rnd, np.expm1, True),
    "log": (distgrad.log, pos, np.log, True),
    "log1p": (distgrad.log1p, pos, np.log1p, True),
    "log2": (distgrad.log2, pos, np.log2, True),
    "log10": (distgrad.log10, pos, np.log10, True),
    "sqrt": (distgrad.sqrt, pos, np.sqrt, True),
    "rsqrt": (distgrad.rsqrt, pos, lambda a: 1 / np.sqrt(a), True),
    "square": (distgrad.square, rnd, np.square, True),
    "reciprocal": (distgrad.reciprocal, pos, np.reciprocal, True),
    "sin": (distgrad.sin, rnd, np.sin, True),
    "cos": (distgrad.cos, rnd, np.cos, True),
    "tan": (distgrad.tan, rnd, np.tan, True),
    "tanh": (distgrad.tanh, rnd, np.tanh, True),
    "sigmoid": (distgrad.sigmoid, rnd, lambda a: 1 / (1 + np.exp(-a)), True),
    "erf": (distgrad.erf, rnd, np.vectorize(math.erf), True),
    "relu": (distgrad.relu, away_from_zero, lambda a: np.maximum(a, 0), False),
    "abs": (distgrad.abs, away_from_zero, np.abs, False),
    "sign": (distgrad.sign, away_from_zero, np.sign, False),
    "floor": (distgrad.floor, rnd, np.floor, False),
    "ceil": (distgrad.ceil, rnd, np.ceil, False),
    "round": (distgrad.round, rnd, np.round, False),
    "trunc": (distgrad.trunc, rnd, np.trunc, False),
    "clamp": (lambda x: distgrad.clamp(x, -0.5, 0.5), away_from_zero, lambda a: np.clip(a, -0.5, 0.5), False),
    "clamp_min": (lambda x: x.clamp(min=0.1), away_from_zero, lambda a: np.maximum(a, 0.1), False),
    "clip_max": (lambda x: x.clip(max=-0.1), away_from_zero, lambda a: np.minimum(a, -0.1), False),
    "abs_operator": (lambda x: abs(x), away_from_zero, np.abs, False),
}


@pytest.mark.parametrize("shape", [(), (5,), (2, 3)], ids=str)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck_and_values(name, shape):
    fn, make, ref, smooth = UNARY[name]
    x = make(*shape)
    out = fn(x)
    assert out.shape == x.shape and out.dtype == F64
    np.testing.assert_allclose(out.detach().numpy(), ref(x.detach().numpy()), rtol=1e-12, atol=1e-12)
    assert gradcheck(fn, (x,))
    if smooth:
        assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "erf", "expm1",
                                  "log1p", "rsqrt", "log2", "tan"])
def test_float_functions_promote_integers_to_default_float(name):
    fn = UNARY[name][0]
    out = fn(distgrad.tensor([1, 2]))
    assert out.dtype == distgrad.float32


@pytest.mark.parametrize("name", ["neg", "abs", "relu", "sign", "floor", "ceil", "round", "trunc"])
def test_integer_preserving_functions_keep_the_dtype(name):
    fn = UNARY[name][0]
    out = fn(distgrad.tensor([-2, 3]))
    assert out.dtype == distgrad.int64


def test_float32_stays_float32():
    x = distgrad.randn(3)
    for fn in (distgrad.exp, distgrad.sigmoid, distgrad.tanh, distgrad.erf, distgrad.relu):
        assert fn(x).dtype == distgrad.float32


def test_sigmoid_is_stable_for_large_inputs():
    x = distgrad.tensor([-1000.0, 0.0, 1000.0])
    np.testing.assert_allclose(distgrad.sigmoid(x).numpy(), [0.0, 0.5, 1.0])


def test_erf_accuracy_over_a_wide_range():
    xs = np.linspace(-6, 6, 101)
    np.testing.assert_allclose(distgrad.erf(distgrad.tensor(xs)).numpy(), [math.erf(v) for v in xs],
                               rtol=1e-12, atol=1e-14)


def test_erf_without_scipy_uses_its_own_formula(monkeypatch):
    # backend caches "no scipy.special.erf" as None: the op then falls back to its series / continued fraction
    monkeypatch.setitem(backend._SPECIAL_FUNCTIONS, (np, "erf"), None)
    xs = np.linspace(-6, 6, 101)
    np.testing.assert_allclose(distgrad.erf(distgrad.tensor(xs)).numpy(), [math.erf(v) for v in xs],
                               rtol=1e-12, atol=1e-14)
    assert distgrad.erf(distgrad.tensor([0.5], dtype=distgrad.float32)).dtype == distgrad.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_erf_in_single_and_half_precision_is_within_an_ulp_and_a_half(dtype):
    # the rational fit of ops/special.py, checked against float64 erf (math.erf, vectorised) on a dense grid
    xs = np.concatenate([np.linspace(-5, 5, 200_001), [0.0, -0.0, 1e-30, -1e-30, 1e-8, np.inf, -np.inf]]).astype(dtype)
    got = distgrad.erf(distgrad.from_numpy(xs)).numpy()
    assert got.dtype == dtype
    want = np.array([math.erf(float(v)) for v in xs])
    ulps = np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    assert ulps.max() <= 0.55, (xs[ulps.argmax()], ulps.max())  # correctly rounded within 0.05 ulp
    assert np.isnan(distgrad.erf(distgrad.tensor([float("nan")])).item())
    assert got[xs == -0.0][0] == 0.0


def test_special_function_is_scipy_when_installed():
    special = pytest.importorskip("scipy.special")
    assert backend.special_function(np, "erf") is special.erf
    assert backend.special_function(np, "no_such_function") is None


def test_round_decimals():
    x = distgrad.tensor([1.2345, -2.5, 0.5, 1.5])
    np.testing.assert_allclose(distgrad.round(x, decimals=2).numpy(), np.round(x.numpy(), 2))
    assert distgrad.round(x).tolist() == [1.0, -2.0, 0.0, 2.0]  # half to even, as PyTorch


def test_clamp_gradient_passes_on_the_bounds():
    x = distgrad.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
    x.clamp(0.0, 1.0).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_clamp_with_tensor_bounds():
    x = rnd(4)
    lo, hi = distgrad.full((4,), -0.3, dtype=F64), distgrad.full((4,), 0.3, dtype=F64)
    out = distgrad.clamp(x, lo, hi)
    np.testing.assert_allclose(out.detach().numpy(), np.clip(x.detach().numpy(), -0.3, 0.3))


def test_clamp_needs_a_bound():
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        distgrad.clamp(distgrad.ones(2))


def test_relu_gradient_is_zero_at_zero():
    x = distgrad.tensor([-1.0, 0.0, 1.0], requires_grad=True)
    x.relu().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]


def test_abs_gradient_is_zero_at_zero():
    x = distgrad.tensor([-1.0, 0.0, 1.0], requires_grad=True)
    x.abs().sum().backward()
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]


def test_rounding_functions_have_zero_gradient():
    x = rnd(3)
    for fn in (distgrad.floor, distgrad.ceil, distgrad.round, distgrad.trunc, distgrad.sign):
        g, = distgrad.autograd.grad(fn(x).sum(), x)
        assert g.tolist() == [0.0, 0.0, 0.0]


def test_methods_are_bound():
    x = pos(3)
    for name in ("exp", "log", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs",
                 "neg", "negative", "square", "reciprocal", "expm1", "log1p", "log2", "log10", "sign",
                 "floor", "ceil", "round", "trunc", "erf"):
        assert getattr(x, name)().shape == (3,)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_sigmoid_at_extremes_matches_torch_without_warnings(dtype):
    torch = pytest.importorskip("torch")
    import warnings
    x = np.array([-1e4, -800.0, -100.0, -20.0, -5.0, 0.0, 5.0, 20.0, 100.0, 1e4]).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = distgrad.sigmoid(distgrad.tensor(x)).numpy()
    theirs = torch.sigmoid(torch.tensor(x)).numpy()
    assert ours.dtype == theirs.dtype
    tiny = np.finfo(dtype).tiny  # below the smallest normal number the two may round differently
    np.testing.assert_allclose(ours, theirs, rtol=2 * np.finfo(dtype).eps, atol=tiny)
    np.testing.assert_array_equal(distgrad.sigmoid(distgrad.tensor(x[0])).numpy(), 0.0)  # 0-d input
