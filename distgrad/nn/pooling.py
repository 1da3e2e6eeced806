"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d.

Thin modules over :mod:`distgrad.autograd.ops.pooling` that keep PyTorch's
attributes (``stride`` defaults to ``kernel_size``) and print PyTorch's repr.
They have no parameters, so they add nothing to a ``state_dict``.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> pool = nn.MaxPool2d(2)
    >>> pool
    MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    >>> pool(distgrad.randn(1, 3, 8, 8)).shape
    distgrad.Size([1, 3, 4, 4])
"""
from distgrad.nn import functional as F
from distgrad.nn.module import Module


class _MaxPoolNd(Module):
    _op = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")

    def forward(self, input):
        return type(self)._op(input, self.kernel_size, self.stride, self.padding, self.dilation,
                              ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over (N, C, L) or (C, L) (``torch.nn.MaxPool1d``).

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> nn.MaxPool1d(2)(distgrad.tensor([[1.0, 3.0, 2.0, 0.0]]))
        tensor([[3., 2.]])
    """

    _op = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling; with ``return_indices=True`` it returns ``(output, indices)`` (``torch.nn.MaxPool2d``).

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> out, idx = nn.MaxPool2d(2, return_indices=True)(distgrad.randn(1, 1, 4, 4))
        >>> idx.dtype
        distgrad.int64
    """

    _op = staticmethod(F.max_pool2d)


class AvgPool1d(Module):
    """1-D average pooling; its sizes are kept as 1-tuples, as in PyTorch (``torch.nn.AvgPool1d``).

    Example::

        >>> from distgrad import nn
        >>> nn.AvgPool1d(2)
        AvgPool1d(kernel_size=(2,), stride=(2,), padding=(0,))
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


def _single(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class AvgPool2d(Module):
    """2-D average pooling with ``count_include_pad`` and ``divisor_override`` (``torch.nn.AvgPool2d``).

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> nn.AvgPool2d(2)(distgrad.ones(1, 1, 4, 4)).shape
        distgrad.Size([1, 1, 2, 2])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _AdaptiveAvgPoolNd(Module):
    _op = None

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"

    def forward(self, input):
        return type(self)._op(input, self.output_size)


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling of (N, C, L) to a fixed length, whatever L (``torch.nn.AdaptiveAvgPool1d``).

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> nn.AdaptiveAvgPool1d(3)(distgrad.randn(2, 4, 10)).shape
        distgrad.Size([2, 4, 3])
    """

    _op = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed (OH, OW) whatever the input size; ``None`` keeps a size.

    PyTorch's ``torch.nn.AdaptiveAvgPool2d``.

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> nn.AdaptiveAvgPool2d((1, 1))(distgrad.randn(2, 8, 5, 7)).shape
        distgrad.Size([2, 8, 1, 1])
    """

    _op = staticmethod(F.adaptive_avg_pool2d)
