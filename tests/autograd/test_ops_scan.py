"""Scans: cumsum, cumprod (with and without zeros), cummax/cummin, logcumsumexp and the in-place
forms: first and second derivatives, parity with PyTorch, dtypes and errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64


def rnd(*shape, seed=0):
    g = distgrad.Generator().manual_seed(seed)
    return distgrad.randn(*shape, dtype=F64, generator=g).requires_grad_()


def with_zeros():
    return distgrad.tensor([[1.5, 0.0, 2.0, -0.7, 0.0], [0.3, -1.2, 0.0, 1.1, 0.9]], dtype=F64,
                           requires_grad=True)


SMOOTH = {
    "cumsum": lambda x, d: distgrad.cumsum(x, d),
    "cumprod": lambda x, d: distgrad.cumprod(x, d),
    "logcumsumexp": lambda x, d: distgrad.logcumsumexp(x, d),
    "cummax": lambda x, d: distgrad.cummax(x, d).values,
    "cummin": lambda x, d: distgrad.cummin(x, d).values,
}


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_scan_gradcheck_and_gradgradcheck(name, dim):
    x = rnd(3, 4)
    fn = lambda t: SMOOTH[name](t, dim)  # noqa: E731
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_scan_of_a_0d_tensor(name):
    x = distgrad.tensor(0.7, dtype=F64, requires_grad=True)
    out = SMOOTH[name](x, 0)
    assert out.shape == () and abs(out.item() - 0.7) < 1e-15
    assert gradcheck(lambda t: SMOOTH[name](t, -1), (x,))


@pytest.mark.parametrize("dim", [0, 1])
def test_cumprod_with_zeros_first_and_second_derivatives(dim):
    x = with_zeros()
    fn = lambda t: distgrad.cumprod(t, dim)  # noqa: E731
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("make", [rnd, with_zeros], ids=["random", "zeros"])
@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_scan_matches_torch_values_and_two_derivatives(name, make):
    torch = pytest.importorskip("torch")
    x = make(2, 5) if make is rnd else make()
    t = torch.tensor(x.detach().numpy(), requires_grad=True)
    tfn = {"cumsum": torch.cumsum, "cumprod": torch.cumprod, "logcumsumexp": torch.logcumsumexp,
           "cummax": lambda a, d: torch.cummax(a, d).values, "cummin": lambda a, d: torch.cummin(a, d).values}[name]
    for dim in (0, 1):
        out, ref = SMOOTH[name](x, dim), tfn(t, dim)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
        w = np.random.default_rng(dim).standard_normal(tuple(ref.shape))
        (gx,) = distgrad.autograd.grad((out * distgrad.tensor(w)).sum(), (x,), create_graph=True)
        (gt,) = torch.autograd.grad((ref * torch.tensor(w)).sum(), (t,), create_graph=True)
        np.testing.assert_allclose(gx.detach().numpy(), gt.detach().numpy(), rtol=1e-10, atol=1e-10)
        if gt.requires_grad:
            (hx,) = distgrad.autograd.grad((gx * gx).sum(), (x,))
            (ht,) = torch.autograd.grad((gt * gt).sum(), (t,))
            np.testing.assert_allclose(hx.numpy(), ht.numpy(), rtol=1e-9, atol=1e-9)


def test_cummax_cummin_indices_match_torch_with_ties_and_nan():
    torch = pytest.importorskip("torch")
    data = [[1.0, 3.0, 3.0, 2.0, float("nan"), 5.0], [2.0, 2.0, 1.0, 1.0, 0.0, 0.0]]
    for name in ("cummax", "cummin"):
        out = getattr(distgrad, name)(distgrad.tensor(data), 1)
        ref = getattr(torch, name)(torch.tensor(data), 1)
        np.testing.assert_array_equal(out.indices.numpy(), ref.indices.numpy())
        np.testing.assert_array_equal(out.values.numpy(), ref.values.numpy())
        assert out.indices.dtype == distgrad.int64
    ints = distgrad.tensor([3, 1, 4, 1, 5])
    assert distgrad.cummax(ints, 0).values.tolist() == [3, 3, 4, 4, 5]
    assert distgrad.cummin(ints, 0).indices.tolist() == [0, 1, 1, 3, 3]


def test_logcumsumexp_does_not_overflow_or_underflow():
    torch = pytest.importorskip("torch")
    data = [1000.0, 1000.0, -1000.0, 0.0, float("-inf")]
    out = distgrad.logcumsumexp(distgrad.tensor(data, dtype=F64), 0)
    ref = torch.logcumsumexp(torch.tensor(data, dtype=torch.float64), 0)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-12)


def test_integer_scans_accumulate_in_int64_and_dtype_argument():
    x = distgrad.tensor([1, 2, 3], dtype=distgrad.int32)
    assert distgrad.cumsum(x, 0).dtype == distgrad.int64
    assert distgrad.cumprod(x, 0).tolist() == [1, 2, 6] and distgrad.cumprod(x, 0).dtype == distgrad.int64
    assert distgrad.cumprod(x, 0, dtype=F64).dtype == F64
    assert distgrad.cumsum(distgrad.tensor([True, True]), 0).tolist() == [1, 2]


def test_inplace_scans():
    x = distgrad.tensor([1.0, 2.0, 3.0], dtype=F64, requires_grad=True)
    y = x * 1
    y.cumprod_(0)
    assert y.tolist() == [1.0, 2.0, 6.0]
    y.sum().backward()
    assert x.grad.tolist() == [9.0, 4.0, 2.0]
    z = distgrad.ones(4)
    assert z.cumsum_(0) is z and z.tolist() == [1.0, 2.0, 3.0, 4.0]
    leaf = distgrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError):
        leaf.cumsum_(0)


def test_scan_errors():
    x = distgrad.ones(2, 3)
    for fn in (distgrad.cumsum, distgrad.cumprod, distgrad.cummax, distgrad.cummin, distgrad.logcumsumexp):
        with pytest.raises(IndexError):
            fn(x, 2)
    with pytest.raises(NotImplementedError):
        distgrad.logcumsumexp(distgrad.tensor([1, 2]), 0)


@pytest.mark.parametrize("name", ["maximum", "minimum", "logaddexp"])
def test_log_step_scan_used_off_the_host_matches_ufunc_accumulate(name, monkeypatch):
    # the device path (no ufunc.accumulate on CuPy) run here on NumPy arrays
    from distgrad.autograd.ops import scan
    x = np.random.default_rng(0).standard_normal((3, 7, 2))
    monkeypatch.setattr(scan.backend, "is_host_module", lambda xp: False)
    for axis in (0, 1, 2):
        np.testing.assert_allclose(scan._scan(x, name, axis), getattr(np, name).accumulate(x, axis=axis),
                                   rtol=1e-14)
