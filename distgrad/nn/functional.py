"""distgrad.nn.functional: the stateless forms of the layers, activations and losses.

Same names and signatures as ``torch.nn.functional``.  Layers (``nn.Linear``,
``nn.BatchNorm2d`` ...) call into these; user code can call them directly
with its own weights.

Example::

    >>> import distgrad
    >>> import distgrad.nn.functional as F
    >>> F.relu(distgrad.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    >>> F.one_hot(distgrad.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
"""
import warnings

from distgrad import dtypes
from distgrad import random
from distgrad.autograd.grad_mode import no_grad
from distgrad.autograd.ops import inplace as _inplace
from distgrad.autograd.ops import unary as _unary
from distgrad.autograd.ops.activation import elu as _elu
from distgrad.autograd.ops.activation import gelu as _gelu
from distgrad.autograd.ops.activation import leaky_relu as _leaky_relu
from distgrad.autograd.ops.activation import silu as _silu
from distgrad.autograd.ops.activation import softplus as _softplus
from distgrad.autograd.ops.embedding import embedding_lookup
from distgrad.autograd.ops.linear import linear  # noqa: F401  (re-exported)
from distgrad.autograd.ops.pad import pad  # noqa: F401  (re-exported)
from distgrad.autograd.ops.attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: F401,E501
from distgrad.autograd.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d, fold, unfold  # noqa: F401
from distgrad.autograd.ops.pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d  # noqa: F401,E501
from distgrad.autograd.ops.softmax import log_softmax as _log_softmax
from distgrad.autograd.ops.softmax import softmax as _softmax
from distgrad.autograd.tensor import Tensor
from distgrad.nn.loss_functions import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                                        cross_entropy, huber_loss, kl_div, l1_loss, mse_loss, nll_loss,
                                        smooth_l1_loss)
from distgrad.nn.norm_functions import batch_norm, group_norm, layer_norm  # noqa: F401


# --- activations ---------------------------------------------------------------------------------
def relu(input, inplace=False):
    """max(0, x)."""
    return input.relu_() if inplace else _unary.relu(input)


def relu_(input):
    return input.relu_()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, else ``negative_slope * x``."""
    if inplace:
        return _inplace.apply_inplace(input, _leaky_relu, (negative_slope,), "leaky_relu_")
    return _leaky_relu(input, negative_slope)


def elu(input, alpha=1.0, inplace=False):
    """x where x > 0, else ``alpha * (exp(x) - 1)``."""
    if inplace:
        return _inplace.apply_inplace(input, _elu, (alpha,), "elu_")
    return _elu(input, alpha)


def gelu(input, approximate="none"):
    """x * Phi(x) (``approximate="tanh"`` uses the tanh formula)."""
    return _gelu(input, approximate)


def silu(input, inplace=False):
    """x * sigmoid(x), a.k.a. swish."""
    if inplace:
        return _inplace.apply_inplace(input, _silu, (), "silu_")
    return _silu(input)


def sigmoid(input):
    return _unary.sigmoid(input)


def tanh(input):
    return _unary.tanh(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    return _softplus(input, beta, threshold)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``."""
    return _softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - logsumexp(x) along ``dim``."""
    return _log_softmax(input, dim, dtype)


# --- dropout -------------------------------------------------------------------------------------
def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) (training only).

    Example::

        >>> x = distgrad.ones(1000)
        >>> y = F.dropout(x, 0.5)
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
    """
    if not isinstance(p, (int, float)) or isinstance(p, bool) or p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout(): argument 'input' must be Tensor, not {type(input).__name__}")
    return _masked_dropout(input, p, training, inplace, tuple(input.shape))


def _masked_dropout(input, p, training, inplace, mask_shape):
    """Multiply by a 0 / (1/(1-p)) mask of ``mask_shape`` (broadcast over the rest of the input)."""
    if not training or p == 0:
        return input
    dtype = input._data.dtype
    if p == 1:
        mask = input._xp().zeros(mask_shape, dtype=dtype)
    else:
        u = random.uniform_array(mask_shape, 0.0, 1.0, dtype, input.device)
        mask = (u >= p).astype(dtype) * dtype.type(1.0 / (1.0 - p))
    mask = Tensor._make(mask)
    return input.mul_(mask) if inplace else input * mask


