"""See every op a piece of code runs: ``with recording(callback): ...`` calls ``callback(op, args, outputs)``.

Every op enters through ``Function.apply`` or ``ArrayFunction.apply``;
:func:`recording` swaps both for versions that report each outermost call (an
op that a composite op calls inside its forward is not reported on its own)
and restores them on exit, so code outside a recording pays nothing.  While a
recording is active, ops of every thread are reported.  Recordings nest (a
checkpoint inside a checkpointed function): each active callback sees every op
of its block; recordings in different threads take turns.  The ONNX tracer and non-reentrant activation
checkpointing (which finds the tensors a function closes over) are built on it.

Example::

    >>> import distgrad
    >>> seen = []
    >>> with recording(lambda op, args, outs: seen.append(op.__name__)):
    ...     _ = distgrad.ones(2).exp() + 1
    >>> seen
    ['Exp', 'Add']
"""
import contextlib
import threading

from distgrad.autograd import function as _function

_lock = threading.RLock()
_depth = threading.local()
_callbacks = []
_saved = []


def _reporting(original):
    def apply(cls, *args, **kwargs):
        depth = getattr(_depth, "n", 0)
        if depth:
            return original(cls, *args, **kwargs)
        _depth.n = 1
        try:
            out = original(cls, *args, **kwargs)
        finally:
            _depth.n = 0
        seen = args if not kwargs else args + (kwargs,)
        outs = out if isinstance(out, tuple) else (out,)
        for callback in list(_callbacks):
            callback(cls, seen, outs)
        return out
    return classmethod(apply)


@contextlib.contextmanager
def recording(callback):
    """Report each outermost op call to ``callback(op_class, args, outputs)`` inside the block."""
    with _lock:
        if not _callbacks:
            _saved[:] = [_function.Function.__dict__["apply"], _function.ArrayFunction.__dict__["apply"]]
            _function.Function.apply = _reporting(_saved[0].__func__)
            _function.ArrayFunction.apply = _reporting(_saved[1].__func__)
        _callbacks.append(callback)
        try:
            yield
        finally:
            _callbacks.remove(callback)
            if not _callbacks:
                _function.Function.apply, _function.ArrayFunction.apply = _saved
