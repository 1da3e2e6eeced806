"""Transformer layers, stacks and nn.Transformer: parity with PyTorch (values, input and parameter gradients),
masks, state dicts both ways, dropout train/eval, errors."""
import warnings

import numpy as np
import pytest

import distgrad
from distgrad import nn

E, HEADS, FF, N, S, T = 8, 2, 12, 3, 5, 4
# a float causal mask beside a bool padding mask is a supported (if deprecated) mix: both libraries warn
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _close(ours, theirs, tol=1e-9):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


def _activation_pair(torch, kind):
    """(distgrad activation, torch activation) for a kind name."""
    if kind == "callable":
        return distgrad.tanh, torch.tanh
    if kind == "module":
        return nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")
    return kind, kind


def _twins(torch, name, *args, activation="relu", **kwargs):
    """The distgrad and torch layers ``name`` in float64, with torch's weights loaded into ours."""
    ours_act, their_act = _activation_pair(torch, activation)
    theirs = getattr(torch.nn, name)(*args, activation=their_act, dtype=torch.float64, **kwargs)
    ours = getattr(nn, name)(*args, activation=ours_act, dtype=distgrad.float64, **kwargs)
    sd = theirs.state_dict()
    assert list(ours.state_dict()) == list(sd)
    ours.load_state_dict({k: distgrad.tensor(v.detach().numpy()) for k, v in sd.items()})
    return ours, theirs


def _inputs(torch, arrays):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ds = [distgrad.tensor(a, requires_grad=True) for a in arrays]
    return ds, ts


def _masks(torch, masks):
    """Each named mask array as a (distgrad, torch) pair of kwargs (None stays None)."""
    md, mt = {}, {}
    for k, a in masks.items():
        if isinstance(a, np.ndarray):
            md[k], mt[k] = distgrad.tensor(a), torch.tensor(a)
        else:
            md[k] = mt[k] = a
    return md, mt


def _check(torch, ours, theirs, arrays, masks, seed=1):
    """Forward both with the same inputs and masks; compare outputs, input grads and every parameter grad."""
    ds, ts = _inputs(torch, arrays)
    md, mt = _masks(torch, masks)
    out_d, out_t = ours(*ds, **md), theirs(*ts, **mt)
    _close(out_d, out_t)
    assert np.isfinite(out_d.detach().numpy()).all()
    go = np.random.default_rng(seed).standard_normal(tuple(out_t.shape))
    out_d.backward(distgrad.tensor(go))
    out_t.backward(torch.tensor(go))
    for d, t in zip(ds, ts):
        _close(d.grad, t.grad)
    grads_t = dict(theirs.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(grads_t)
    for n, p in ours.named_parameters():
        assert p.grad is not None, n
        _close(p.grad, grads_t[n].grad)
    return out_d


def _seq(rng, length, batch_first, batched=True, n=N):
    if not batched:
        return rng.standard_normal((length, E))
    return rng.standard_normal((n, length, E) if batch_first else (length, n, E))


def _bool_mask(rng, rows, cols):
    m = rng.random((rows, cols)) > 0.6
    m[:, 0] = False  # every query keeps one key, so no row is fully masked
    return m


def _kpm(rng, cols, n=N, dtype=bool):
    m = np.zeros((n, cols), dtype=bool)
    m[1, -2:] = True
    m[2, -1] = True
    return m if dtype is bool else np.where(m, -np.inf, 0.0) + rng.standard_normal((n, cols)) * 0.1


def _causal(size):
    return np.triu(np.full((size, size), -np.inf), 1)


# --- generate_square_subsequent_mask ------------------------------------------------------------------------
def test_square_subsequent_mask_matches_torch():
    torch = pytest.importorskip("torch")
    for sz in (1, 4):
        ours = nn.Transformer.generate_square_subsequent_mask(sz, dtype=distgrad.float64)
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(sz, dtype=torch.float64)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3).dtype == distgrad.float32


