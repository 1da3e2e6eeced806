"""Turn a :class:`~distgrad.onnx.trace.Trace` into an ONNX model, one converter per op.

The builder walks the records in call order.  A value that depends on a graph
input is *dynamic*; an op with no dynamic argument is folded: its outputs are
the constants the trace computed (a causal mask, positions from ``arange``), so
nothing of it reaches the graph.  A dynamic op is written by its converter in
:mod:`distgrad.onnx.converters`; an op without one raises an error naming it.
Parameters and buffers become initializers under their ``state_dict`` names.

Dynamic axes are checked by tracing twice, the second time with each dynamic
axis one longer: a converter may then ask :meth:`Builder.varying` which of an
op's plain arguments (a reshape's target) follow those axes, and a folded
constant that differs between the traces is refused, since the exported graph
could only hold one of its values.
"""
import numpy as np

from distgrad import backend
from distgrad.autograd.tensor import Tensor
from distgrad.onnx.trace import type_name

_ONNX_DTYPES = {"float32": 1, "uint8": 2, "int8": 3, "int16": 5, "int32": 6, "int64": 7, "bool": 9, "float16": 10,
                "float64": 11}


class ExportError(RuntimeError):
    """An op or an argument the ONNX exporter cannot write, named in the message."""


def host(x):
    """A NumPy copy of a tensor's or array's values."""
    return np.asarray(backend.to_device(x._data if isinstance(x, Tensor) else x, backend.CPU))


class Builder:
    """Collects nodes, initializers and names while the converters run."""

    def __init__(self, onnx, names, params, second=None):
        self.onnx = onnx
        self.names = names            # id(tensor) -> value name, for the dynamic values
        self.params = params          # id(tensor) -> state_dict name
        self.second = second          # the records of the second trace (dynamic axes), or None
        self.nodes, self.initializers, self._done = [], [], {}
        self.input_names = []
        self._count = 0
        self.record = None
        self.index = 0

    def fresh(self, hint):
        self._count += 1
        return f"{hint}_{self._count}"

    def is_dynamic(self, x):
        # an op may take a dynamic tensor's raw array (embedding passes its indices so): the same value
        return (isinstance(x, Tensor) or backend.is_array(x)) and id(x) in self.names

    def const(self, value, dtype=None, hint="const"):
        """An initializer holding ``value`` (an array, list or number)."""
        arr = np.asarray(value if dtype is None else np.asarray(value, dtype=dtype))
        if arr.dtype.name not in _ONNX_DTYPES:
            raise ExportError(f"onnx export: cannot store a constant of dtype {arr.dtype}")
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def value(self, x, like=None):
        """The value name for an argument: a dynamic tensor's, a parameter's, or a new constant."""
        if backend.is_array(x) and id(x) in self.names:
            return self.names[id(x)]
        if isinstance(x, Tensor):
            if id(x) in self.names:
                return self.names[id(x)]
            key = id(x)
            if key not in self._done:
                if key in self.params:
                    name = self.params[key]
                    self.initializers.append(self.onnx.numpy_helper.from_array(
                        np.ascontiguousarray(host(x)), name))
                    self._done[key] = name
                else:
                    self._done[key] = self.const(host(x))
            return self._done[key]
        if x is None:
            return ""
        dtype = None if like is None else host(like).dtype
        return self.const(x, dtype=dtype)

    def expand(self, fill, dtype, dims):
        """A tensor of one value whose sizes are numbers or (graph input, axis) pairs: Expand over Shape."""
        parts = []
        for d in dims:
            if isinstance(d, int):
                parts.append(self.const([d], np.int64))
            else:
                shape = self.node("Shape", [self.input_names[d[0]]])
                parts.append(self.node("Gather", [shape, self.const([d[1]], np.int64)], axis=0))
        return self.node("Expand", [self.const(np.asarray(fill, dtype=dtype)), self.node("Concat", parts, axis=0)])

    def node(self, op_type, inputs, outputs=1, **attrs):
        """Add one node; returns its output name (or names, for ``outputs`` > 1)."""
        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), names, **attrs))
        return names[0] if outputs == 1 else names

    def bind(self, tensor, name):
        self.names[id(tensor)] = name
        self.names[id(tensor._data)] = name

    def varying(self, arg_index):
        """Whether the current op's plain argument ``arg_index`` differs in the second trace (a dynamic axis)."""
        if self.second is None:
            return None
        a, b = self.record.args[arg_index], self.second[self.index].args[arg_index]
        return _differs(a, b)

    def unsupported(self, what):
        return ExportError(f"onnx export: {type_name(self.record)} {what}")


