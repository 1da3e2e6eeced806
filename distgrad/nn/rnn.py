"""Recurrent layers: ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and their cells, as PyTorch's.

Parameter names, shapes, order and initialisation (U(-1/sqrt(hidden), 1/sqrt(hidden)))
are PyTorch's - ``weight_ih_l0``, ``weight_hh_l0_reverse``, ``bias_ih_l1``,
``weight_hr_l0`` (LSTM with ``proj_size``) - so a state_dict moves between the
two both ways.  Input is (T, B, H_in), (B, T, H_in) with ``batch_first``,
unbatched (T, H_in), or a :class:`~distgrad.nn.utils.rnn.PackedSequence`;
outputs have PyTorch's shapes and, for packed input, are packed too.  The
math is in :mod:`distgrad.nn.rnn_functions`.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> lstm = nn.LSTM(10, 20, num_layers=2, bidirectional=True, batch_first=True)
    >>> out, (h, c) = lstm(distgrad.randn(3, 5, 10))
    >>> out.shape, h.shape, c.shape
    (distgrad.Size([3, 5, 40]), distgrad.Size([4, 3, 20]), distgrad.Size([4, 3, 20]))
"""
import math
import numbers
import warnings

from distgrad.autograd.ops.join import cat, stack
from distgrad.creation import empty, zeros
from distgrad.nn import init
from distgrad.nn import rnn_functions as R
from distgrad.nn.dropout_functions import dropout as _dropout
from distgrad.nn.linear_functions import linear
from distgrad.nn.module import Module
from distgrad.nn.parameter import Parameter
from distgrad.nn.utils.rnn import PackedSequence

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_STEPS = {"RNN_TANH": R.rnn_tanh_step, "RNN_RELU": R.rnn_relu_step, "GRU": R.gru_step}


