"""BatchNorm1d/2d, LayerNorm, GroupNorm: against PyTorch in train and eval mode, running stats, errors."""
import numpy as np
import pytest

import distgrad
from distgrad import nn
from distgrad.autograd import gradcheck, gradgradcheck
import distgrad.nn.functional as F
from nn_helpers import compare_layer, copy_state, np_of, same_repr


def _x(shape, seed=0, dtype=np.float32):
    return (np.random.default_rng(seed).standard_normal(shape) * 2 + 0.5).astype(dtype)


def _perturb(dmod):
    """Non-trivial affine parameters, so their gradients and effect are actually tested."""
    with distgrad.no_grad():
        for p in dmod.parameters():
            p.copy_(distgrad.tensor(np.random.default_rng(9).uniform(0.5, 1.5, tuple(p.shape)).astype(np.float32)))


BN_CASES = [
    ("BatchNorm1d", (8, 3), {}), ("BatchNorm1d", (8, 3, 5), {}), ("BatchNorm2d", (4, 3, 5, 5), {}),
    ("BatchNorm2d", (4, 3, 2, 2), {"momentum": None}), ("BatchNorm2d", (4, 3, 2, 2), {"affine": False}),
    ("BatchNorm1d", (6, 3), {"track_running_stats": False}), ("BatchNorm1d", (6, 3), {"momentum": 0.5, "eps": 1e-3}),
    ("BatchNorm1d", (6, 3), {"bias": False}),
]


@pytest.mark.parametrize("name,shape,kwargs", BN_CASES)
def test_batchnorm_matches_torch_train_then_eval(name, shape, kwargs):
    torch = pytest.importorskip("torch")
    d, t = getattr(nn, name)(3, **kwargs), getattr(torch.nn, name)(3, **kwargs)
    _perturb(d)
    same_repr(d, t)
    for step in range(3):  # several steps: running averages and the cumulative (momentum=None) mode
        compare_layer(torch, d, t, _x(shape, seed=step), atol=1e-4)
        for p in d.parameters():
            p.grad = None
        t.zero_grad()
    if "track_running_stats" not in kwargs:
        assert int(d.num_batches_tracked) == 3
    d.eval()
    t.eval()
    compare_layer(torch, d, t, _x(shape, seed=5), atol=1e-4)


@pytest.mark.parametrize("shape,normalized,kwargs", [
    ((4, 6), 6, {}), ((2, 3, 4, 5), (4, 5), {}), ((3, 5), (5,), {"elementwise_affine": False}),
    ((3, 5), [5], {"bias": False, "eps": 1e-3})])
def test_layernorm_matches_torch(shape, normalized, kwargs):
    torch = pytest.importorskip("torch")
    d, t = nn.LayerNorm(normalized, **kwargs), torch.nn.LayerNorm(normalized, **kwargs)
    _perturb(d)
    compare_layer(torch, d, t, _x(shape), atol=1e-4)
    same_repr(d, t)


@pytest.mark.parametrize("groups,shape,kwargs", [(2, (4, 6, 5), {}), (3, (2, 6, 2, 3), {}), (1, (3, 6), {}),
                                                 (6, (2, 6, 4), {"affine": False})])
def test_groupnorm_matches_torch(groups, shape, kwargs):
    torch = pytest.importorskip("torch")
    d, t = nn.GroupNorm(groups, 6, **kwargs), torch.nn.GroupNorm(groups, 6, **kwargs)
    _perturb(d)
    compare_layer(torch, d, t, _x(shape), atol=1e-4)
    same_repr(d, t)


def test_batchnorm_state_dict_matches_torch_and_loads():
    torch = pytest.importorskip("torch")
    d, t = nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)
    t.train()
    t(torch.randn(3, 4, 2, 2))
    d.load_state_dict({k: distgrad.tensor(v.numpy()) for k, v in t.state_dict().items()})
    assert list(d.state_dict()) == list(t.state_dict())
    assert d.num_batches_tracked.dtype == distgrad.int64 and int(d.num_batches_tracked) == 1
    np.testing.assert_allclose(np_of(d.running_var), t.running_var.numpy())


