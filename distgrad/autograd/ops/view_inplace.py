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
from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.tensor import Tensor
from distgrad.autograd.wiring import take_history
from distgrad.creation import zeros


def _take(g, idx):
    """The elements of base-shaped ``g`` at the view's positions, in the view's shape (differentiable on Tensors)."""
    flat = idx.reshape(-1)
    if isinstance(g, Tensor):
        from distgrad.autograd.ops.index import Index  # deferred: index imports this module's layer
        return Index.apply(g.reshape(-1), (flat,)).reshape(idx.shape)
    return g.reshape(-1)[flat].reshape(idx.shape)


def _put(base, idx, values):
    """A copy of base-shaped ``base`` with the view's positions set to ``values`` (a number or view-shaped)."""
    flat = idx.reshape(-1)
    if isinstance(base, Tensor):
        from distgrad.autograd.ops.index import IndexPut  # deferred: see _take
        vals = values.reshape(-1) if isinstance(values, Tensor) else values
        return IndexPut.apply(base.reshape(-1), vals, (flat,)).reshape(base.shape)
    out = base.copy()
    out.reshape(-1)[flat] = values if not hasattr(values, "reshape") else values.reshape(-1)
    return out


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
        ctx.idx = idx
        return base

    @staticmethod
    def backward(ctx, g):
        return _put(g, ctx.idx, 0.0), _take(g, ctx.idx), None


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
        if isinstance(g, Tensor):
            blank = zeros(ctx.shape, dtype=g.dtype, device=g.device)
        else:
            blank = backend.get_array_module(g).zeros(ctx.shape, dtype=g.dtype)
        return _put(blank, ctx.idx, g), None, None


def refresh_view(view):
    """Give a stale view (its base was written since its history was made) its history from the base's."""
    base = view._base
    view._hist_v = view._vc.value
    if not base._requires_grad:
        return
    idx = backend.view_indices(base._data, view._data)
    take_history(view, ViewOfBase.apply(base, idx, view._data))


def write_into_view(view, res):
    """Store ``res`` into ``view`` (so into its base) and rewrite both histories, as PyTorch does."""
    base = view._base
    idx = backend.view_indices(base._data, view._data)
    view._data[...] = res._data
    view._bump_version()
    if res._requires_grad or base._requires_grad:
        take_history(base, CopySlicesView.apply(base, res, idx))
        take_history(view, ViewOfBase.apply(base, idx, view._data))
    view._hist_v = view._vc.value
    return view
