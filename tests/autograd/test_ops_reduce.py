"""Reductions: gradients (first and second order) over every dim form, values against
NumPy, result dtypes, (values, indices) returns, and the error paths."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64


def rnd(*shape):
    return distgrad.randn(*shape, dtype=F64).requires_grad_()


def distinct(*shape):
    """A permutation of well-separated values: no ties for max/min/sort."""
    n = int(np.prod(shape)) if shape else 1
    vals = distgrad.randperm(n).to(F64) * 0.37 - 1.0
    return vals.reshape(shape).requires_grad_()


DIMS = [None, 0, -1, (0, 2), (), [1]]

# name -> (fn(x, dim, keepdim), input maker, numpy reference(a, axis, keepdims), smooth)
REDUCTIONS = {
    "sum": (lambda x, d, k: x.sum(d, keepdim=k), rnd, np.sum, True),
    "mean": (lambda x, d, k: x.mean(d, keepdim=k), rnd, np.mean, True),
    "var": (lambda x, d, k: x.var(d, keepdim=k), rnd, lambda a, axis, keepdims: np.var(a, axis, ddof=1,
                                                                                        keepdims=keepdims), True),
    "var_population": (lambda x, d, k: distgrad.var(x, d, correction=0, keepdim=k), rnd, np.var, True),
    "std": (lambda x, d, k: x.std(d, keepdim=k), rnd, lambda a, axis, keepdims: np.std(a, axis, ddof=1,
                                                                                        keepdims=keepdims), True),
    "prod": (lambda x, d, k: x.prod(d, keepdim=k) if isinstance(d, int) else x.prod(), rnd,
             lambda a, axis, keepdims: np.prod(a, axis, keepdims=keepdims) if isinstance(axis, int) else np.prod(a),
             True),
    "amax": (lambda x, d, k: x.amax(d if d is not None else (), keepdim=k), distinct, np.max, False),
    "amin": (lambda x, d, k: x.amin(d if d is not None else (), keepdim=k), distinct, np.min, False),
    "logsumexp": (lambda x, d, k: x.logsumexp(d if d is not None else (0, 1, 2), keepdim=k), rnd,
                  lambda a, axis, keepdims: np.log(np.sum(np.exp(a), axis, keepdims=keepdims)), True),
    "norm": (lambda x, d, k: x.norm(dim=d, keepdim=k), rnd,
             lambda a, axis, keepdims: np.sqrt(np.sum(a * a, axis, keepdims=keepdims)), True),
    "norm_1": (lambda x, d, k: x.norm(1, dim=d, keepdim=k), rnd,
               lambda a, axis, keepdims: np.sum(np.abs(a), axis, keepdims=keepdims), False),
    "norm_3": (lambda x, d, k: x.norm(3, dim=d, keepdim=k), rnd,
               lambda a, axis, keepdims: np.sum(np.abs(a) ** 3, axis, keepdims=keepdims) ** (1 / 3), False),
    "norm_inf": (lambda x, d, k: x.norm(float("inf"), dim=d, keepdim=k), distinct,
                 lambda a, axis, keepdims: np.max(np.abs(a), axis, keepdims=keepdims), False),
}


def _np_axis(d):
    if d is None or d == ():
        return None
    return tuple(d) if isinstance(d, (list, tuple)) else d


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction(name, dim, keepdim):
    fn, make, ref, smooth = REDUCTIONS[name]
    x = make(2, 3, 2)
    out = fn(x, dim, keepdim)
    expected = ref(x.detach().numpy(), axis=_np_axis(dim), keepdims=keepdim)
    if name == "prod" and not isinstance(dim, int):
        expected = np.prod(x.detach().numpy())
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    assert out.shape == np.shape(expected)
    assert gradcheck(lambda t: fn(t, dim, keepdim), (x,))
    if smooth:
        assert gradgradcheck(lambda t: fn(t, dim, keepdim), (x,))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim_returns_values_and_indices(op, dim):
    x = distinct(3, 4)
    res = getattr(x, op)(dim)
    a = x.detach().numpy()
    np.testing.assert_allclose(res.values.detach().numpy(), getattr(np, op)(a, axis=dim))
    np.testing.assert_array_equal(res.indices.numpy(), getattr(np, "arg" + op)(a, axis=dim))
    assert res.indices.dtype == distgrad.int64 and not res.indices.requires_grad
    values, indices = getattr(distgrad, op)(x, dim, keepdim=True)
    assert values.shape == indices.shape == tuple(1 if i == dim % 2 else s for i, s in enumerate((3, 4)))
    assert gradcheck(lambda t: getattr(t, op)(dim)[0], (x,))
    assert gradcheck(lambda t: getattr(t, op)(dim, keepdim=True).values, (x,))


def test_max_min_all_and_elementwise_forms():
    x = distinct(2, 3)
    assert gradcheck(lambda t: t.max(), (x,))
    assert gradcheck(lambda t: t.min(), (x,))
    y = rnd(2, 3)
    np.testing.assert_allclose(distgrad.max(x, y).detach().numpy(), np.maximum(x.detach().numpy(),
                                                                               y.detach().numpy()))


def test_max_shares_the_gradient_between_ties():
    x = distgrad.tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.5]
    y = distgrad.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    y.max(1).values.sum().backward()
    assert y.grad.tolist() == [[0.0, 1.0, 0.0]]  # dim form: only the first index


def test_argmax_argmin():
    x = distgrad.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    assert x.argmax().item() == 3 and x.argmin().item() == 4
    assert x.argmax(1).tolist() == [1, 0] and x.argmin(0).tolist() == [0, 1, 0]
    assert x.argmax(1, keepdim=True).shape == (2, 1)
    assert x.argmax().dtype == distgrad.int64


@pytest.mark.parametrize("zeros", [[0], [0, 4], [1, 2, 5]])
def test_prod_gradient_with_zeros(zeros):
    x = distgrad.randn(2, 3, dtype=F64)
    flat = x.reshape(-1)
    for z in zeros:
        flat[z] = 0.0
    x.requires_grad_()
    assert gradcheck(lambda t: t.prod(), (x,))
    assert gradcheck(lambda t: t.prod(1), (x,))
    if len(zeros) < 3:  # at most one zero per row: second derivatives are exact too
        assert gradgradcheck(lambda t: t.prod(1), (x,))
        assert gradgradcheck(lambda t: t.prod(0), (x,))


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_float32_gradients_stay_float32(name):
    fn = REDUCTIONS[name][0]
    x = distgrad.randn(2, 3, 2, requires_grad=True)
    fn(x, 1, False).sum().backward()
    assert x.grad.dtype == distgrad.float32


def test_sum_dtype_rules():
    assert distgrad.tensor([1, 2], dtype=distgrad.int32).sum().dtype == distgrad.int64
    assert distgrad.tensor([True, True]).sum().item() == 2
    assert distgrad.tensor([1, 2]).sum(dtype=F64).dtype == F64
    assert distgrad.ones(2).sum().dtype == distgrad.float32
    assert distgrad.tensor([1, 2], dtype=distgrad.int32).prod().dtype == distgrad.int64
    assert distgrad.tensor([1, 2]).mean(dtype=F64).item() == 1.5


def test_sum_and_mean_of_empty_dims():
    x = distgrad.zeros(0, 3)
    assert x.sum(0).tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(x.mean(0).numpy()).all()


def test_logsumexp_is_stable():
    x = distgrad.tensor([[1000.0, 1000.0], [-1000.0, -1000.0]])
    np.testing.assert_allclose(x.logsumexp(1).numpy(), [1000 + np.log(2), -1000 + np.log(2)], rtol=1e-6)
    inf = distgrad.tensor([float("-inf"), float("-inf")])
    assert inf.logsumexp(0).item() == float("-inf")


def test_norm_at_zero_has_zero_gradient():
    x = distgrad.zeros(3, dtype=F64, requires_grad=True)
    x.norm().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_var_with_unbiased_flag_and_correction():
    x = distgrad.tensor([1.0, 2.0, 3.0, 4.0])
    assert x.var(unbiased=False).item() == pytest.approx(1.25)
    assert x.var().item() == pytest.approx(5 / 3)
    assert x.std(correction=0).item() == pytest.approx(np.sqrt(1.25))


def test_reduction_errors():
    x = distgrad.ones(2, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(2)
    with pytest.raises(IndexError, match=r"range of \[-2, 1\]"):
        x.mean(-3)
    with pytest.raises(RuntimeError, match="appears multiple times"):
        x.sum((0, 0))
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        distgrad.tensor([1, 2]).mean()
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.max(5)
    with pytest.raises(RuntimeError, match="numel\\(\\) == 0"):
        distgrad.zeros(0).max()
    with pytest.raises(IndexError):
        x.argmax(2)


def test_zero_dim_reductions():
    s = distgrad.tensor(2.5, dtype=F64, requires_grad=True)
    assert s.sum().item() == 2.5 and s.sum(0).item() == 2.5 and s.mean(-1).item() == 2.5
    v, i = s.max(0)
    assert v.item() == 2.5 and i.item() == 0
    assert gradcheck(lambda t: t.sum(0) * t.amax(), (s,))
