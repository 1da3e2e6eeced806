"""Record the ops one forward pass runs: the trace that :func:`distgrad.onnx.export` turns into an ONNX graph.

Every op is a :class:`~distgrad.autograd.function.Function` subclass entered
through ``apply``; :func:`trace` runs the model once inside
:func:`distgrad.autograd.recording.recording`, which reports each outermost op
call (ops cost nothing extra outside a trace; while a trace runs, every
thread's ops are recorded, as in PyTorch's tracer).  Each record holds the op
class, its arguments (tensors, and the plain values such as shapes and dims)
and its outputs.

Example::

    >>> import distgrad
    >>> lin = distgrad.nn.Linear(3, 2)
    >>> t = trace(lin, (distgrad.ones(1, 3),))
    >>> [type_name(r) for r in t.records]
    ['Linear']
"""
from distgrad.autograd.grad_mode import no_grad
from distgrad.autograd.recording import recording
from distgrad.autograd.tensor import Tensor


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
        self.keep = []  # every tensor a record refers to stays alive, so ids stay unique

    def add(self, op, args, outputs):
        if args and isinstance(args[-1], dict):
            raise NotImplementedError(f"onnx export: {op.__name__} was called with keyword arguments, "
                                      "which the tracer does not record")
        self.records.append(Record(op, args, tuple(outputs)))
        self.keep.append((args, outputs))


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
    with recording(t.add), no_grad():
        out = model(*args, **(kwargs or {}))
    t.outputs = tuple(flatten_outputs(out))
    t.keep.append(t.outputs)
    return t