def test_batchnorm_errors_change_nothing():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(RuntimeError) as e:
        bn(distgrad.zeros(8, 4, 5, 5))
    assert "BatchNorm2d(3, eps=1e-05" in str(e.value) and "3 channels" in str(e.value)
    assert "(8, 4, 5, 5)" in str(e.value)
    with pytest.raises(ValueError, match="expected 4D input"):
        bn(distgrad.zeros(8, 3, 5))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        nn.BatchNorm1d(3)(distgrad.zeros(1, 3))
    assert int(bn.num_batches_tracked) == 0
    with pytest.raises(ValueError, match="expected 2D or 3D"):
        nn.BatchNorm1d(3)(distgrad.zeros(2, 3, 4, 4))
    with pytest.raises(RuntimeError, match="evaluation mode"):
        F.batch_norm(distgrad.zeros(2, 3), None, None, training=False)


def test_layernorm_groupnorm_errors():
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 4\], got shape \(2, 3\)"):
        nn.LayerNorm(4)(distgrad.zeros(2, 3))
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\]"):
        F.layer_norm(distgrad.zeros(2, 3), (4,))
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match=r"GroupNorm\(2, 6.*\(N, 6, \*\), got shape \(2, 4, 3\)"):
        nn.GroupNorm(2, 6)(distgrad.zeros(2, 4, 3))
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(distgrad.zeros(2, 5, 3), 2)


def test_norm_ops_gradcheck_and_double_backward():
    rng = np.random.default_rng(3)
    x = distgrad.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    w = distgrad.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    b = distgrad.tensor(rng.standard_normal(3), requires_grad=True)
    rm, rv = distgrad.tensor(rng.standard_normal(3)), distgrad.tensor(rng.uniform(0.5, 2, 3))

    def bn_train(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True)

    def bn_eval(x, w, b):
        return F.batch_norm(x, rm, rv, w, b, training=False)
    for fn in (bn_train, bn_eval):
        assert gradcheck(fn, (x, w, b))
        assert gradgradcheck(fn, (x, w, b))
    lw = distgrad.tensor(rng.uniform(0.5, 1.5, (3, 2)), requires_grad=True)
    lb = distgrad.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (3, 2), w, b), (x, lw, lb))
    assert gradgradcheck(lambda x, w, b: F.layer_norm(x, (3, 2), w, b), (x, lw, lb))
    gx = distgrad.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    gw = distgrad.tensor(rng.uniform(0.5, 1.5, 4), requires_grad=True)
    assert gradcheck(lambda x, w: F.group_norm(x, 2, w), (gx, gw))
    assert gradgradcheck(lambda x, w: F.group_norm(x, 2, w), (gx, gw))


def test_functional_batch_norm_updates_running_stats_like_torch():
    torch = pytest.importorskip("torch")
    x = _x((5, 2), dtype=np.float64)
    drm, drv = distgrad.zeros(2, dtype=distgrad.float64), distgrad.ones(2, dtype=distgrad.float64)
    trm, trv = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    F.batch_norm(distgrad.tensor(x), drm, drv, training=True, momentum=0.3)
    torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.3)
    np.testing.assert_allclose(np_of(drm), trm.numpy())
    np.testing.assert_allclose(np_of(drv), trv.numpy())
    assert drm._version == 1


def test_copy_state_roundtrip_into_torch():
    torch = pytest.importorskip("torch")
    d = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.LayerNorm(4))
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.LayerNorm(4))
    copy_state(d, t, torch)
    d.eval()
    t.eval()
    x = _x((2, 3))
    np.testing.assert_allclose(np_of(d(distgrad.tensor(x))), t(torch.tensor(x)).detach().numpy(), atol=1e-5)
