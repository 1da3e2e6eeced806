"""Products and blends: tensordot, kron, cross, inner, vdot, chain_matmul, ger, the addmm family
(with beta/alpha, broadcasting and in-place forms) and lerp: first and second derivatives,
parity with PyTorch, and error types."""
import warnings

import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from error_parity import assert_raises_like_torch

F64 = distgrad.float64

# name -> (fn(m, *xs) for m in {distgrad, torch}, operand shapes)
OPS = {
    "tensordot_int": (lambda m, a, b: m.tensordot(a, b, dims=1), [(2, 3), (3, 4)]),
    "tensordot_2": (lambda m, a, b: m.tensordot(a, b), [(2, 3, 4), (3, 4, 2)]),
    "tensordot_lists": (lambda m, a, b: m.tensordot(a, b, dims=([1, 0], [0, 1])), [(3, 4, 2), (4, 3)]),
    "tensordot_0": (lambda m, a, b: m.tensordot(a, b, dims=0), [(2,), (3,)]),
    "kron": (lambda m, a, b: m.kron(a, b), [(2, 3), (3, 2)]),
    "kron_mixed_ndim": (lambda m, a, b: a.kron(b), [(2,), (2, 3)]),
    "cross_dim": (lambda m, a, b: m.cross(a, b, dim=1), [(2, 3, 2), (2, 3, 2)]),
    "cross_broadcast": (lambda m, a, b: m.cross(a, b, dim=-1), [(4, 3), (1, 3)]),
    "cross_method": (lambda m, a, b: a.cross(b, dim=0), [(3,), (3,)]),
    "inner": (lambda m, a, b: m.inner(a, b), [(2, 3), (4, 3)]),
    "inner_1d": (lambda m, a, b: a.inner(b), [(3,), (3,)]),
    "inner_0d": (lambda m, a, b: m.inner(a, b), [(), (2, 3)]),
    "vdot": (lambda m, a, b: m.vdot(a, b), [(4,), (4,)]),
    "ger": (lambda m, a, b: m.ger(a, b), [(2,), (3,)]),
    "outer": (lambda m, a, b: a.outer(b), [(2,), (3,)]),
    "dot": (lambda m, a, b: m.dot(a, b), [(3,), (3,)]),
    "chain_matmul": (lambda m, a, b, c: m.chain_matmul(a, b, c), [(2, 3), (3, 4), (4, 2)]),
    "chain_matmul_one": (lambda m, a: m.chain_matmul(a), [(2, 3)]),
    "addmm": (lambda m, i, a, b: m.addmm(i, a, b, beta=0.5, alpha=2.0), [(2, 4), (2, 3), (3, 4)]),
    "addmm_broadcast": (lambda m, i, a, b: i.addmm(a, b), [(4,), (2, 3), (3, 4)]),
    "addmm_beta0": (lambda m, i, a, b: m.addmm(i, a, b, beta=0), [(2, 4), (2, 3), (3, 4)]),
    "addmv": (lambda m, i, a, v: m.addmv(i, a, v, beta=2.0, alpha=-1.0), [(2,), (2, 3), (3,)]),
    "addr": (lambda m, i, u, v: m.addr(i, u, v, alpha=3.0), [(2, 3), (2,), (3,)]),
    "addbmm": (lambda m, i, a, b: m.addbmm(i, a, b, beta=0.25), [(2, 4), (3, 2, 5), (3, 5, 4)]),
    "baddbmm": (lambda m, i, a, b: m.baddbmm(i, a, b, alpha=0.5), [(3, 2, 4), (3, 2, 5), (3, 5, 4)]),
    "baddbmm_broadcast": (lambda m, i, a, b: i.baddbmm(a, b), [(1, 4), (3, 2, 5), (3, 5, 4)]),
    "lerp_scalar": (lambda m, a, b: m.lerp(a, b, 0.3), [(2, 3), (2, 3)]),
    "lerp_scalar_big": (lambda m, a, b: a.lerp(b, 0.8), [(2, 3), (3,)]),
    "lerp_tensor": (lambda m, a, b, w: m.lerp(a, b, w), [(2, 3), (2, 3), (2, 3)]),
}


def _inputs(shapes, seed=0):
    g = distgrad.Generator().manual_seed(seed)
    return [distgrad.randn(*s, dtype=F64, generator=g).requires_grad_() for s in shapes]


def _call(name, m, xs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # chain_matmul is deprecated in both
        return OPS[name][0](m, *xs)


@pytest.mark.parametrize("name", sorted(OPS))
def test_products_gradcheck_and_gradgradcheck(name):
    xs = _inputs(OPS[name][1])
    fn = lambda *t: _call(name, distgrad, t)  # noqa: E731
    assert gradcheck(fn, xs)
    assert gradgradcheck(fn, xs)


@pytest.mark.parametrize("name", sorted(OPS))
def test_products_match_torch_values_and_two_derivatives(name):
    torch = pytest.importorskip("torch")
    xs = _inputs(OPS[name][1], seed=1)
    ts = [torch.tensor(x.detach().numpy(), requires_grad=True) for x in xs]
    out, ref = _call(name, distgrad, xs), _call(name, torch, ts)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = np.random.default_rng(2).standard_normal(tuple(ref.shape))
    gx = distgrad.autograd.grad((out * distgrad.tensor(w)).sum(), xs, create_graph=True)
    gt = torch.autograd.grad((ref * torch.tensor(w)).sum(), ts, create_graph=True)
    for a, b in zip(gx, gt):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-11, atol=1e-12)
    if any(b.requires_grad for b in gt):  # second derivatives, where the first ones depend on the inputs
        hx = distgrad.autograd.grad(sum((a * a).sum() for a in gx if a.requires_grad), xs, allow_unused=True)
        ht = torch.autograd.grad(sum((b * b).sum() for b in gt if b.requires_grad), ts, allow_unused=True)
        for x, a, b in zip(xs, hx, ht):
            a = np.zeros(tuple(x.shape)) if a is None else a.numpy()
            b = np.zeros(tuple(x.shape)) if b is None else b.numpy()
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11)


