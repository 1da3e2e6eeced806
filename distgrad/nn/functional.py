"""distgrad.nn.functional: the stateless forms of the layers, activations and losses.

Same names and signatures as ``torch.nn.functional``.  Layers (``nn.Linear``,
``nn.BatchNorm2d`` ...) call into these; user code can call them directly
with its own weights.  Activations and embeddings are defined here; the larger
families have a module each (``linear_functions``, ``dropout_functions``,
``attention_functions``, ``loss_functions``, ``norm_functions``) and the
convolution, pooling and padding ops come from ``distgrad.autograd.ops``; this
module gathers them under one name.

Example::

    >>> import distgrad
    >>> import distgrad.nn.functional as F
    >>> F.relu(distgrad.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    >>> F.one_hot(distgrad.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
"""
from distgrad import torch_alias
from distgrad import dtypes
from distgrad.autograd.grad_mode import no_grad
from distgrad.autograd.ops import inplace as _inplace
from distgrad.autograd.ops import unary as _unary
from distgrad.autograd.ops.activation import elu as _elu
from distgrad.autograd.ops.activation import gelu as _gelu
from distgrad.autograd.ops.activation import leaky_relu as _leaky_relu
from distgrad.autograd.ops.activation import silu as _silu
from distgrad.autograd.ops.activation import softplus as _softplus
from distgrad.autograd.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d, fold, unfold  # noqa: F401
from distgrad.autograd.ops.distance import cosine_similarity, pairwise_distance, pdist  # noqa: F401
from distgrad.autograd.ops.embedding import embedding_lookup
from distgrad.autograd.ops.pad import pad  # noqa: F401  (re-exported)
from distgrad.autograd.ops.adaptive_pooling import adaptive_avg_pool1d, adaptive_avg_pool2d  # noqa: F401
from distgrad.autograd.ops.pooling import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d  # noqa: F401
from distgrad.autograd.ops.softmax import log_softmax as _log_softmax
from distgrad.autograd.ops.softmax import softmax as _softmax
from distgrad.autograd import raw  # the arrays behind tensors (a module, so F's namespace stays the ops)
from distgrad.autograd.tensor import Tensor
from distgrad.nn.attention_functions import multi_head_attention_forward, scaled_dot_product_attention  # noqa: F401,E501
from distgrad.nn.dropout_functions import dropout, dropout1d, dropout2d, dropout3d  # noqa: F401
from distgrad.nn.linear_functions import bilinear, linear  # noqa: F401  (re-exported)
from distgrad.nn.loss_functions import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                                        cross_entropy, huber_loss, kl_div, l1_loss, mse_loss, nll_loss,
                                        smooth_l1_loss)
from distgrad.nn.norm_functions import batch_norm, group_norm, layer_norm  # noqa: F401


# --- activations ---------------------------------------------------------------------------------
def relu(input, inplace=False):
    """max(0, x) elementwise (``torch.nn.functional.relu``)."""
    return input.relu_() if inplace else _unary.relu(input)


def relu_(input):
    """max(0, x) in place (``torch.nn.functional.relu_``)."""
    return input.relu_()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, else ``negative_slope * x`` (``torch.nn.functional.leaky_relu``)."""
    if inplace:
        return _inplace.apply_inplace(input, _leaky_relu, (negative_slope,), "leaky_relu_")
    return _leaky_relu(input, negative_slope)


def elu(input, alpha=1.0, inplace=False):
    """x where x > 0, else ``alpha * (exp(x) - 1)`` (``torch.nn.functional.elu``)."""
    if inplace:
        return _inplace.apply_inplace(input, _elu, (alpha,), "elu_")
    return _elu(input, alpha)


def gelu(input, approximate="none"):
    """x * Phi(x); ``approximate="tanh"`` uses the tanh formula (``torch.nn.functional.gelu``)."""
    return _gelu(input, approximate)


def silu(input, inplace=False):
    """x * sigmoid(x), a.k.a. swish (``torch.nn.functional.silu``)."""
    if inplace:
        return _inplace.apply_inplace(input, _silu, (), "silu_")
    return _silu(input)


def sigmoid(input):
    """1 / (1 + exp(-x)) (``torch.nn.functional.sigmoid``)."""
    return _unary.sigmoid(input)


def tanh(input):
    """tanh(x) (``torch.nn.functional.tanh``)."""
    return _unary.tanh(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (``torch.nn.functional.softplus``)."""
    return _softplus(input, beta, threshold)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim`` (``torch.nn.functional.softmax``)."""
    return _softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - logsumexp(x) along ``dim`` (``torch.nn.functional.log_softmax``)."""
    return _log_softmax(input, dim, dtype)


# --- embeddings and encodings --------------------------------------------------------------------
def _embedding_renorm(weight, idx, max_norm, norm_type):
    """Rescale, in place, the rows ``idx`` whose ``norm_type``-norm exceeds ``max_norm``."""
    xp = weight._xp()
    with no_grad():
        w = raw.array_of(weight)
        rows = xp.unique(idx.reshape(-1))
        picked = w[rows]
        norms = (xp.abs(picked) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
        w[rows] = picked * scale[:, None]
        raw.bump_version(weight)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by the integer tensor ``input`` (``torch.nn.functional.embedding``).

    The output has shape ``input.shape + (embedding_dim,)``.

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
    idx = raw.array_of(input).astype(dtypes.int64.np, copy=False)
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= num:
            raise IndexError(f"embedding: index out of range in self (got index {lo if lo < 0 else hi} for a "
                             f"table of {num} embeddings)")
    if max_norm is not None:
        _embedding_renorm(weight, idx, float(max_norm), float(norm_type))
    return embedding_lookup(weight, Tensor._make(idx), padding_idx, bool(scale_grad_by_freq))


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding with a new last dimension of size ``num_classes`` (``torch.nn.functional.one_hot``).

    ``num_classes=-1`` infers it as one more than the largest class.
    """
    if not isinstance(tensor, Tensor) or tensor.dtype.is_floating_point or tensor.dtype is dtypes.bool_:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    data = raw.array_of(tensor)
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
    """``input / max(||input||_p, eps)`` along ``dim`` (``torch.nn.functional.normalize``)."""
    if out is not None:
        raise NotImplementedError("normalize(out=...) is not supported")
    denom = input.norm(p, dim, keepdim=True).clamp(min=eps)
    return input / denom

__getattr__ = torch_alias.missing_attribute(__name__)  # a missing name says so, with PyTorch's name
