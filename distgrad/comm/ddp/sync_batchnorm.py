"""``SyncBatchNorm``: batch normalisation over the whole global batch of a data-parallel job.

With DistributedDataParallel each rank sees only its shard of the batch, so
plain BatchNorm normalises with shard statistics: small shards give noisy
statistics, and the result depends on how the batch was split.  SyncBatchNorm
makes N ranks on shards compute exactly what BatchNorm computes on the
concatenated batch:

* forward: every rank sums, per channel, its values and their squares and
  counts its elements; **one** allreduce of ``[sum (C), sum of squares (C),
  count]`` gives the global mean and (biased) variance.  Running statistics
  use the unbiased variance over the global count, as BatchNorm's would.
* backward: the allreduce is distgrad's differentiable one
  (:func:`distgrad.comm.differentiable.all_reduce`), whose backward allreduces the
  gradients of those statistics, again one collective for all of them.  The
  input gradient is then exactly the concatenated-batch gradient's shard;
  the weight and bias gradients are this shard's part (DDP's gradient
  averaging sums the parts, as for any parameter).
  Built from differentiable ops, so double backward works too.

In eval mode (or in a world of one, or before ``init_process_group``) it is
BatchNorm.  The statistics are sums in the input's precision (float16 inputs
use float32); a channel whose mean is huge compared with its spread loses
digits to cancellation in ``E[x^2] - E[x]^2``.

Example::

    >>> import distgrad, distgrad.distributed as dist
    >>> from distgrad import nn
    >>> dist.init_process_group()
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
    >>> net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    >>> net[1]
    SyncBatchNorm(8, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> net(distgrad.randn(2, 3, 6, 6)).shape
    distgrad.Size([2, 8, 4, 4])
"""
from distgrad import dtypes
from distgrad.autograd import grad_mode
from distgrad.autograd.ops.join import cat
from distgrad.autograd.raw import array_of
from distgrad.autograd.tensor import Tensor
from distgrad.comm import differentiable as dnn
from distgrad.comm import world
from distgrad.comm.reduce_op import ReduceOp
from distgrad.creation import full
from distgrad.nn import functional as F
from distgrad.nn.normalization import _BatchNorm


def sync_batch_norm(input, running_mean, running_var, weight, bias, momentum, eps, group):
    """Training-mode batch norm with statistics over every rank of ``group`` (a ProcessGroup).

    ``running_mean``/``running_var`` (or None) are updated in place with
    ``momentum``, like ``F.batch_norm(training=True)``.
    """
    c = input.shape[1]
    axes = (0,) + tuple(range(2, input.ndim))
    shape = (1, c) + (1,) * (input.ndim - 2)
    x = input.float() if input.dtype == dtypes.float16 else input
    stats = cat([x.sum(axes), (x * x).sum(axes), full((1,), input.numel() // max(c, 1), dtype=x.dtype,
                                                      device=x.device)])
    stats = dnn.all_reduce(stats, ReduceOp.SUM, group)
    count = float(array_of(stats)[2 * c])
    if count <= 1:
        raise ValueError(f"SyncBatchNorm: Expected more than 1 value per channel when training, got {int(count)} "
                         f"over all {group.size()} ranks (this rank's input size {tuple(input.shape)})")
    mean = stats[:c] / count
    var = (stats[c:2 * c] / count - mean * mean).clamp(min=0)
    y = (x - mean.reshape(shape)) * (var + eps).rsqrt().reshape(shape)
    if y.dtype != input.dtype:
        y = y.to(input.dtype)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    with grad_mode.no_grad():
        m = float(momentum)
        if running_mean is not None:
            running_mean.mul_(1 - m).add_(mean.to(running_mean.dtype), alpha=m)
        if running_var is not None:
            running_var.mul_(1 - m).add_((var * (count / (count - 1))).to(running_var.dtype), alpha=m)
    return y


class SyncBatchNorm(_BatchNorm):
    """Batch norm whose training statistics cover the batch of every rank of ``process_group``.

    Same arguments, buffers and state_dict keys as ``BatchNorm1d/2d/3d``
    (any input of shape ``(N, C, ...)``), plus ``process_group`` (default:
    the world).

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> bn = nn.SyncBatchNorm(4)
        >>> bn(distgrad.randn(8, 4, 5)).shape
        distgrad.Size([8, 4, 5])
    """

    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{self!r}: expected a Tensor input, got {type(input).__name__}")
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise RuntimeError(f"{self!r} expected input with {self.num_features} channels (dim 1), got input of "
                               f"shape {tuple(input.shape)}")
        running_mean, running_var, use_batch, factor = self._stats_for_step()
        group = None
        if use_batch and self.training and world.is_initialized():
            group = world.resolve(self.process_group, "SyncBatchNorm")
            if group is None:
                raise RuntimeError("SyncBatchNorm: this rank is not a member of the layer's process_group")
            if group.size() == 1:
                group = None
        if group is None:
            return F.batch_norm(input, running_mean, running_var, self.weight, self.bias, use_batch, factor,
                                self.eps)
        return sync_batch_norm(input, running_mean, running_var, self.weight, self.bias, factor, self.eps, group)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Replace every ``BatchNorm*d`` in ``module`` (recursively) by a SyncBatchNorm.

        The new layers take over the old ones' parameters and buffers (the
        same tensor objects, so an optimizer built earlier still updates
        them) and their training mode.  Returns the converted module (a new
        object when ``module`` itself is a BatchNorm).

        Example::

            >>> from distgrad import nn
            >>> net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
            >>> nn.SyncBatchNorm.convert_sync_batchnorm(net)[1]
            SyncBatchNorm(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
        """
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group)
            if module.affine:
                with grad_mode.no_grad():
                    out.weight = module.weight
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
