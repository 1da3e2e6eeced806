"""``nn.MultiheadAttention``: attention over several heads, with PyTorch's parameters and masks.

The parameter names and shapes are PyTorch's, so state dicts load both ways:
``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E) when query, key and value
share the embedding size, else ``q_proj_weight``, ``k_proj_weight``,
``v_proj_weight``; ``out_proj.weight``/``out_proj.bias``; ``bias_k``/``bias_v``
with ``add_bias_kv``.  Inputs are ``(L, N, E)`` (``(N, L, E)`` with
``batch_first``) or unbatched ``(L, E)``; the masks follow PyTorch (bool True =
not allowed, float masks are added).

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> mha = nn.MultiheadAttention(16, 4, batch_first=True)
    >>> x = distgrad.randn(2, 5, 16)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    (distgrad.Size([2, 5, 16]), distgrad.Size([2, 5, 5]))
"""
from distgrad.autograd.tensor import Tensor
from distgrad.creation import empty
from distgrad.nn import functional as F
from distgrad.nn import init
from distgrad.nn.attention_functions import canonical_mask
from distgrad.nn.linear import Linear
from distgrad.nn.module import Module
from distgrad.nn.parameter import Parameter


class NonDynamicallyQuantizableLinear(Linear):
    """The Linear that PyTorch uses for ``MultiheadAttention.out_proj`` (same maths, its own repr name)."""


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017): ``forward(query, key, value, ...)`` -> ``(output, weights)``.

    PyTorch's ``torch.nn.MultiheadAttention``.

    Example::

        >>> import distgrad
        >>> from distgrad import nn
        >>> mha = nn.MultiheadAttention(8, 2, kdim=4, vdim=6)
        >>> q, k, v = distgrad.randn(3, 1, 8), distgrad.randn(5, 1, 4), distgrad.randn(5, 1, 6)
        >>> mha(q, k, v)[0].shape
        distgrad.Size([3, 1, 8])
    """

    __constants__ = ["batch_first"]

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        kw = dict(device=device, dtype=dtype)
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(empty((embed_dim, embed_dim), **kw))
            self.k_proj_weight = Parameter(empty((embed_dim, self.kdim), **kw))
            self.v_proj_weight = Parameter(empty((embed_dim, self.vdim), **kw))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty((3 * embed_dim, embed_dim), **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, embed_dim), **kw))
            self.bias_v = Parameter(empty((1, 1, embed_dim), **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        """PyTorch's initialisation: xavier-uniform projections, zero biases, xavier-normal bias_k/bias_v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def _check_inputs(self, query, key, value):
        for name, t, size in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if not isinstance(t, Tensor):
                raise TypeError(f"MultiheadAttention: expected {name} to be a Tensor, got {type(t).__name__}")
            if t.ndim not in (2, 3) or t.shape[-1] != size:
                raise AssertionError(f"{self._get_name()}(embed_dim={self.embed_dim}, num_heads={self.num_heads}) "
                                     f"expected {name} of shape (L, N, {size}), (N, L, {size}) with batch_first "
                                     f"or (L, {size}), got {name} of shape {tuple(t.shape)}")
            if t.dtype != self.out_proj.weight.dtype:
                raise RuntimeError(f"MultiheadAttention has {self.out_proj.weight.dtype} parameters but got a "
                                   f"{t.dtype} {name}")

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """Attend from ``query`` to ``key``/``value``; returns ``(attn_output, attn_weights or None)``.

        ``key_padding_mask`` (N, S) marks keys to ignore; ``attn_mask`` (L, S) or
        (N * num_heads, L, S) blocks (bool True) or biases (float) pairs;
        the weights are averaged over heads unless ``average_attn_weights=False``.
        Bool masks become float masks of 0 / -inf, and when both masks are given
        they are added; a bool mask beside a float one works but warns, as
        PyTorch does.  ``is_causal=True`` is a hint that ``attn_mask`` is the
        causal mask: without ``need_weights`` and ``key_padding_mask`` the
        causal mask is then applied and ``attn_mask`` itself is not read.
        """
        self._check_inputs(query, key, value)
        batched = query.ndim == 3
        # bool masks become float (-inf = blocked) here, as in PyTorch, so a mixed pair warns once
        key_padding_mask = canonical_mask(key_padding_mask, "key_padding_mask", query.dtype,
                                          None if attn_mask is None else attn_mask.dtype, "attn_mask")
        attn_mask = canonical_mask(attn_mask, "attn_mask", query.dtype)
        if self.batch_first and batched:
            # sequence-first inside; keep self-attention's shared input shared so q, k, v use one matmul
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = query.transpose(1, 0), key.transpose(1, 0)
                    value = key
            else:
                query, key, value = (t.transpose(1, 0) for t in (query, key, value))
        out, weights = F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        if self.batch_first and batched:
            out = out.transpose(1, 0)
        return out, weights

    def merge_masks(self, attn_mask, key_padding_mask, query):
        """One float mask of shape (N, num_heads, L, S) from ``attn_mask`` and ``key_padding_mask``, and its type.

        Returns ``(mask, mask_type)`` with mask_type 0 (attn_mask only), 1
        (key_padding_mask only) or 2 (both), or ``(None, None)``.
        """
        mask_type, merged = None, None
        if key_padding_mask is not None:
            mask_type, merged = 1, key_padding_mask
        if attn_mask is not None:
            batch, seq_len = query.shape[0], query.shape[1]
            mask_type = 2
            attn_mask = canonical_mask(attn_mask, "attn_mask", query.dtype)
            if attn_mask.ndim == 3:
                attn_mask = attn_mask.reshape(batch, -1, seq_len, seq_len)
            else:
                attn_mask = attn_mask.reshape(1, 1, seq_len, seq_len).expand(batch, self.num_heads, -1, -1)
            merged = attn_mask
            if key_padding_mask is not None:
                kpm = canonical_mask(key_padding_mask, "key_padding_mask", query.dtype)
                kpm = kpm.reshape(batch, 1, 1, seq_len).expand(-1, self.num_heads, -1, -1)
                merged = attn_mask + kpm
        return merged, mask_type
