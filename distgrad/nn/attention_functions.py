"""Attention maths: ``F.scaled_dot_product_attention`` and ``F.multi_head_attention_forward``.

``nn.MultiheadAttention`` holds the parameters and calls
``multi_head_attention_forward``.  ``scaled_dot_product_attention`` runs as one
fused node (``autograd/ops/attention.py``: scores, mask, softmax, dropout and
the value product, with a hand-written backward that also gives second
derivatives); ``multi_head_attention_forward`` projects, splits the heads and
calls it, or composes the same steps from Tensor ops when it must return the
attention weights (``need_weights=True``).  Mask conventions follow PyTorch and
differ between the two:

* ``scaled_dot_product_attention``: a bool ``attn_mask`` is True where a query
  MAY attend; a float mask is added to the scores.  A query whose every key is
  masked gets zeros (PyTorch's "safe softmax"), not NaN.
* ``multi_head_attention_forward`` (``nn.MultiheadAttention``): bool
  ``attn_mask``/``key_padding_mask`` are True where attention is NOT allowed;
  float masks are added.  With ``need_weights=True`` a fully masked query gives
  NaN, as in PyTorch.

Example::

    >>> import distgrad
    >>> import distgrad.nn.functional as F
    >>> q = k = v = distgrad.randn(2, 4, 5, 8)          # (batch, heads, length, head_dim)
    >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
    distgrad.Size([2, 4, 5, 8])
"""
import math
import warnings

import numpy as np

from distgrad import dtypes
from distgrad.autograd.ops.attention import attention, blocked_bias, causal_bias
from distgrad.autograd.ops.join import cat
from distgrad.autograd.raw import array_of
from distgrad.autograd.ops.softmax import softmax
from distgrad.autograd.tensor import Tensor
from distgrad.creation import zeros, zeros_like
from distgrad.nn.dropout_functions import dropout, keep_mask
from distgrad.nn.linear_functions import linear


def _dropout(x, p):
    """``x`` with dropout ``p`` applied (attention drops weights whenever p > 0; callers zero p in eval)."""
    if p <= 0.0:
        return x
    return dropout(x, p=p, training=True)


def _check_tensor(op, name, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """``softmax(q @ k^T * scale + mask) @ v`` over the last two dims (``F.scaled_dot_product_attention``).

    ``query`` is ``(..., L, E)``, ``key`` ``(..., S, E)``, ``value`` ``(..., S, Ev)``;
    ``attn_mask`` broadcasts to ``(..., L, S)``; ``is_causal`` masks keys after
    each query; ``scale`` defaults to ``1/sqrt(E)``; dropout (``dropout_p``)
    always applies, as in PyTorch.  ``enable_gqa`` lets key/value carry fewer
    heads (dim -3) than the query, each shared by a group of query heads.

    Example::

        >>> import distgrad
        >>> q = distgrad.randn(3, 5, 8)
        >>> F.scaled_dot_product_attention(q, q, q).shape
        distgrad.Size([3, 5, 8])
    """
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        _check_tensor(op, name, t)
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(f"{op}: query, key and value must have at least 2 dimensions, got shapes "
                           f"{list(query.shape)}, {list(key.shape)}, {list(value.shape)}")
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise RuntimeError(f"{op}: Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead.")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"{op}: query {list(query.shape)}, key {list(key.shape)} and value "
                           f"{list(value.shape)} do not fit: query and key need the same last dimension, key and "
                           f"value the same length (dim -2)")
    if enable_gqa and key.ndim >= 3 and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hq % hk or value.shape[-3] != hk:
            raise RuntimeError(f"{op}: with enable_gqa the number of query heads ({hq}) must be a multiple of "
                               f"the key/value heads ({hk}, {value.shape[-3]})")
        key, value = _repeat_heads(key, hq // hk), _repeat_heads(value, hq // hk)
    length, src = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    bias, safe = None, False  # safe: a query whose every key is masked gets zeros
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(f"{op}: Explicit attn_mask should not be set when is_causal=True")
        bias = causal_bias(length, src, array_of(query))
    elif attn_mask is not None:
        _check_tensor(op, "attn_mask", attn_mask)
        if attn_mask.dtype == dtypes.bool_:
            bias = blocked_bias(~array_of(attn_mask), array_of(query).dtype)
        elif attn_mask.dtype != query.dtype:
            raise RuntimeError(f"{op}: Expected attn_mask dtype to be bool or float or to match query dtype, "
                               f"but got attn_mask.dtype: {attn_mask.dtype} and query.dtype: {query.dtype}")
        else:
            bias = attn_mask
        safe = True
    keep = None
    if dropout_p > 0.0:
        batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2],
                                    tuple(bias.shape[:-2]) if bias is not None else ())
        keep = keep_mask(batch + (length, src), dropout_p, array_of(query))
    return attention(query, key, value, bias, keep, scale, safe)


