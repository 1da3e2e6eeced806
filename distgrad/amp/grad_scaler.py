"""``torch.amp.GradScaler`` as PyTorch has it on a machine without CUDA: the disabled scaler, a pass-through.

Loss scaling exists for float16 training; distgrad has no autocast yet (issue
#13), so every gradient it makes is float32 or float64 and needs no scaling.
What programs do on a CPU with PyTorch's scaler works the same here:

* ``GradScaler(enabled=False)`` (nanoGPT's default) passes everything through:
  ``scale(loss)`` returns ``loss``, ``step(opt)`` calls ``opt.step()`` and
  returns its result, ``unscale_`` and ``update`` do nothing, ``get_scale()`` is
  1.0 and ``state_dict()`` is ``{}``;
* ``GradScaler("cuda")`` enabled where CUDA is not available warns and disables
  itself, as PyTorch's does.

An enabled scaler on a device that exists (``GradScaler("cpu")``, or CUDA through
CuPy) raises NotImplementedError until distgrad has low-precision training.

Example::

    >>> import distgrad
    >>> scaler = distgrad.amp.GradScaler("cpu", enabled=False)
    >>> loss = distgrad.tensor(2.0)
    >>> scaler.scale(loss) is loss, scaler.get_scale(), scaler.state_dict()
    (True, 1.0, {})
"""
import warnings

from distgrad import cuda


class GradScaler:
    """PyTorch's ``GradScaler(device, init_scale, growth_factor, backoff_factor, growth_interval, enabled)``."""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = device
        if enabled and device == "cuda" and not cuda.is_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                          UserWarning, stacklevel=2)
            enabled = False
        if enabled:
            raise NotImplementedError(f"GradScaler({device!r}, enabled=True): distgrad has no low-precision "
                                      "(float16) training yet, so it has no loss scaling either; pass "
                                      "enabled=False (gradients are float32 or float64 and need no scaling)")
        self._enabled = False
        self._init_scale, self._growth_factor, self._backoff_factor = init_scale, growth_factor, backoff_factor
        self._growth_interval = growth_interval

    def is_enabled(self):
        """False: this scaler passes everything through."""
        return self._enabled

    def scale(self, outputs):
        """The outputs themselves (a disabled scaler multiplies by nothing)."""
        return outputs

    def unscale_(self, optimizer):
        """Nothing to undo."""
        return None

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)``, and its return value."""
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        """Nothing to update."""
        return None

    def get_scale(self):
        """1.0, PyTorch's answer for a disabled scaler."""
        return 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def state_dict(self):
        """``{}``: a disabled scaler has no state (PyTorch's answer)."""
        return {}

    def load_state_dict(self, state_dict):
        """Accept the empty state of a disabled scaler; a saved enabled scaler's state cannot be used here."""
        if state_dict:
            raise RuntimeError(f"GradScaler.load_state_dict: this scaler is disabled and cannot take the state of "
                               f"an enabled one (keys {sorted(state_dict)})")