# --- TransformerEncoderLayer --------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable", "module"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(rng, norm_first, activation, batch_first):
    torch = pytest.importorskip("torch")
    ours, theirs = _twins(torch, "TransformerEncoderLayer", E, HEADS, FF, 0.0, activation=activation,
                          batch_first=batch_first, norm_first=norm_first)
    masks = dict(src_mask=_bool_mask(rng, S, S), src_key_padding_mask=_kpm(rng, S))
    _check(torch, ours, theirs, [_seq(rng, S, batch_first)], masks)


def _encoder_masks(rng, kind):
    return {
        "none": {},
        "bool2d": dict(src_mask=_bool_mask(rng, S, S)),
        "float2d": dict(src_mask=rng.standard_normal((S, S))),
        "bool3d": dict(src_mask=np.stack([_bool_mask(rng, S, S) for _ in range(N * HEADS)])),
        "float3d": dict(src_mask=rng.standard_normal((N * HEADS, S, S))),
        "kpm_bool": dict(src_key_padding_mask=_kpm(rng, S)),
        "kpm_float": dict(src_key_padding_mask=_kpm(rng, S, dtype=float)),
        "float2d_kpm_float": dict(src_mask=rng.standard_normal((S, S)), src_key_padding_mask=_kpm(rng, S, dtype=float)),
        "bool3d_kpm_bool": dict(src_mask=np.stack([_bool_mask(rng, S, S) for _ in range(N * HEADS)]),
                                src_key_padding_mask=_kpm(rng, S)),
        "causal": dict(src_mask=_causal(S), is_causal=True),
        "causal_bool": dict(src_mask=np.triu(np.ones((S, S), dtype=bool), 1), is_causal=True),
        "causal_kpm": dict(src_mask=_causal(S), is_causal=True, src_key_padding_mask=_kpm(rng, S)),
        # is_causal is a hint: both frameworks apply the causal mask and do not read the given one
        "causal_hint_wins": dict(src_mask=rng.standard_normal((S, S)), is_causal=True),
    }[kind]


ENCODER_MASKS = ["none", "bool2d", "float2d", "bool3d", "float3d", "kpm_bool", "kpm_float", "float2d_kpm_float",
                 "bool3d_kpm_bool", "causal", "causal_bool", "causal_kpm", "causal_hint_wins"]


