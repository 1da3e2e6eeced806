"""nn.RNN / LSTM / GRU: parity with PyTorch (outputs, final states, gradients of the input, the initial
states and every parameter) in every mode, packed and padded; gradcheck; state dicts; errors."""

import numpy as np
import pytest

import distgrad
from distgrad import nn
from nn_helpers import assert_same_error_as_torch
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.nn.utils import rnn as U

H_IN, H, T, B = 3, 4, 5, 3
LENGTHS = [5, 3, 2]            # sorted, for enforce_sorted=True
UNSORTED = [2, 5, 3]


def _close(ours, theirs, tol=1e-9):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


def _twins(torch, kind, *args, **kwargs):
    """distgrad and torch layers in float64 with PyTorch's weights loaded into ours."""
    theirs = getattr(torch.nn, kind)(*args, dtype=torch.float64, **kwargs)
    ours = getattr(nn, kind)(*args, dtype=distgrad.float64, **kwargs)
    sd = theirs.state_dict()
    assert list(ours.state_dict()) == list(sd)
    ours.load_state_dict({k: distgrad.tensor(v.numpy()) for k, v in sd.items()})
    return ours, theirs


def _states(kind, layers, dirs, batch, hidden, proj, rng):
    h = rng.standard_normal((layers * dirs, batch, proj or hidden))
    return [h, rng.standard_normal((layers * dirs, batch, hidden))] if kind == "LSTM" else [h]


def _flat(out):
    """The tensors of an RNN result: output (or packed data) and the final states."""
    output, hidden = out
    data = output.data if hasattr(output, "batch_sizes") else output  # distgrad's or torch's PackedSequence
    return [data] + (list(hidden) if isinstance(hidden, tuple) else [hidden])


def _run_pair(torch, kind, layer_kw, packed, with_state, lengths=LENGTHS, enforce_sorted=True, seed=0):
    rng = np.random.default_rng(seed)
    ours, theirs = _twins(torch, kind, H_IN, H, **layer_kw)
    bf = layer_kw.get("batch_first", False)
    x = rng.standard_normal((B, T, H_IN) if bf else (T, B, H_IN))
    dirs = 2 if layer_kw.get("bidirectional") else 1
    states = _states(kind, layer_kw.get("num_layers", 1), dirs, B, H, layer_kw.get("proj_size", 0), rng) \
        if with_state else []
    xd, xt = distgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    sd = [distgrad.tensor(s, requires_grad=True) for s in states]
    st = [torch.tensor(s, requires_grad=True) for s in states]
    ind, int_ = xd, xt
    if packed:
        ind = U.pack_padded_sequence(xd, lengths, batch_first=bf, enforce_sorted=enforce_sorted)
        int_ = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first=bf, enforce_sorted=enforce_sorted)
    hx_d = (tuple(sd) if kind == "LSTM" else sd[0]) if states else None
    hx_t = (tuple(st) if kind == "LSTM" else st[0]) if states else None
    out_d, out_t = ours(ind, hx_d), theirs(int_, hx_t)
    fd, ft = _flat(out_d), _flat(out_t)
    assert len(fd) == len(ft)
    for a, b in zip(fd, ft):
        assert tuple(a.shape) == tuple(b.shape)
        _close(a, b)
    if packed:
        for f in ("batch_sizes", "sorted_indices", "unsorted_indices"):
            a, b = getattr(out_d[0], f), getattr(out_t[0], f)
            assert (a is None) == (b is None), f
            if a is not None:
                assert a.tolist() == b.tolist(), f
    gs = [rng.standard_normal(tuple(t.shape)) for t in ft]
    loss_d = sum((a * distgrad.tensor(g)).sum() for a, g in zip(fd, gs))
    loss_t = sum((a * torch.tensor(g)).sum() for a, g in zip(ft, gs))
    loss_d.backward()
    loss_t.backward()
    for a, b in zip([xd] + sd, [xt] + st):
        _close(a.grad, b.grad)
    grads_t = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        _close(p.grad, grads_t[n].grad)


