"""The math of the recurrent layers: one step of each cell, and a whole layer over time.

Composed from Tensor ops, so gradients (and second derivatives) come from
the ops' own backward formulas.  The layers project every time step's input
at once (one matmul over all rows, ``x @ W_ih^T + b_ih``) and then run
only the hidden-state product per step.

Time steps run over *batch sizes*: a padded batch of B sequences has B rows
at every step; a packed one has ``batch_sizes[t]`` rows at step ``t``
(sorted longest first), so a finished sequence simply drops off the end of
the batch and its final hidden state is kept aside.  The same loop serves
both.  Gate orders are PyTorch's: LSTM (i, f, g, o), GRU (r, z, n).

Example::

    >>> import distgrad
    >>> from distgrad.nn.rnn_functions import lstm_cell
    >>> w_ih, w_hh = distgrad.ones(8, 3), distgrad.ones(8, 2)
    >>> h, c = lstm_cell(distgrad.zeros(1, 3), (distgrad.zeros(1, 2), distgrad.zeros(1, 2)), w_ih, w_hh)
    >>> c
    tensor([[0., 0.]])
"""
from distgrad.autograd.ops.join import cat, split_pieces
from distgrad.autograd.ops.recurrent import gru_cell_gates, lstm_cell_gates
from distgrad.nn.linear_functions import linear


def _hidden(h, w_hh, b_hh):
    return linear(h, w_hh, b_hh)


def rnn_tanh_step(xi, h, w_hh, b_hh):
    """``tanh(xi + h W_hh^T + b_hh)``, with ``xi`` the projected input."""
    return (xi + _hidden(h, w_hh, b_hh)).tanh()


def rnn_relu_step(xi, h, w_hh, b_hh):
    """``relu(xi + h W_hh^T + b_hh)``."""
    return (xi + _hidden(h, w_hh, b_hh)).relu()


def lstm_step(xi, h, c, w_hh, b_hh, w_hr=None):
    """One LSTM step: ``(h', c')``; with ``w_hr`` (``proj_size``) ``h'`` is projected, ``h' W_hr^T``.

    The gate activations and the cell update are one fused op (:mod:`distgrad.autograd.ops.recurrent`).
    """
    h, c = lstm_cell_gates(xi + _hidden(h, w_hh, b_hh), c)
    if w_hr is not None:
        h = linear(h, w_hr)
    return h, c


def gru_step(xi, h, w_hh, b_hh):
    """One GRU step: ``n + z (h - n)`` with ``n = tanh(xi_n + r (h W_hn^T + b_hn))``, gates fused in one op."""
    return gru_cell_gates(xi, _hidden(h, w_hh, b_hh), h)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """``nn.RNNCell``'s step with the tanh nonlinearity."""
    return rnn_tanh_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """``nn.RNNCell``'s step with the relu nonlinearity."""
    return rnn_relu_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """``nn.LSTMCell``'s step: ``hx = (h, c)`` -> ``(h', c')``."""
    return lstm_step(linear(input, w_ih, b_ih), hx[0], hx[1], w_hh, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """``nn.GRUCell``'s step."""
    return gru_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def run_direction(step, xi, batch_sizes, state, reverse):
    """Run ``step`` over time: returns (outputs in packed row order, final state).

    ``xi`` holds the projected inputs, ``batch_sizes[t]`` rows per step (the
    rows of step ``t`` follow those of step ``t - 1``).  ``state`` is a tuple
    of initial tensors (h, or h and c) of ``batch_sizes[0]`` rows; ``step``
    maps ``(xi_t, *state)`` to the new state, whose first tensor is the output.
    The final state has each sequence's state after its own last step.
    """
    steps = split_pieces(xi, batch_sizes, 0)  # one node for all steps: its backward concatenates once
    outputs = [None] * len(batch_sizes)
    if not reverse:
        finished = []  # states of sequences that ended, shortest (last rows) first
        cur = state
        for t, b in enumerate(batch_sizes):
            if b < cur[0].shape[0]:
                finished.append(tuple(s[b:] for s in cur))
                cur = tuple(s[:b] for s in cur)
            cur = _as_tuple(step(steps[t], *cur))
            outputs[t] = cur[0]
        final = cur if not finished else tuple(cat([c] + [f[k] for f in reversed(finished)])
                                               for k, c in enumerate(cur))
    else:
        cur = tuple(s[:batch_sizes[-1]] for s in state) if batch_sizes[-1] < state[0].shape[0] else state
        for t in range(len(batch_sizes) - 1, -1, -1):
            b = batch_sizes[t]
            if b > cur[0].shape[0]:  # longer sequences start here (going backwards): their initial state joins
                cur = tuple(cat([c, s[c.shape[0]:b]]) for c, s in zip(cur, state))
            cur = _as_tuple(step(steps[t], *cur))
            outputs[t] = cur[0]
        final = cur
    return cat(outputs) if len(outputs) > 1 else outputs[0], final


def _as_tuple(state):
    return state if isinstance(state, tuple) else (state,)