@pytest.mark.parametrize("kind", ENCODER_MASKS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_masks_match_torch(rng, kind, batch_first):
    torch = pytest.importorskip("torch")
    ours, theirs = _twins(torch, "TransformerEncoderLayer", E, HEADS, FF, 0.0, batch_first=batch_first,
                          norm_first=kind.startswith("causal"))
    _check(torch, ours, theirs, [_seq(rng, S, batch_first)], _encoder_masks(rng, kind))


def test_encoder_layer_mismatched_mask_types_warn_like_torch(rng):
    torch = pytest.importorskip("torch")
    ours, theirs = _twins(torch, "TransformerEncoderLayer", E, HEADS, FF, 0.0)
    masks = dict(src_mask=_bool_mask(rng, S, S), src_key_padding_mask=_kpm(rng, S, dtype=float))
    md, _ = _masks(torch, masks)
    x = distgrad.tensor(_seq(rng, S, False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours(x, **md)
    assert [str(w.message) for w in caught] == [
        "Support for mismatched src_key_padding_mask and src_mask is deprecated. Use same type for both instead."]
    _check(torch, ours, theirs, [_seq(rng, S, False)], masks)  # and the mixed masks still merge as in torch


def test_encoder_layer_unbatched_matches_torch(rng):
    torch = pytest.importorskip("torch")
    ours, theirs = _twins(torch, "TransformerEncoderLayer", E, HEADS, FF, 0.0, batch_first=True)
    masks = dict(src_mask=_bool_mask(rng, S, S), src_key_padding_mask=np.array([False, False, False, True, True]))
    out = _check(torch, ours, theirs, [_seq(rng, S, True, batched=False)], masks)
    assert out.shape == (S, E)
    ours3, theirs3 = _twins(torch, "TransformerEncoderLayer", E, HEADS, FF, 0.0)
    _check(torch, ours3, theirs3, [_seq(rng, S, False, batched=False)],
           dict(src_mask=rng.standard_normal((HEADS, S, S))))


def test_encoder_layer_bias_false_matches_torch(rng):
    torch = pytest.importorskip("torch")
    ours, theirs = _twins(torch, "TransformerEncoderLayer", E, HEADS, FF, 0.0, bias=False, layer_norm_eps=1e-3)
    assert ours.linear1.bias is None and ours.norm1.bias is None and ours.self_attn.in_proj_bias is None
    _check(torch, ours, theirs, [_seq(rng, S, False)], dict(src_key_padding_mask=_kpm(rng, S)))


# --- TransformerDecoderLayer --------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_matches_torch(rng, norm_first, activation, batch_first):
    torch = pytest.importorskip("torch")
    ours, theirs = _twins(torch, "TransformerDecoderLayer", E, HEADS, FF, 0.0, activation=activation,
                          batch_first=batch_first, norm_first=norm_first)
    masks = dict(tgt_mask=_causal(T), memory_key_padding_mask=_kpm(rng, S), tgt_is_causal=True)
    _check(torch, ours, theirs, [_seq(rng, T, batch_first), _seq(rng, S, batch_first)], masks)


def _decoder_masks(rng, kind):
    return {
        "none": {},
        "tgt_bool_memory_float": dict(tgt_mask=_bool_mask(rng, T, T), memory_mask=rng.standard_normal((T, S))),
        "tgt_float3d_memory_bool3d": dict(tgt_mask=rng.standard_normal((N * HEADS, T, T)),
                                          memory_mask=np.stack([_bool_mask(rng, T, S) for _ in range(N * HEADS)])),
        "kpms_bool": dict(tgt_key_padding_mask=_kpm(rng, T), memory_key_padding_mask=_kpm(rng, S)),
        "kpms_float": dict(tgt_key_padding_mask=_kpm(rng, T, dtype=float),
                           memory_key_padding_mask=_kpm(rng, S, dtype=float)),
        "all": dict(tgt_mask=_causal(T), memory_mask=rng.standard_normal((T, S)), tgt_key_padding_mask=_kpm(rng, T),
                    memory_key_padding_mask=_kpm(rng, S)),
        "tgt_causal_kpm": dict(tgt_mask=_causal(T), tgt_is_causal=True, tgt_key_padding_mask=_kpm(rng, T)),
        # a (T, S) causal hint on the memory attention: the top-left causal mask of SDPA
        "memory_causal": dict(memory_mask=np.triu(np.full((T, S), -np.inf), 1), memory_is_causal=True),
    }[kind]


@pytest.mark.parametrize("kind", ["none", "tgt_bool_memory_float", "tgt_float3d_memory_bool3d", "kpms_bool",
                                  "kpms_float", "all", "tgt_causal_kpm", "memory_causal"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_masks_match_torch(rng, kind, norm_first):
    torch = pytest.importorskip("torch")
    ours, theirs = _twins(torch, "TransformerDecoderLayer", E, HEADS, FF, 0.0, norm_first=norm_first)
    _check(torch, ours, theirs, [_seq(rng, T, False), _seq(rng, S, False)], _decoder_masks(rng, kind))


def test_decoder_layer_unbatched_matches_torch(rng):
    torch = pytest.importorskip("torch")
    ours, theirs = _twins(torch, "TransformerDecoderLayer", E, HEADS, FF, 0.0)
    masks = dict(tgt_mask=_causal(T), memory_key_padding_mask=np.array([False, False, False, True, True]))
    out = _check(torch, ours, theirs, [_seq(rng, T, False, batched=False), _seq(rng, S, False, batched=False)],
                 masks)
    assert out.shape == (T, E)


# --- stacks and the full model ------------------------------------------------------------------------------
def _stack_twins(torch, name, layer_name, num_layers, norm, **kwargs):
    layer_t = getattr(torch.nn, layer_name)(E, HEADS, FF, 0.0, dtype=torch.float64, **kwargs)
    layer_d = getattr(nn, layer_name)(E, HEADS, FF, 0.0, dtype=distgrad.float64, **kwargs)
    norm_t = torch.nn.LayerNorm(E, dtype=torch.float64) if norm else None
    norm_d = nn.LayerNorm(E, dtype=distgrad.float64) if norm else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's enable_nested_tensor note
        theirs = getattr(torch.nn, name)(layer_t, num_layers, norm_t)
    ours = getattr(nn, name)(layer_d, num_layers, norm_d)
    with torch.no_grad():  # layers are deep copies: give each its own weights
        for p in theirs.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    ours.load_state_dict({k: distgrad.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("norm", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_stack_matches_torch(rng, norm, batch_first):
    torch = pytest.importorskip("torch")
    ours, theirs = _stack_twins(torch, "TransformerEncoder", "TransformerEncoderLayer", 2, norm,
                                batch_first=batch_first)
    assert [n for n, _ in ours.named_parameters()][:1] == ["layers.0.self_attn.in_proj_weight"]
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight
    # the causal mask is detected (is_causal None) and applied; kpm turns the hint back off
    for masks in (dict(mask=_causal(S)), dict(mask=_causal(S), src_key_padding_mask=_kpm(rng, S)),
                  dict(mask=_bool_mask(rng, S, S), src_key_padding_mask=_kpm(rng, S)), {}):
        ours.zero_grad()
        theirs.zero_grad()
        _check(torch, ours, theirs, [_seq(rng, S, batch_first)], masks)


def test_encoder_stack_causal_detection():
    from distgrad.nn.transformer_layers import _detect_is_causal_mask
    causal = nn.Transformer.generate_square_subsequent_mask(4)
    assert _detect_is_causal_mask(causal) is True
    assert _detect_is_causal_mask(causal, size=5) is False
    assert _detect_is_causal_mask(distgrad.zeros(4, 4)) is False
    assert _detect_is_causal_mask(distgrad.zeros(4, 4), is_causal=True) is True
    assert _detect_is_causal_mask(None) is False
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, HEADS, FF), 1, enable_nested_tensor=False,
                                    mask_check=False)
    assert encoder.enable_nested_tensor is False and encoder.use_nested_tensor is False and not encoder.mask_check


@pytest.mark.parametrize("norm", [False, True])
def test_decoder_stack_matches_torch(rng, norm):
    torch = pytest.importorskip("torch")
    ours, theirs = _stack_twins(torch, "TransformerDecoder", "TransformerDecoderLayer", 2, norm)
    masks = dict(tgt_mask=_causal(T), tgt_key_padding_mask=_kpm(rng, T), memory_key_padding_mask=_kpm(rng, S))
    _check(torch, ours, theirs, [_seq(rng, T, False), _seq(rng, S, False)], masks)
    ours.zero_grad()
    theirs.zero_grad()
    _check(torch, ours, theirs, [_seq(rng, T, False), _seq(rng, S, False)], dict(tgt_mask=_causal(T)))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_matches_torch(rng, batch_first, norm_first):
    torch = pytest.importorskip("torch")
    kwargs = dict(d_model=E, nhead=HEADS, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=FF,
                  dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.Transformer(dtype=torch.float64, **kwargs)
    ours = nn.Transformer(dtype=distgrad.float64, **kwargs)
    ours.load_state_dict({k: distgrad.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    masks = dict(tgt_mask=_causal(T), src_key_padding_mask=_kpm(rng, S), memory_key_padding_mask=_kpm(rng, S),
                 tgt_key_padding_mask=_kpm(rng, T))
    _check(torch, ours, theirs, [_seq(rng, S, batch_first), _seq(rng, T, batch_first)], masks)
    ours.zero_grad()
    theirs.zero_grad()
    _check(torch, ours, theirs, [_seq(rng, S, batch_first), _seq(rng, T, batch_first)],
           dict(src_mask=_bool_mask(rng, S, S), memory_mask=rng.standard_normal((T, S)), tgt_is_causal=False))


def test_transformer_default_init_and_attributes():
    torch = pytest.importorskip("torch")
    ours = nn.Transformer(d_model=E, nhead=HEADS, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=FF,
                          activation="gelu")
    assert (ours.d_model, ours.nhead, ours.batch_first) == (E, HEADS, False)
    assert ours.encoder.norm is not None and len(ours.decoder.layers) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.Transformer(d_model=E, nhead=HEADS, num_encoder_layers=1, num_decoder_layers=2,
                                      dim_feedforward=FF, activation="gelu")
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    w = ours.decoder.layers[1].linear1.weight.detach().numpy()  # xavier-uniform, not Linear's kaiming
    bound = (6.0 / (E + FF)) ** 0.5
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.7 * bound
    layer = ours.encoder.layers[0]
    assert layer.activation is nn.functional.gelu and layer.activation_relu_or_gelu == 2
    custom = nn.Transformer(d_model=E, nhead=HEADS, custom_encoder=nn.Identity(), custom_decoder=nn.Identity())
    assert isinstance(custom.encoder, nn.Identity)


def test_state_dict_loads_into_torch(rng):
    """distgrad -> torch: our initialised weights give torch the same outputs."""
    torch = pytest.importorskip("torch")
    kwargs = dict(d_model=E, nhead=HEADS, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=FF,
                  dropout=0.0)
    ours = nn.Transformer(dtype=distgrad.float64, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.Transformer(dtype=torch.float64, **kwargs)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    src, tgt = _seq(rng, S, False), _seq(rng, T, False)
    mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=distgrad.float64)
    out_d = ours(distgrad.tensor(src), distgrad.tensor(tgt), tgt_mask=mask)
    out_t = theirs(torch.tensor(src), torch.tensor(tgt), tgt_mask=torch.tensor(mask.numpy()))
    _close(out_d, out_t)
    layer = nn.TransformerDecoderLayer(E, HEADS, FF, 0.0, dtype=distgrad.float64)
    torch_layer = torch.nn.TransformerDecoderLayer(E, HEADS, FF, 0.0, dtype=torch.float64)
    torch_layer.load_state_dict({k: torch.tensor(v.numpy()) for k, v in layer.state_dict().items()})
    _close(layer(distgrad.tensor(tgt), distgrad.tensor(src)), torch_layer(torch.tensor(tgt), torch.tensor(src)))


# --- dropout ------------------------------------------------------------------------------------------------
def test_dropout_train_vs_eval(rng):
    layer = nn.TransformerEncoderLayer(E, HEADS, FF, dropout=0.5, dtype=distgrad.float64)
    plain = nn.TransformerEncoderLayer(E, HEADS, FF, dropout=0.0, dtype=distgrad.float64)
    plain.load_state_dict(layer.state_dict())
    x = distgrad.tensor(_seq(rng, S, False))
    mask = nn.Transformer.generate_square_subsequent_mask(S, dtype=distgrad.float64)

    def run(module):
        return module(x, src_mask=mask).detach().numpy()
    train_a, train_b = run(layer), run(layer)
    assert not np.allclose(train_a, train_b)
    layer.eval()
    eval_a, eval_b = run(layer), run(layer)
    np.testing.assert_array_equal(eval_a, eval_b)
    np.testing.assert_allclose(eval_a, run(plain), rtol=1e-12, atol=1e-12)
    assert not np.allclose(train_a, eval_a)
    model = nn.Transformer(E, HEADS, 1, 1, FF, dropout=0.3, dtype=distgrad.float64).eval()
    tgt = distgrad.tensor(_seq(rng, T, False))
    np.testing.assert_array_equal(model(x, tgt).detach().numpy(), model(x, tgt).detach().numpy())
    model.train()
    assert not np.allclose(model(x, tgt).detach().numpy(), model(x, tgt).detach().numpy())


def test_dropout_eval_matches_torch(rng):
    torch = pytest.importorskip("torch")
    ours, theirs = _twins(torch, "TransformerDecoderLayer", E, HEADS, FF, 0.4)
    ours.eval()
    theirs.eval()
    _check(torch, ours, theirs, [_seq(rng, T, False), _seq(rng, S, False)], dict(tgt_mask=_causal(T)))


# --- errors -------------------------------------------------------------------------------------------------
def test_errors_match_torch():
    torch = pytest.importorskip("torch")
    for lib in (nn, torch.nn):
        with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
            lib.TransformerEncoderLayer(8, 3)
        with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
            lib.TransformerDecoderLayer(8, 3)
        with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
            lib.TransformerEncoderLayer(8, 2, activation="tanh")
        with pytest.raises(RuntimeError, match="activation should be relu/gelu, not swish"):
            lib.TransformerDecoderLayer(8, 2, activation="swish")
    enc = nn.TransformerEncoderLayer(E, HEADS, FF)
    x = distgrad.randn(S, N, E)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is .*, but should be \(5, 5\)"):
        enc(x, src_mask=distgrad.zeros(S, S + 1))
    with pytest.raises(RuntimeError, match="The shape of the 3D attn_mask"):
        enc(x, src_mask=distgrad.zeros(HEADS, S, S))
    with pytest.raises(AssertionError, match=r"expected `attn_mask` to be `None`, 2-D or 3-D but found 4-D"):
        enc(x, src_mask=distgrad.zeros(1, 1, S, S))
    with pytest.raises(AssertionError, match=r"Expected key_padded_mask.shape\[1\] to be 5, but got 4"):
        enc(x, src_key_padding_mask=distgrad.zeros(N, S - 1, dtype=distgrad.bool))
    with pytest.raises(AssertionError, match="only bool and floating types of src_mask are supported"):
        enc(x, src_mask=distgrad.zeros(S, S, dtype=distgrad.int64))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        enc(x, is_causal=True)
    model = nn.Transformer(E, HEADS, 1, 1, FF)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(x, distgrad.randn(T, N + 1, E))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(distgrad.randn(S, N, E + 2), distgrad.randn(T, N, E + 2))


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_and_decoder_layers_gradcheck_and_gradgradcheck(norm_first):
    """First and second derivatives of both layers by finite differences, in float64, masks included."""
    from distgrad.autograd import gradcheck, gradgradcheck
    distgrad.manual_seed(0)
    enc = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu", norm_first=norm_first,
                                     dtype=distgrad.float64)
    dec = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first, batch_first=True,
                                     dtype=distgrad.float64)
    src = distgrad.randn(3, 2, 4, dtype=distgrad.float64, requires_grad=True)
    tgt = distgrad.randn(2, 3, 4, dtype=distgrad.float64, requires_grad=True)
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=distgrad.float64)
    kpm = distgrad.tensor([[False, False, True], [False, False, False]])

    def encode(x):
        return enc(x, src_mask=mask)

    def decode(y, m):
        return dec(y, m, tgt_mask=mask, memory_key_padding_mask=kpm)

    assert gradcheck(encode, [src])
    assert gradgradcheck(encode, [src])
    memory = distgrad.randn(2, 3, 4, dtype=distgrad.float64, requires_grad=True)
    assert gradcheck(decode, [tgt, memory])
    assert gradgradcheck(decode, [tgt, memory])
