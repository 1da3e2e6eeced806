"""ops/trigonometric.py and ops/elementwise.py (trigonometric, hyperbolic, copysign, fmod, frac, sgn, nan_to_num...):
PyTorch parity (values, dtypes, gradients), gradcheck and gradgradcheck, in-place forms, errors."""
import math

import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from error_parity import assert_raises_like_torch

F64 = distgrad.float64
RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
POS = RNG.uniform(1.2, 3.0, (3, 4))        # acosh's domain
UNIT = RNG.uniform(-0.9, 0.9, (3, 4))      # atanh's domain
B = RNG.standard_normal((4,)) + np.sign(RNG.standard_normal((4,))) * 0.5

UNARY = {"sinh": A, "cosh": A, "asinh": A, "acosh": POS, "atanh": UNIT, "arcsinh": A, "arccosh": POS,
         "arctanh": UNIT, "deg2rad": A, "rad2deg": A, "frac": A * 3, "sgn": A, "asin": UNIT, "acos": UNIT,
         "atan": A, "arcsin": UNIT, "arccos": UNIT, "arctan": A, "exp2": A}
BINARY = {"atan2": (A, B), "arctan2": (A, B), "hypot": (A, B), "copysign": (A, B), "fmod": (A * 3, B),
          "logaddexp": (A * 10, B), "logaddexp2": (A, B * 30)}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradients(name):
    fn = getattr(distgrad, name)
    x = distgrad.tensor(UNARY[name], dtype=F64, requires_grad=True)
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradients(name):
    fn = getattr(distgrad, name)
    a, b = (distgrad.tensor(v, dtype=F64, requires_grad=True) for v in BINARY[name])
    inputs = [a] if name == "copysign" else [a, b]   # copysign has no gradient for the sign source
    assert gradcheck(lambda *t: fn(*t) if len(t) == 2 else fn(t[0], b.detach()), inputs)
    assert gradgradcheck(lambda *t: fn(*t) if len(t) == 2 else fn(t[0], b.detach()), inputs)


