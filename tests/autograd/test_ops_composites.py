"""addcmul/addcdiv, fmax/fmin, float_power, ldexp, heaviside, gcd/lcm, diff, trapezoid,
cumulative_trapezoid, dist, ravel, broadcast_shapes/broadcast_tensors, logspace: PyTorch parity of values,
dtypes and gradients, gradcheck and gradgradcheck, errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from error_parity import assert_raises_like_torch

RNG = np.random.default_rng(0)
A, B, C = (RNG.standard_normal((3, 4)) for _ in range(3))
ANAN = A.copy()
ANAN[0, 1] = np.nan
BNAN = B.copy()
BNAN[0, 1] = BNAN[2, 2] = np.nan
BNAN[1, 3] = ANAN[1, 3]  # a tie: PyTorch gives its gradient to the first argument
X = np.array([0.0, 0.5, 1.5, 3.0])

CASES = {
    "addcmul": (lambda m, a, b, c: m.addcmul(a, b, c, value=0.5) + a.addcmul(b, c), [A, B, C]),
    "addcdiv": (lambda m, a, b, c: m.addcdiv(a, b, c.exp(), value=-2) + a.addcdiv(b, c.exp()), [A, B, C]),
    "fmax": (lambda m, a, b: m.fmax(a, b), [ANAN, BNAN]),
    "fmin": (lambda m, a, b: a.fmin(b), [ANAN, BNAN]),
    "float_power": (lambda m, a: m.float_power(a.abs() + 0.5, 1.5) + a.float_power(2), [A]),
    "float_power_int": (lambda m: m.float_power(m.tensor([2, 3]), m.tensor([3, 2])), []),
    "ldexp": (lambda m, a: m.ldexp(a, m.tensor([1, 3, 2, 0])), [A]),
    "heaviside": (lambda m, a: m.heaviside(m.tensor([-1.0, 0.0, 2.0], dtype=m.float64), a[0, :1]), [A]),
    "gcd": (lambda m: m.gcd(m.tensor([12, -8, 0, 7]), m.tensor([18, 6, 5, 0])), []),
    "lcm": (lambda m: m.lcm(m.tensor([4, 0, -6]), m.tensor([6, 3, 4])), []),
    "diff": (lambda m, a: m.diff(a) + 0, [A]),
    "diff_n2_dim0": (lambda m, a, b: m.diff(a, n=2, dim=0, prepend=b[:1], append=b[1:]), [A, B]),
    "diff_int": (lambda m: m.diff(m.tensor([1, 4, 9, 16]), n=2), []),
    "diff_bool": (lambda m: m.diff(m.tensor([True, True, False])), []),
    "trapezoid": (lambda m, a: m.trapezoid(a) + m.trapezoid(a, dx=0.5, dim=0).sum(), [A]),
    "trapezoid_x": (lambda m, a, x: m.trapezoid(a, x), [A, X]),
    "cumulative_trapezoid": (lambda m, a, x: m.cumulative_trapezoid(a, x) + m.cumulative_trapezoid(a, dx=2.0),
                             [A, X]),
    "dist": (lambda m, a, b: m.dist(a, b) + a.dist(b, 3) + m.dist(a, b, float("inf")), [A, B]),
    "ravel": (lambda m, a: m.ravel(a.t()) * 2, [A]),
    "broadcast_tensors": (lambda m, a, b: sum(t.sum() for t in m.broadcast_tensors(a[:, :1], b[0])), [A, B]),
    "logspace": (lambda m: m.logspace(-1, 2, 5, base=3.0, dtype=m.float64), []),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    fn, arrays = CASES[name]
    ours = [distgrad.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    od, ot = fn(distgrad, *ours), fn(torch, *theirs)
    assert str(od.dtype).split(".")[-1] == str(ot.dtype).split(".")[-1] and tuple(od.shape) == tuple(ot.shape)
    np.testing.assert_allclose(od.detach().numpy(), ot.detach().numpy(), rtol=1e-12, atol=1e-14)
    if ot.requires_grad and name != "heaviside":  # PyTorch: "the derivative for 'heaviside' is not implemented"
        g = RNG.standard_normal(tuple(ot.shape))
        od.backward(distgrad.tensor(g))
        ot.backward(torch.tensor(g))
        for d, t in zip(ours, theirs):
            ref = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
            np.testing.assert_allclose(d.grad.numpy(), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["addcmul", "addcdiv", "float_power", "diff_n2_dim0", "trapezoid_x",
                                  "cumulative_trapezoid", "dist"])
def test_gradcheck(name):
    fn, arrays = CASES[name]
    inputs = [distgrad.tensor(a, requires_grad=True) for a in arrays]
    f = lambda *t: fn(distgrad, *t)  # noqa: E731
    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)


def test_ldexp_gradient_with_a_negative_exponent():
    # PyTorch 2.13 returns 0 here (it forms 2 ** other in integers); the derivative is 2 ** other
    x = distgrad.ones(2, requires_grad=True)
    distgrad.ldexp(x, distgrad.tensor([-1, 1])).sum().backward()
    assert x.grad.tolist() == [0.5, 2.0]


def test_heaviside_has_no_gradient():
    x = distgrad.tensor([-1.0, 2.0], requires_grad=True)
    assert not distgrad.heaviside(x, distgrad.tensor([0.5])).requires_grad


def test_broadcast_shapes_matches_torch():
    torch = pytest.importorskip("torch")
    for shapes in (((2, 1), (3,)), ((), (4, 1, 2)), (5, (1, 5)), ((0, 1), (3,))):
        assert tuple(distgrad.broadcast_shapes(*shapes)) == tuple(torch.broadcast_shapes(*shapes))


ERRORS = {
    "heaviside_dtypes": lambda m: m.heaviside(m.tensor([1.0]), m.tensor([1])),
    "gcd_float": lambda m: m.gcd(m.tensor([1.0]), m.tensor([2.0])),
    "diff_0d": lambda m: m.diff(m.tensor(1.0)),
    "addcdiv_int": lambda m: m.addcdiv(m.ones(2), m.tensor([1, 2]), m.tensor([1, 2])),
    "broadcast_shapes": lambda m: m.broadcast_shapes((2,), (3,)),
    "logspace_steps": lambda m: m.logspace(0, 1, -1),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch_types(name):
    assert_raises_like_torch(ERRORS[name])


GRAD_CASES = [({}, (4, 5)), ({"spacing": 2.0}, (4, 5)), ({"dim": 1, "edge_order": 2}, (4, 5)),
              ({"spacing": (0.5, 3.0)}, (4, 5)), ({"dim": 0, "edge_order": 2}, (3, 2)),
              ({"spacing": "coords", "dim": 1}, (2, 5)), ({"spacing": "coords", "dim": 1, "edge_order": 2}, (2, 5)),
              ({"dim": (0,)}, (2, 3))]


@pytest.mark.parametrize("kw, shape", GRAD_CASES, ids=[str(k) for k, _ in GRAD_CASES])
def test_gradient_matches_torch(kw, shape):
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal(shape)
    coords = np.array([0.0, 0.5, 1.5, 1.7, 3.0])

    def fn(m, x):
        k = dict(kw)
        if k.get("spacing") == "coords":
            k["spacing"] = (m.tensor(coords, dtype=m.float64),)
        return m.cat([g.reshape(-1) for g in m.gradient(x, **k)])
    xd, xt = distgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    od, ot = fn(distgrad, xd), fn(torch, xt)
    np.testing.assert_allclose(od.detach().numpy(), ot.detach().numpy(), rtol=1e-12, atol=1e-13)
    g = RNG.standard_normal(tuple(ot.shape))
    od.backward(distgrad.tensor(g))
    ot.backward(torch.tensor(g))
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-13)
    assert gradcheck(lambda x: fn(distgrad, x), [distgrad.tensor(a, requires_grad=True)])


def test_vander_and_angle_match_torch():
    torch = pytest.importorskip("torch")
    x = np.array([0.0, 1.5, -2.0, 3.0])
    for kw in ({}, {"N": 2}, {"N": 5, "increasing": True}):
        a, b = distgrad.vander(distgrad.tensor(x), **kw), torch.vander(torch.tensor(x), **kw)
        np.testing.assert_allclose(a.numpy(), b.numpy())
    batch = RNG.standard_normal((2, 3))
    np.testing.assert_allclose(distgrad.linalg.vander(distgrad.tensor(batch), N=4).numpy(),
                               torch.linalg.vander(torch.tensor(batch), N=4).numpy(), rtol=1e-12)
    xv = distgrad.tensor(x, requires_grad=True)
    assert gradcheck(lambda t: distgrad.linalg.vander(t), [xv]) and gradgradcheck(lambda t: distgrad.vander(t, 3), [xv])
    special = np.array([-1.0, -0.0, 0.0, 2.0, np.nan, -np.inf, np.inf])
    np.testing.assert_array_equal(distgrad.angle(distgrad.tensor(special)).numpy(),
                                  torch.angle(torch.tensor(special)).numpy())
    assert distgrad.angle(distgrad.tensor([-1, 2])).dtype == distgrad.float32
    leaf = distgrad.tensor([-1.0, 3.0], requires_grad=True)
    distgrad.angle(leaf).sum().backward()
    assert leaf.grad.tolist() == [0.0, 0.0]
