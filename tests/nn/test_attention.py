"""scaled_dot_product_attention and nn.MultiheadAttention: parity with PyTorch, masks, dropout, gradients."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck
from distgrad.nn.attention_functions import multi_head_attention_forward, scaled_dot_product_attention as sdpa
from distgrad.nn.attention import MultiheadAttention


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _pair(torch, arrays):
    return ([torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays],
            [distgrad.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays])


def _close(ours, theirs, tol=1e-10):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


# --- scaled_dot_product_attention ------------------------------------------------------------------------
SDPA_CASES = [dict(), dict(is_causal=True), dict(scale=0.3), dict(mask="bool"), dict(mask="float"),
              dict(mask="bool_row_blocked"), dict(mask="bool_broadcast")]


@pytest.mark.parametrize("case", SDPA_CASES)
def test_sdpa_matches_torch(rng, case):
    torch = pytest.importorskip("torch")
    case = dict(case)
    arrays = [rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 6, 7))]
    kind = case.pop("mask", None)
    if kind == "bool":
        arrays.append(rng.random((2, 3, 4, 6)) > 0.3)
    elif kind == "float":
        arrays.append(rng.standard_normal((4, 6)))
    elif kind == "bool_row_blocked":  # a query with no allowed key gets zeros, and finite gradients
        m = rng.random((4, 6)) > 0.3
        m[2] = False
        arrays.append(m)
    elif kind == "bool_broadcast":
        arrays.append(rng.random((3, 1, 6)) > 0.3)
    ts, ds = _pair(torch, arrays)
    yt = torch.nn.functional.scaled_dot_product_attention(*ts[:3], attn_mask=ts[3] if kind else None, **case)
    yd = sdpa(*ds[:3], attn_mask=ds[3] if kind else None, **case)
    _close(yd, yt)
    go = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(go))
    yd.backward(distgrad.tensor(go))
    for a, b in zip(ts[:3], ds[:3]):
        assert np.isfinite(b.grad.numpy()).all()
        _close(b.grad, a.grad)


def test_sdpa_float_mask_gradient_matches_torch(rng):
    torch = pytest.importorskip("torch")
    arrays = [rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 6, 7)),
              rng.standard_normal((3, 1, 6))]
    ts, ds = _pair(torch, arrays)
    yt = torch.nn.functional.scaled_dot_product_attention(*ts[:3], attn_mask=ts[3], scale=0.6)
    yd = sdpa(*ds[:3], attn_mask=ds[3], scale=0.6)
    _close(yd, yt)
    go = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(go))
    yd.backward(distgrad.tensor(go))
    for a, b in zip(ts, ds):
        _close(b.grad, a.grad)


def test_sdpa_dropout_drops_weights_with_the_keep_mask_of_the_generator(rng):
    from distgrad.nn.dropout_functions import keep_mask
    q, k, v = (distgrad.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))
    distgrad.manual_seed(7)
    out = sdpa(q, k, v, dropout_p=0.3)
    distgrad.manual_seed(7)
    keep = distgrad.tensor(keep_mask((2, 3, 5), 0.3, np.zeros(1)))
    ref = (distgrad.softmax(q @ k.transpose(-1, -2) / 2.0, -1) * keep) @ v
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    assert set(np.unique(keep.numpy())) == {0.0, 1 / 0.7}


def test_sdpa_gqa_matches_torch(rng):
    torch = pytest.importorskip("torch")
    arrays = [rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((2, 2, 6, 5))]
    ts, ds = _pair(torch, arrays)
    yt = torch.nn.functional.scaled_dot_product_attention(*ts, enable_gqa=True)
    yd = sdpa(*ds, enable_gqa=True)
    _close(yd, yt)
    yt.sum().backward()
    yd.sum().backward()
    for a, b in zip(ts, ds):
        _close(b.grad, a.grad)


def test_sdpa_gradcheck_and_dropout(rng):
    q, k, v = (distgrad.tensor(rng.standard_normal(s), requires_grad=True) for s in ((1, 3, 4), (1, 5, 4), (1, 5, 2)))
    mask = distgrad.tensor(rng.random((3, 5)) > 0.3)
    assert gradcheck(lambda q, k, v: sdpa(q, k, v, attn_mask=mask), (q, k, v))
    assert gradcheck(lambda q, k, v: sdpa(q, k, v, is_causal=True), (q, k, v))
    x = distgrad.ones(1, 64, 4)
    out = sdpa(x, x, x, dropout_p=0.5)  # dropout always applies in the functional form
    assert not np.allclose(out.numpy(), 1.0)
    np.testing.assert_allclose(sdpa(x, x, x).numpy(), 1.0)


def test_sdpa_errors():
    q = distgrad.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        sdpa(q, q, q, attn_mask=distgrad.ones(3, 3, dtype=distgrad.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="same dtype"):
        sdpa(q, q.double(), q)
    with pytest.raises(RuntimeError, match="do not fit"):
        sdpa(q, distgrad.randn(2, 3, 5), q)
    with pytest.raises(RuntimeError, match="attn_mask dtype"):
        sdpa(q, q, q, attn_mask=distgrad.ones(3, 3, dtype=distgrad.int64))


# --- MultiheadAttention -------------------------------------------------------------------------------------
CONFIGS = [dict(), dict(bias=False), dict(kdim=3, vdim=5), dict(add_bias_kv=True, add_zero_attn=True),
           dict(kdim=3, vdim=5, add_bias_kv=True, bias=False), dict(batch_first=True), dict(dropout=0.1)]


def _twins(torch, kwargs, embed=8, heads=2):
    theirs = torch.nn.MultiheadAttention(embed, heads, dtype=torch.float64, **kwargs)
    ours = MultiheadAttention(embed, heads, dtype=distgrad.float64, **kwargs)
    ours.load_state_dict({k: distgrad.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return theirs, ours


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_mha_state_dict_and_repr_match_torch(kwargs):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.MultiheadAttention(8, 2, **kwargs)
    ours = MultiheadAttention(8, 2, **kwargs)
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_mha_default_init():
    mha = MultiheadAttention(16, 4, add_bias_kv=True)
    bound = (6.0 / (16 + 48)) ** 0.5
    w = mha.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert not mha.in_proj_bias.detach().numpy().any() and not mha.out_proj.bias.detach().numpy().any()
    assert mha.bias_k.shape == (1, 1, 16) and mha.bias_k.detach().numpy().std() > 0


MHA_CALLS = [
    ("self", dict(), {}),
    ("cross", dict(), {}),
    ("self", dict(need_weights=False), {}),
    ("self", dict(average_attn_weights=False), {}),
    ("self", dict(key_padding_mask="bool"), {}),
    ("self", dict(attn_mask="bool2d", key_padding_mask="float"), {}),
    ("cross", dict(attn_mask="float3d"), {}),
    ("cross", dict(attn_mask="bool2d", need_weights=False), {}),
    ("cross", dict(key_padding_mask="bool"), dict(add_bias_kv=True, add_zero_attn=True)),
    ("cross", dict(attn_mask="bool2d", key_padding_mask="bool"), dict(kdim=3, vdim=5)),
    ("self", dict(key_padding_mask="bool"), dict(batch_first=True)),
    ("cross", dict(need_weights=False, key_padding_mask="bool"), dict(batch_first=True, bias=False)),
    ("self", dict(attn_mask="causal", is_causal=True), {}),
    # every mask kind, alone and together, on both the need_weights and the SDPA path
    ("self", dict(attn_mask="float2d"), {}),
    ("self", dict(attn_mask="bool3d"), {}),
    ("self", dict(key_padding_mask="float"), {}),
    ("self", dict(attn_mask="float2d", need_weights=False), {}),
    ("self", dict(attn_mask="bool3d", need_weights=False), {}),
    ("self", dict(key_padding_mask="float", need_weights=False), {}),
    ("self", dict(attn_mask="float2d", key_padding_mask="float", need_weights=False), {}),
    ("cross", dict(attn_mask="bool3d", key_padding_mask="bool", average_attn_weights=False), {}),
    ("cross", dict(attn_mask="float3d", key_padding_mask="bool", need_weights=False), {}),
    ("cross", dict(attn_mask="float3d", key_padding_mask="float", need_weights=False),
     dict(add_bias_kv=True, add_zero_attn=True)),
    ("cross", dict(attn_mask="bool2d", average_attn_weights=False), dict(add_bias_kv=True)),
    ("self", dict(attn_mask="bool2d", need_weights=False), dict(add_zero_attn=True)),
    ("cross", dict(attn_mask="float3d", need_weights=False), dict(kdim=3, vdim=5)),
    ("cross", dict(attn_mask="bool3d", average_attn_weights=False), dict(kdim=3, vdim=5, batch_first=True)),
    ("self", dict(attn_mask="float2d", key_padding_mask="bool"), dict(batch_first=True, bias=False)),
    # is_causal is a hint; without weights and padding PyTorch applies the causal mask, not the given one
    ("self", dict(attn_mask="causal", is_causal=True, need_weights=False), {}),
    ("self", dict(attn_mask="causal", is_causal=True, need_weights=False, key_padding_mask="bool"), {}),
    ("self", dict(attn_mask="float2d", is_causal=True, need_weights=False), {}),
    ("self", dict(attn_mask="float2d", is_causal=True), {}),
    ("cross", dict(attn_mask="causal", is_causal=True, need_weights=False), dict(add_zero_attn=True)),
]


def _mha_inputs(rng, kind, kwargs, batch_first, L=4, S=6, N=3, E=8):
    kdim, vdim = kwargs.get("kdim", E), kwargs.get("vdim", E)
    if kind == "self":
        S = L
        x = rng.standard_normal((N, L, E) if batch_first else (L, N, E))
        return [x], S
    shape = (lambda n, length, e: (n, length, e)) if batch_first else (lambda n, length, e: (length, n, e))
    return [rng.standard_normal(shape(N, L, E)), rng.standard_normal(shape(N, S, kdim)),
            rng.standard_normal(shape(N, S, vdim))], S


def _masks(torch, rng, call, L, S, N=3, heads=2):
    out_t, out_d = {}, {}
    for name, kind in call.items():
        if name not in ("attn_mask", "key_padding_mask"):
            continue
        if kind == "bool":
            a = rng.random((N, S)) > 0.7
        elif kind == "float":
            a = rng.standard_normal((N, S))
        elif kind == "bool2d":
            a = rng.random((L, S)) > 0.7
        elif kind == "float3d":
            a = rng.standard_normal((N * heads, L, S))
        elif kind == "float2d":
            a = rng.standard_normal((L, S))
        elif kind == "bool3d":
            a = rng.random((N * heads, L, S)) > 0.6
            a[..., 0] = False  # no fully masked query
        else:  # causal
            a = np.triu(np.ones((L, S), dtype=bool), 1)
        out_t[name], out_d[name] = torch.tensor(a), distgrad.tensor(a)
    return out_t, out_d


@pytest.mark.parametrize("kind,call,kwargs", MHA_CALLS)
def test_mha_matches_torch(rng, kind, call, kwargs):
    torch = pytest.importorskip("torch")
    theirs, ours = _twins(torch, kwargs)
    arrays, S = _mha_inputs(rng, kind, kwargs, kwargs.get("batch_first", False))
    ts, ds = _pair(torch, arrays)
    if kind == "self":
        ts, ds = ts * 3, ds * 3
    mt, md = _masks(torch, rng, call, 4, S)
    flags = {k: v for k, v in call.items() if k not in mt}
    out_t, w_t = theirs(*ts, **mt, **flags)
    out_d, w_d = ours(*ds, **md, **flags)
    _close(out_d, out_t)
    if w_t is None:
        assert w_d is None
    else:
        _close(w_d, w_t)
    go = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(go))
    out_d.backward(distgrad.tensor(go))
    for a, b in zip(ts[:1] if kind == "self" else ts, ds[:1] if kind == "self" else ds):
        _close(b.grad, a.grad, 1e-9)
    grads_t = {n: p.grad for n, p in theirs.named_parameters()}
    for n, p in ours.named_parameters():
        _close(p.grad, grads_t[n], 1e-9)


def test_mha_unbatched_matches_torch(rng):
    torch = pytest.importorskip("torch")
    theirs, ours = _twins(torch, {})
    a = rng.standard_normal((4, 8))
    kpm = np.array([False, True, False, False])
    out_t, w_t = theirs(*[torch.tensor(a)] * 3, key_padding_mask=torch.tensor(kpm))
    out_d, w_d = ours(*[distgrad.tensor(a)] * 3, key_padding_mask=distgrad.tensor(kpm))
    assert out_d.shape == (4, 8) and w_d.shape == (4, 4)
    _close(out_d, out_t)
    _close(w_d, w_t)


def test_mha_dropout_train_vs_eval(rng):
    torch = pytest.importorskip("torch")
    theirs, ours = _twins(torch, dict(dropout=0.5))
    x = rng.standard_normal((5, 2, 8))
    theirs.eval()
    ours.eval()
    out_t, _ = theirs(*[torch.tensor(x)] * 3)
    out_d, w_d = ours(*[distgrad.tensor(x)] * 3)
    _close(out_d, out_t)  # eval: no dropout
    ours.train()
    out_train, w_train = ours(*[distgrad.tensor(x)] * 3, average_attn_weights=False)
    w = w_train.detach().numpy()
    assert (w == 0).any() and not np.allclose(out_train.detach().numpy(), out_d.detach().numpy())
    assert np.isclose(w.sum(-1).mean(), 1.0, atol=0.35)  # kept weights are scaled by 1 / (1 - p)


def test_mha_fully_masked_query_is_nan_with_weights_zero_without(rng):
    torch = pytest.importorskip("torch")
    theirs, ours = _twins(torch, {})
    x = rng.standard_normal((3, 2, 8))
    kpm = np.zeros((2, 3), dtype=bool)
    kpm[0] = True
    for need in (True, False):
        out_t, _ = theirs(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(kpm), need_weights=need)
        out_d, _ = ours(*[distgrad.tensor(x)] * 3, key_padding_mask=distgrad.tensor(kpm), need_weights=need)
        np.testing.assert_allclose(out_d.detach().numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-10)
        assert np.isnan(out_d.detach().numpy()[:, 0]).all() == need
        assert np.isfinite(out_d.detach().numpy()[:, 1]).all()


def test_mha_gradcheck(rng):
    mha = MultiheadAttention(4, 2, dtype=distgrad.float64, add_bias_kv=True)
    q = distgrad.tensor(rng.standard_normal((3, 1, 4)), requires_grad=True)
    kv = distgrad.tensor(rng.standard_normal((2, 1, 4)), requires_grad=True)
    assert gradcheck(lambda q, kv: mha(q, kv, kv)[0], (q, kv))


def test_mha_errors():
    mha = MultiheadAttention(8, 2)
    x = distgrad.randn(4, 3, 8)
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        MultiheadAttention(8, 3)
    with pytest.raises(AssertionError, match=r"expected query of shape \(L, N, 8\).*got query of shape \(4, 3, 5\)"):
        mha(distgrad.randn(4, 3, 5), x, x)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is .*\[4, 5\]\), but should be "
                                           r"\(4, 4\)"):
        mha(x, x, x, attn_mask=distgrad.zeros(4, 5))
    with pytest.raises(RuntimeError, match=r"The shape of the 3D attn_mask"):
        mha(x, x, x, attn_mask=distgrad.zeros(2, 4, 4))
    with pytest.raises(AssertionError, match=r"expecting key_padding_mask shape of \(3, 4\)"):
        mha(x, x, x, key_padding_mask=distgrad.zeros(3, 5, dtype=distgrad.bool))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask"):
        mha(x, x, x, attn_mask=distgrad.zeros(4, 4, dtype=distgrad.int64))


def test_functional_form_returns_head_weights(rng):
    mha = MultiheadAttention(8, 2)
    x = distgrad.randn(5, 3, 8)
    out, w = multi_head_attention_forward(x, x, x, 8, 2, mha.in_proj_weight, mha.in_proj_bias, None, None, False,
                                          0.0, mha.out_proj.weight, mha.out_proj.bias, average_attn_weights=False)
    assert out.shape == (5, 3, 8) and w.shape == (3, 2, 5, 5)
    np.testing.assert_allclose(w.detach().numpy().sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("mask", ["bool2d", "float3d", "kpm"])
def test_mha_unbatched_masks_match_torch(rng, need_weights, mask):
    torch = pytest.importorskip("torch")
    theirs, ours = _twins(torch, dict(batch_first=True))
    q, kv = rng.standard_normal((4, 8)), rng.standard_normal((6, 8))
    ts, ds = _pair(torch, [q, kv])
    if mask == "bool2d":
        a, name = rng.random((4, 6)) > 0.6, "attn_mask"
        a[:, 0] = False
    elif mask == "float3d":
        a, name = rng.standard_normal((2, 4, 6)), "attn_mask"  # (num_heads, L, S) without a batch
    else:
        a, name = np.array([False, True, False, False, True, False]), "key_padding_mask"
    out_t, w_t = theirs(ts[0], ts[1], ts[1], need_weights=need_weights, average_attn_weights=False,
                        **{name: torch.tensor(a)})
    out_d, w_d = ours(ds[0], ds[1], ds[1], need_weights=need_weights, average_attn_weights=False,
                      **{name: distgrad.tensor(a)})
    assert out_d.shape == (4, 8)
    _close(out_d, out_t)
    if need_weights:
        assert w_d.shape == (2, 4, 6)
        _close(w_d, w_t)
    else:
        assert w_d is None and w_t is None
    go = rng.standard_normal((4, 8))
    out_t.backward(torch.tensor(go))
    out_d.backward(distgrad.tensor(go))
    for a_t, a_d in zip(ts, ds):
        _close(a_d.grad, a_t.grad, 1e-9)
    grads_t = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        _close(p.grad, grads_t[n].grad, 1e-9)


def _warnings_of(fn):
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [str(w.message) for w in caught]


def test_mha_mismatched_mask_types_warn_once_and_merge_like_torch(rng):
    torch = pytest.importorskip("torch")
    theirs, ours = _twins(torch, {})
    x = rng.standard_normal((4, 3, 8))
    attn = rng.random((4, 4)) > 0.6
    attn[:, 0] = False
    kpm = rng.standard_normal((3, 4))
    (out_d, w_d), msgs = _warnings_of(lambda: ours(*[distgrad.tensor(x)] * 3, attn_mask=distgrad.tensor(attn),
                                                   key_padding_mask=distgrad.tensor(kpm)))
    assert msgs == ["Support for mismatched key_padding_mask and attn_mask is deprecated. Use same type for both "
                    "instead."]
    (out_t, w_t), msgs_t = _warnings_of(lambda: theirs(*[torch.tensor(x)] * 3, attn_mask=torch.tensor(attn),
                                                       key_padding_mask=torch.tensor(kpm)))
    assert msgs_t == msgs
    _close(out_d, out_t)
    _close(w_d, w_t)
    _, msgs = _warnings_of(lambda: ours(*[distgrad.tensor(x)] * 3, attn_mask=distgrad.tensor(attn),
                                        key_padding_mask=distgrad.tensor(kpm < 0)))
    assert msgs == []  # same dtypes: no warning
    mha = ours
    _, msgs = _warnings_of(lambda: multi_head_attention_forward(
        *[distgrad.tensor(x)] * 3, 8, 2, mha.in_proj_weight, mha.in_proj_bias, None, None, False, 0.0,
        mha.out_proj.weight, mha.out_proj.bias, key_padding_mask=distgrad.tensor(kpm < 0),
        attn_mask=distgrad.tensor(rng.standard_normal((4, 4)))))
    assert len(msgs) == 1 and "mismatched key_padding_mask and attn_mask" in msgs[0]


def test_mha_shape_errors_match_torch():
    torch = pytest.importorskip("torch")
    for lib, t in ((distgrad, MultiheadAttention(8, 2)), (torch, torch.nn.MultiheadAttention(8, 2))):
        x, x2 = lib.randn(4, 3, 8), lib.randn(4, 8)
        with pytest.raises(AssertionError, match=r"expected `attn_mask` to be `None`, 2-D or 3-D but found 4-D"):
            t(x, x, x, attn_mask=lib.zeros(1, 3, 4, 4))
        with pytest.raises(AssertionError, match=r"Expected `attn_mask` shape to be \(2, 4, 4\)"):
            t(x2, x2, x2, attn_mask=lib.zeros(3, 4, 4))
        with pytest.raises(AssertionError, match="For unbatched \\(2-D\\) `query`, expected `key_padding_mask` to be"):
            t(x2, x2, x2, key_padding_mask=lib.zeros(1, 4, dtype=lib.bool))
        with pytest.raises(AssertionError, match="For batched \\(3-D\\) `query`, expected `key` and `value` to be 3-D"):
            t(x, x2, x2)
        with pytest.raises(AssertionError, match="key shape .* does not match value shape"):
            t(x, x, lib.randn(5, 3, 8))
        with pytest.raises(AssertionError, match=r"Expected key_padded_mask.shape\[0\] to be 3, but got 2"):
            t(x, x, x, key_padding_mask=lib.zeros(2, 4, dtype=lib.bool))
