"""``repr`` of tensors in PyTorch's format: values, then dtype, grad_fn or requires_grad.

Example::

    >>> import distgrad
    >>> distgrad.tensor([1.0, 2.5], requires_grad=True)
    tensor([1.0000, 2.5000], requires_grad=True)
"""
import numpy as np

from distgrad import backend
from distgrad import dtypes

_DEFAULT_SHOWN = {"float32": False, "int64": False, "bool": False}


def _float_formatter(values):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.4f}"
    amax = float(np.abs(finite).max())
    nonzero = np.abs(finite[finite != 0])
    amin = float(nonzero.min()) if nonzero.size else 0.0
    integral = bool(np.all(finite == np.round(finite)))
    if integral and amax < 1e8:
        return lambda v: _special(v) or f"{v:.0f}."
    if amax >= 1e8 or (amin and amin < 1e-4) or (amin and amax / amin > 1000 and amax > 1e3):
        return lambda v: _special(v) or f"{v:.4e}"
    return lambda v: _special(v) or f"{v:.4f}"


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def format_values(arr, prefix="tensor("):
    """The values part of a tensor repr (PyTorch-like layout via NumPy's array2string)."""
    arr = backend.to_device(arr, backend.CPU)
    if arr.dtype.kind == "f":
        fmt = _float_formatter(arr.astype(np.float64).ravel())
        formatter = {"float_kind": lambda v: fmt(float(v))}
    elif arr.dtype.kind == "b":
        formatter = {"bool": lambda v: "True" if v else "False"}
    else:
        formatter = {"int": lambda v: str(int(v))}
    if arr.size == 0:
        return "[]"
    return np.array2string(arr, separator=", ", prefix=prefix, formatter=formatter, threshold=1000,
                           edgeitems=3, max_line_width=80)


def tensor_repr(t, prefix="tensor("):
    """``tensor([...], dtype=..., device=..., grad_fn=<...>)`` as PyTorch prints it."""
    data = t._data
    parts = [format_values(data, prefix)]
    if data.size == 0 and data.shape != (0,):
        parts.append(f"size={tuple(data.shape)}")
    dev = t.device
    if dev.type != "cpu":
        parts.append(f"device='{dev}'")
    d = dtypes.from_np(data.dtype)
    if _DEFAULT_SHOWN.get(d.name, True) or (d.is_floating_point and d is not dtypes.get_default_dtype()):
        if not (d.name == "float32" and dtypes.get_default_dtype() is dtypes.float32):
            parts.append(f"dtype={d!r}")
    if t.grad_fn is not None:
        parts.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        parts.append("requires_grad=True")
    return prefix + ", ".join(parts) + ")"
