"""Products and blends composed of existing ops: tensordot, kron, cross, inner, vdot,
chain_matmul, trace, ger, the ``addmm`` family (addmm, addmv, addr, addbmm, baddbmm, with
``beta``/``alpha`` and in-place forms) and lerp.

None has a backward of its own: each is a few matmuls, reshapes, index selects
and multiplications, so gradients and higher derivatives come from those ops.

Example::

    >>> import distgrad
    >>> a, b = distgrad.ones(2, 3), distgrad.ones(3, 4)
    >>> distgrad.tensordot(a, b, dims=1).shape
    distgrad.Size([2, 4])
    >>> distgrad.addmm(distgrad.zeros(2, 4), a, b, alpha=2)[0, 0]
    tensor(6.)
"""
import math
import numbers
import warnings

import numpy as np

from distgrad import dtypes
from distgrad.autograd.ops import inplace
from distgrad.autograd.ops.arithmetic import broadcast_error, where
from distgrad.autograd.ops.layout import Diagonal
from distgrad.autograd.ops.linalg import bmm, dot, matmul, mm, mv, outer
from distgrad.autograd.ops.matrix_functions import cross as linalg_cross, multi_dot
from distgrad.autograd.ops.unary import abs as abs_
from distgrad.autograd.tensor import Tensor


def _same_dtype(op, *ts):
    for t in ts[1:]:
        if t.dtype != ts[0].dtype:
            raise RuntimeError(f"{op}: expected all tensors to have the same dtype, but got {ts[0].dtype} and "
                               f"{t.dtype}")


# --- tensordot, kron, cross, trace, ger ----------------------------------------------------------
def _dims_list(v):
    if isinstance(v, Tensor):
        v = v.tolist()
    return [int(v)] if isinstance(v, numbers.Integral) else [int(i) for i in v]


def tensordot(a, b, dims=2, out=None):
    """Contract the last ``dims`` dims of ``a`` with the first ``dims`` of ``b``, or the listed pairs of dims.

    ``dims`` is an int, or a pair ``(dims_a, dims_b)`` of ints or lists (a Tensor is read the same way).

    Example::

        >>> import distgrad
        >>> a, b = distgrad.ones(3, 4, 5), distgrad.ones(4, 3, 2)
        >>> distgrad.tensordot(a, b, dims=([1, 0], [0, 1])).shape
        distgrad.Size([5, 2])
    """
    if out is not None:
        raise TypeError("tensordot(): the out= argument is not supported by distgrad")
    if a.dtype != b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if isinstance(dims, Tensor) and dims.ndim == 0:
        dims = dims.item()
    if isinstance(dims, numbers.Integral):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        if len(dims) != 2:
            raise RuntimeError("tensordot expects dims to be an int or a pair of lists of dims")
        da, db = _dims_list(dims[0]), _dims_list(dims[1])
        if len(da) != len(db):
            raise RuntimeError(f"both dimension lists should have same length, got {len(da)} and {len(db)}")
        da = [a._dim(d) for d in da]
        db = [b._dim(d) for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[i]} in dim {i} "
                               f"and second has size {b.shape[j]} in dim {j}")
    free_a = [i for i in range(a.ndim) if i not in da]
    free_b = [j for j in range(b.ndim) if j not in db]
    k = math.prod(a.shape[i] for i in da)
    a2 = a.permute(free_a + da).reshape(math.prod(a.shape[i] for i in free_a), k)
    b2 = b.permute(db + free_b).reshape(k, math.prod(b.shape[j] for j in free_b))
    return mm(a2, b2).reshape([a.shape[i] for i in free_a] + [b.shape[j] for j in free_b])


def kron(input, other):
    """Kronecker product: block ``(i, j, ...)`` is ``input[i, j, ...] * other`` (fewer dims count as leading 1s).

    Example::

        >>> import distgrad
        >>> distgrad.kron(distgrad.tensor([1, 2]), distgrad.tensor([1, 10]))
        tensor([ 1, 10,  2, 20])
    """
    nd = max(input.ndim, other.ndim)
    sa = (1,) * (nd - input.ndim) + tuple(input.shape)
    sb = (1,) * (nd - other.ndim) + tuple(other.shape)
    a = input.reshape([v for s in sa for v in (s, 1)])
    b = other.reshape([v for s in sb for v in (1, s)])
    return (a * b).reshape([x * y for x, y in zip(sa, sb)])


