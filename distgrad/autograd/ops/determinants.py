"""Determinants: ``det``, ``slogdet`` and ``logdet`` of batches of square matrices, with gradients.

``det`` is differentiable also at singular matrices (its gradient is the adjugate, from the SVD);
``slogdet`` returns ``(sign, logabsdet)`` and only ``logabsdet`` has a gradient, as in PyTorch.

Example::

    >>> import distgrad
    >>> distgrad.linalg.det(distgrad.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor(-2.)
"""
from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.arithmetic import where
from distgrad.autograd.ops.return_types import return_type
from distgrad.autograd.ops.solvers import check_square, eye_for, mT
from distgrad.autograd.ops.tensor_xp import xp_of

linalg_slogdet = return_type("linalg_slogdet", ["sign", "logabsdet"])


class Det(ArrayFunction):
    """Determinant; backward ``g det(A) A^-T``, or the adjugate (from the SVD) for singular ``A``."""

    node_name = "LinalgDetBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a):
        xp = backend.get_array_module(a)
        d = xp.linalg.det(a) if a.shape[-1] else xp.ones(a.shape[:-2], dtype=a.dtype)
        d = xp.asarray(d, dtype=a.dtype)
        ctx.singular = bool((d == 0).any())
        ctx.eye = eye_for(a, a.shape[-1])
        ctx.save_for_backward(a, d)
        return d

    @staticmethod
    def backward(ctx, g):
        a, d = ctx.saved_tensors
        xp = xp_of(g)
        g2 = xp.expand_dims(xp.expand_dims(g, -1), -1)
        if not ctx.singular:
            return g2 * xp.expand_dims(xp.expand_dims(d, -1), -1) * mT(xp.linalg.inv(a))
        # adj(A)^T = det(U) det(Vh) U diag(prod_{j != i} s_j) Vh: defined for every A, singular or not
        u, s, vh = xp.linalg.svd(a)
        eye = ctx.eye
        others = xp.prod(xp.expand_dims(s, -2) * (1 - eye) + eye, axis=-1)
        sign = xp.expand_dims(xp.expand_dims(xp.linalg.det(u) * xp.linalg.det(vh), -1), -1)
        return g2 * sign * xp.matmul(u * xp.expand_dims(others, -2), vh)


def det(A):
    """The determinant of each square matrix in ``A`` (``torch.linalg.det``); differentiable also where 0.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.det(distgrad.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor(-2.)
    """
    check_square("linalg.det", A)
    return Det.apply(A)


class Slogdet(ArrayFunction):
    """``(sign, log|det A|)``; only ``logabsdet`` has a gradient, ``g A^-T`` (``LinalgSlogdetBackward0``)."""

    node_name = "LinalgSlogdetBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a):
        xp = backend.get_array_module(a)
        sign, logabs = xp.linalg.slogdet(a)
        sign, logabs = xp.asarray(sign, dtype=a.dtype), xp.asarray(logabs, dtype=a.dtype)
        ctx.mark_non_differentiable(sign)
        ctx.save_for_backward(a)
        return sign, logabs

    @staticmethod
    def backward(ctx, gsign, glog):
        a, = ctx.saved_tensors
        xp = xp_of(glog)
        return xp.expand_dims(xp.expand_dims(glog, -1), -1) * mT(xp.linalg.inv(a))


def slogdet(A):
    """``(sign, logabsdet)`` of the determinant, stable where ``det`` would over/underflow.

    Example::

        >>> import distgrad
        >>> distgrad.linalg.slogdet(distgrad.tensor([[-2.0, 0.0], [0.0, 1.0]])).sign
        tensor(-1.)
    """
    check_square("linalg.slogdet", A)
    return linalg_slogdet(*Slogdet.apply(A))


def logdet(input):
    """``log(det(A))``: NaN for a negative determinant, ``-inf`` for zero (``torch.logdet``).

    Example::

        >>> import distgrad
        >>> distgrad.logdet(distgrad.tensor([[2.0, 0.0], [0.0, 0.5]]))
        tensor(0.)
    """
    check_square("logdet", input)
    sign, logabs = Slogdet.apply(input)
    return where(sign < 0, float("nan"), logabs)
