"""Anomaly detection: find the forward op behind a NaN in backward.

While enabled, every recorded node keeps the stack of the forward call that
created it; the engine checks each backward result for NaN and, on one, raises
a RuntimeError naming the node and showing that stack.

Example::

    >>> import distgrad
    >>> with distgrad.autograd.detect_anomaly():
    ...     pass
"""
import functools
import threading
import warnings


class _State:
    enabled = False
    check_nan = True


state = _State()
_lock = threading.Lock()


def is_anomaly_enabled():
    """True while anomaly detection is on."""
    return state.enabled


def is_anomaly_check_nan_enabled():
    """True when anomaly detection also checks backward results for NaN."""
    return state.check_nan


class set_detect_anomaly:
    """Turn anomaly detection on or off at once; as a context manager, restore it on exit."""

    def __init__(self, mode, check_nan=True):
        with _lock:
            self.prev = (state.enabled, state.check_nan)
            state.enabled = bool(mode)
            state.check_nan = bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        state.enabled, state.check_nan = self.prev
        return False


class detect_anomaly:
    """Context manager and decorator that enables anomaly detection inside it.

    Example::

        >>> with detect_anomaly():
        ...     pass
    """

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)
        self.prev = (state.enabled, state.check_nan)
        state.enabled = True
        state.check_nan = self.check_nan
        return self

    def __exit__(self, *exc):
        state.enabled, state.check_nan = self.prev
        return False

    def __call__(self, func):

        @functools.wraps(func)
        def wrapper(*a, **kw):
            with detect_anomaly(self.check_nan):
                return func(*a, **kw)
        return wrapper


def nan_error(node, index):
    """The error for a NaN in output ``index`` of ``node``'s backward, with its forward stack."""
    msg = f"Function '{node.name()}' returned nan values in its {index}th output."
    if node._trace:
        msg += "\nTraceback of forward call that caused the error:\n" + node._trace
    else:
        msg += ("\nNo forward traceback was recorded: the node was created while anomaly "
                "detection was off.")
    return RuntimeError(msg)


def with_forward_trace(node, exc):
    """Add the forward stack of ``node`` to an error raised in its backward."""
    if node._trace:
        note = f"Error in backward of {node.name()}; traceback of its forward call:\n{node._trace}"
        if hasattr(exc, "add_note"):
            exc.add_note(note)
    return exc
