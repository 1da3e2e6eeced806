"""``nn.TransformerEncoderLayer`` and ``nn.TransformerDecoderLayer``: one block each, with PyTorch's API.

A layer is self-attention (and, in the decoder, attention over the encoder's
``memory``) followed by a two-layer feed-forward net, each wrapped in a residual
connection and a LayerNorm, after the sum (``norm_first=False``, the 2017 paper)
or before the block (``norm_first=True``, "pre-norm").  The submodules carry
PyTorch's names (``self_attn``, ``multihead_attn``, ``linear1``, ``dropout``,
``linear2``, ``norm1``..``norm3``, ``dropout1``..``dropout3``), so state dicts
move both ways.  The maths is ``nn.MultiheadAttention``, ``nn.Linear``,
``nn.LayerNorm`` and ``nn.Dropout``; this file only wires them.

PyTorch's inference "fast path" (fused kernels and nested tensors, taken in eval
mode without autograd) has no counterpart here: the ordinary path always runs,
which gives the same values except where a query sees only padded keys.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
    >>> layer(distgrad.randn(2, 5, 16)).shape
    distgrad.Size([2, 5, 16])
"""
import copy

from distgrad.creation import full
from distgrad.nn import functional as F
from distgrad.nn.activation import GELU, ReLU
from distgrad.nn.attention import MultiheadAttention
from distgrad.nn.attention_functions import canonical_mask
from distgrad.nn.containers import ModuleList
from distgrad.nn.dropout import Dropout
from distgrad.nn.linear import Linear
from distgrad.nn.module import Module
from distgrad.nn.normalization import LayerNorm


def generate_square_subsequent_mask(sz, device=None, dtype=None):
    """The (sz, sz) causal float mask: 0 on and below the diagonal, -inf above it.

    ``nn.Transformer.generate_square_subsequent_mask`` (a static method there)
    returns this; the encoder and decoder compare a given mask with it to find
    out whether the mask is causal.

    Example::

        >>> from distgrad.nn.transformer_layers import generate_square_subsequent_mask
        >>> generate_square_subsequent_mask(3)
        tensor([[0., -inf, -inf],
                [0., 0., -inf],
                [0., 0., 0.]])
    """
    return full((sz, sz), float("-inf"), dtype=dtype, device=device).triu(1)


def _get_clones(module, n):
    """``n`` independent deep copies of ``module`` in a ModuleList (how PyTorch builds ``layers``)."""
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _get_activation_fn(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _get_seq_len(src, batch_first):
    """The sequence length of a (S, E), (S, N, E) or, with ``batch_first``, (N, S, E) input."""
    if src.ndim == 2:
        return src.shape[0]
    return src.shape[1 if batch_first else 0]


def _detect_is_causal_mask(mask, is_causal=None, size=None):
    """``is_causal`` when it is given; otherwise whether ``mask`` equals the causal mask of ``size``."""
    if is_causal is not None or mask is None:
        return is_causal is True
    sz = size if size is not None else mask.shape[-2]
    causal = generate_square_subsequent_mask(sz, device=mask.device, dtype=mask.dtype)
    if tuple(mask.shape) != tuple(causal.shape):
        return False
    return bool((mask == causal).all())


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward net, each with a residual and a LayerNorm (``torch.nn.TransformerEncoderLayer``).

    ``activation`` is ``"relu"``, ``"gelu"`` or any callable (a function or a
    Module); ``dim_feedforward`` is the hidden size of the feed-forward net;
    ``batch_first`` takes (N, S, E) instead of (S, N, E); ``norm_first``
    normalises before each block instead of after the residual sum; ``bias``
    False drops the biases of every Linear, attention projection and LayerNorm.

    Example::

        >>> layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation="gelu")
        >>> src = distgrad.randn(5, 3, 8)
        >>> mask = nn.Transformer.generate_square_subsequent_mask(5)
        >>> layer(src, src_mask=mask, is_causal=True).shape
        distgrad.Size([5, 3, 8])
    """

    __constants__ = ["norm_first"]

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        kw = dict(device=device, dtype=dtype)
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        # PyTorch records which of its fused activations this is (1 relu, 2 gelu, 0 other)
        if activation is F.relu or isinstance(activation, ReLU):
            self.activation_relu_or_gelu = 1
        elif activation is F.gelu or isinstance(activation, GELU):
            self.activation_relu_or_gelu = 2
        else:
            self.activation_relu_or_gelu = 0
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """Encode ``src``; ``src_mask`` (S, S) or (N * nhead, S, S), ``src_key_padding_mask`` (N, S).

        Bool masks are True where attention is not allowed; float masks are
        added to the scores.  ``is_causal=True`` is a hint that ``src_mask`` is
        the causal mask (a mask must still be given).
        """
        src_key_padding_mask = canonical_mask(src_key_padding_mask, "src_key_padding_mask", src.dtype,
                                              None if src_mask is None else src_mask.dtype, "src_mask")
        src_mask = canonical_mask(src_mask, "src_mask", src.dtype)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """Self-attention, attention over ``memory``, then a feed-forward net (``torch.nn.TransformerDecoderLayer``).

    Each of the three blocks has a residual connection and its own LayerNorm
    (``norm1``, ``norm2``, ``norm3``); the arguments are those of
    ``TransformerEncoderLayer``.

    Example::

        >>> layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True)
        >>> tgt, memory = distgrad.randn(2, 4, 8), distgrad.randn(2, 6, 8)
        >>> layer(tgt, memory).shape
        distgrad.Size([2, 4, 8])
    """

    __constants__ = ["norm_first"]

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        kw = dict(device=device, dtype=dtype)
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias,
                                                 **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _get_activation_fn(activation) if isinstance(activation, str) else activation

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        """Decode ``tgt`` attending to ``memory``; masks as in ``TransformerEncoderLayer.forward``.

        ``tgt_mask`` (T, T) and ``tgt_key_padding_mask`` (N, T) act on the
        self-attention, ``memory_mask`` (T, S) and ``memory_key_padding_mask``
        (N, S) on the attention over ``memory``; the ``*_is_causal`` flags are
        hints that the matching mask is causal.
        """
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal,
                           need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal=False):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))