class RNNBase(Module):
    """What ``RNN``, ``LSTM`` and ``GRU`` share: parameters, checks and the layer loop (``torch.nn.RNNBase``).

    ``mode`` is ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``; use the subclasses.

    Example::

        >>> nn.GRU(4, 3).weight_ih_l0.shape   # (3 gates * hidden, input)
        distgrad.Size([9, 4])
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}")
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        directions = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for stem, shape in shapes:
                    setattr(self, stem + suffix, Parameter(empty(shape, device=device, dtype=dtype)))
                    names.append(stem + suffix)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        """The parameters per layer and direction, in PyTorch's order."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def reset_parameters(self):
        """Re-draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self):
        """Nothing to do: as PyTorch on the CPU, the weights need no flat buffer."""

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # --- checks, with PyTorch's messages ---------------------------------------------------------

    def _name(self):
        return "LSTM" if self.mode == "LSTM" else "GRU" if self.mode == "GRU" else "RNN"

    def check_input(self, input, batch_sizes):
        weight = self.weight_ih_l0
        if input.dtype != weight.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). "
                             f"Convert input: input.to({weight.dtype}), or convert model: model.to({input.dtype})")
        expected = 2 if batch_sizes is not None else 3
        if input.ndim != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.ndim}")
        if self.input_size != input.shape[-1]:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")

    def get_expected_hidden_size(self, input, batch_sizes):
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.shape[0] if self.batch_first else input.shape[1]
        directions = 2 if self.bidirectional else 1
        return (self.num_layers * directions, mini_batch, self.proj_size if self.proj_size > 0 else self.hidden_size)

    @staticmethod
    def check_hidden_size(hx, expected, msg="Expected hidden size {}, got {}"):
        if tuple(hx.shape) != tuple(expected):
            raise RuntimeError(msg.format(tuple(expected), list(hx.shape)))

    def check_forward_args(self, input, hidden, batch_sizes):
        self.check_input(input, batch_sizes)
        expected = self.get_expected_hidden_size(input, batch_sizes)
        if self.mode == "LSTM":
            self.check_hidden_size(hidden[0], expected, "Expected hidden[0] size {}, got {}")
            self.check_hidden_size(hidden[1], expected[:2] + (self.hidden_size,), "Expected hidden[1] size {}, got {}")
        else:
            self.check_hidden_size(hidden, expected)

    # --- forward -----------------------------------------------------------------------------------

    def forward(self, input, hx=None):
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        batch_dim = 0 if self.batch_first else 1
        sorted_indices = unsorted_indices = batch_sizes = None
        batched = True
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            if hx is not None and sorted_indices is not None:
                hx = tuple(h.index_select(1, sorted_indices) for h in hx) if lstm else hx.index_select(1, sorted_indices)
        else:
            data = input
            if input.ndim not in (2, 3):
                tail = " instead" if self.mode != "RNN_TANH" and self.mode != "RNN_RELU" else " tensor instead"
                raise ValueError(f"{self._name()}: Expected input to be 2D or 3D, got {input.ndim}D{tail}")
            batched = input.ndim == 3
            if hx is not None:
                hx = self._check_hx_dims(hx, batched, lstm)
            if not batched:
                data = input.unsqueeze(batch_dim)
        if hx is None:
            expected = self.get_expected_hidden_size(data, batch_sizes)
            h0 = zeros(*expected, dtype=data.dtype, device=data.device)
            hx = (h0, zeros(*expected[:2], self.hidden_size, dtype=data.dtype, device=data.device)) if lstm else h0
        self.check_forward_args(data, hx, batch_sizes)
        if packed:
            sizes = [int(b) for b in batch_sizes.tolist()]
            rows = data
        else:
            if self.batch_first:
                data = data.transpose(0, 1)
            steps, batch = data.shape[0], data.shape[1]
            sizes = [batch] * steps
            rows = data.reshape(steps * batch, data.shape[2])
        out, finals = self._layers(rows, sizes, hx if lstm else (hx,))
        if packed:
            output = PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                finals = tuple(f.index_select(1, unsorted_indices) for f in finals)
        else:
            output = out.reshape(steps, batch, out.shape[-1])
            if self.batch_first:
                output = output.transpose(0, 1)
            if not batched:
                output = output.squeeze(batch_dim)
                finals = tuple(f.squeeze(1) for f in finals)
        return output, (finals if lstm else finals[0])

    def _check_hx_dims(self, hx, batched, lstm):
        want = 3 if batched else 2
        kind = "batched 3-D" if batched else "unbatched 2-D"
        if lstm:
            if hx[0].ndim != want or hx[1].ndim != want:
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got ({hx[0].ndim}-D, "
                                   f"{hx[1].ndim}-D) tensors")
            return hx if batched else (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        if hx.ndim != want:
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got {hx.ndim}-D tensor")
        return hx if batched else hx.unsqueeze(1)

    def _layers(self, rows, sizes, hx):
        """All layers and directions over ``rows`` (packed order): (output rows, final states stacked)."""
        directions = 2 if self.bidirectional else 1
        finals = [[] for _ in hx]
        x = rows
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                params = [getattr(self, n) for n in self._all_weights[k]]  # this layer's only
                w_ih, w_hh = params[0], params[1]
                b_ih, b_hh = (params[2], params[3]) if self.bias else (None, None)
                w_hr = params[-1] if self.proj_size > 0 else None
                xi = linear(x, w_ih, b_ih)
                if self.mode == "LSTM":
                    def step(xt, h, c, w_hh=w_hh, b_hh=b_hh, w_hr=w_hr):
                        return R.lstm_step(xt, h, c, w_hh, b_hh, w_hr)
                else:
                    fn = _STEPS[self.mode]

                    def step(xt, h, w_hh=w_hh, b_hh=b_hh, fn=fn):
                        return fn(xt, h, w_hh, b_hh)
                out, final = R.run_direction(step, xi, sizes, tuple(h[k] for h in hx), reverse=direction == 1)
                outs.append(out)
                for lst, f in zip(finals, final):
                    lst.append(f)
            x = outs[0] if directions == 1 else cat(outs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout, True)
        return x, tuple(stack(f, 0) for f in finals)


class RNN(RNNBase):
    """Elman RNN, ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu) (``torch.nn.RNN``).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None)``;
    ``forward(input, hx=None)`` returns ``(output, h_n)``.

    Example::

        >>> out, h = nn.RNN(4, 3, nonlinearity="relu")(distgrad.randn(5, 2, 4))
        >>> out.shape, h.shape
        (distgrad.Size([5, 2, 3]), distgrad.Size([1, 2, 3]))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:  # PyTorch's positional order puts nonlinearity fourth
            nonlinearity, args = args[3], args[:3] + args[4:]
        else:
            nonlinearity = kwargs.pop("nonlinearity", "tanh")
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if nonlinearity not in modes:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(modes[nonlinearity], *args, **kwargs)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, gates (i, f, g, o) as PyTorch's (``torch.nn.LSTM``).

    ``proj_size > 0`` projects each hidden state with ``weight_hr`` (so
    ``h_n`` has ``proj_size`` features, ``c_n`` ``hidden_size``).
    ``forward(input, (h_0, c_0)=None)`` returns ``(output, (h_n, c_n))``.

    Example::

        >>> out, (h, c) = nn.LSTM(4, 6, proj_size=2)(distgrad.randn(5, 4))   # unbatched
        >>> out.shape, h.shape, c.shape
        (distgrad.Size([5, 2]), distgrad.Size([1, 2]), distgrad.Size([1, 6]))
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit, gates (r, z, n) as PyTorch's (``torch.nn.GRU``).

    Example::

        >>> out, h = nn.GRU(4, 3, num_layers=2)(distgrad.randn(5, 2, 4))
        >>> h.shape
        distgrad.Size([2, 2, 3])
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)
