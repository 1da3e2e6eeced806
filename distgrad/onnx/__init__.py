"""``torch.onnx.export``: write a model as an ONNX file, from one traced forward pass.

:func:`export` runs the model once on the example ``args`` (in eval mode:
call ``model.eval()`` first, as with PyTorch's exporter), records the ops
(:mod:`distgrad.onnx.trace`) and writes each as standard ONNX operators
(:mod:`distgrad.onnx.converters`) with the ``onnx`` package; parameters and
buffers become initializers under their ``state_dict`` names.  The file runs in
``onnxruntime``.  It needs the optional ``onnx`` package (``pip install onnx``).

What it covers: the ops of the MLP, CNN, LSTM and Transformer examples and the
other ops listed in :data:`~distgrad.onnx.converters.CONVERTERS`; an op outside
that list raises an error naming it.  ``dynamic_axes`` marks input and output
axes as symbolic; the model is traced a second time with those axes one longer
to check that nothing it computes depends on them in a way the graph cannot
express (an LSTM unrolled over a dynamic time axis, positions built from a
length) and otherwise refuses with an error saying so.  As in PyTorch, the
call returns an :class:`~distgrad.onnx.program.ONNXProgram` (save it, run it)
unless ``dynamo=False``, which returns None.  Partial: control flow is traced,
not exported (as in PyTorch's TorchScript-based exporter); distgrad has one
exporter, the tracer, whatever ``dynamo`` says.

Example::

    >>> import io, distgrad
    >>> model = distgrad.nn.Sequential(distgrad.nn.Linear(4, 3), distgrad.nn.ReLU()).eval()
    >>> buf = io.BytesIO()
    >>> export(model, (distgrad.randn(2, 4),), buf, input_names=["x"], output_names=["y"],
    ...        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})  # doctest: +SKIP
"""
import os

import numpy as np

from distgrad.autograd.tensor import Tensor
from distgrad.onnx import graph as _graph
from distgrad.onnx.converters import CONVERTERS
from distgrad.onnx.graph import ExportError  # noqa: F401  (distgrad.onnx.ExportError)
from distgrad.onnx.program import ONNXProgram
from distgrad.onnx.trace import trace as _trace

DEFAULT_OPSET = 17
MIN_OPSET = 13


def _onnx():
    try:
        import onnx  # deferred: optional, and only export needs it
    except ImportError:
        raise ImportError("distgrad.onnx.export needs the onnx package: pip install onnx") from None
    return onnx


def _axes(dynamic_axes, names):
    out = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in names:
            raise ValueError(f"onnx export: dynamic_axes names {name!r}, which is not among the input and "
                             f"output names {names}")
        out[name] = dict(axes) if isinstance(axes, dict) else {int(a): f"{name}_dynamic_axes_{i + 1}"
                                                               for i, a in enumerate(axes)}
    return out


def _longer(t, axes):
    """``t`` with each axis in ``axes`` one longer (its first slice repeated, so indices stay valid)."""
    arr = np.asarray(t.numpy())
    for a in axes:
        arr = np.concatenate([arr, np.take(arr, [0], axis=a)], axis=a)
    return Tensor._make(arr.copy())


def _params(model):
    named = {}
    if hasattr(model, "named_parameters"):
        for name, p in model.named_parameters(remove_duplicate=False):
            named.setdefault(id(p), name)
        for name, t in model.named_buffers(remove_duplicate=False):
            named.setdefault(id(t), name)
    return named


def export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None, output_names=None,
           opset_version=None, dynamo=True, external_data=True, dynamic_shapes=None, export_params=True,
           keep_initializers_as_inputs=False, dynamic_axes=None, do_constant_folding=True, **unsupported):
    """Trace ``model(*args)`` and write it to ``f`` (a path, a binary file or None) as an ONNX model.

    Returns an :class:`ONNXProgram` (None with ``dynamo=False``, as PyTorch's).

    ``input_names``/``output_names`` name the graph's inputs (the tensors in
    ``args``) and outputs (the tensors the model returns, flattened);
    ``dynamic_axes`` is ``{name: {axis: "symbol"}}`` or ``{name: [axes]}``, as in
    PyTorch.  Partial: see the module docstring.
    """
    if unsupported:
        raise NotImplementedError(f"onnx export: distgrad does not support the arguments {sorted(unsupported)}")
    if dynamic_shapes is not None:
        raise NotImplementedError("onnx export: dynamic_shapes (the dynamo exporter's) is not supported; "
                                  "use dynamic_axes")
    if not export_params or keep_initializers_as_inputs:
        raise NotImplementedError("onnx export: distgrad always stores the parameters as initializers "
                                  "(export_params=True, keep_initializers_as_inputs=False)")
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not MIN_OPSET <= opset <= DEFAULT_OPSET:
        raise NotImplementedError(f"onnx export: distgrad writes opsets {MIN_OPSET} to {DEFAULT_OPSET}, "
                                  f"not {opset}")
    onnx = _onnx()
    args = args if isinstance(args, tuple) else (args,)
    first = _trace(model, args, kwargs)
    input_names = list(input_names or [f"input_{i}" for i in range(len(first.inputs))])
    output_names = list(output_names or [f"output_{i}" for i in range(len(first.outputs))])
    if len(input_names) != len(first.inputs) or len(output_names) != len(first.outputs):
        raise ValueError(f"onnx export: {len(input_names)} input names for {len(first.inputs)} tensor inputs, "
                         f"{len(output_names)} output names for {len(first.outputs)} outputs")
    axes = _axes(dynamic_axes, input_names + output_names)
    second = None
    if axes:
        longer = iter([_longer(a, axes[n]) if n in axes else a for n, a in zip(input_names, first.inputs)])
        second = _trace(model, tuple(next(longer) if isinstance(a, Tensor) else a for a in args), kwargs)
    proto = _graph.build(onnx, first, second, CONVERTERS, _params(model), input_names, output_names, axes, opset)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    if f is not None:
        data = proto.SerializeToString()
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as fh:
                fh.write(data)
        else:
            f.write(data)
    elif not dynamo:
        raise ValueError("onnx export: with dynamo=False, f (the file to write) is required")
    return ONNXProgram(proto) if dynamo else None