MODES = [dict(), dict(num_layers=2), dict(bidirectional=True), dict(num_layers=2, bidirectional=True),
         dict(batch_first=True), dict(num_layers=2, bidirectional=True, batch_first=True), dict(bias=False)]


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("mode", MODES, ids=lambda m: "-".join(f"{k}={v}" for k, v in m.items()) or "default")
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_layers_match_torch(kind, mode, packed):
    torch = pytest.importorskip("torch")
    _run_pair(torch, kind, mode, packed, with_state=False)
    _run_pair(torch, kind, mode, packed, with_state=True, seed=1)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_unsorted_packed_input_matches_torch(kind, bidirectional):
    torch = pytest.importorskip("torch")
    for with_state in (False, True):
        _run_pair(torch, kind, dict(num_layers=2, bidirectional=bidirectional), True, with_state,
                  lengths=UNSORTED, enforce_sorted=False)


def test_relu_rnn_and_lstm_projection_match_torch():
    torch = pytest.importorskip("torch")
    for packed in (False, True):
        _run_pair(torch, "RNN", dict(nonlinearity="relu", num_layers=2), packed, True)
        _run_pair(torch, "LSTM", dict(proj_size=2, num_layers=2, bidirectional=True), packed, True,
                  lengths=UNSORTED, enforce_sorted=False)
    ours = nn.RNN(3, 4, 2, "relu")  # PyTorch's positional order: nonlinearity fourth
    assert ours.nonlinearity == "relu" and ours.mode == "RNN_RELU" and ours.num_layers == 2


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_matches_torch(kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    ours, theirs = _twins(torch, kind, H_IN, H, num_layers=2, bidirectional=True)
    x = rng.standard_normal((T, H_IN))
    states = [rng.standard_normal((4, H)) for _ in range(2 if kind == "LSTM" else 1)]
    for use_state in (False, True):
        hd = [distgrad.tensor(s) for s in states]
        ht = [torch.tensor(s) for s in states]
        arg_d = (tuple(hd) if kind == "LSTM" else hd[0]) if use_state else None
        arg_t = (tuple(ht) if kind == "LSTM" else ht[0]) if use_state else None
        fd, ft = _flat(ours(distgrad.tensor(x), arg_d)), _flat(theirs(torch.tensor(x), arg_t))
        for a, b in zip(fd, ft):
            assert tuple(a.shape) == tuple(b.shape)
            _close(a, b)


def test_dropout_between_layers():
    torch = pytest.importorskip("torch")
    ours, theirs = _twins(torch, "LSTM", H_IN, H, num_layers=2, dropout=0.5)
    x = np.random.default_rng(0).standard_normal((T, B, H_IN))
    ours.eval()
    theirs.eval()
    _close(ours(distgrad.tensor(x))[0], theirs(torch.tensor(x))[0])  # eval: no dropout, same as PyTorch
    ours.train()
    distgrad.manual_seed(0)
    a = ours(distgrad.tensor(x))[0]
    distgrad.manual_seed(0)
    b = ours(distgrad.tensor(x))[0]
    c = ours(distgrad.tensor(x))[0]
    _close(a, b)  # seeded: the same masks
    assert not np.allclose(a.detach().numpy(), c.detach().numpy())
    assert not np.allclose(a.detach().numpy(), theirs(torch.tensor(x))[0].detach().numpy())


# --- gradcheck ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradcheck_and_gradgradcheck(kind):
    distgrad.manual_seed(0)
    layer = getattr(nn, kind)(2, 3, num_layers=2, bidirectional=True, dtype=distgrad.float64)
    x = distgrad.randn(3, 2, 2, dtype=distgrad.float64, requires_grad=True)
    names = [n for n, _ in layer.named_parameters()]

    def fn(x, *params):
        for n, p in zip(names, params):
            layer._parameters[n] = p
        out, _ = layer(x)
        return out

    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert gradcheck(fn, [x] + params)
    assert gradgradcheck(fn, [x] + params[:2])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradcheck_packed(kind):
    distgrad.manual_seed(1)
    layer = getattr(nn, kind)(2, 3, bidirectional=True, dtype=distgrad.float64)
    x = distgrad.randn(4, 3, 2, dtype=distgrad.float64, requires_grad=True)

    def fn(x):
        out, _ = layer(U.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False))
        return U.pad_packed_sequence(out)[0]

    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


