"""Higher-order derivatives through ``create_graph=True``: repeated ``grad`` calls,
Hessian-vector products, and double backward through tanh, exp and matmul."""
import numpy as np
import pytest

import distgrad
from distgrad import autograd


def f64(values):
    return distgrad.tensor(values, dtype=distgrad.float64, requires_grad=True)


def test_third_derivative_of_x4():
    x = f64([2.0, -1.5])
    (d1,) = autograd.grad((x ** 4).sum(), x, create_graph=True)
    assert d1.requires_grad and d1.grad_fn is not None
    (d2,) = autograd.grad(d1.sum(), x, create_graph=True)
    (d3,) = autograd.grad(d2.sum(), x)
    xs = np.array([2.0, -1.5])
    np.testing.assert_allclose(d1.detach().numpy(), 4 * xs ** 3)
    np.testing.assert_allclose(d2.detach().numpy(), 12 * xs ** 2)
    np.testing.assert_allclose(d3.numpy(), 24 * xs)
    assert not d3.requires_grad  # the last call did not build a graph


def test_fourth_and_fifth_derivatives():
    x = f64(1.5)
    d = x ** 4
    values = []
    for _ in range(5):
        (d,) = autograd.grad(d, x, create_graph=True, allow_unused=True, materialize_grads=True)
        values.append(d.item())
    assert values == [4 * 1.5 ** 3, 12 * 1.5 ** 2, 24 * 1.5, 24.0, 0.0]


def test_without_create_graph_the_gradient_is_constant():
    x = f64([1.0])
    (g,) = autograd.grad((x ** 3).sum(), x)
    assert not g.requires_grad and g.grad_fn is None


def test_backward_with_create_graph_makes_differentiable_grad():
    x = f64([3.0])
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.grad_fn is not None
    assert g.tolist() == [27.0]
    (h,) = autograd.grad(g.sum(), x)
    assert h.tolist() == [18.0]


def test_hessian_vector_product():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 3))
    A = a + a.T  # f(x) = 0.5 x^T A x + sum(sin x): H = A - diag(sin x)
    x = f64(rng.standard_normal(3))
    v = distgrad.tensor(rng.standard_normal(3), dtype=distgrad.float64)
    At = distgrad.tensor(A)
    f = 0.5 * (x @ (At @ x)) + x.sin().sum()
    (g,) = autograd.grad(f, x, create_graph=True)
    (hv,) = autograd.grad(g, x, grad_outputs=v, retain_graph=True)
    H = A - np.diag(np.sin(x.detach().numpy()))
    np.testing.assert_allclose(hv.numpy(), H @ v.numpy(), rtol=1e-10)
    (hv2,) = autograd.grad((g * v).sum(), x)  # the same product through a scalar
    np.testing.assert_allclose(hv2.numpy(), hv.numpy(), rtol=1e-12)


@pytest.mark.parametrize("fn,second", [
    (lambda x: x.tanh(), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    (lambda x: x.exp(), np.exp),
    (lambda x: x.sigmoid(), lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
    (lambda x: x.log(), lambda x: -1 / x ** 2),
    (lambda x: x.sqrt(), lambda x: -0.25 * x ** -1.5),
    (lambda x: 1 / x, lambda x: 2 / x ** 3),
    (lambda x: x.sin() * x, lambda x: 2 * np.cos(x) - x * np.sin(x)),
])
def test_second_derivative_elementwise(fn, second):
    xs = np.array([0.3, 1.2, 2.5])
    x = f64(xs)
    (g,) = autograd.grad(fn(x).sum(), x, create_graph=True)
    (h,) = autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), second(xs), rtol=1e-9)


def test_grad_of_grad_through_matmul_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    ws, xs = rng.standard_normal((3, 4)), rng.standard_normal((5, 3))
    out = []
    for mod in (torch, distgrad):
        w = mod.tensor(ws, requires_grad=True)
        x = mod.tensor(xs, requires_grad=True)
        y = ((x @ w).tanh() ** 2).sum()
        (gw,) = mod.autograd.grad(y, w, create_graph=True)
        penalty = (gw * gw).sum()  # a gradient penalty, as in WGAN-GP
        gx, gw2 = mod.autograd.grad(penalty, [x, w])
        out.append((gx.detach().numpy().copy(), gw2.detach().numpy().copy()))
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=1e-9)
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=1e-9)


def test_mixed_partial_derivatives():
    x, y = f64(1.5), f64(-0.5)
    f = x * x * y.exp() + (x * y).sin()
    gx, gy = autograd.grad(f, [x, y], create_graph=True)
    (gxy,) = autograd.grad(gx, y, retain_graph=True)
    (gyx,) = autograd.grad(gy, x)
    xv, yv = 1.5, -0.5
    expected = 2 * xv * np.exp(yv) + np.cos(xv * yv) - xv * yv * np.sin(xv * yv)
    assert gxy.item() == pytest.approx(expected, rel=1e-12)
    assert gyx.item() == pytest.approx(expected, rel=1e-12)


def test_gradgradcheck_on_composed_function():
    x = f64([0.5, -0.3, 1.1])
    w = f64([[0.2, -0.4, 0.7], [1.0, 0.1, -0.5]])
    assert autograd.gradgradcheck(lambda a, b: (b @ a).tanh() * a.sum(), (x, w))