def _repeat_heads(t, times):
    """(..., H, S, E) -> (..., H * times, S, E), each head repeated ``times`` times in a row."""
    shape = t.shape
    expanded = t.unsqueeze(-3).expand(*shape[:-2], times, *shape[-2:])
    return expanded.reshape(*shape[:-3], shape[-3] * times, *shape[-2:])


def canonical_mask(mask, name, query_dtype, other=None, other_name=None):
    """A bool mask (True = blocked) as a float mask of 0 and -inf; a float mask unchanged.

    PyTorch's ``torch.nn.functional._canonical_mask``: ``other`` is the dtype of
    the mask this one is merged with (or None); when the two differ PyTorch
    warns that mixing them is deprecated, and so does this.  Integer masks are
    refused.  ``MultiheadAttention`` and the Transformer layers call it too.

    Example::

        >>> from distgrad.nn.attention_functions import canonical_mask
        >>> canonical_mask(distgrad.tensor([False, True]), "key_padding_mask", distgrad.float32)
        tensor([0., -inf])
    """
    if mask is None:
        return None
    _check_tensor("multi_head_attention_forward", name, mask)
    if mask.dtype != dtypes.bool_ and not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {name} are supported")
    if other is not None and mask.dtype != other:
        warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. Use same type for both "
                      "instead.", stacklevel=3)
    if mask.dtype == dtypes.bool_:
        return zeros_like(mask, dtype=query_dtype).masked_fill(mask, float("-inf"))
    return mask


def _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """True for batched (3-D) input, False for unbatched (2-D); PyTorch's ``_mha_shape_check`` errors otherwise."""
    if query.ndim not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D "
                             f"query tensor")
    batched = query.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {query.ndim}-D but found "
                             f"{key.ndim}-D and {value.ndim}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                             f"{query.ndim - 1}-D but found {key_padding_mask.ndim}-D tensor instead")
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                                 f"{attn_mask.ndim}-D tensor instead")
        if not batched and attn_mask.ndim == 3:
            want = (num_heads, query.shape[0], key.shape[0])
            if tuple(attn_mask.shape) != want:
                raise AssertionError(f"Expected `attn_mask` shape to be {want} but got {attn_mask.shape}")
    return batched