# --- parameters, state dicts, repr -------------------------------------------------------------

def test_parameter_names_shapes_and_state_dict_both_ways():
    torch = pytest.importorskip("torch")
    for kind, kw in (("LSTM", dict(num_layers=2, bidirectional=True, proj_size=2)), ("GRU", dict(num_layers=2)),
                     ("RNN", dict(bias=False, bidirectional=True))):
        theirs = getattr(torch.nn, kind)(H_IN, H, **kw)
        ours = getattr(nn, kind)(H_IN, H, **kw)
        assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
               [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
        assert ours._flat_weights_names == theirs._flat_weights_names
        assert ours._all_weights == theirs._all_weights
        assert repr(ours) == repr(theirs)
        theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
        x = np.random.default_rng(0).standard_normal((T, B, H_IN)).astype(np.float32)
        _close(ours(distgrad.tensor(x))[0], theirs(torch.tensor(x))[0], 1e-5)
        ours.flatten_parameters()


def test_default_init_range():
    distgrad.manual_seed(0)
    layer = nn.GRU(5, 16, num_layers=2)
    bound = 1 / np.sqrt(16)
    for p in layer.parameters():
        a = p.detach().numpy()
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.8 * bound


def test_weight_tying_through_all_weights():
    layer = nn.LSTM(3, 3)
    assert layer.all_weights[0][0] is layer.weight_ih_l0
    assert len(list(layer.parameters())) == 4


# --- errors ------------------------------------------------------------------------------------

def _error_cases(m):
    cases = {
        "nonlinearity": lambda: m.nn.RNN(3, 4, nonlinearity="sig"),
        "gru_proj": lambda: m.nn.GRU(3, 4, proj_size=2),
        "proj_too_big": lambda: m.nn.LSTM(3, 4, proj_size=4),
        "dropout_range": lambda: m.nn.LSTM(3, 4, dropout=1.5),
        "hidden_zero": lambda: m.nn.LSTM(3, 0),
        "layers_zero": lambda: m.nn.LSTM(3, 4, num_layers=0),
        "input_size": lambda: m.nn.LSTM(3, 4)(m.randn(5, 2, 4)),
        "lstm_4d": lambda: m.nn.LSTM(3, 4)(m.randn(5, 2, 3, 1)),
        "gru_4d": lambda: m.nn.GRU(3, 4)(m.randn(5, 2, 3, 1)),
        "rnn_4d": lambda: m.nn.RNN(3, 4)(m.randn(5, 2, 3, 1)),
        "h0_batch": lambda: m.nn.LSTM(3, 4)(m.randn(5, 2, 3), (m.randn(1, 3, 4), m.randn(1, 2, 4))),
        "c0_size": lambda: m.nn.LSTM(3, 4)(m.randn(5, 2, 3), (m.randn(1, 2, 4), m.randn(1, 2, 5))),
        "lstm_hx_dims": lambda: m.nn.LSTM(3, 4)(m.randn(5, 2, 3), (m.randn(2, 4), m.randn(1, 2, 4))),
        "lstm_unbatched_hx": lambda: m.nn.LSTM(3, 4)(m.randn(5, 3), (m.randn(1, 2, 4), m.randn(1, 2, 4))),
        "gru_layers": lambda: m.nn.GRU(3, 4)(m.randn(5, 2, 3), m.randn(2, 2, 4)),
        "gru_hx_dims": lambda: m.nn.GRU(3, 4)(m.randn(5, 2, 3), m.randn(2, 4)),
        "gru_unbatched_hx": lambda: m.nn.GRU(3, 4)(m.randn(5, 3), m.randn(1, 2, 4)),
        "dtype": lambda: m.nn.GRU(3, 4)(m.randn(5, 2, 3, dtype=m.float64)),
        "packed_h0": lambda: m.nn.GRU(3, 4)(m.nn.utils.rnn.pack_sequence([m.randn(3, 3), m.randn(2, 3)]),
                                            m.randn(1, 3, 4)),
    }
    return cases


@pytest.mark.parametrize("name", sorted(_error_cases(distgrad)))
def test_errors_match_torch(name):
    assert_same_error_as_torch(_error_cases, name)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.5)
