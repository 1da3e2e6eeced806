"""One-step recurrent cells: ``nn.RNNCell``, ``nn.LSTMCell`` and ``nn.GRUCell``, as PyTorch's.

Parameters ``weight_ih`` (gates * hidden, input), ``weight_hh`` (gates * hidden,
hidden), ``bias_ih`` and ``bias_hh``, drawn from U(-1/sqrt(hidden), 1/sqrt(hidden)).
Input is (B, H_in) or unbatched (H_in); a missing hidden state is zeros.
The math is in :mod:`distgrad.nn.rnn_functions`.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> cell = nn.LSTMCell(10, 20)
    >>> h, c = cell(distgrad.randn(3, 10))
    >>> h, c = cell(distgrad.randn(3, 10), (h, c))
    >>> h.shape
    distgrad.Size([3, 20])
"""
import math

from distgrad.creation import empty, zeros
from distgrad.nn import init
from distgrad.nn import rnn_functions as R
from distgrad.nn.module import Module
from distgrad.nn.parameter import Parameter


class RNNCellBase(Module):
    """Parameters and checks the three cells share (``torch.nn.RNNCellBase``).

    Example::

        >>> nn.GRUCell(4, 3).weight_hh.shape
        distgrad.Size([9, 3])
    """

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        kw = dict(device=device, dtype=dtype)
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), **kw))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), **kw))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, **kw))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, name, input, hxs):
        """Check dims (PyTorch's messages), add the batch dim to unbatched input, default the states to zeros."""
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if hxs is not None:
            for idx, h in enumerate(hxs):
                if h.ndim not in (1, 2):
                    what = f"hx[{idx}]" if len(hxs) == 2 else "hidden"
                    raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {h.ndim}D instead")
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        if hxs is None:
            hxs = [zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)] * self._states
        elif not batched:
            hxs = [h.unsqueeze(0) for h in hxs]
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected {self.input_size}")
        for idx, h in enumerate(hxs):
            if h.ndim != 2 or h.shape[0] != input.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{idx} batch size "
                                   f"{h.shape[0]}")
            if h.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{idx} has inconsistent hidden_size: got {h.shape[1]}, expected "
                                   f"{self.hidden_size}")
        return input, hxs, batched

    _states = 1


class RNNCell(RNNCellBase):
    """``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``, or relu (``torch.nn.RNNCell``).

    Example::

        >>> nn.RNNCell(4, 3, nonlinearity="relu")(distgrad.randn(4)).shape
        distgrad.Size([3])
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, (h,), batched = self._prepare("RNNCell", input, None if hx is None else [hx])
        if self.nonlinearity == "tanh":
            out = R.rnn_tanh_cell(input, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        elif self.nonlinearity == "relu":
            out = R.rnn_relu_cell(input, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step, ``(h, c) -> (h', c')`` (``torch.nn.LSTMCell``).

    Example::

        >>> h, c = nn.LSTMCell(4, 3)(distgrad.randn(2, 4))
        >>> c.shape
        distgrad.Size([2, 3])
    """

    _states = 2

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        input, (h, c), batched = self._prepare("LSTMCell", input, None if hx is None else list(hx))
        h, c = R.lstm_cell(input, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (``torch.nn.GRUCell``).

    Example::

        >>> nn.GRUCell(4, 3)(distgrad.randn(2, 4), distgrad.zeros(2, 3)).shape
        distgrad.Size([2, 3])
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        input, (h,), batched = self._prepare("GRUCell", input, None if hx is None else [hx])
        out = R.gru_cell(input, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)
