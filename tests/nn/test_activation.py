"""Activation layers and functions: values and gradients against PyTorch, gradcheck, reprs."""
import numpy as np
import pytest

import distgrad
from distgrad import nn
from distgrad.autograd import gradcheck, gradgradcheck
import distgrad.nn.functional as F
from nn_helpers import compare_layer, dg, same_repr

LAYERS = [
    ("ReLU", {}), ("LeakyReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {}),
    ("ELU", {"alpha": 0.5}), ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("SiLU", {}),
    ("Sigmoid", {}), ("Tanh", {}), ("Softmax", {"dim": 1}), ("LogSoftmax", {"dim": -1}),
    ("Softplus", {}), ("Softplus", {"beta": 2.0, "threshold": 3.0}),
]


def _input(dtype=np.float32):
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(dtype) * 3
    x[0, :3] = [25.0, -30.0, 1.6]  # the linear regions of softplus / the saturated tails
    return x


@pytest.mark.parametrize("name,kwargs", LAYERS)
def test_layer_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    d, t = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    compare_layer(torch, d, t, _input(), atol=1e-5)
    compare_layer(torch, d, t, _input(np.float64), atol=1e-10)
    same_repr(d, t)


@pytest.mark.parametrize("name,kwargs", [("ReLU", {}), ("LeakyReLU", {"negative_slope": 0.1}), ("ELU", {}),
                                         ("SiLU", {})])
def test_inplace_variants_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    x = _input()
    d, t = getattr(nn, name)(inplace=True, **kwargs), getattr(torch.nn, name)(inplace=True, **kwargs)
    same_repr(d, t)
    dx, tx = dg(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    dy, ty = d(dx * 1), t(tx * 1)
    np.testing.assert_allclose(dy.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    dy.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    plain = dg(x)
    assert d(plain) is plain and plain._version == 1


@pytest.mark.parametrize("fn", [
    lambda x: F.leaky_relu(x, 0.3), lambda x: F.elu(x, 0.7), F.gelu, lambda x: F.gelu(x, "tanh"), F.silu,
    F.softplus, lambda x: F.softplus(x, 0.5, 1.0)])
def test_own_backward_ops_gradcheck(fn):
    x = np.random.default_rng(1).standard_normal((3, 4)) * 2
    x[np.abs(x) < 0.1] += 0.3  # stay off the kinks where finite differences disagree
    xt = distgrad.tensor(x, requires_grad=True)
    assert gradcheck(fn, (xt,))
    assert gradgradcheck(fn, (xt,))


def test_gelu_and_softplus_errors():
    with pytest.raises(RuntimeError, match="approximate"):
        F.gelu(distgrad.zeros(2), approximate="fast")
    with pytest.raises(RuntimeError, match="floating point"):
        F.silu(distgrad.tensor([1, 2]))


def test_large_inputs_stay_finite():
    x = distgrad.tensor([-1000.0, 1000.0], requires_grad=True)
    for f in (F.silu, F.softplus, F.elu, F.gelu):
        y = f(x)
        y.sum().backward()
        assert np.all(np.isfinite(y.detach().numpy())) and np.all(np.isfinite(x.grad.numpy()))
        x.grad = None