def _both(torch, fn, *arrays, grad=True, rtol=1e-7):
    ours = [distgrad.tensor(a, requires_grad=grad and np.asarray(a).dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=grad and np.asarray(a).dtype.kind == "f") for a in arrays]
    out_d, out_t = fn(distgrad, *ours), fn(torch, *theirs)
    assert str(out_d.dtype).split(".")[-1] == str(out_t.dtype).split(".")[-1]
    np.testing.assert_allclose(out_d.detach().numpy(), out_t.detach().numpy(), rtol=rtol, atol=1e-12)
    if grad and out_t.requires_grad:
        g = RNG.standard_normal(tuple(out_t.shape))
        out_d.backward(distgrad.tensor(g))
        out_t.backward(torch.tensor(g))
        for d, t in zip(ours, theirs):
            if t.requires_grad:
                ref = np.zeros(t.shape) if t.grad is None else t.grad.numpy(force=True)  # sgn: a ZeroTensor
                np.testing.assert_allclose(d.grad.numpy(), ref, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_match_torch(name):
    torch = pytest.importorskip("torch")
    _both(torch, lambda m, x: getattr(m, name)(x) + getattr(x, name)(), UNARY[name])
    if name not in ("frac",):  # integers: a float result (sgn keeps them)
        _both(torch, lambda m, x: getattr(m, name)(x), np.array([1, 2, 3]), grad=False)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_match_torch(name):
    torch = pytest.importorskip("torch")
    a, b = BINARY[name]
    _both(torch, lambda m, x, y: getattr(m, name)(x, y) + getattr(x, name)(y), a, b)
    if name in ("copysign", "fmod"):  # the others refuse a Python number in PyTorch (see ERRORS)
        _both(torch, lambda m, x: getattr(m, name)(x, 1.5), a)
    _both(torch, lambda m, x, y: getattr(m, name)(x, y), a.astype(np.float32), b,  # mixed dtypes promote
          rtol=1e-6)  # the float32 input's gradient is rounded to float32
    if name not in ("hypot", "logaddexp", "logaddexp2"):  # PyTorch has no integer kernels for these
        _both(torch, lambda m, x, y: getattr(m, name)(x, y), np.array([5, -7, 9]), np.array([3, 2, -4]),
              grad=False)


def test_special_values_match_torch():
    torch = pytest.importorskip("torch")
    x = np.array([0.0, -0.0, 1.0, -1.0, 2.0, math.inf, -math.inf, math.nan])
    for name in ("sinh", "cosh", "asinh", "acosh", "atanh", "sgn", "signbit", "frac", "asin", "acos", "atan",
                 "exp2", "isposinf", "isneginf"):
        ours = getattr(distgrad, name)(distgrad.tensor(x)).numpy()
        theirs = getattr(torch, name)(torch.tensor(x)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=4e-16, atol=0, err_msg=name)  # NaN == NaN here
    for kw in ({}, dict(nan=1.0), dict(posinf=5.0, neginf=-5.0)):
        _both(torch, lambda m, t: m.nan_to_num(t * 2, **kw), x)
        _both(torch, lambda m, t: m.nan_to_num(t.float(), **kw), x, grad=False)
    y = np.array([0.0, -0.0, 1.0, -1.0])
    for name in ("atan2", "copysign", "fmod", "hypot", "logaddexp", "logaddexp2"):
        for first in (y, y[::-1].copy()):
            ours = getattr(distgrad, name)(distgrad.tensor(first), distgrad.tensor(y)).numpy()
            theirs = getattr(torch, name)(torch.tensor(first), torch.tensor(y)).numpy()
            if name.startswith("logaddexp"):  # PyTorch's formula leaves ~1e-17 where the sum is exactly 0
                np.testing.assert_allclose(ours, theirs, rtol=1e-15, atol=1e-15, err_msg=name)
            else:
                np.testing.assert_array_equal(ours, theirs, err_msg=name)


def test_in_place_forms_match_torch():
    torch = pytest.importorskip("torch")
    for name, args in (("asin_", ()), ("acos_", ()), ("atan_", ()), ("exp2_", ()), ("sinh_", ()), ("cosh_", ()), ("asinh_", ()), ("atanh_", ()), ("deg2rad_", ()),
                       ("rad2deg_", ()), ("frac_", ()), ("sgn_", ()), ("fmod_", (0.7,)),
                       ("atan2_", (torch.tensor(2.0),)), ("hypot_", (torch.tensor(2.0),)), ("copysign_", (-1.0,)), ("nan_to_num_", ())):
        d, t = distgrad.tensor(UNIT), torch.tensor(UNIT)
        assert getattr(d, name)(*[distgrad.tensor(a.numpy()) if isinstance(a, torch.Tensor) else a
                                  for a in args]) is d
        getattr(t, name)(*args)
        np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-12, err_msg=name)
    leaf = distgrad.tensor(UNIT, requires_grad=True)
    y = leaf * 1.0
    y.sinh_()
    y.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), np.cosh(UNIT), rtol=1e-12)


ERRORS = {
    "hypot_int": lambda m: m.hypot(m.tensor([3]), m.tensor([4])),
    "frac_int": lambda m: m.frac(m.tensor([3])),
    "fmod_int_zero": lambda m: m.fmod(m.tensor([3]), 0),
    "atan2_shapes": lambda m: m.atan2(m.ones(2, 3), m.ones(4)),
    "copysign_shapes": lambda m: m.copysign(m.ones(3), m.ones(2)),
    "atan2_number": lambda m: m.atan2(m.ones(3), 2.0),
    "hypot_number": lambda m: m.hypot(m.ones(3), 2.0),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch_types(name):
    assert_raises_like_torch(ERRORS[name])
