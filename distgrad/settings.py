"""Process-wide settings programs written for PyTorch call in passing: compile, matmul precision, determinism, threads.

Each has PyTorch's signature and validation and means what it means on a CPU
build of PyTorch, as far as distgrad has the concept:

* :func:`compile` returns the model or function unchanged.  distgrad has no
  compiler; PyTorch's ``torch.compile(..., backend="eager")`` runs the same
  eager code, so results are the same.
* :func:`set_float32_matmul_precision` keeps ``"highest"``, ``"high"`` or
  ``"medium"``; distgrad's float32 products are always full float32 (NumPy and
  CuPy have no TF32 or bfloat16 passes), which is ``"highest"``'s meaning.
* :func:`use_deterministic_algorithms` records the mode; every distgrad op is
  already deterministic on the CPU (the same inputs give the same bits).
* :func:`set_num_threads` / :func:`get_num_threads` set and read the BLAS thread
  pool (through ``threadpoolctl``), which is where NumPy's intra-op threads are.

Example::

    >>> import distgrad
    >>> model = distgrad.nn.Linear(2, 2)
    >>> distgrad.compile(model) is model
    True
    >>> distgrad.set_float32_matmul_precision("high"); distgrad.get_float32_matmul_precision()
    'high'
    >>> distgrad.set_float32_matmul_precision("highest")
"""
import os
import warnings

import threadpoolctl

_PRECISIONS = ("highest", "high", "medium")
_state = {"precision": "highest", "deterministic": False, "warn_only": False, "interop": None}
_limits = []  # the threadpool_limits in force (kept alive so that they stay applied)


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,  # noqa: A001
            disable=False, **kwargs):
    """``torch.compile``: return ``model`` unchanged (distgrad has no compiler; see the module docstring).

    Used bare (``@distgrad.compile``) or with arguments (``@distgrad.compile(mode=...)``) as a decorator too.

    Example::

        >>> @compile(fullgraph=True)
        ... def f(x):
        ...     return x + 1
        >>> f(1)
        2
    """
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if model is None:
        return _identity
    if not callable(model):
        raise RuntimeError(f"compile(): expected a callable (a Module or a function), got {type(model).__name__}")
    return model


def _identity(model):
    return model


def set_float32_matmul_precision(precision):
    """Record the float32 matmul precision (PyTorch warns and ignores an unknown value, and so does this)."""
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "set_float32_matmul_precision call has no effect.", UserWarning, stacklevel=2)
        return
    _state["precision"] = precision


def get_float32_matmul_precision():
    """The precision last set (``"highest"`` by default)."""
    return _state["precision"]


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Record the determinism mode; distgrad's ops are deterministic either way (module docstring)."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' (position 1) must be bool, not "
                        f"{type(mode).__name__}")
    _state["deterministic"], _state["warn_only"] = mode, bool(warn_only)


def are_deterministic_algorithms_enabled():
    """Whether ``use_deterministic_algorithms(True)`` is in force."""
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    """Whether the mode was set with ``warn_only=True``."""
    return _state["warn_only"]


def _check_threads(op, n):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise RuntimeError(f"{op} expects a positive integer")


def set_num_threads(n):
    """Use ``n`` threads in the BLAS (and OpenMP) pools NumPy's kernels run on.

    Example::

        >>> n = get_num_threads(); set_num_threads(1); get_num_threads()
        1
        >>> set_num_threads(n)
    """
    _check_threads("set_num_threads", n)
    _limits[:] = [threadpoolctl.threadpool_limits(limits=n)]


def get_num_threads():
    """The threads of NumPy's BLAS pool (the largest, where there are several); the core count without one."""
    pools = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
    return max(pools) if pools else (os.cpu_count() or 1)


def set_num_interop_threads(n):
    """Record the inter-op thread count (distgrad runs ops one after another; PyTorch's setting is kept)."""
    _check_threads("set_num_interop_threads", n)
    _state["interop"] = n


def get_num_interop_threads():
    """The inter-op thread count last set, else the core count (PyTorch's default)."""
    return _state["interop"] or (os.cpu_count() or 1)
