"""ONNX conversions of distgrad's ops: one function per op, ``(builder, record) -> output value name(s)``.

:data:`CONVERTERS` maps each op class to its conversion, in one table so the
exportable ops can be read in one place.  A conversion writes standard ONNX
operators (opset 13 to 17) that compute what the op's forward computes in
evaluation mode: the fused LSTM cell and the fused attention node become the
ONNX operators they are made of, GELU its ``Erf`` formula, a normalisation its
mean and variance over the op's axes.

Example::

    >>> from distgrad.autograd.ops import unary
    >>> CONVERTERS[unary.Relu].__name__
    'relu'
"""
import math

import numpy as np

from distgrad.autograd.ops import activation, attention, conv, embedding, index, join, linalg
from distgrad.autograd.ops import linear, normalization, pooling, recurrent, shape, softmax, unary
from distgrad.autograd.ops import arithmetic
from distgrad.autograd.tensor import Tensor

INT64_MAX = 2 ** 63 - 1


def _unary(op_type):
    def convert(b, rec):
        return b.node(op_type, [b.value(rec.args[0])])
    convert.__name__ = op_type.lower()
    return convert


def _binary(op_type):
    def convert(b, rec):
        x, y = rec.args[:2]
        like = x if isinstance(x, Tensor) else y
        return b.node(op_type, [b.value(x, like), b.value(y, like)])
    convert.__name__ = op_type.lower()
    return convert


def linear_(b, rec):
    x, w, bias = rec.args
    wt = b.node("Transpose", [b.value(w)], perm=[1, 0])
    out = b.node("MatMul", [b.value(x), wt])
    return out if bias is None else b.node("Add", [out, b.value(bias)])


def matmul(b, rec):
    return b.node("MatMul", [b.value(rec.args[0]), b.value(rec.args[1])])


def reshape(b, rec):
    target = list(rec.outputs[0].shape)
    varying = b.varying(1)
    if varying:
        moving = [i for i, v in enumerate(varying) if v] if isinstance(varying, list) else list(range(len(target)))
        if len(moving) > 1:
            raise b.unsupported(f"reshapes to {target}, where {len(moving)} sizes follow dynamic axes; "
                                "ONNX's Reshape can infer only one")
        for i in moving:
            target[i] = -1
    return b.node("Reshape", [b.value(rec.args[0]), b.const(target, np.int64)])


def permute(b, rec):
    return b.node("Transpose", [b.value(rec.args[0])], perm=[int(d) for d in rec.args[1]])


def _key_items(key, ndim):
    """A basic index key as a list of ints, slices and None, with ``...`` expanded."""
    key = key if isinstance(key, tuple) else (key,)
    used = sum(1 for k in key if k is not None and k is not Ellipsis)
    out = []
    for k in key:
        if k is Ellipsis:
            out.extend([slice(None)] * (ndim - used))
        else:
            out.append(k)
    return out + [slice(None)] * (ndim - sum(1 for k in out if k is not None))


def basic_index(b, rec):
    """``x[key]`` for ints, slices, None and ``...``: Slice, then Squeeze for ints, Unsqueeze for None."""
    x, key = rec.args
    varying = b.varying(1)
    items = _key_items(key, x.ndim)
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    dim = out_dim = 0
    for n, k in enumerate(items):
        if k is None:
            unsqueeze.append(out_dim)
            out_dim += 1
            continue
        size = x.shape[dim]
        if isinstance(k, int):
            start = k + size if k < 0 else k
            starts.append(start), ends.append(start + 1), axes.append(dim), steps.append(1)
            squeeze.append(dim)
        else:
            start, stop, step = k.indices(size)
            if step < 0:
                raise b.unsupported("slices with a negative step; ONNX export does not write them yet")
            if (start, stop, step) != (0, size, 1):
                if isinstance(varying, list) and n < len(varying) and _any(varying[n]) and stop == size:
                    stop = INT64_MAX  # to the end of a dynamic axis
                starts.append(start), ends.append(stop), axes.append(dim), steps.append(step)
            out_dim += 1
        dim += 1
    out = b.value(x)
    if axes:
        out = b.node("Slice", [out, b.const(starts, np.int64), b.const(ends, np.int64), b.const(axes, np.int64),
                               b.const(steps, np.int64)])
    if squeeze:
        out = b.node("Squeeze", [out, b.const(squeeze, np.int64)])
    if unsqueeze:
        out = b.node("Unsqueeze", [out, b.const(unsqueeze, np.int64)])
    return out if out != b.value(x) else b.node("Identity", [out])


