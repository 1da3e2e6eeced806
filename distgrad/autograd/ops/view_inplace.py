"""In-place writes through views, with PyTorch's history rewriting (``b[1].mul_(3)``, ``x.t().add_(1)``).

A view shares its base's memory, so writing into it changes the base too.  As
in PyTorch, the base's history is then rewritten: the base becomes
"the old base with the view's elements replaced by the new values"
(:class:`CopySlicesView`, PyTorch's ``CopySlices``), and the view becomes a view
of that new base again (:class:`ViewOfBase`).  Which base elements a view holds
comes from the arrays' memory layout (:func:`distgrad.backend.view_indices`),
so any chain of view ops works.

Another view of the same base whose history predates a write (the base was
modified in place after the view was taken) is stale: its values changed but
its history says otherwise.  :func:`refresh_view` rebuilds such a view's history
from the base's current one before an op records it, as PyTorch regenerates a
view's ``grad_fn``; without it the gradient would silently miss the write.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> b = x * 2
    >>> _ = b[1].mul_(3)
    >>> b.sum().backward(); x.grad
    tensor([[2., 2.],
            [6., 6.]])
"""
import math

from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.tensor import Tensor


class CopySlicesView(ArrayFunction):
    """The base after a write into its view: ``(old base, new view values) -> base`` (PyTorch's CopySlices).

    The write itself already happened through shared memory; forward hands the
    base's array back, and backward splits the gradient between the untouched
    elements (to the old base) and the written ones (to the new values).
    """

    node_name = "torch::autograd::CopySlices"
    array_backward = True

    @staticmethod
    def forward(ctx, base, values, idx):
        ctx.idx, ctx.shape = idx, base.shape
        return base

    @staticmethod
    def backward(ctx, g):
        flat = ctx.idx.reshape(-1)
        if isinstance(g, Tensor):  # create_graph: the same split with differentiable ops
            from distgrad.autograd.ops.index import Index, IndexPut  # deferred: index imports this module's layer
            g_flat = g.reshape(-1)
            g_base = IndexPut.apply(g_flat, 0.0, (flat,)).reshape(ctx.shape)
            return g_base, Index.apply(g_flat, (flat,)).reshape(ctx.idx.shape), None
        g_base = g.copy()
        g_base.reshape(-1)[flat] = 0
        return g_base, g.reshape(-1)[flat].reshape(ctx.idx.shape), None


class ViewOfBase(ArrayFunction):
    """A view's elements taken from its base's current history: ``base -> view`` (its backward scatters)."""

    node_name = "AsStridedBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, base, idx, view):
        ctx.idx, ctx.shape = idx, base.shape
        return view

    @staticmethod
    def backward(ctx, g):
        flat = ctx.idx.reshape(-1)
        if isinstance(g, Tensor):
            from distgrad.autograd.ops.index import IndexPut  # deferred: see CopySlicesView.backward
            from distgrad.creation import zeros  # deferred: creation imports the op families
            blank = zeros(math.prod(ctx.shape), dtype=g.dtype, device=g.device)
            return IndexPut.apply(blank, g.reshape(-1), (flat,)).reshape(ctx.shape), None, None
        xp = backend.get_array_module(g)
        out = xp.zeros(ctx.shape, dtype=g.dtype)
        out.reshape(-1)[flat] = g.reshape(-1)
        return out, None, None


def _attach(t, node_output):
    t.grad_fn = node_output.grad_fn
    t._output_nr = node_output._output_nr
    t._requires_grad = node_output._requires_grad


def refresh_view(view):
    """Give a stale view (its base was written since its history was made) its history from the base's."""
    base = view._base
    view._hist_v = view._vc.value
    if not base._requires_grad:
        return
    idx = backend.view_indices(base._data, view._data)
    _attach(view, ViewOfBase.apply(base, idx, view._data))


def write_into_view(view, res):
    """Store ``res`` into ``view`` (so into its base) and rewrite both histories, as PyTorch does."""
    base = view._base
    idx = backend.view_indices(base._data, view._data)
    view._data[...] = res._data
    view._bump_version()
    if res._requires_grad or base._requires_grad:
        _attach(base, CopySlicesView.apply(base, res, idx))
        _attach(view, ViewOfBase.apply(base, idx, view._data))
    view._hist_v = view._vc.value
    return view
