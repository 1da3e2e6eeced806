"""The fused LSTM cell op: values against the composed formula, gradcheck and gradgradcheck, errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.autograd.ops.recurrent import gru_cell_gates, lstm_cell_gates


def _composed(gates, c):
    i, f, g, o = gates.chunk(4, -1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_new.tanh(), c_new


@pytest.mark.parametrize("shape", [(3, 2), (2, 3, 4), (5,)])
def test_matches_the_composed_cell_values_and_gradients(shape):
    rng = np.random.default_rng(0)
    gates_np = rng.standard_normal(shape[:-1] + (4 * shape[-1],)) * 2
    c_np = rng.standard_normal(shape)
    outs, grads = [], []
    for fn in (lstm_cell_gates, _composed):
        gates = distgrad.tensor(gates_np, requires_grad=True)
        c = distgrad.tensor(c_np, requires_grad=True)
        h, c_new = fn(gates, c)
        (h * 3 + c_new.exp()).sum().backward()
        outs.append((h.detach().numpy(), c_new.detach().numpy()))
        grads.append((gates.grad.numpy(), c.grad.numpy()))
    for a, b in zip(outs[0] + grads[0], outs[1] + grads[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_gradcheck_and_gradgradcheck():
    gates = distgrad.randn(3, 8, dtype=distgrad.float64, requires_grad=True)
    c = distgrad.randn(3, 2, dtype=distgrad.float64, requires_grad=True)
    assert gradcheck(lstm_cell_gates, [gates, c])
    assert gradgradcheck(lstm_cell_gates, [gates, c])
    # one output unused: its gradient arrives as zeros
    assert gradcheck(lambda a, b: lstm_cell_gates(a, b)[1], [gates, c])
    assert gradgradcheck(lambda a, b: lstm_cell_gates(a, b)[0], [gates, c])


def test_float32_and_the_node_name():
    h, c = lstm_cell_gates(distgrad.zeros(2, 12), distgrad.ones(2, 3))
    assert h.dtype == distgrad.float32 and c.dtype == distgrad.float32
    g = distgrad.zeros(2, 12, requires_grad=True)
    assert lstm_cell_gates(g, distgrad.ones(2, 3))[0].grad_fn.name() == "LSTMCellGatesBackward0"


def test_shape_errors():
    with pytest.raises(RuntimeError, match=r"gates of shape \[2, 10\] do not fit a cell state of shape \[2, 3\]"):
        lstm_cell_gates(distgrad.zeros(2, 10), distgrad.zeros(2, 3))
    with pytest.raises(RuntimeError, match="do not fit"):
        lstm_cell_gates(distgrad.zeros(3, 12), distgrad.zeros(2, 3))


def _gru_composed(xi, hh, h):
    xr, xz, xn = xi.chunk(3, -1)
    hr, hz, hn = hh.chunk(3, -1)
    r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return (1 - z) * n + z * h


def test_gru_gates_match_the_composed_cell_and_gradcheck():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((3, 6)) * 2, rng.standard_normal((3, 6)), rng.standard_normal((3, 2))]
    results = []
    for fn in (gru_cell_gates, _gru_composed):
        ts = [distgrad.tensor(a, requires_grad=True) for a in arrays]
        out = fn(*ts)
        (out * out).sum().backward()
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    ts = [distgrad.tensor(a, requires_grad=True) for a in arrays]
    assert gradcheck(gru_cell_gates, ts) and gradgradcheck(gru_cell_gates, ts)
    with pytest.raises(RuntimeError, match=r"hh of shape \[3, 5\] does not fit"):
        gru_cell_gates(distgrad.zeros(3, 6), distgrad.zeros(3, 5), distgrad.zeros(3, 2))