def split_pieces(b, rec):
    x, sizes, dim = rec.args
    if b.varying(1) and _any(b.varying(1)):
        if len(set(sizes)) != 1:
            raise b.unsupported(f"splits into pieces {list(sizes)} that follow a dynamic axis unevenly")
        return b.node("Split", [b.value(x)], outputs=len(sizes), axis=int(dim))  # equal pieces, sized at run time
    return b.node("Split", [b.value(x), b.const(list(sizes), np.int64)], outputs=len(sizes), axis=int(dim))


def _any(mask):
    return any(_any(m) for m in mask) if isinstance(mask, list) else bool(mask)


def cat(b, rec):
    *tensors, dim = rec.args
    return b.node("Concat", [b.value(t) for t in tensors], axis=int(dim))


def stack(b, rec):
    *tensors, dim = rec.args
    axis = b.const([int(dim)], np.int64)
    return b.node("Concat", [b.node("Unsqueeze", [b.value(t), axis]) for t in tensors], axis=int(dim))


def embedding_(b, rec):
    w, idx = rec.args[:2]
    return b.node("Gather", [b.value(w), b.value(idx)], axis=0)


def convolution(b, rec):
    x, w, bias, geom = rec.args
    top, bottom, left, right = geom.pads
    ins = [b.value(x), b.value(w)] + ([b.value(bias)] if bias is not None else [])
    return b.node("Conv", ins, kernel_shape=list(geom.kernel), strides=list(geom.stride),
                  pads=[top, left, bottom, right], dilations=list(geom.dilation), group=int(geom.groups))


def max_pool(b, rec):
    x, geom, with_indices = rec.args
    if with_indices:
        raise b.unsupported("with return_indices=True; ONNX export writes only the pooled values")
    ph, pw = geom.pad
    floor = [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in
             zip(geom.in_size, geom.pad, geom.dilation, geom.kernel, geom.stride)]
    ceil = int(list(floor) != list(geom.out_size))
    return b.node("MaxPool", [b.value(x)], kernel_shape=list(geom.kernel), strides=list(geom.stride),
                  pads=[ph, pw, ph, pw], dilations=list(geom.dilation), ceil_mode=ceil)


def lstm_cell(b, rec):
    gates, c = rec.args
    n = c.shape[-1]
    i, f, g, o = b.node("Split", [b.value(gates), b.const([n] * 4, np.int64)], outputs=4, axis=-1)
    i, f, o = (b.node("Sigmoid", [v]) for v in (i, f, o))
    c_new = b.node("Add", [b.node("Mul", [f, b.value(c)]), b.node("Mul", [i, b.node("Tanh", [g])])])
    return [b.node("Mul", [o, b.node("Tanh", [c_new])]), c_new]


def normalize(b, rec):
    x, w, bias, mean, invstd, axes, eps, batch_stats, affine_shape = rec.args
    xv = b.value(x)
    if batch_stats:
        mu = b.node("ReduceMean", [xv], axes=[int(a) for a in axes], keepdims=1)
        d = b.node("Sub", [xv, mu])
        var = b.node("ReduceMean", [b.node("Mul", [d, d])], axes=[int(a) for a in axes], keepdims=1)
        y = b.node("Div", [d, b.node("Sqrt", [b.node("Add", [var, b.value(float(eps), x)])])])
    else:
        y = b.node("Mul", [b.node("Sub", [xv, b.value(mean)]), b.value(invstd)])
    for p in (w, bias):
        if p is not None:
            pv = b.value(p)
            if affine_shape is not None:
                pv = b.node("Reshape", [pv, b.const(list(affine_shape), np.int64)])
            y = b.node("Mul" if p is w else "Add", [y, pv])
    return y


