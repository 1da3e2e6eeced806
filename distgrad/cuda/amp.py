"""``torch.cuda.amp``: PyTorch's deprecated spelling of ``torch.amp`` for CUDA, with its FutureWarning.

Example::

    >>> import warnings, distgrad
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     distgrad.cuda.amp.GradScaler(enabled=False).is_enabled()
    False
"""
import warnings

from distgrad.amp import grad_scaler


class GradScaler(grad_scaler.GradScaler):
    """``torch.cuda.amp.GradScaler(init_scale, growth_factor, backoff_factor, growth_interval, enabled)``."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use "
                      "`torch.amp.GradScaler('cuda', args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