def _project(query, key, value, in_proj_weight, in_proj_bias, separate, q_w, k_w, v_w):
    e = query.shape[-1]
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias[:e], in_proj_bias[e:2 * e], in_proj_bias[2 * e:]
    else:
        b_q = b_k = b_v = None
    if separate:
        return linear(query, q_w, b_q), linear(key, k_w, b_k), linear(value, v_w, b_v)
    if query is key and key is value:  # self-attention: one matmul for q, k and v
        return linear(query, in_proj_weight, in_proj_bias).chunk(3, dim=-1)
    w_q, w_k, w_v = in_proj_weight[:e], in_proj_weight[e:2 * e], in_proj_weight[2 * e:]
    return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """``nn.MultiheadAttention``'s maths on sequence-first ``(L, N, E)`` or ``(L, E)`` inputs.

    PyTorch's ``torch.nn.functional.multi_head_attention_forward``.

    Returns ``(attn_output, attn_weights)``; the weights are averaged over
    heads with ``average_attn_weights`` and are None without ``need_weights``.

    Example::

        >>> import distgrad
        >>> mha = distgrad.nn.MultiheadAttention(8, 2)
        >>> x = distgrad.randn(5, 3, 8)
        >>> F.multi_head_attention_forward(x, x, x, 8, 2, mha.in_proj_weight, mha.in_proj_bias, None, None,
        ...     False, 0.0, mha.out_proj.weight, mha.out_proj.bias)[1].shape
        distgrad.Size([3, 5, 5])
    """
    op = "multi_head_attention_forward"
    for name, t in (("query", query), ("key", key), ("value", value)):
        _check_tensor(op, name, t)
    batched = _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = canonical_mask(key_padding_mask, "key_padding_mask", query.dtype,
                                      None if attn_mask is None else attn_mask.dtype, "attn_mask")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # PyTorch trusts the hint: the causal mask is made, the given one is not read
    else:
        attn_mask = canonical_mask(attn_mask, "attn_mask", query.dtype)
        if key_padding_mask is not None:
            is_causal = False  # the merged mask is no longer the causal one
    _check_dims(query, key, value, embed_dim_to_check, num_heads, bsz, use_separate_proj_weight)
    head_dim = embed_dim // num_heads
    q, k, v = _project(query, key, value, in_proj_weight, in_proj_bias, use_separate_proj_weight,
                       q_proj_weight, k_proj_weight, v_proj_weight)
    attn_mask = _attn_mask_3d(attn_mask, tgt_len, src_len, bsz * num_heads)
    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key/value.")
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    elif (bias_k is None) != (bias_v is None):
        raise AssertionError("bias_k and bias_v must both be given or both be None")
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _heads(k, static_k, "static_k", bsz, num_heads, head_dim)
    v = _heads(v, static_v, "static_v", bsz, num_heads, head_dim)
    if add_zero_attn:
        k = cat([k, zeros(bsz * num_heads, 1, head_dim, dtype=k.dtype, device=k.device)], dim=1)
        v = cat([v, zeros(bsz * num_heads, 1, head_dim, dtype=v.dtype, device=v.device)], dim=1)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    src_len = k.shape[1]
    if key_padding_mask is not None:
        _check_key_padding_mask(key_padding_mask, bsz, src_len)
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0
    if need_weights:
        scores = (q * math.sqrt(1.0 / head_dim)) @ k.transpose(-2, -1)
        if attn_mask is not None:
            scores = attn_mask + scores
        weights = _dropout(softmax(scores, -1), dropout_p)
        out = (weights @ v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights
    if attn_mask is not None:
        if attn_mask.shape[0] == 1:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    return (out if batched else out.squeeze(1)), None


def _check_dims(query, key, value, embed_dim_to_check, num_heads, bsz, separate):
    """PyTorch's checks of the embedding size, the head split and the key/value shapes."""
    embed_dim = query.shape[-1]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    if (embed_dim // num_heads) * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if separate and key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                             f"{value.shape[:2]}")
    if not separate and key.shape != value.shape:
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
    if key.shape[1] != bsz:
        raise AssertionError(f"key shape {list(key.shape)} and value shape {list(value.shape)} do not match the "
                             f"batch of query {list(query.shape)}")


def _attn_mask_3d(attn_mask, tgt_len, src_len, batch_heads):
    """A 2-D (L, S) or 3-D (N * heads, L, S) float mask as 3-D (1 or N * heads, L, S), shapes checked."""
    if attn_mask is None:
        return None
    if attn_mask.ndim == 2:
        if tuple(attn_mask.shape) != (tgt_len, src_len):
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                               f"{(tgt_len, src_len)}.")
        return attn_mask.unsqueeze(0)
    if attn_mask.ndim == 3:
        if tuple(attn_mask.shape) != (batch_heads, tgt_len, src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                               f"{(batch_heads, tgt_len, src_len)}.")
        return attn_mask
    raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")


def _check_key_padding_mask(mask, bsz, src_len):
    if tuple(mask.shape) != (bsz, src_len):
        axis, want = (0, bsz) if mask.shape[0] != bsz else (1, src_len)
        raise AssertionError(f"Expected key_padded_mask.shape[{axis}] to be {want}, but got {mask.shape[axis]} "
                             f"(expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                             f"{tuple(mask.shape)})")


def _pad_last(mask):
    """Append one always-allowed key position (a zero column) to a float mask."""
    if mask is None:
        return None
    return cat([mask, zeros(*mask.shape[:-1], 1, dtype=mask.dtype, device=mask.device)], dim=-1)


def _heads(t, static, name, bsz, num_heads, head_dim):
    """(S, N, E) -> (N * heads, S, head_dim), or the given static (N * heads, S, head_dim) tensor."""
    if static is None:
        return t.reshape(t.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if static.shape[0] != bsz * num_heads or static.shape[2] != head_dim:
        raise AssertionError(f"expecting {name}.size(0) of {bsz * num_heads} and {name}.size(2) of {head_dim}, "
                             f"but got {tuple(static.shape)}")
    return static
