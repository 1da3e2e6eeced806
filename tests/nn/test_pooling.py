"""Pooling: gradcheck, parity with PyTorch (values, indices, gradients), PyTorch's edge rules, layers."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.autograd.ops import adaptive_pooling as AP
from distgrad.autograd.ops import pooling as P


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _d(shape, rng):
    # distinct values: finite differences are exact away from max-pool ties
    a = rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0
    return distgrad.tensor(a, dtype=distgrad.float64, requires_grad=True)


# --- finite differences -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=(2, 3), stride=1, dilation=(1, 2), ceil_mode=True),
                                    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)])
def test_max_pool2d_gradcheck(rng, kwargs):
    x = _d((1, 2, 5, 6), rng)
    assert gradcheck(lambda x: P.max_pool2d(x, **kwargs), (x,))
    assert gradgradcheck(lambda x: P.max_pool2d(x, **kwargs), (x,))


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                         count_include_pad=False),
                                    dict(kernel_size=(2, 3), stride=(1, 2), divisor_override=4)])
def test_avg_pool2d_gradcheck(rng, kwargs):
    x = _d((1, 2, 5, 6), rng)
    assert gradcheck(lambda x: P.avg_pool2d(x, **kwargs), (x,))
    assert gradgradcheck(lambda x: P.avg_pool2d(x, **kwargs), (x,))


@pytest.mark.parametrize("size", [(2, 3), (3, 4), 1, (None, 2)])
def test_adaptive_avg_pool2d_gradcheck(rng, size):
    x = _d((1, 2, 5, 6), rng)
    assert gradcheck(lambda x: AP.adaptive_avg_pool2d(x, size), (x,))
    assert gradgradcheck(lambda x: AP.adaptive_avg_pool2d(x, size), (x,))


def test_1d_pools_gradcheck(rng):
    x = _d((2, 2, 7), rng)
    assert gradcheck(lambda x: P.max_pool1d(x, 3, 2, 1, ceil_mode=True), (x,))
    assert gradcheck(lambda x: P.avg_pool1d(x, 3, 2, 1, count_include_pad=False), (x,))
    assert gradcheck(lambda x: AP.adaptive_avg_pool1d(x, 3), (x,))


# --- parity with PyTorch ----------------------------------------------------------------------------------
def _parity(torch, f_torch, f_ours, a, rng):
    t, d = torch.tensor(a, requires_grad=True), distgrad.tensor(a, requires_grad=True)
    yt, yd = f_torch(t), f_ours(d)
    if isinstance(yt, tuple):
        assert yd[1].dtype == distgrad.int64
        np.testing.assert_array_equal(yd[1].numpy(), yt[1].numpy())
        yt, yd = yt[0], yd[0]
    assert tuple(yd.shape) == tuple(yt.shape)
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    go = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(go))
    yd.backward(distgrad.tensor(go))
    np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


MAX_CASES = [dict(kernel_size=2), dict(kernel_size=3, stride=1), dict(kernel_size=3, stride=2, padding=1),
             dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
             dict(kernel_size=(2, 3), stride=(2, 1), dilation=2, padding=1, ceil_mode=True),
             dict(kernel_size=(3, 2), stride=(3, 2), ceil_mode=True), dict(kernel_size=4, stride=3, padding=2)]


@pytest.mark.parametrize("kwargs", MAX_CASES)
def test_max_pool2d_matches_torch(rng, kwargs):
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((2, 3, 7, 8))
    _parity(torch, lambda x: torch.nn.functional.max_pool2d(x, return_indices=True, **kwargs),
            lambda x: P.max_pool2d(x, return_indices=True, **kwargs), a, rng)


def test_max_pool_ties_nan_and_inf_match_torch(rng):
    torch = pytest.importorskip("torch")
    a = np.round(rng.standard_normal((2, 2, 6, 6)))  # many ties: the first maximum wins
    _parity(torch, lambda x: torch.nn.functional.max_pool2d(x, 3, 1, 1, return_indices=True),
            lambda x: P.max_pool2d(x, 3, 1, 1, return_indices=True), a, rng)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1), dict(kernel_size=(1, 3), stride=(1, 2))):
        _parity(torch, lambda x: torch.nn.functional.max_pool2d(x, return_indices=True, **kw),
                lambda x: P.max_pool2d(x, return_indices=True, **kw), a, rng)
    b = a.copy()
    b[0, 0, 0, 1] = b[1, 1, 3, 3] = b[1, 1, 2, 2] = np.nan  # NaN wins; the last NaN of a window gives the index
    t = torch.nn.functional.max_pool2d(torch.tensor(b), 2, return_indices=True)
    d = P.max_pool2d(distgrad.tensor(b), 2, return_indices=True)
    np.testing.assert_array_equal(d[0].numpy(), t[0].numpy())
    np.testing.assert_array_equal(d[1].numpy(), t[1].numpy())
    a = np.full((1, 1, 4, 4), -np.inf)
    a[0, 0, 1, 2], a[0, 0, 3, 3] = np.nan, np.nan
    t = torch.nn.functional.max_pool2d(torch.tensor(a), 2, 1, 1, return_indices=True)
    d = P.max_pool2d(distgrad.tensor(a), 2, 1, 1, return_indices=True)
    np.testing.assert_array_equal(d[0].numpy(), t[0].numpy())
    np.testing.assert_array_equal(d[1].numpy(), t[1].numpy())


AVG_CASES = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
             dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
             dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
             dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
             dict(kernel_size=(2, 3), stride=(3, 1), padding=1, divisor_override=5),
             dict(kernel_size=(3, 2), stride=(2, 2), ceil_mode=True)]


@pytest.mark.parametrize("kwargs", AVG_CASES)
def test_avg_pool2d_matches_torch(rng, kwargs):
    torch = pytest.importorskip("torch")
    _parity(torch, lambda x: torch.nn.functional.avg_pool2d(x, **kwargs),
            lambda x: P.avg_pool2d(x, **kwargs), rng.standard_normal((2, 3, 7, 8)), rng)


@pytest.mark.parametrize("size", [(3, 4), (2, 2), (5, 3), 1, (7, None), (4, 8), (6, 5)])
def test_adaptive_avg_pool2d_matches_torch(rng, size):
    torch = pytest.importorskip("torch")
    _parity(torch, lambda x: torch.nn.functional.adaptive_avg_pool2d(x, size),
            lambda x: AP.adaptive_avg_pool2d(x, size), rng.standard_normal((2, 3, 7, 8)), rng)


def test_1d_and_unbatched_pools_match_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    a = rng.standard_normal((2, 3, 9))
    _parity(torch, lambda x: F.max_pool1d(x, 3, 2, 1, ceil_mode=True, return_indices=True),
            lambda x: P.max_pool1d(x, 3, 2, 1, ceil_mode=True, return_indices=True), a, rng)
    _parity(torch, lambda x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
            lambda x: P.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), a, rng)
    _parity(torch, lambda x: F.adaptive_avg_pool1d(x, 4), lambda x: AP.adaptive_avg_pool1d(x, 4), a, rng)
    b = rng.standard_normal((3, 6, 6))
    _parity(torch, lambda x: F.max_pool2d(x, 2), lambda x: P.max_pool2d(x, 2), b, rng)
    _parity(torch, lambda x: F.avg_pool2d(x, 3, 2), lambda x: P.avg_pool2d(x, 3, 2), b, rng)
    _parity(torch, lambda x: F.adaptive_avg_pool2d(x, 4), lambda x: AP.adaptive_avg_pool2d(x, 4), b, rng)


def test_integer_pools_match_torch(rng):
    torch = pytest.importorskip("torch")
    a = rng.integers(-50, 50, (1, 2, 5, 5))
    for ft, fd in ((lambda x: torch.nn.functional.max_pool2d(x, 2, 1, 1),
                    lambda x: P.max_pool2d(x, 2, 1, 1)),
                   (lambda x: torch.nn.functional.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
                    lambda x: P.avg_pool2d(x, 3, 2, 1, count_include_pad=False))):
        t, d = ft(torch.tensor(a)), fd(distgrad.tensor(a))
        assert d.dtype == distgrad.int64
        np.testing.assert_array_equal(d.numpy(), t.numpy())


def test_float32_stays_float32_and_output_is_contiguous():
    x = distgrad.randn(4, 3, 8, 8, requires_grad=True)
    for y in (P.max_pool2d(x, 2), P.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
              AP.adaptive_avg_pool2d(x, 3)):
        assert y.dtype == distgrad.float32 and y.is_contiguous()
        y.sum().backward()
        assert x.grad.dtype == distgrad.float32
    assert P.max_pool2d(x, 2).grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    assert P.avg_pool2d(x, 2).grad_fn.name() == "AvgPool2DBackward0"


# --- errors --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,shape,match", [
    (lambda x: P.max_pool2d(x, 3, padding=2), (1, 3, 5, 5), "pad should be at most half of effective kernel "
                                                            "size, but got pad=2, kernel_size=3 and dilation=1"),
    (lambda x: P.avg_pool2d(x, 3, padding=2), (1, 3, 5, 5), "pad should be at most half"),
    (lambda x: P.max_pool2d(x, 3), (1, 3, 1, 1), r"Given input size: \(3x1x1\). Calculated output size: "
                                                 r"\(3x0x0\). Output size is too small"),
    (lambda x: P.max_pool2d(x, 3), (3, 5), r"3D or 4D \(batch mode\) tensor expected for input"),
    (lambda x: P.max_pool2d(x, 0), (1, 3, 5, 5), "kernel_size must be greater than zero"),
    (lambda x: P.avg_pool2d(x, 2, stride=0), (1, 3, 5, 5), "stride should be greater than zero"),
    (lambda x: P.avg_pool2d(x, 2, divisor_override=0), (1, 3, 5, 5), "divisor must be not zero"),
    (lambda x: AP.adaptive_avg_pool2d(x, (2, 2, 2)), (1, 3, 5, 5), "output_size must be 2"),
    (lambda x: AP.adaptive_avg_pool2d(x, 2), (5, 5), r"Expected 3D or 4D tensor"),
])
def test_pool_errors(fn, shape, match):
    with pytest.raises(RuntimeError, match=match):
        fn(distgrad.randn(*shape))


# --- layers ----------------------------------------------------------------------------------------------------
POOL_LAYERS = [
    ("MaxPool2d", (2,), {}), ("MaxPool2d", ((2, 3), 1, 1, 2), dict(ceil_mode=True)),
    ("MaxPool1d", (3,), dict(stride=2, padding=1)), ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False, divisor_override=4)),
    ("AvgPool1d", (2,), {}), ("AvgPool1d", (3, 2, 1), dict(count_include_pad=False)),
    ("AdaptiveAvgPool2d", ((3, None),), {}), ("AdaptiveAvgPool2d", (1,), {}), ("AdaptiveAvgPool1d", (4,), {}),
]


@pytest.mark.parametrize("name,args,kwargs", POOL_LAYERS)
def test_pool_layers_match_torch(rng, name, args, kwargs):
    torch = pytest.importorskip("torch")
    theirs, ours = getattr(torch.nn, name)(*args, **kwargs), getattr(distgrad.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == []
    shape = (2, 3, 9) if name.endswith("1d") else (2, 3, 7, 9)
    _parity(torch, theirs, ours, rng.standard_normal(shape), rng)


def test_max_pool_layer_return_indices():
    out, idx = distgrad.nn.MaxPool2d(2, return_indices=True)(distgrad.arange(16.0).reshape(1, 1, 4, 4))
    np.testing.assert_array_equal(idx.numpy(), [[[[5, 7], [13, 15]]]])
    assert out.shape == (1, 1, 2, 2)


def test_functional_exports():
    import distgrad.nn.functional as F
    assert F.max_pool2d is P.max_pool2d and F.avg_pool2d is P.avg_pool2d
    assert F.adaptive_avg_pool2d is AP.adaptive_avg_pool2d and F.max_pool1d is P.max_pool1d
    assert F.avg_pool1d is P.avg_pool1d and F.adaptive_avg_pool1d is AP.adaptive_avg_pool1d