def cross(input, other, dim=None):
    """Cross product of 3-vectors along ``dim`` (broadcasting the rest); the math is ``linalg.cross``'s.

    Without ``dim``, PyTorch's deprecated default is kept: the first dim of size 3
    (with a warning); ``linalg.cross`` defaults to the last dim instead.

    Example::

        >>> import distgrad
        >>> distgrad.cross(distgrad.tensor([1.0, 0.0, 0.0]), distgrad.tensor([0.0, 1.0, 0.0]), dim=0)
        tensor([0., 0., 1.])
    """
    if input.dtype != other.dtype:
        raise RuntimeError(f"expected scalar type {input.dtype} but found {other.dtype}")
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if dim is None:
        err = broadcast_error(tuple(input.shape), tuple(other.shape))
        if err is not None:
            raise err
        shape = tuple(np.broadcast_shapes(tuple(input.shape), tuple(other.shape)))
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated. Please either pass the dim "
                      "explicitly or simply use torch.linalg.cross.", UserWarning, stacklevel=2)
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return linalg_cross(input, other, dim=dim)


def inner(input, other):
    """Sum of products over the last dims of both (a number times a tensor for 0-d input; ``torch.inner``).

    The result has shape ``input.shape[:-1] + other.shape[:-1]``.

    Example::

        >>> import distgrad
        >>> distgrad.inner(distgrad.ones(2, 3), distgrad.ones(4, 3)).shape
        distgrad.Size([2, 4])
    """
    if input.dtype != other.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, dims=([-1], [-1]))


def vdot(input, other):
    """Inner product of two 1-D tensors; for real tensors the same as :func:`dot` (``torch.vdot``).

    Example::

        >>> import distgrad
        >>> distgrad.vdot(distgrad.tensor([1.0, 2.0]), distgrad.tensor([3.0, 4.0]))
        tensor(11.)
    """
    if input.dtype != other.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {input.dtype} and "
                           f"{other.dtype}")
    return dot(input, other)


def chain_matmul(*matrices):
    """Product of 2-D matrices in the cheapest order; the deprecated form of ``linalg.multi_dot``.

    Example::

        >>> import distgrad
        >>> distgrad.chain_matmul(distgrad.ones(2, 3), distgrad.ones(3, 1)).tolist()
        [[3.0], [3.0]]
    """
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                  "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than "
                  "multiple parameters.", UserWarning, stacklevel=2)
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for i, m in enumerate(matrices):
        if m.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        return matrices[0].clone()
    return multi_dot(list(matrices))


def trace(input):
    """Sum of the main diagonal of a matrix (integers sum as int64).

    Example::

        >>> import distgrad
        >>> distgrad.arange(9).reshape(3, 3).trace()
        tensor(12)
    """
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    if input.dtype == dtypes.bool_:
        raise NotImplementedError('"trace" not implemented for \'Bool\'')
    return Diagonal.apply(input, 0, 0, 1).sum()


def ger(input, vec2):
    """Outer product of two vectors; an old name of :func:`distgrad.outer`.

    Example::

        >>> import distgrad
        >>> distgrad.ger(distgrad.tensor([1, 2]), distgrad.tensor([3, 4]))
        tensor([[3, 4],
                [6, 8]])
    """
    return outer(input, vec2)


# --- the addmm family ----------------------------------------------------------------------------
def _blend(op, input, product, beta, alpha):
    """``beta * input + alpha * product``, ``input`` broadcast to the product's shape; beta 0 ignores it (NaN too)."""
    _same_dtype(op, input, product)
    shape = tuple(product.shape)
    try:
        np.broadcast_to(np.empty(tuple(input.shape), dtype=np.bool_), shape)
    except ValueError:
        raise RuntimeError(f"{op}: the size of input {list(input.shape)} cannot be broadcast to the product's "
                           f"shape {list(shape)}") from None
    if alpha != 1:
        product = product * alpha
    base = input.expand(shape)
    if beta == 0:  # input takes no part (NaN in it is ignored), but its gradient is zeros, not None
        return where(Tensor._make(product._xp().ones((), dtype=bool)), product, base)
    return (base if beta == 1 else base * beta) + product