def test_integer_products_match_torch():
    torch = pytest.importorskip("torch")
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    for fn in (lambda m, x, y: m.tensordot(x, y, dims=1), lambda m, x, y: m.kron(x, y),
               lambda m, x, y: m.addmm(m.ones(2, 4, dtype=m.long), x, y, beta=2, alpha=3)):
        out, ref = fn(distgrad, distgrad.tensor(a), distgrad.tensor(b)), fn(torch, torch.tensor(a), torch.tensor(b))
        assert out.dtype == distgrad.int64
        np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_addmm_with_beta_zero_ignores_nan_in_input():
    x = distgrad.full((2, 2), float("nan"))
    out = distgrad.addmm(x, distgrad.ones(2, 3), distgrad.ones(3, 2), beta=0)
    assert out.tolist() == [[3.0, 3.0], [3.0, 3.0]]


def test_inplace_addmm_family_and_lerp():
    torch = pytest.importorskip("torch")
    for name, args in [("addmm_", [(2, 4), (2, 3), (3, 4)]), ("addmv_", [(2,), (2, 3), (3,)]),
                       ("addr_", [(2, 3), (2,), (3,)]), ("addbmm_", [(2, 4), (3, 2, 5), (3, 5, 4)]),
                       ("baddbmm_", [(3, 2, 4), (3, 2, 5), (3, 5, 4)])]:
        xs = _inputs(args)
        ts = [torch.tensor(x.detach().numpy(), requires_grad=True) for x in xs]
        base, tbase = xs[0] * 1, ts[0] * 1
        assert getattr(base, name)(xs[1], xs[2], beta=0.5, alpha=2.0) is base
        getattr(tbase, name)(ts[1], ts[2], beta=0.5, alpha=2.0)
        np.testing.assert_allclose(base.detach().numpy(), tbase.detach().numpy(), rtol=1e-12)
        base.sum().backward()
        tbase.sum().backward()
        for x, t in zip(xs, ts):
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    y = distgrad.zeros(2)
    assert y.lerp_(distgrad.ones(2), 0.25) is y and y.tolist() == [0.25, 0.25]


def test_cross_without_dim_warns_and_takes_the_first_size_3_dim():
    torch = pytest.importorskip("torch")
    a, b = _inputs([(3, 3), (3, 3)])
    with pytest.warns(UserWarning, match="dim"):
        out = distgrad.cross(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = torch.cross(torch.tensor(a.detach().numpy()), torch.tensor(b.detach().numpy()))
    np.testing.assert_allclose(out.detach().numpy(), ref.numpy(), rtol=1e-12)
    np.testing.assert_allclose(distgrad.cross(a, b, dim=-1).detach().numpy(),
                               distgrad.linalg.cross(a, b).detach().numpy())


ERRORS = {
    "cross_length": lambda m: m.cross(m.ones(2, 4), m.ones(2, 4), dim=1),
    "cross_dtype": lambda m: m.cross(m.ones(3), m.ones(3, dtype=m.float64), dim=0),
    "cross_ndims": lambda m: m.cross(m.ones(4, 3), m.ones(3), dim=-1),
    "cross_no_size_3": lambda m: m.cross(m.ones(2, 4), m.ones(2, 4)),
    "tensordot_sizes": lambda m: m.tensordot(m.ones(2, 3), m.ones(4, 3), dims=1),
    "tensordot_negative": lambda m: m.tensordot(m.ones(2, 3), m.ones(4, 3), dims=-1),
    "tensordot_dtype": lambda m: m.tensordot(m.ones(2, 3), m.ones(3, 2, dtype=m.float64), dims=1),
    "addmm_input_shape": lambda m: m.addmm(m.ones(3, 3), m.ones(2, 3), m.ones(3, 2)),
    "addmm_1d": lambda m: m.addmm(m.ones(2, 2), m.ones(3), m.ones(3, 2)),
    "addbmm_batches": lambda m: m.addbmm(m.ones(2, 2), m.ones(2, 2, 3), m.ones(3, 3, 2)),
    "addmv_sizes": lambda m: m.addmv(m.ones(2), m.ones(2, 3), m.ones(2)),
    "addr_2d": lambda m: m.addr(m.ones(2, 2), m.ones(2, 1), m.ones(2)),
    "inner_sizes": lambda m: m.inner(m.ones(2, 3), m.ones(4)),
    "inner_dtype": lambda m: m.inner(m.ones(3), m.ones(3, dtype=m.float64)),
    "vdot_2d": lambda m: m.vdot(m.ones(2, 2), m.ones(4)),
    "vdot_dtype": lambda m: m.vdot(m.ones(2), m.ones(2, dtype=m.float64)),
    "chain_matmul_1d": lambda m: m.chain_matmul(m.ones(2, 2), m.ones(2)),
    "outer_2d": lambda m: m.outer(m.ones(2, 2), m.ones(2)),
    "lerp_dtype": lambda m: m.lerp(m.ones(2), m.ones(2, dtype=m.float64), 0.5),
    "lerp_integer": lambda m: m.lerp(m.ones(2, dtype=m.long), m.ones(2, dtype=m.long), 0.5),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_product_errors_match_torch_types(name):
    assert_raises_like_torch(ERRORS[name])
