"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d.

They hold PyTorch's parameters (``weight`` of shape ``(out, in/groups, *k)``,
or ``(in, out/groups, *k)`` when transposed, and ``bias``), draw them with
PyTorch's default scheme (kaiming-uniform with ``a=sqrt(5)``, bias
``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``), print the same repr, and check the
input before running the functional op, naming the layer in the error.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> conv = nn.Conv2d(3, 16, kernel_size=3, padding=1)
    >>> conv
    Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    >>> conv(distgrad.randn(8, 3, 28, 28)).shape
    distgrad.Size([8, 16, 28, 28])
"""

from distgrad.autograd.tensor import Tensor
from distgrad.creation import empty
from distgrad.nn import functional as F
from distgrad.nn import init
from distgrad.nn.module import Module
from distgrad.nn.parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "circular", "replicate")


def _ntuple(value, n):
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            return tuple(value) * n
        if len(value) != n:
            raise ValueError(f"expected an int or a sequence of {n} ints, got {tuple(value)}")
        return tuple(value)
    return (value,) * n


class _ConvNd(Module):
    """Shared state and checks of the convolution layers (PyTorch's ``_ConvNd``)."""

    _dim = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                 output_padding, groups, bias, padding_mode, device=None, dtype=None):
        super().__init__()
        n = self._dim
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        kernel_size, stride, dilation = _ntuple(kernel_size, n), _ntuple(stride, n), _ntuple(dilation, n)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'same', 'valid'}}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, n)
        if padding_mode not in _PADDING_MODES:
            raise ValueError("padding_mode must be one of {'zeros', 'reflect', 'circular', 'replicate'}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.transposed, self.output_padding = transposed, _ntuple(output_padding, n)
        self.groups, self.padding_mode = groups, padding_mode
        # F.pad's order: last dimension first, (before, after) for each
        if isinstance(padding, str):
            twice = [0, 0] * n
            if padding == "same":
                for d, k, i in zip(dilation, kernel_size, range(n - 1, -1, -1)):
                    total = d * (k - 1)
                    twice[2 * i], twice[2 * i + 1] = total // 2, total - total // 2
            self._reversed_padding_repeated_twice = twice
        else:
            self._reversed_padding_repeated_twice = [p for p in reversed(padding) for _ in range(2)]
        if transposed:
            shape = (in_channels, out_channels // groups) + kernel_size
        else:
            shape = (out_channels, in_channels // groups) + kernel_size
        self.weight = Parameter(empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-draw weight and bias with PyTorch's default scheme."""
        init.default_weight_and_bias_(self.weight, self.bias)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if isinstance(self.padding, str) or self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _check_input(self, input):
        """The layer's own error for a wrong input: names the layer and the shape it got."""
        if not isinstance(input, Tensor):
            raise TypeError(f"{self!r}: expected a Tensor input, got {type(input).__name__}")
        n = self._dim
        if input.ndim not in (n + 1, n + 2):
            raise RuntimeError(f"{self!r} expected a {n + 1}-D (unbatched) or {n + 2}-D (batched) input, got input "
                               f"of shape {tuple(input.shape)}")
        channels = input.shape[-n - 1]
        if channels != self.in_channels:
            raise RuntimeError(f"{self!r} expected input with {self.in_channels} channels, got input of shape "
                               f"{tuple(input.shape)}")
        if input.dtype != self.weight.dtype:
            raise RuntimeError(f"{self!r} has {self.weight.dtype} parameters but got a {input.dtype} input; convert "
                               f"one of them (e.g. model.to({input.dtype}) or input.to({self.weight.dtype}))")
        if input.device != self.weight.device:
            raise RuntimeError(f"{self!r} has parameters on {self.weight.device} but got an input on "
                               f"{input.device}")


class _Conv(_ConvNd):
    _op = None  # the functional convolution of this dimension

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups,
                         bias, padding_mode, device, dtype)

    def _conv_forward(self, input, weight, bias):
        op = type(self)._op
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return op(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return op(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        self._check_input(input)
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) or (C_in, L) inputs (``torch.nn.Conv1d``).

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> nn.Conv1d(4, 8, 3, padding="same")(distgrad.randn(2, 4, 10)).shape
        distgrad.Size([2, 8, 10])
    """

    _dim = 1
    _op = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W) inputs (``torch.nn.Conv2d``).

    ``padding`` may be an int, a pair, ``'valid'`` or ``'same'``;
    ``padding_mode`` one of ``'zeros'``, ``'reflect'``, ``'replicate'``, ``'circular'``.

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> nn.Conv2d(1, 4, 3, stride=2)(distgrad.randn(2, 1, 9, 9)).shape
        distgrad.Size([2, 4, 4, 4])
    """

    _dim = 2
    _op = staticmethod(F.conv2d)


class _ConvTransposeNd(_ConvNd):
    _op = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of ints, not '{padding}'")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, True, output_padding,
                         groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size, stride, padding, kernel_size, num_spatial_dims, dilation=None):
        """The output_padding that makes the output ``output_size`` (PyTorch's rule and errors)."""
        if output_size is None:
            return self.output_padding
        batched = input.ndim == num_spatial_dims + 2
        lead = 2 if batched else 1
        output_size = [int(s) for s in output_size]
        if len(output_size) == lead + num_spatial_dims:
            output_size = output_size[lead:]
        if len(output_size) != num_spatial_dims:
            raise ValueError(f"ConvTranspose{num_spatial_dims}D: for {input.ndim}D input, output_size must have "
                             f"{num_spatial_dims} or {lead + num_spatial_dims} elements (got {len(output_size)})")
        min_sizes, max_sizes = [], []
        for d in range(num_spatial_dims):
            size = ((input.shape[d + lead] - 1) * stride[d] - 2 * padding[d]
                    + (dilation[d] if dilation is not None else 1) * (kernel_size[d] - 1) + 1)
            min_sizes.append(size)
            max_sizes.append(size + stride[d] - 1)
        for size, lo, hi in zip(output_size, min_sizes, max_sizes):
            if size < lo or size > hi:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes range from "
                                 f"{min_sizes} to {max_sizes} (for an input of {list(input.shape[lead:])})")
        return tuple(s - lo for s, lo in zip(output_size, min_sizes))

    def forward(self, input, output_size=None):
        self._check_input(input)
        output_padding = self._output_padding(input, output_size, self.stride, self.padding, self.kernel_size,
                                              self._dim, self.dilation)
        return type(self)._op(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                              self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution: the gradient of Conv1d with respect to its input (``torch.nn.ConvTranspose1d``).

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> nn.ConvTranspose1d(4, 2, 3, stride=2)(distgrad.randn(1, 4, 5)).shape
        distgrad.Size([1, 2, 11])
    """

    _dim = 1
    _op = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution ("deconvolution"); ``forward(input, output_size=None)``.

    PyTorch's ``torch.nn.ConvTranspose2d``.

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> up = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1)
        >>> up(distgrad.randn(1, 8, 5, 5), output_size=(10, 10)).shape
        distgrad.Size([1, 4, 10, 10])
    """

    _dim = 2
    _op = staticmethod(F.conv_transpose2d)


class Unfold(Module):
    """Extracts sliding local blocks, im2col: ``(N, C, H, W) -> (N, C * prod(kernel_size), L)`` (``torch.nn.Unfold``).

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> nn.Unfold(kernel_size=(2, 3))(distgrad.randn(2, 5, 3, 4)).shape
        distgrad.Size([2, 30, 4])
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """Sums sliding local blocks back into an image: ``(N, C * prod(kernel_size), L) -> (N, C, *output_size)``.

    PyTorch's ``torch.nn.Fold``.

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> nn.Fold(output_size=(4, 5), kernel_size=(2, 2))(distgrad.randn(1, 12, 12)).shape
        distgrad.Size([1, 3, 4, 5])
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
