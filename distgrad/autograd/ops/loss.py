"""Loss ops with their own backward: fused cross entropy, nll_loss, binary cross entropy.

``CrossEntropyIndex`` fuses log_softmax and the negative log-likelihood of
class indices into one node: forward is a stable log-softmax plus a gather,
backward is ``softmax - smoothed one-hot`` scaled by the class weights,
computed straight on arrays in an ordinary backward pass.  Under
``create_graph=True`` the same gradient is built from Tensor ops on the
saved input, so second derivatives stay right.

All three take 2-D ``(M, C)`` scores and ``(M,)`` targets (the functional
wrappers in :mod:`distgrad.nn.loss_functions` move the class dimension and
flatten), class weights as a plain array (PyTorch gives them no gradient),
and one of ``"none" | "mean" | "sum"``.  "mean" divides by the summed weights
of the targets that are not ``ignore_index``, exactly as PyTorch does.

Example::

    >>> import distgrad
    >>> from distgrad.autograd.ops.loss import CrossEntropyIndex
    >>> x = distgrad.zeros(2, 4, requires_grad=True)
    >>> loss = CrossEntropyIndex.apply(x, distgrad.tensor([0, 3])._data, None, -100, 0.0, "mean")
    >>> round(loss.item(), 4)
    1.3863
"""
from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.softmax import softmax
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.tensor import Tensor


def _xp(x):
    return backend.get_array_module(x)


def _reduce(per, denom, reduction):
    xp = _xp(per)
    if reduction == "none":
        return per
    total = per.sum()
    if reduction == "sum":
        return xp.asarray(total, dtype=per.dtype)
    return xp.asarray(_divide(total, denom), dtype=per.dtype)


def _divide(a, b):
    """a / b; a zero host denominator (every target ignored) gives nan quietly, as in PyTorch."""
    if _on_host(b) and b == 0:
        with _errstate(_xp(b)):
            return a / b
    return a / b


def _on_host(v):
    return backend.is_host_module(_xp(v))


class _errstate:
    """Silence 0/0 and log(0) warnings on NumPy (a no-op for CuPy, which does not warn)."""

    def __init__(self, xp):
        self.np = xp if backend.is_host_module(xp) else None

    def __enter__(self):
        if self.np is not None:
            self._old = self.np.seterr(divide="ignore", invalid="ignore")

    def __exit__(self, *exc):
        if self.np is not None:
            self.np.seterr(**self._old)


def _target_weights(x, target, weight, ignore_index):
    """Per-row weight of the target class (0 for ignored rows), and targets safe to index with."""
    xp = _xp(x)
    valid = target != ignore_index
    safe = xp.where(valid, target, 0)
    wt = weight[safe] if weight is not None else xp.ones(target.shape, dtype=x.dtype)
    return safe, wt * valid, valid


def _coef(g, ctx):
    """The upstream gradient as a per-row factor: g itself, or g / the mean's denominator."""
    if ctx.reduction == "none":
        return g.reshape(-1, 1)
    if ctx.reduction == "sum":
        return g
    if isinstance(g, Tensor):  # graph mode (create_graph=True): rare, so the warning guard is unconditional
        with _errstate(_xp(ctx.denom)):
            return g / Tensor._make(ctx.denom)
    return _divide(g, ctx.denom)