def sdpa(b, rec):
    q, k, v, bias, keep, scale, safe = rec.args
    if keep is not None:
        raise b.unsupported("with dropout (a training-mode call); export the model in eval mode")
    kt = b.node("Transpose", [b.value(k)], perm=list(range(k.ndim - 2)) + [k.ndim - 1, k.ndim - 2])
    s = b.node("Mul", [b.node("MatMul", [b.value(q), kt]), b.value(float(scale), q)])
    if bias is not None:
        s = b.node("Add", [s, b.value(bias, q)])
    p = b.node("Softmax", [s], axis=-1)
    if safe:  # a row with no allowed key gives 0, not NaN, as the op's forward does
        p = b.node("Where", [b.node("IsNaN", [p]), b.value(0.0, q), p])
    return b.node("MatMul", [p, b.value(v)])


def gelu(b, rec):
    x, approximate = rec.args
    xv = b.value(x)
    half = b.value(0.5, x)
    if approximate == "tanh":
        cube = b.node("Mul", [b.node("Mul", [xv, xv]), xv])
        inner = b.node("Mul", [b.node("Add", [xv, b.node("Mul", [cube, b.value(0.044715, x)])]),
                               b.value(math.sqrt(2 / math.pi), x)])
        cdf = b.node("Mul", [half, b.node("Add", [b.value(1.0, x), b.node("Tanh", [inner])])])
    else:
        erf = b.node("Erf", [b.node("Div", [xv, b.value(math.sqrt(2.0), x)])])
        cdf = b.node("Mul", [half, b.node("Add", [b.value(1.0, x), erf])])
    return b.node("Mul", [xv, cdf])


def softmax_(op_type):
    def convert(b, rec):
        return b.node(op_type, [b.value(rec.args[0])], axis=int(rec.args[1]))
    convert.__name__ = op_type.lower()
    return convert


CONVERTERS = {
    linear.Linear: linear_, linalg.Matmul: matmul, linalg.Bmm: matmul,
    arithmetic.Add: _binary("Add"), arithmetic.Sub: _binary("Sub"), arithmetic.Mul: _binary("Mul"),
    arithmetic.Div: _binary("Div"), arithmetic.Maximum: _binary("Max"), arithmetic.Minimum: _binary("Min"),
    unary.Relu: _unary("Relu"), unary.Sigmoid: _unary("Sigmoid"), unary.Tanh: _unary("Tanh"),
    unary.Exp: _unary("Exp"), unary.Log: _unary("Log"), unary.Neg: _unary("Neg"), unary.Sqrt: _unary("Sqrt"),
    unary.Abs: _unary("Abs"), unary.Erf: _unary("Erf"), unary.Sin: _unary("Sin"), unary.Cos: _unary("Cos"),
    softmax.Softmax: softmax_("Softmax"), softmax.LogSoftmax: softmax_("LogSoftmax"),
    shape.Reshape: reshape, shape.Permute: permute, shape.Transpose: permute, shape.TransposeT: permute,
    index.Select: basic_index, index.Slice: basic_index, index.Unsqueeze: basic_index, index.Alias: basic_index,
    join.SplitPiece: basic_index, join.SplitWithSizesPiece: basic_index, join.UnbindPiece: basic_index,
    join.SplitPieces: split_pieces, join.Cat: cat, join.Stack: stack,
    embedding.EmbeddingLookup: embedding_, conv.Convolution: convolution, pooling.MaxPool2d: max_pool,
    recurrent.LSTMCellGates: lstm_cell, normalization.Normalize: normalize,
    attention.ScaledDotProductAttention: sdpa, activation.Gelu: gelu,
}
