"""``repr`` of tensors in PyTorch's format: values, then dtype, grad_fn or requires_grad.

Example::

    >>> import distgrad
    >>> distgrad.tensor([1.0, 2.5], requires_grad=True)
    tensor([1.0000, 2.5000], requires_grad=True)
"""
import math

import numpy as np

from distgrad import backend
from distgrad import dtypes

# PyTorch's default print options
LINEWIDTH = 80
THRESHOLD = 1000  # more elements than this: show only EDGEITEMS at each end of each dimension
EDGEITEMS = 3
PRECISION = 4


class _Formatter:
    """Picks one layout for all values of a tensor (integer-like, fixed or scientific) and a
    common width, so that columns line up as in PyTorch."""

    def __init__(self, values):
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.ravel()
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(f"{v}"))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if finite.size == 0:
            return
        mags = np.abs(finite)
        lo, hi = float(mags.min()), float(mags.max())
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        # the widest value decides the width; special values are padded to it later
        if self.int_mode:
            if hi / lo > 1000.0 or hi > 1e8:
                self.sci_mode = True
                strs = [f"{v:.{PRECISION}e}" for v in finite.tolist()]
            else:
                strs = [f"{v:.0f}." for v in finite.tolist()]
        else:
            if hi / lo > 1000.0 or hi > 1e8 or lo < 1e-4:
                self.sci_mode = True
                strs = [f"{v:.{PRECISION}e}" for v in finite.tolist()]
            else:
                strs = [f"{v:.{PRECISION}f}" for v in finite.tolist()]
        self.max_width = max(self.max_width, max(len(s) for s in strs))

    def format(self, v):
        if not self.floating:
            s = f"{v}"
        elif self.sci_mode:
            s = f"{v:{self.max_width}.{PRECISION}e}"
        elif self.int_mode:
            s = f"{v:.0f}"
            if not (math.isinf(v) or math.isnan(v)):
                s += "."
        else:
            s = f"{v:.{PRECISION}f}"
        return " " * (self.max_width - len(s)) + s


def _summarized(a):
    """Only the values that will be shown (EDGEITEMS at each end of each long dimension)."""
    if a.ndim == 0:
        return a
    n = a.shape[0]
    if a.ndim == 1:
        return np.concatenate([a[:EDGEITEMS], a[-EDGEITEMS:]]) if n > 2 * EDGEITEMS else a
    rows = list(range(EDGEITEMS)) + list(range(n - EDGEITEMS, n)) if n > 2 * EDGEITEMS else range(n)
    return np.stack([_summarized(a[i]) for i in rows])


def _vector(a, indent, summarize, fmt):
    per_line = max(1, int(math.floor((LINEWIDTH - indent) / (fmt.max_width + 2))))
    if summarize and a.shape[0] > 2 * EDGEITEMS:
        items = ([fmt.format(v) for v in a[:EDGEITEMS].tolist()] + [" ..."]
                 + [fmt.format(v) for v in a[-EDGEITEMS:].tolist()])
    else:
        items = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(a, indent, summarize, fmt):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector(a, indent, summarize, fmt)
    n = a.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        parts = ([_nested(a[i], indent + 1, summarize, fmt) for i in range(EDGEITEMS)] + ["..."]
                 + [_nested(a[i], indent + 1, summarize, fmt) for i in range(n - EDGEITEMS, n)])
    else:
        parts = [_nested(a[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def format_values(arr, prefix="tensor("):
    """The values part of a tensor repr, laid out as PyTorch lays it out."""
    arr = backend.to_device(arr, backend.CPU)
    if arr.size == 0:
        return "[]"
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)  # PyTorch formats half values through float
    summarize = arr.size > THRESHOLD
    fmt = _Formatter(_summarized(arr) if summarize else arr)
    return _nested(arr, len(prefix), summarize, fmt)


def _join_suffixes(text, suffixes, indent):
    """Append ``, suffix`` parts, wrapping to a new line when one would pass the line width."""
    last = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > LINEWIDTH:
            text += ",\n" + " " * indent + s
            last = indent + len(s)
        else:
            text += ", " + s
            last += len(s) + 2
    return text + ")"


def tensor_repr(t, prefix="tensor("):
    """``tensor([...], dtype=..., device=..., grad_fn=<...>)`` as PyTorch prints it."""
    data = t._data
    suffixes = []
    dev = t.device
    if dev.type != "cpu":
        suffixes.append(f"device='{dev}'")
    d = dtypes.from_np(data.dtype)
    default = dtypes.get_default_dtype()
    if data.size == 0:
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        if d is not default:  # nothing to infer the dtype from, so even int64 is named
            suffixes.append(f"dtype={d!r}")
    elif d not in (default, dtypes.int64, dtypes.bool_):
        suffixes.append(f"dtype={d!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _join_suffixes(prefix + format_values(data, prefix), suffixes, len(prefix))
