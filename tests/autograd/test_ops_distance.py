"""Distances: cdist (every p, both compute modes, batches), pdist, pairwise_distance and
cosine_similarity: first and second derivatives, parity with
PyTorch, the zero-distance gradient, and error types."""
import math

import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from error_parity import assert_raises_like_torch

F64 = distgrad.float64
PS = [0.0, 1.0, 2.0, 3.5, 0.5, math.inf]
MODES = ["use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"]


def _rand(*shape, seed=0):
    g = distgrad.Generator().manual_seed(seed)
    return distgrad.randn(*shape, dtype=F64, generator=g).requires_grad_()


def _torch_pair(torch, *xs):
    return [torch.tensor(x.detach().numpy(), requires_grad=True) for x in xs]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("p", PS, ids=str)
def test_cdist_gradcheck_and_gradgradcheck(p, mode):
    a, b = _rand(2, 3, 2), _rand(4, 2, seed=1)  # batch dims broadcast
    fn = lambda x, y: distgrad.cdist(x, y, p, compute_mode=mode)  # noqa: E731
    assert gradcheck(fn, (a, b))
    assert gradgradcheck(fn, (a, b))


@pytest.mark.parametrize("mode", MODES + ["use_mm_for_euclid_dist_if_necessary"])
@pytest.mark.parametrize("p", PS, ids=str)
def test_cdist_matches_torch_values_and_gradients(p, mode):
    torch = pytest.importorskip("torch")
    a, b = _rand(2, 3, 4, seed=2), _rand(2, 5, 4, seed=3)
    ta, tb = _torch_pair(torch, a, b)
    out, ref = distgrad.cdist(a, b, p, mode), torch.cdist(ta, tb, p, mode)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    w = np.random.default_rng(0).standard_normal(tuple(ref.shape))
    (out * distgrad.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_cdist_second_derivative_matches_torch_in_mm_mode():
    torch = pytest.importorskip("torch")
    a, b = _rand(3, 2, seed=4), _rand(4, 2, seed=5)
    ta, tb = _torch_pair(torch, a, b)
    (ga,) = distgrad.autograd.grad(distgrad.cdist(a, b, compute_mode=MODES[0]).sum(), (a,), create_graph=True)
    (gt,) = torch.autograd.grad(torch.cdist(ta, tb, compute_mode=MODES[0]).sum(), (ta,), create_graph=True)
    hx = distgrad.autograd.grad((ga * ga).sum(), (a, b))
    ht = torch.autograd.grad((gt * gt).sum(), (ta, tb))
    for x, y in zip(hx, ht):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("p", PS, ids=str)
def test_cdist_gradient_at_zero_distance_is_zero_like_torch(p):
    torch = pytest.importorskip("torch")
    x = distgrad.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=F64, requires_grad=True)
    y = distgrad.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=F64, requires_grad=True)
    tx, ty = _torch_pair(torch, x, y)
    distgrad.cdist(x, y, p, MODES[1]).sum().backward()
    torch.cdist(tx, ty, p, compute_mode=MODES[1]).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("p", PS, ids=str)
def test_pdist_gradcheck_and_torch_parity(p):
    torch = pytest.importorskip("torch")
    x = _rand(4, 3, seed=6)
    assert gradcheck(lambda t: distgrad.pdist(t, p), (x,))
    assert gradgradcheck(lambda t: distgrad.pdist(t, p), (x,))
    (tx,) = _torch_pair(torch, x)
    out, ref = distgrad.nn.functional.pdist(x, p), torch.nn.functional.pdist(tx, p)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


ROWWISE = {
    "pairwise_distance": lambda m, a, b: m.pairwise_distance(a, b),
    "pairwise_distance_p1_keepdim": lambda m, a, b: m.pairwise_distance(a, b, 1.0, 1e-6, True),
    "pairwise_distance_inf": lambda m, a, b: m.nn.functional.pairwise_distance(a, b, math.inf),
    "pairwise_distance_1d": lambda m, a, b: m.pairwise_distance(a[0], b[0], 3.0),
    "cosine_similarity": lambda m, a, b: m.cosine_similarity(a, b),
    "cosine_similarity_dim0": lambda m, a, b: m.nn.functional.cosine_similarity(a, b, 0),
    "cosine_similarity_broadcast": lambda m, a, b: m.cosine_similarity(a, b[:1], -1),
}


@pytest.mark.parametrize("name", sorted(ROWWISE))
def test_rowwise_distances_gradcheck_and_torch_parity(name):
    fn = ROWWISE[name]
    a, b = _rand(3, 4, seed=7), _rand(3, 4, seed=8)
    assert gradcheck(lambda x, y: fn(distgrad, x, y), (a, b))
    assert gradgradcheck(lambda x, y: fn(distgrad, x, y), (a, b))
    torch = pytest.importorskip("torch")
    ta, tb = _torch_pair(torch, a, b)
    out, ref = fn(distgrad, a, b), fn(torch, ta, tb)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    (ga, gb) = distgrad.autograd.grad(out.sum(), (a, b), create_graph=True)
    (ta_g, tb_g) = torch.autograd.grad(ref.sum(), (ta, tb), create_graph=True)
    np.testing.assert_allclose(ga.detach().numpy(), ta_g.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb.detach().numpy(), tb_g.detach().numpy(), rtol=1e-10, atol=1e-12)
    hx = distgrad.autograd.grad((ga * ga).sum() + (gb * gb).sum(), (a, b))
    ht = torch.autograd.grad((ta_g * ta_g).sum() + (tb_g * tb_g).sum(), (ta, tb))
    for x, y in zip(hx, ht):  # torch answers a zero second derivative (p=1, inf) with a ZeroTensor
        np.testing.assert_allclose(x.numpy(), y.to_dense().numpy(force=True) if y._is_zerotensor() else y.numpy(),
                                   rtol=1e-9, atol=1e-10)


def test_cosine_similarity_of_a_zero_vector_uses_eps_like_torch():
    torch = pytest.importorskip("torch")
    a = distgrad.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=F64, requires_grad=True)
    b = distgrad.tensor([[1.0, 1.0], [2.0, 1.0]], dtype=F64, requires_grad=True)
    ta, tb = _torch_pair(torch, a, b)
    out, ref = distgrad.cosine_similarity(a, b), torch.cosine_similarity(ta, tb)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), atol=1e-6)


ERRORS = {
    "cdist_1d": lambda m: m.cdist(m.ones(3), m.ones(3)),
    "cdist_columns": lambda m: m.cdist(m.ones(2, 3), m.ones(2, 4)),
    "cdist_negative_p": lambda m: m.cdist(m.ones(2, 3), m.ones(2, 3), p=-1),
    "cdist_integer": lambda m: m.cdist(m.ones(2, 3, dtype=m.long), m.ones(2, 3, dtype=m.long)),
    "cdist_mixed_dtypes": lambda m: m.cdist(m.ones(2, 3, dtype=m.float64), m.ones(2, 3)),
    "cdist_mode": lambda m: m.cdist(m.ones(2, 3), m.ones(2, 3), compute_mode="x"),
    "pdist_3d": lambda m: m.pdist(m.ones(2, 3, 3)),
    "pdist_negative_p": lambda m: m.pdist(m.ones(2, 3), -1),
    "cosine_shapes": lambda m: m.cosine_similarity(m.ones(2, 3), m.ones(2, 4)),
    "pairwise_shapes": lambda m: m.pairwise_distance(m.ones(2, 3), m.ones(2, 4)),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_distance_errors_match_torch_types(name):
    assert_raises_like_torch(ERRORS[name])
