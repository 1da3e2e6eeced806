"""Normalisation layers: ``BatchNorm1d/2d/3d``, ``LayerNorm``, ``GroupNorm``.

Batch norm keeps running averages of the per-channel mean and (unbiased)
variance as buffers (``running_mean``, ``running_var``, ``num_batches_tracked``,
the same state_dict keys as PyTorch).  In training mode it normalises with the
batch statistics and updates the averages (``momentum=None`` means a
cumulative average); in eval mode it uses the averages.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> bn = nn.BatchNorm1d(3)
    >>> _ = bn(distgrad.randn(16, 3))
    >>> bn.num_batches_tracked
    tensor(1)
    >>> list(bn.state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
"""
from distgrad import dtypes
from distgrad.autograd.tensor import Tensor
from distgrad.creation import empty, ones, tensor, zeros
from distgrad.nn import functional as F
from distgrad.nn import init
from distgrad.nn.module import Module
from distgrad.nn.parameter import Parameter


def _affine_params(module, shape, affine, bias, device, dtype):
    if affine:
        module.weight = Parameter(empty(shape, device=device, dtype=dtype))
        if bias:
            module.bias = Parameter(empty(shape, device=device, dtype=dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


class _BatchNorm(Module):
    """Shared machinery of BatchNorm1d/2d/3d; subclasses only say which input ranks are valid."""

    _ranks = ()

    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_params(self, num_features, affine, bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=dtypes.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{self!r}: expected a Tensor input, got {type(input).__name__}")
        if input.ndim not in self._ranks:
            ranks = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(f"{type(self).__name__}: expected {ranks} input (got {input.ndim}D input of shape "
                             f"{tuple(input.shape)})")
        if input.shape[1] != self.num_features:
            raise RuntimeError(f"{self!r} expected input with {self.num_features} channels (dim 1), got input of "
                               f"shape {tuple(input.shape)}")
        if self.training and input.numel() // max(self.num_features, 1) <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")

    def _stats_for_step(self):
        """Count this batch and say which statistics this forward uses and updates.

        Returns ``(running_mean, running_var, use_batch, factor)`` for
        ``F.batch_norm``: the running buffers (None when they are neither used
        nor updated), whether to normalise by the batch's own statistics, and
        the running-average factor (``momentum``, or ``1 / num_batches_tracked``
        for a cumulative average when ``momentum`` is None).  Shared with
        SyncBatchNorm, which differs only in where the batch statistics come from.
        """
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep_running = not self.training or self.track_running_stats
        return (self.running_mean if keep_running else None, self.running_var if keep_running else None,
                use_batch, factor)

    def forward(self, input):
        self._check_input(input)
        running_mean, running_var, use_batch, factor = self._stats_for_step()
        return F.batch_norm(input, running_mean, running_var, self.weight, self.bias, use_batch, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input (``torch.nn.BatchNorm1d``).

    Example::

        >>> nn.BatchNorm1d(4)(distgrad.randn(8, 4, 10)).shape
        distgrad.Size([8, 4, 10])
    """

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) input (``torch.nn.BatchNorm2d``)."""

    _ranks = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W) input (``torch.nn.BatchNorm3d``)."""

    _ranks = (5,)


class LayerNorm(Module):
    """Normalise each sample over its trailing ``normalized_shape`` dims, then scale and shift (``torch.nn.LayerNorm``).

    Example::

        >>> ln = nn.LayerNorm(4)
        >>> ln
        LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
        >>> ln(distgrad.randn(2, 3, 4)).shape
        distgrad.Size([2, 3, 4])
    """

    def __init__(self, normalized_shape, eps=1e-05, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_params(self, self.normalized_shape, elementwise_affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        k = len(self.normalized_shape)
        if not isinstance(input, Tensor) or input.ndim < k or tuple(input.shape[input.ndim - k:]) != \
                self.normalized_shape:
            shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise RuntimeError(f"{self!r} expected input with shape [*, {', '.join(map(str, self.normalized_shape))}]"
                               f", got shape {shape}")
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalise each sample over groups of channels (``num_channels // num_groups`` each) (``torch.nn.GroupNorm``).

    Example::

        >>> nn.GroupNorm(2, 6)(distgrad.randn(4, 6, 5)).shape
        distgrad.Size([4, 6, 5])
    """

    def __init__(self, num_groups, num_channels, eps=1e-05, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups != 0:
            raise ValueError(f"num_channels must be divisible by num_groups (got num_channels={num_channels}, "
                             f"num_groups={num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine_params(self, num_channels, affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        if not isinstance(input, Tensor) or input.ndim < 2 or input.shape[1] != self.num_channels:
            shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise RuntimeError(f"{self!r} expected input of shape (N, {self.num_channels}, *), got shape {shape}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
