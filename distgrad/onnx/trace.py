"""Record the ops one forward pass runs: the trace that :func:`distgrad.onnx.export` turns into an ONNX graph.

Every op is a :class:`~distgrad.autograd.function.Function` subclass entered
through ``apply``.  :func:`trace` runs the model once with ``Function.apply`` and
``ArrayFunction.apply`` replaced by recording versions (restored afterwards, so
ops cost nothing extra outside a trace; while a trace runs, every thread's ops
are recorded, as in PyTorch's tracer).  Each record holds the op class, its
arguments (tensors, and the plain values such as shapes and dims) and its
outputs.  Ops called inside another op's forward (a composite built from ops)
are recorded only at the outermost level.

Example::

    >>> import distgrad
    >>> lin = distgrad.nn.Linear(3, 2)
    >>> t = trace(lin, (distgrad.ones(1, 3),))
    >>> [type_name(r) for r in t.records]
    ['Linear']
"""
import threading

from distgrad.autograd import function as _function
from distgrad.autograd.grad_mode import no_grad
from distgrad.autograd.tensor import Tensor

_lock = threading.Lock()


class Record:
    """One op call: ``op`` (the Function class), ``args`` as given, ``outputs`` (a tuple of Tensors)."""

    __slots__ = ("op", "args", "outputs")

    def __init__(self, op, args, outputs):
        self.op, self.args, self.outputs = op, args, outputs


def type_name(record):
    """The op's class name (``Linear``, ``Convolution``), as errors name it."""
    return record.op.__name__


class Trace:
    """The inputs, the records in call order, and the outputs of one forward pass."""

    def __init__(self, inputs):
        self.inputs = inputs
        self.records = []
        self.outputs = ()
        self.depth = 0
        self.keep = []  # every tensor a record refers to stays alive, so ids stay unique


def _recording(trace_, original):
    def apply(cls, *args, **kwargs):
        if trace_.depth:
            return original(cls, *args, **kwargs)
        trace_.depth += 1
        try:
            out = original(cls, *args, **kwargs)
        finally:
            trace_.depth -= 1
        outs = out if isinstance(out, tuple) else (out,)
        if kwargs:
            raise NotImplementedError(f"onnx export: {cls.__name__} was called with keyword arguments, "
                                      "which the tracer does not record")
        trace_.records.append(Record(cls, args, tuple(outs)))
        trace_.keep.append((args, outs))
        return out
    return classmethod(apply)


def flatten_outputs(out):
    """The tensors of a model's output (a tensor, or tuples/lists of them, as LSTM returns), in order."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flatten_outputs(o)]
    raise TypeError(f"onnx export: the model returned a {type(out).__name__}; export needs tensors "
                    "or tuples/lists of tensors")


def trace(model, args, kwargs=None):
    """Run ``model(*args, **kwargs)`` without grad, recording every op; returns the :class:`Trace`."""
    t = Trace([a for a in args if isinstance(a, Tensor)])
    with _lock:
        saved = _function.Function.__dict__["apply"], _function.ArrayFunction.__dict__["apply"]
        _function.Function.apply = _recording(t, saved[0].__func__)
        _function.ArrayFunction.apply = _recording(t, saved[1].__func__)
        try:
            with no_grad():
                out = model(*args, **(kwargs or {}))
        finally:
            _function.Function.apply, _function.ArrayFunction.apply = saved
    t.outputs = tuple(flatten_outputs(out))
    t.keep.append(t.outputs)
    return t
