"""The fused LSTM and GRU cells: gate activations and the state update in one node each.

An LSTM step composed of ops records a dozen nodes (split, three sigmoids, two tanh, the
products and sums), and a training step of a 2-layer LSTM over 64 time steps runs each of
them 256 times forward and back.  :class:`LSTMCellGates` takes the gate pre-activations
``x W_ih^T + b_ih + h W_hh^T + b_hh`` (B, 4H) and the cell state ``c`` (B, H) and returns
``(h', c')`` with PyTorch's gate order (i, f, g, o):

    c' = sigmoid(f) * c + sigmoid(i) * tanh(g),    h' = sigmoid(o) * tanh(c')

:class:`GRUCellGates` takes the projected input ``x W_ih^T + b_ih`` and hidden product
``h W_hh^T + b_hh`` (both (B, 3H), gates r, z, n) and ``h``, and returns
``n + z (h - n)`` with ``n = tanh(x_n + r h_n)``.

Each backward is written once against ``xp``: in an ordinary pass it uses the activations
kept from forward; under ``create_graph=True`` it recomputes them from the saved inputs with
Tensor ops, so second derivatives are exact.

Example::

    >>> import distgrad
    >>> from distgrad.autograd.ops.recurrent import lstm_cell_gates
    >>> h, c = lstm_cell_gates(distgrad.zeros(1, 8), distgrad.ones(1, 2))
    >>> c   # sigmoid(0) * 1 + sigmoid(0) * tanh(0)
    tensor([[0.5000, 0.5000]])
"""
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.activation import _sigmoid, _tanh
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.tensor import Tensor


def _activations(gates, c):
    """(i, f, g, o, tanh(c')) and c' for gate pre-activations ``gates`` and cell state ``c``."""
    n = c.shape[-1]
    s = _sigmoid(gates)  # the g quarter is computed and ignored: one pass over contiguous memory
    i, f, o = s[..., :n], s[..., n:2 * n], s[..., 3 * n:]
    g = _tanh(gates[..., 2 * n:3 * n])
    c_new = f * c + i * g
    return (i, f, g, o, _tanh(c_new)), c_new


class LSTMCellGates(ArrayFunction):
    """``(gates, c) -> (h', c')`` of one LSTM step (see the module docstring)."""

    node_name = "LSTMCellGatesBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, gates, c):
        acts, c_new = _activations(gates, c)
        ctx.save_for_backward(gates, c)
        ctx.acts = acts
        return acts[3] * acts[4], c_new

    @staticmethod
    def backward(ctx, gh, gc):  # a missing gradient arrives as zeros (materialize_grads)
        gates, c = ctx.saved_tensors
        # under create_graph the activations must be functions of the recorded inputs
        i, f, g, o, tc = _activations(gates, c)[0] if isinstance(gh, Tensor) else ctx.acts
        dc = gc + gh * o * (1 - tc * tc)
        dgates = xp_of(gh).concatenate([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g),
                                        gh * tc * o * (1 - o)], axis=-1)
        return dgates, dc * f


def lstm_cell_gates(gates, c):
    """One LSTM step from gate pre-activations (B, 4H) and cell state (B, H): ``(h', c')``, one node."""
    n = c.shape[-1]
    if gates.shape[-1] != 4 * n or gates.shape[:-1] != c.shape[:-1]:
        raise RuntimeError(f"lstm_cell_gates: gates of shape {list(gates.shape)} do not fit a cell state of "
                           f"shape {list(c.shape)} (expected gates (*, {4 * n}))")
    return LSTMCellGates.apply(gates, c)


def _gru_activations(xi, hh, h):
    """(r, z, n) for the projected input ``xi``, the hidden product ``hh`` and the state ``h``."""
    k = h.shape[-1]
    rz = _sigmoid(xi[..., :2 * k] + hh[..., :2 * k])
    r, z = rz[..., :k], rz[..., k:]
    return r, z, _tanh(xi[..., 2 * k:] + r * hh[..., 2 * k:])


class GRUCellGates(ArrayFunction):
    """``(xi, hh, h) -> h'`` of one GRU step (see the module docstring)."""

    node_name = "GRUCellGatesBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, xi, hh, h):
        r, z, n = _gru_activations(xi, hh, h)
        ctx.save_for_backward(xi, hh, h)
        ctx.acts = (r, z, n)
        return n + z * (h - n)

    @staticmethod
    def backward(ctx, g):
        xi, hh, h = ctx.saved_tensors
        r, z, n = _gru_activations(xi, hh, h) if isinstance(g, Tensor) else ctx.acts
        k = h.shape[-1]
        dn = g * (1 - z) * (1 - n * n)
        dz = g * (h - n) * z * (1 - z)
        dr = dn * hh[..., 2 * k:] * r * (1 - r)
        xp = xp_of(g)
        return (xp.concatenate([dr, dz, dn], axis=-1), xp.concatenate([dr, dz, dn * r], axis=-1), g * z)


def gru_cell_gates(xi, hh, h):
    """One GRU step from the projected input and hidden product (B, 3H) and the state (B, H), one node."""
    k = h.shape[-1]
    for name, t in (("xi", xi), ("hh", hh)):
        if t.shape[-1] != 3 * k or t.shape[:-1] != h.shape[:-1]:
            raise RuntimeError(f"gru_cell_gates: {name} of shape {list(t.shape)} does not fit a hidden state of "
                               f"shape {list(h.shape)} (expected (*, {3 * k}))")
    return GRUCellGates.apply(xi, hh, h)
