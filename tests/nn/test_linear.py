"""Linear, Bilinear, Identity, Flatten, Unflatten: values and gradients against PyTorch, init, errors."""
import math

import numpy as np
import pytest

import distgrad
from distgrad import nn
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.autograd.ops.linear import linear
from nn_helpers import compare_layer, np_of, same_repr


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias):
    torch = pytest.importorskip("torch")
    d, t = nn.Linear(4, 3, bias=bias), torch.nn.Linear(4, 3, bias=bias)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    compare_layer(torch, d, t, x)
    same_repr(d, t)


def test_bilinear_matches_torch():
    torch = pytest.importorskip("torch")
    d, t = nn.Bilinear(3, 4, 2), torch.nn.Bilinear(3, 4, 2)
    rng = np.random.default_rng(2)
    x1 = rng.standard_normal((5, 3)).astype(np.float32)
    x2 = rng.standard_normal((5, 4)).astype(np.float32)
    compare_layer(torch, d, t, x1, extra_inputs=(x2,))
    same_repr(d, t)
    same_repr(nn.Bilinear(1, 2, 3, bias=False), torch.nn.Bilinear(1, 2, 3, bias=False))


def test_flatten_unflatten_identity_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5)).astype(np.float32)
    for d, t in ((nn.Flatten(), torch.nn.Flatten()), (nn.Flatten(0, 2), torch.nn.Flatten(0, 2)),
                 (nn.Unflatten(2, (2, 2)), torch.nn.Unflatten(2, (2, 2))),
                 (nn.Unflatten(-1, (5, -1)), torch.nn.Unflatten(-1, (5, -1))),
                 (nn.Identity(3, k=1), torch.nn.Identity(3, k=1))):
        compare_layer(torch, d, t, x)
        same_repr(d, t)


def test_linear_default_init_is_pytorchs():
    lin = nn.Linear(50, 400)
    bound = 1 / math.sqrt(50)
    w, b = np_of(lin.weight), np_of(lin.bias)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound) has standard deviation bound / sqrt(3)
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert lin.weight.dtype == distgrad.float32 and lin.weight.requires_grad
    assert nn.Linear(2, 2, dtype=distgrad.float64).weight.dtype == distgrad.float64


def test_linear_init_is_seeded():
    distgrad.manual_seed(7)
    a = np_of(nn.Linear(3, 3).weight)
    distgrad.manual_seed(7)
    b = np_of(nn.Linear(3, 3).weight)
    np.testing.assert_array_equal(a, b)


def test_linear_errors_name_layer_and_shapes():
    lin = nn.Linear(784, 10)
    with pytest.raises(RuntimeError) as e:
        lin(distgrad.zeros(32, 100))
    assert str(e.value) == ("Linear(in_features=784, out_features=10, bias=True) expected input with last "
                            "dimension 784, got shape (32, 100)")
    with pytest.raises(RuntimeError, match="float64 input"):
        lin(distgrad.zeros(2, 784, dtype=distgrad.float64))
    with pytest.raises(RuntimeError, match=r"cannot be multiplied \(32x100 and 784x10\)"):
        nn.functional.linear(distgrad.zeros(32, 100), lin.weight)
    with pytest.raises(RuntimeError, match="Bilinear"):
        nn.Bilinear(2, 3, 1)(distgrad.zeros(4, 2), distgrad.zeros(4, 2))
    with pytest.raises(RuntimeError, match="Unflatten"):
        nn.Unflatten(1, (3, 3))(distgrad.zeros(2, 8))



def test_linear_layer_runs_through_F_linear(monkeypatch):
    calls = []
    real = nn.functional.linear

    def spy(input, weight, bias=None):
        calls.append((input, weight, bias))
        return real(input, weight, bias)

    monkeypatch.setattr(nn.functional, "linear", spy)
    lin = nn.Linear(3, 2)
    x = distgrad.ones(4, 3)
    lin(x)
    assert calls == [(x, lin.weight, lin.bias)]


def test_linear_layer_error_is_not_chained_to_F_linear():
    lin = nn.Linear(3, 2)
    with pytest.raises(RuntimeError) as e:
        lin(distgrad.zeros(2, 5))
    assert str(e.value).startswith("Linear(in_features=3, out_features=2, bias=True) expected input")
    assert e.value.__context__ is None and e.value.__cause__ is None
    with pytest.raises(TypeError, match="expected a Tensor input, got list"):
        lin([1.0, 2.0, 3.0])


@pytest.mark.parametrize("fn", [nn.functional.linear, linear], ids=["F.linear", "ops.linear"])
def test_F_linear_checks_bias_and_weight(fn):
    x, w = distgrad.ones(4, 3), distgrad.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"bias of shape \(3,\) does not match out_features=2"):
        fn(x, w, distgrad.ones(3))
    with pytest.raises(RuntimeError, match="bias dtype distgrad.float64 differs from weight dtype"):
        fn(x, w, distgrad.ones(2, dtype=distgrad.float64))
    with pytest.raises(RuntimeError, match="weight must be 2-D"):
        fn(x, distgrad.ones(2, 3, 1))
    with pytest.raises(TypeError, match="argument 'bias' must be Tensor"):
        fn(x, w, [0.0, 0.0])
    np.testing.assert_allclose(np_of(fn(x, w, distgrad.ones(1))), np.full((4, 2), 4.0))

def test_linear_op_gradcheck():
    rng = np.random.default_rng(4)
    x = distgrad.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    w = distgrad.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    b = distgrad.tensor(rng.standard_normal(5), requires_grad=True)
    assert gradcheck(linear, (x, w, b))
    assert gradgradcheck(linear, (x, w, b))
    assert gradcheck(lambda x, w: linear(x, w), (x, w))


def test_bilinear_gradcheck():
    rng = np.random.default_rng(5)
    x1 = distgrad.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x2 = distgrad.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = distgrad.tensor(rng.standard_normal((2, 2, 4)), requires_grad=True)
    assert gradcheck(nn.functional.bilinear, (x1, x2, w))


def test_linear_grad_fn_is_one_node():
    lin = nn.Linear(3, 2)
    out = lin(distgrad.ones(4, 3))
    assert out.grad_fn.name() == "LinearBackward0"
    assert [type(n).__name__ for n, _ in out.grad_fn.next_functions] == ["NoneType", "AccumulateGrad", "AccumulateGrad"]
