"""nn.utils: clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters."""
import math

import numpy as np
import pytest

import distgrad
from distgrad import nn
from nn_helpers import close, copy_state, np_of


def _with_grads(lib, seed=0):
    m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Linear(4, 2))
    return m


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.1, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    d, t = _with_grads(distgrad), _with_grads(torch)
    copy_state(d, t, torch)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    d(distgrad.tensor(x)).pow(2).sum().backward()
    t(torch.tensor(x)).pow(2).sum().backward()
    dn = nn.utils.clip_grad_norm_(d.parameters(), max_norm, norm_type)
    tn = torch.nn.utils.clip_grad_norm_(t.parameters(), max_norm, norm_type)
    close(dn, tn, atol=1e-5, rtol=1e-5)
    for p, q in zip(d.parameters(), t.parameters()):
        close(p.grad, q.grad, atol=1e-6, rtol=1e-5)


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(distgrad.zeros(2))
    assert float(nn.utils.clip_grad_norm_([p], 1.0)) == 0.0  # no gradients at all
    p.grad = distgrad.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert p.grad.tolist()[1] == 1.0  # nothing was scaled before the error
    p.grad = distgrad.tensor([3.0, 4.0])
    v = p.grad._version
    total = nn.utils.clip_grad_norm_(p, 10.0)
    assert float(total) == 5.0 and p.grad.tolist()[0] == pytest.approx(3.0, rel=1e-5) and p.grad._version > v


def test_clip_grad_value():
    p, q = nn.Parameter(distgrad.zeros(3)), nn.Parameter(distgrad.zeros(1))
    p.grad = distgrad.tensor([-5.0, 0.2, 3.0])
    assert nn.utils.clip_grad_value_([p, q], 1.0) is None
    assert p.grad.tolist() == [-1.0, pytest.approx(0.2), 1.0]


def test_parameters_vector_roundtrip():
    m = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(m.parameters())
    assert vec.shape == (8,)
    np.testing.assert_array_equal(np_of(vec[:6]).reshape(2, 3), np_of(m.weight))
    vec.sum().backward()  # differentiable, like PyTorch's
    assert m.weight.grad.tolist() == [[1.0] * 3] * 2
    new = distgrad.arange(8.0)
    nn.utils.vector_to_parameters(new, m.parameters())
    assert m.bias.tolist() == [6.0, 7.0] and m.weight.shape == (2, 3)
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        nn.utils.vector_to_parameters([1.0], m.parameters())
    before = np_of(m.weight)
    with pytest.raises(RuntimeError, match="7 elements but the parameters need 8"):
        nn.utils.vector_to_parameters(distgrad.zeros(7), m.parameters())
    np.testing.assert_array_equal(np_of(m.weight), before)
