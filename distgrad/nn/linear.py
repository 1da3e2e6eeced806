"""Linear layers: ``Identity``, ``Linear`` and ``Bilinear``.

Parameters are created with PyTorch's default initialisation, so a model
built here starts from the same distribution as its PyTorch twin:
``Linear`` draws its weight from kaiming_uniform(a=sqrt(5)) - which works out
to U(-1/sqrt(in), 1/sqrt(in)) - and its bias from the same interval.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> fc = nn.Linear(784, 10)
    >>> fc(distgrad.randn(32, 784)).shape
    distgrad.Size([32, 10])
"""
import math

from distgrad.autograd.raw import array_of
from distgrad.autograd.tensor import Tensor
from distgrad.creation import empty
from distgrad.nn import functional as F
from distgrad.nn import init
from distgrad.nn.module import Module
from distgrad.nn.parameter import Parameter


class Identity(Module):
    """Returns its input unchanged, ignoring any constructor arguments (``torch.nn.Identity``).

    Example::

        >>> nn.Identity(54, unused="x")(distgrad.ones(2)).shape
        distgrad.Size([2])
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        """``input``, unchanged."""
        return input


class Linear(Module):
    """``y = x @ W.T + b`` with ``W`` of shape (out_features, in_features) (``torch.nn.Linear``).

    Input of shape (*, in_features) gives output of shape (*, out_features).

    Example::

        >>> nn.Linear(3, 2, bias=False).weight.shape
        distgrad.Size([2, 3])
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(f"Linear: in_features and out_features must be non-negative, got {in_features} and "
                             f"{out_features}")
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-draw the parameters with PyTorch's default scheme."""
        init.default_weight_and_bias_(self.weight, self.bias)

    def forward(self, input):
        try:
            return F.linear(input, self.weight, self.bias)
        except (TypeError, RuntimeError):
            error = self._input_error(input)
            if error is None:
                raise
        raise error  # outside the handler: the layer's message replaces F.linear's, no chained traceback

    def _input_error(self, input):
        """The layer's own error for an input it cannot take (names the layer), or None."""
        if not isinstance(input, Tensor):
            return TypeError(f"{self!r}: expected a Tensor input, got {type(input).__name__}")
        w = self.weight
        x, wd = array_of(input), array_of(w)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            return RuntimeError(f"{self!r} expected input with last dimension {self.in_features}, got shape "
                                f"{tuple(input.shape)}")
        if x.dtype != wd.dtype:
            return RuntimeError(f"{self!r} has {w.dtype} parameters but got a {input.dtype} input; convert one "
                                f"of them (e.g. model.to({input.dtype}) or input.to({w.dtype}))")
        if type(x) is not type(wd):
            return RuntimeError(f"{self!r} has parameters on {w.device} but got an input on {input.device}")
        return None

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """``y_k = x1^T W_k x2 + b_k`` with ``W`` of shape (out_features, in1_features, in2_features).

    PyTorch's ``torch.nn.Bilinear``.

    Example::

        >>> m = nn.Bilinear(3, 4, 2)
        >>> m(distgrad.ones(5, 3), distgrad.ones(5, 4)).shape
        distgrad.Size([5, 2])
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in1_features, in2_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-draw weight and bias from U(-1/sqrt(in1_features), 1/sqrt(in1_features)), as PyTorch does."""
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        for name, x, n in (("input1", input1, self.in1_features), ("input2", input2, self.in2_features)):
            if not isinstance(x, Tensor) or x.ndim == 0 or x.shape[-1] != n:
                shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
                raise RuntimeError(f"{self!r} expected {name} with last dimension {n}, got shape {shape}")
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