def _matrix(op, name, t, nd):
    if t.ndim != nd:
        kind = {1: "vector", 2: "matrix", 3: "3D tensor"}[nd]
        raise RuntimeError(f"{op}: {name} must be a {kind}, got {t.ndim}-D tensor")


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)`` for matrices; ``input`` broadcasts to the product.

    Example::

        >>> import distgrad
        >>> distgrad.addmm(distgrad.ones(2), distgrad.ones(2, 3), distgrad.ones(3, 2), beta=0.5)
        tensor([[3.5000, 3.5000],
                [3.5000, 3.5000]])
    """
    _matrix("addmm", "mat1", mat1, 2)
    _matrix("addmm", "mat2", mat2, 2)
    _same_dtype("addmm", mat1, mat2)
    return _blend("addmm", input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)`` for a matrix and a vector.

    Example::

        >>> import distgrad
        >>> distgrad.addmv(distgrad.zeros(2), distgrad.ones(2, 3), distgrad.ones(3))
        tensor([3., 3.])
    """
    _matrix("addmv", "mat", mat, 2)
    _matrix("addmv", "vec", vec, 1)
    _same_dtype("addmv", mat, vec)
    return _blend("addmv", input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``.

    Example::

        >>> import distgrad
        >>> distgrad.addr(distgrad.zeros(2, 2), distgrad.tensor([1.0, 2.0]), distgrad.tensor([1.0, 1.0]))
        tensor([[1., 1.],
                [2., 2.]])
    """
    _matrix("addr", "vec1", vec1, 1)
    _matrix("addr", "vec2", vec2, 1)
    _same_dtype("addr", vec1, vec2)
    return _blend("addr", input, outer(vec1, vec2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``: one matmul over the joined batch.

    Example::

        >>> import distgrad
        >>> distgrad.addbmm(distgrad.zeros(2, 2), distgrad.ones(3, 2, 4), distgrad.ones(3, 4, 2))[0, 0]
        tensor(12.)
    """
    _matrix("addbmm", "batch1", batch1, 3)
    _matrix("addbmm", "batch2", batch2, 3)
    _same_dtype("addbmm", batch1, batch2)
    if batch1.shape[0] != batch2.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {batch1.shape[0]} and "
                           f"{batch2.shape[0]}")
    if batch1.shape[2] != batch2.shape[1]:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({batch1.shape[1]}x{batch1.shape[2]} and "
                           f"{batch2.shape[1]}x{batch2.shape[2]})")
    nb, n, k = batch1.shape
    p = batch2.shape[2]
    prod = matmul(batch1.permute(1, 0, 2).reshape(n, nb * k), batch2.reshape(nb * k, p))
    return _blend("addbmm", input, prod, beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * bmm(batch1, batch2)``, batch by batch.

    Example::

        >>> import distgrad
        >>> distgrad.baddbmm(distgrad.ones(2, 1, 1), distgrad.ones(2, 1, 3), distgrad.ones(2, 3, 1)).flatten()
        tensor([4., 4.])
    """
    _matrix("baddbmm", "batch1", batch1, 3)
    _matrix("baddbmm", "batch2", batch2, 3)
    _same_dtype("baddbmm", batch1, batch2)
    return _blend("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def _inplace(fn, op):
    def method(t, a, b, *, beta=1, alpha=1):
        return inplace.apply_inplace(t, lambda x, u, v: fn(x, u, v, beta=beta, alpha=alpha), (a, b), op)
    method.__name__ = op
    method.__doc__ = f"In place :func:`{fn.__name__}` into ``t`` (``Tensor.{op}``); the result must keep t's shape."
    return method


addmm_ = _inplace(addmm, "addmm_")
addmv_ = _inplace(addmv, "addmv_")
addr_ = _inplace(addr, "addr_")
addbmm_ = _inplace(addbmm, "addbmm_")
baddbmm_ = _inplace(baddbmm, "baddbmm_")


# --- lerp ----------------------------------------------------------------------------------------
def lerp(input, end, weight):
    """``input + weight * (end - input)``; ``weight`` is a number or a tensor, all broadcast together.

    As in PyTorch, weights of magnitude 0.5 and above use ``end - (end - input) * (1 - weight)``,
    so ``weight == 1`` gives ``end`` exactly.

    Example::

        >>> import distgrad
        >>> distgrad.lerp(distgrad.tensor([0.0, 10.0]), distgrad.tensor([10.0, 20.0]), 0.5)
        tensor([ 5., 15.])
    """
    if not isinstance(end, Tensor):
        raise TypeError(f"lerp(): argument 'end' must be Tensor, not {type(end).__name__}")
    if not input.is_floating_point():
        raise NotImplementedError(f'"lerp_kernel_scalar" not implemented for {input.dtype}')
    if end.dtype != input.dtype:
        raise RuntimeError(f"expected dtype {input.dtype} for `end` but got dtype {end.dtype}")
    diff = end - input
    if isinstance(weight, Tensor):
        if weight.dtype != input.dtype:
            raise RuntimeError(f"expected dtype {input.dtype} for `weight` but got dtype {weight.dtype}")
        return where(abs_(weight) < 0.5, input + weight * diff, end - diff * (1 - weight))
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
        raise TypeError(f"lerp(): argument 'weight' must be Number or Tensor, not {type(weight).__name__}")
    if abs(weight) < 0.5:
        return input + diff * weight
    return end - diff * (1 - weight)


def lerp_(t, end, weight):
    """In place :func:`lerp` (``Tensor.lerp_``).

    Example::

        >>> import distgrad
        >>> distgrad.zeros(2).lerp_(distgrad.ones(2), 0.25)
        tensor([0.2500, 0.2500])
    """
    return inplace.apply_inplace(t, lerp, (end, weight), "lerp_")

