"""``nn.TransformerEncoder``, ``nn.TransformerDecoder`` and ``nn.Transformer``, with PyTorch's API.

The stacks hold ``num_layers`` deep copies of one layer in ``layers`` (a
ModuleList, so parameters are named ``layers.0.self_attn.in_proj_weight`` ...)
and an optional final ``norm``; ``nn.Transformer`` is an encoder stack and a
decoder stack, each ending in a LayerNorm, with every matrix re-initialised
xavier-uniform, as PyTorch does.  The layers are in ``transformer_layers``.

When ``is_causal`` is None (the stacks' default) the mask is compared with
``generate_square_subsequent_mask`` and, if it is that mask, the layers are
told so; ``nn.MultiheadAttention`` then applies the causal mask itself.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> model = nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
    ...                        dim_feedforward=32, batch_first=True)
    >>> src, tgt = distgrad.randn(2, 7, 16), distgrad.randn(2, 5, 16)
    >>> model(src, tgt, tgt_mask=model.generate_square_subsequent_mask(5)).shape
    distgrad.Size([2, 5, 16])
"""
from distgrad.nn import init
from distgrad.nn.attention_functions import canonical_mask
from distgrad.nn.module import Module
from distgrad.nn.normalization import LayerNorm
from distgrad.nn import functional as F
from distgrad.nn.transformer_layers import (TransformerDecoderLayer, TransformerEncoderLayer, _detect_is_causal_mask,
                                            _get_clones, _get_seq_len, generate_square_subsequent_mask)


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer``, then ``norm`` if given (``torch.nn.TransformerEncoder``).

    ``enable_nested_tensor`` is accepted and stored for PyTorch compatibility,
    but distgrad has no nested tensors: ``use_nested_tensor`` is always False
    and padded positions are computed like any other (PyTorch's inference fast
    path would return zeros there).  ``mask_check`` is stored likewise; it only
    steers that fast path in PyTorch.

    Example::

        >>> layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
        >>> encoder = nn.TransformerEncoder(layer, num_layers=3, norm=nn.LayerNorm(8))
        >>> src = distgrad.randn(5, 2, 8)
        >>> encoder(src, mask=nn.Transformer.generate_square_subsequent_mask(5)).shape
        distgrad.Size([5, 2, 8])
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = False  # no nested tensors in distgrad (see the class docstring)
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """Run ``src`` through every layer with ``mask`` and ``src_key_padding_mask``, then ``norm``.

        ``is_causal`` None means: find out whether ``mask`` is the causal mask.
        """
        src_key_padding_mask = canonical_mask(src_key_padding_mask, "src_key_padding_mask", src.dtype,
                                              None if mask is None else mask.dtype, "mask")
        mask = canonical_mask(mask, "mask", src.dtype)
        first = self.layers[0] if len(self.layers) else None
        batch_first = getattr(getattr(first, "self_attn", None), "batch_first", False)
        is_causal = _detect_is_causal_mask(mask, is_causal, _get_seq_len(src, batch_first))
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer``, then ``norm`` if given (``torch.nn.TransformerDecoder``).

    Example::

        >>> layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
        >>> decoder = nn.TransformerDecoder(layer, num_layers=2)
        >>> tgt, memory = distgrad.randn(4, 2, 8), distgrad.randn(6, 2, 8)
        >>> decoder(tgt, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(4)).shape
        distgrad.Size([4, 2, 8])
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        """Run ``tgt`` through every layer, each attending to ``memory``, then ``norm``.

        ``tgt_is_causal`` None means: find out whether ``tgt_mask`` is the causal mask.
        """
        first = self.layers[0] if len(self.layers) else None
        batch_first = getattr(getattr(first, "self_attn", None), "batch_first", False)
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, _get_seq_len(tgt, batch_first))
        output = tgt
        for mod in self.layers:
            output = mod(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                         tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need" (``torch.nn.Transformer``).

    ``custom_encoder`` / ``custom_decoder`` replace the default stacks;
    otherwise each is ``num_*_layers`` layers and a final LayerNorm.  Inputs
    are (S, N, E) and (T, N, E), or (N, S, E) and (N, T, E) with
    ``batch_first``; the output has the shape of ``tgt``.

    Example::

        >>> model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
        ...                        dim_feedforward=16)
        >>> model(distgrad.randn(6, 2, 8), distgrad.randn(4, 2, 8)).shape
        distgrad.Size([4, 2, 8])
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation=F.relu, custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        kw = dict(device=device, dtype=dtype)
        super().__init__()
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                            batch_first, norm_first, bias, **kw)
            self.encoder = TransformerEncoder(layer, num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                            batch_first, norm_first, bias, **kw)
            self.decoder = TransformerDecoder(layer, num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """Encode ``src`` into a memory, then decode ``tgt`` against it; masks as in the two stacks."""
        batched = src.ndim == 3
        if batched and src.shape[0 if self.batch_first else 1] != tgt.shape[0 if self.batch_first else 1]:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The (sz, sz) causal float mask: 0 on and below the diagonal, -inf above.

        Example::

            >>> nn.Transformer.generate_square_subsequent_mask(2)
            tensor([[0., -inf],
                    [0., 0.]])
        """
        return generate_square_subsequent_mask(sz, device=device, dtype=dtype)

    def _reset_parameters(self):
        """Xavier-uniform for every parameter with more than one dimension (PyTorch's Transformer init)."""
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)