def _differs(a, b):
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return [_differs(x, y) for x, y in zip(a, b)]
    if isinstance(a, slice) and isinstance(b, slice):
        return [_differs(a.start, b.start), _differs(a.stop, b.stop), _differs(a.step, b.step)]
    if isinstance(a, Tensor) or backend.is_array(a):
        return False
    return a != b


def build(onnx, first, second, converters, params, input_names, output_names, dynamic_axes, opset):
    """The ONNX ModelProto of trace ``first`` (``second``: the same model traced with longer dynamic axes)."""
    if second is not None:
        ops_a = [type_name(r) for r in first.records]
        ops_b = [type_name(r) for r in second.records]
        if ops_a != ops_b:
            raise ExportError("onnx export: the model runs different ops when a dynamic axis changes length "
                              "(a loop over it, as an LSTM unrolls over time); export it with that axis static")
    b = Builder(onnx, {}, params, None if second is None else second.records)
    for t, n in zip(first.inputs, input_names):
        b.bind(t, n)
    b.input_names = list(input_names)
    for i, rec in enumerate(first.records):
        b.record, b.index = rec, i
        conv = converters.get(rec.op)
        uses_params = any(isinstance(a, Tensor) and id(a) in params for a in rec.args)
        if not any(b.is_dynamic(a) for a in rec.args) and not (uses_params and conv is not None):
            # folded: the trace's outputs are constants (an op on parameters stays, keeping their names)
            if second is not None:
                for x, y in zip(rec.outputs, second.records[i].outputs):
                    if isinstance(x, Tensor) and _changed(x, y):
                        what = f"the constant computed by {type_name(rec)}"
                        b.bind(x, b.expand(*_filled(first, second, x, y, what)))  # dynamic from here on
            continue
        if second is not None:
            for x, y in zip(rec.args, second.records[i].args):
                if isinstance(x, Tensor) and not b.is_dynamic(x) and id(x) not in params and _changed(x, y):
                    what = f"a constant input of {type_name(rec)}"
                    b.bind(x, b.expand(*_filled(first, second, x, y, what)))
        if conv is None:
            raise ExportError(f"onnx export: no ONNX conversion for the op {type_name(rec)} "
                              f"({rec.op.__module__}); distgrad cannot export this model yet")
        outs = conv(b, rec)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for t, name in zip(rec.outputs, outs):
            if isinstance(t, Tensor):
                b.bind(t, name)
    graph_outputs = []
    for t, name in zip(first.outputs, output_names):
        src = b.value(t)
        b.nodes.append(onnx.helper.make_node("Identity", [src], [name]))
        graph_outputs.append(_value_info(onnx, name, t, dynamic_axes.get(name, {})))
    graph_inputs = [_value_info(onnx, n, t, dynamic_axes.get(n, {})) for t, n in zip(first.inputs, input_names)]
    graph = onnx.helper.make_graph(b.nodes, "distgrad", graph_inputs, graph_outputs, b.initializers)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="distgrad")
    model.ir_version = min(model.ir_version, 8)  # opset 17 files readable by older runtimes
    onnx.checker.check_model(model)
    return model


def _changed(x, y):
    return x.shape != y.shape or not np.array_equal(host(x), host(y))


def _filled(first, second, x, y, what):
    """How to build a constant whose shape follows dynamic axes: one value, each size a number or an input axis.

    A zero initial state sized by the batch (an LSTM's ``h0``) is such a constant;
    anything else that changes with a dynamic axis cannot be one graph constant.
    """
    a, c = host(x), host(y)
    if a.size and c.size and a.ndim == c.ndim and (a == a.flat[0]).all() and (c == a.flat[0]).all():
        dims = []
        for n, m in zip(a.shape, c.shape):
            if n == m:
                dims.append(int(n))
                continue
            found = [(k, ax) for k, (t1, t2) in enumerate(zip(first.inputs, second.inputs))
                     for ax in range(t1.ndim) if t1.shape[ax] == n and t2.shape[ax] == m]
            if not found:
                break
            dims.append(found[0])
        else:
            return a.flat[0], a.dtype, dims
    raise ExportError(f"onnx export: {what} depends on a dynamic axis "
                      "(a mask or positions built from a length); the graph could hold only one value, so "
                      "export with that axis static")


def _value_info(onnx, name, t, axes):
    dims = [axes[i] if i in axes else int(s) for i, s in enumerate(t.shape)]
    return onnx.helper.make_tensor_value_info(name, _ONNX_DTYPES[host(t).dtype.name], dims)