class CrossEntropyIndex(ArrayFunction):
    """log_softmax + nll over class indices, with weights, ignore_index and label smoothing."""

    node_name = "CrossEntropyLossBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, smoothing, reduction):
        xp = _xp(x)
        m, c = x.shape
        shifted = x - x.max(axis=1, keepdims=True) if m else x
        lsm = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        safe, wt, valid = _target_weights(x, target, weight, ignore_index)
        picked = lsm[xp.arange(m), safe]
        per = -(1.0 - smoothing) * wt * picked
        if smoothing:
            smooth = -(lsm * weight).sum(axis=1) if weight is not None else -lsm.sum(axis=1)
            per = per + (smoothing / c) * smooth * valid
        per = per.astype(x.dtype, copy=False)
        ctx.save_for_backward(x, lsm)
        ctx.safe, ctx.wt, ctx.valid, ctx.weight = safe, wt, valid, weight
        ctx.smoothing, ctx.reduction = smoothing, reduction
        ctx.denom = wt.sum() if reduction == "mean" else None  # stays on the device: no sync
        return _reduce(per, ctx.denom, reduction)

    @staticmethod
    def backward(ctx, g):
        x, lsm = ctx.saved_tensors
        xp = _xp(ctx.wt)
        m, c = x.shape
        eps, weight, valid = ctx.smoothing, ctx.weight, ctx.valid
        wsum = weight.sum() if weight is not None else float(c)
        # d loss_i / d x_i = p_i * S_i + A_i, with A the (smoothed, weighted) negative one-hot
        s = (1.0 - eps) * ctx.wt + (eps / c) * wsum * valid
        rows = xp.arange(m)
        if not isinstance(g, Tensor):
            out = xp.exp(lsm) * s[:, None].astype(lsm.dtype)
            out[rows, ctx.safe] -= ((1.0 - eps) * ctx.wt).astype(out.dtype)
            if eps:
                w_row = weight[None, :] if weight is not None else 1.0
                out -= ((eps / c) * w_row * valid[:, None]).astype(out.dtype)
            return out * _coef(g, ctx), None, None, None, None, None
        a = xp.zeros((m, c), dtype=x._data.dtype)
        a[rows, ctx.safe] = -(1.0 - eps) * ctx.wt
        if eps:
            a -= (eps / c) * (weight[None, :] if weight is not None else 1.0) * valid[:, None]
        p = softmax(x, 1)
        base = p * Tensor._make(s[:, None].astype(a.dtype)) + Tensor._make(a)
        return base * _coef(g, ctx), None, None, None, None, None


class NllLoss(ArrayFunction):
    """Negative log-likelihood of class indices given log-probabilities ``x``."""

    node_name = "NllLossBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        xp = _xp(x)
        safe, wt, _ = _target_weights(x, target, weight, ignore_index)
        picked = x[xp.arange(x.shape[0]), safe]
        per = (-wt * picked).astype(x.dtype, copy=False)
        ctx.shape, ctx.safe, ctx.wt, ctx.reduction = x.shape, safe, wt, reduction
        ctx.denom = wt.sum() if reduction == "mean" else None  # stays on the device: no sync
        return _reduce(per, ctx.denom, reduction)

    @staticmethod
    def backward(ctx, g):
        xp = _xp(ctx.wt)
        a = xp.zeros(ctx.shape, dtype=ctx.wt.dtype)
        a[xp.arange(ctx.shape[0]), ctx.safe] = -ctx.wt
        if isinstance(g, Tensor):
            a = Tensor._make(a.astype(g._data.dtype, copy=False))
        else:
            a = a.astype(g.dtype, copy=False)
        return a * _coef(g, ctx), None, None, None, None


class BinaryCrossEntropy(ArrayFunction):
    """Elementwise -w * (t log x + (1 - t) log(1 - x)), each log clamped at -100 like PyTorch."""

    node_name = "BinaryCrossEntropyBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, x, t, weight):
        xp = _xp(x)
        with _errstate(xp):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log(1 - x), -100)
        per = -(t * log_x + (1 - t) * log_1mx)
        if weight is not None:
            per = per * weight
        ctx.save_for_backward(x, t)
        ctx.weight = weight
        return per.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        xp = xp_of(g)
        w = ctx.weight
        if w is not None:
            g = g * (Tensor._make(w) if isinstance(g, Tensor) else w)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            # PyTorch's formula: (x - t) / max(x (1 - x), 1e-12)
            gx = g * (x - t) / xp.maximum((1 - x) * x, 1e-12)
        if ctx.needs_input_grad[1]:
            # PyTorch's target gradient is -logit(x), unclamped (infinite at x = 0 or 1)
            with _errstate(_xp(x._data if isinstance(x, Tensor) else x)):
                gt = g * (xp.log(1 - x) - xp.log(x))
        return gx, gt, None