def _feature_dropout(op, input, p, training, inplace, ranks):
    """Drop whole channels: one draw per (sample, channel); ``ranks`` = (unbatched, batched) ndim."""
    if not isinstance(p, (int, float)) or isinstance(p, bool) or p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    nd = input.ndim
    if nd not in ranks:
        msg = (f"{op}: Received a {nd}-D input of shape {tuple(input.shape)}; {op} drops whole channels of "
               f"inputs with a channel dimension, {ranks[0] - 1} spatial dimension(s) and an optional batch "
               f"dimension (i.e. {ranks[0]}D or {ranks[1]}D inputs)")
        if op == "dropout1d" or nd < 2:
            raise RuntimeError(msg)
        warnings.warn(msg + "; treating dims 0 and 1 as (N, C)", stacklevel=3)
    # PyTorch reads a 3-D input to dropout2d as (N, C, L), so only the smallest rank is unbatched
    lead = 1 if nd == ranks[0] and op != "dropout2d" else 2
    mask_shape = tuple(input.shape[:lead]) + (1,) * (nd - lead)
    return _masked_dropout(input, p, training, inplace, mask_shape)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero entire channels of (N, C, L) or (C, L) input with probability ``p``."""
    return _feature_dropout("dropout1d", input, p, training, inplace, (2, 3))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero entire channels of (N, C, H, W) input with probability ``p`` (3-D input counts as (N, C, L))."""
    return _feature_dropout("dropout2d", input, p, training, inplace, (3, 4))


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero entire channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""
    return _feature_dropout("dropout3d", input, p, training, inplace, (4, 5))


# --- embeddings and encodings --------------------------------------------------------------------
def _embedding_renorm(weight, idx, max_norm, norm_type):
    """Rescale, in place, the rows ``idx`` whose ``norm_type``-norm exceeds ``max_norm``."""
    xp = weight._xp()
    with no_grad():
        w = weight._data
        rows = xp.unique(idx.reshape(-1))
        picked = w[rows]
        norms = (xp.abs(picked) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
        w[rows] = picked * scale[:, None]
        weight._bump_version()


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by the integer tensor ``input`` (output shape ``input.shape + (dim,)``).

    ``padding_idx``'s row gets no gradient; ``max_norm`` renormalises the
    looked-up rows in place first.  (``sparse=True`` still gives a dense
    gradient: distgrad has no sparse tensors.)
    """
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError("embedding(): 'input' and 'weight' must be Tensors")
    if input.dtype.is_floating_point or input.dtype is dtypes.bool_:
        raise RuntimeError(f"embedding: Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got {input.dtype} instead")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D (num_embeddings, embedding_dim), got shape "
                           f"{tuple(weight.shape)}")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise AssertionError(f"Padding_idx must be within num_embeddings (got {padding_idx} for {num})")
        padding_idx %= num
    idx = input._data.astype(dtypes.int64.np, copy=False)
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= num:
            raise IndexError(f"embedding: index out of range in self (got index {lo if lo < 0 else hi} for a "
                             f"table of {num} embeddings)")
    if max_norm is not None:
        _embedding_renorm(weight, idx, float(max_norm), float(norm_type))
    return embedding_lookup(weight, Tensor._make(idx), padding_idx, bool(scale_grad_by_freq))


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding with a new last dimension of size ``num_classes`` (inferred when -1)."""
    if not isinstance(tensor, Tensor) or tensor.dtype.is_floating_point or tensor.dtype is dtypes.bool_:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    data = tensor._data
    xp = tensor._xp()
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(data.max()) + 1
    if data.size:
        if int(data.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(data.max()) >= num_classes:
            raise RuntimeError(f"Class values must be smaller than num_classes (got {int(data.max())} for "
                               f"num_classes={num_classes}).")
    return Tensor._make((data[..., None] == xp.arange(num_classes)).astype(dtypes.int64.np))


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(||input||_p, eps)`` along ``dim``."""
    if out is not None:
        raise NotImplementedError("normalize(out=...) is not supported")
    denom = input.norm(p, dim, keepdim=True).clamp(min=eps)
    return input / denom


# --- linear maps ---------------------------------------------------------------------------------
def bilinear(input1, input2, weight, bias=None):
    """``y_k = x1^T W_k x2 + b_k`` for ``weight`` of shape (out, in1, in2)."""
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-D (out, in1, in2), got shape {tuple(weight.shape)}")
    out_f, in1, in2 = weight.shape
    if input1.ndim == 0 or input1.shape[-1] != in1 or input2.ndim == 0 or input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): expected inputs with last dimensions {in1} and {in2}, got shapes "
                           f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input1 and input2 must have the same leading dimensions, got "
                           f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    lead = tuple(input1.shape[:-1])
    x1, x2 = input1.reshape(-1, in1), input2.reshape(-1, in2)
    t = x1 @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    y = (t.reshape(-1, out_f, in2) * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (out_f,))
