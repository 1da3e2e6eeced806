"""nn.RNNCell / LSTMCell / GRUCell: parity with PyTorch (values and every gradient), batched and unbatched,
gradcheck and gradgradcheck, parameters and errors."""

import numpy as np
import pytest

import distgrad
from distgrad import nn
from nn_helpers import assert_same_error_as_torch
from distgrad.autograd import gradcheck, gradgradcheck

CELLS = [("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu")), ("RNNCell", dict(bias=False)),
         ("LSTMCell", {}), ("LSTMCell", dict(bias=False)), ("GRUCell", {}), ("GRUCell", dict(bias=False))]


def _close(ours, theirs, tol=1e-9):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


def _twins(torch, kind, **kw):
    theirs = getattr(torch.nn, kind)(3, 4, dtype=torch.float64, **kw)
    ours = getattr(nn, kind)(3, 4, dtype=distgrad.float64, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: distgrad.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _as_list(out):
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("kind, kw", CELLS, ids=[f"{k}-{kw}" for k, kw in CELLS])
def test_cells_match_torch(kind, kw, with_state, batched):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ours, theirs = _twins(torch, kind, **kw)
    lead = (2,) if batched else ()
    x = rng.standard_normal(lead + (3,))
    states = [rng.standard_normal(lead + (4,)) for _ in range(2 if kind == "LSTMCell" else 1)] if with_state else []
    xd, xt = distgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    sd = [distgrad.tensor(s, requires_grad=True) for s in states]
    st = [torch.tensor(s, requires_grad=True) for s in states]
    arg_d = (tuple(sd) if kind == "LSTMCell" else sd[0]) if states else None
    arg_t = (tuple(st) if kind == "LSTMCell" else st[0]) if states else None
    out_d, out_t = _as_list(ours(xd, arg_d)), _as_list(theirs(xt, arg_t))
    for a, b in zip(out_d, out_t):
        assert tuple(a.shape) == tuple(b.shape)
        _close(a, b)
    gs = [rng.standard_normal(tuple(t.shape)) for t in out_t]
    sum((a * distgrad.tensor(g)).sum() for a, g in zip(out_d, gs)).backward()
    sum((a * torch.tensor(g)).sum() for a, g in zip(out_t, gs)).backward()
    for a, b in zip([xd] + sd, [xt] + st):
        _close(a.grad, b.grad)
    grads_t = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        _close(p.grad, grads_t[n].grad)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_gradcheck_and_gradgradcheck(kind):
    distgrad.manual_seed(0)
    cell = getattr(nn, kind)(2, 3, dtype=distgrad.float64)
    x = distgrad.randn(2, 2, dtype=distgrad.float64, requires_grad=True)
    h = distgrad.randn(2, 3, dtype=distgrad.float64, requires_grad=True)
    c = distgrad.randn(2, 3, dtype=distgrad.float64, requires_grad=True)
    w = cell.weight_hh.detach().clone().requires_grad_()

    def fn(x, h, c, w):
        cell._parameters["weight_hh"] = w
        out = cell(x, (h, c)) if kind == "LSTMCell" else cell(x, h)
        return out[0] * out[1] if kind == "LSTMCell" else out

    assert gradcheck(fn, [x, h, c, w])
    assert gradgradcheck(fn, [x, h, c, w])


def _error_cases(m):
    return {
        "lstm_input_3d": lambda: m.nn.LSTMCell(3, 4)(m.randn(2, 3, 1)),
        "input_size": lambda: m.nn.LSTMCell(3, 4)(m.randn(2, 5)),
        "hidden_batch": lambda: m.nn.LSTMCell(3, 4)(m.randn(2, 3), (m.randn(3, 4), m.randn(2, 4))),
        "hidden_size": lambda: m.nn.LSTMCell(3, 4)(m.randn(2, 3), (m.randn(2, 5), m.randn(2, 4))),
        "cell_size": lambda: m.nn.LSTMCell(3, 4)(m.randn(2, 3), (m.randn(2, 4), m.randn(2, 6))),
        "lstm_hx_3d": lambda: m.nn.LSTMCell(3, 4)(m.randn(2, 3), (m.randn(2, 4, 1), m.randn(2, 4))),
        "gru_hidden_3d": lambda: m.nn.GRUCell(3, 4)(m.randn(2, 3), m.randn(2, 4, 1)),
        "rnn_input_3d": lambda: m.nn.RNNCell(3, 4)(m.randn(2, 3, 3)),
        "rnn_nonlinearity": lambda: m.nn.RNNCell(3, 4, nonlinearity="x")(m.randn(2, 3)),
        "gru_batch": lambda: m.nn.GRUCell(3, 4)(m.randn(2, 3), m.randn(3, 4)),
    }


@pytest.mark.parametrize("name", sorted(_error_cases(distgrad)))
def test_errors_match_torch(name):
    assert_same_error_as_torch(_error_cases, name)


def test_a_cell_unrolled_by_hand_equals_the_layer():
    """An LSTMCell stepped over time with the layer's weights gives nn.LSTM's output."""
    distgrad.manual_seed(0)
    layer, cell = nn.LSTM(3, 4, dtype=distgrad.float64), nn.LSTMCell(3, 4, dtype=distgrad.float64)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = distgrad.randn(5, 2, 3, dtype=distgrad.float64)
    out, (h_n, c_n) = layer(x)
    h = c = distgrad.zeros(2, 4, dtype=distgrad.float64)
    for t in range(5):
        h, c = cell(x[t], (h, c))
        _close(out[t], h, 1e-12)
    _close(h_n[0], h, 1e-12)
    _close(c_n[0], c, 1e-12)
