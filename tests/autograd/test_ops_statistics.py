"""nansum, nanmean, aminmax, std_mean, var_mean, isin, masked_select, take, tril/triu_indices and the
stacking helpers (hstack, vstack, dstack, column_stack): PyTorch parity, gradients, errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from error_parity import assert_raises_like_torch

RNG = np.random.default_rng(0)
WITH_NAN = RNG.standard_normal((3, 4))
WITH_NAN[0, 1] = WITH_NAN[2, 3] = np.nan
PLAIN = RNG.standard_normal((3, 4))


def _out_list(out):
    return list(out) if isinstance(out, tuple) else [out]


def _both(torch, fn, *arrays):
    """Values, dtypes and gradients (NaN-free gradients compared exactly where finite) against torch."""
    ours = [distgrad.tensor(a, requires_grad=np.asarray(a).dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=np.asarray(a).dtype.kind == "f") for a in arrays]
    od, ot = _out_list(fn(distgrad, *ours)), _out_list(fn(torch, *theirs))
    assert len(od) == len(ot)
    for a, b in zip(od, ot):
        assert tuple(a.shape) == tuple(b.shape) and str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)
    diff = [(a, b) for a, b in zip(od, ot) if b.requires_grad]
    if diff:
        gs = [RNG.standard_normal(tuple(b.shape)) for _, b in diff]
        sum((a * distgrad.tensor(g)).sum() for (a, _), g in zip(diff, gs)).backward()
        sum((b * torch.tensor(g)).sum() for (_, b), g in zip(diff, gs)).backward()
        for d, t in zip(ours, theirs):
            if t.requires_grad:
                np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-14)


CASES = {
    "nansum": (lambda m, x: m.nansum(x), [WITH_NAN]),
    "nansum_dim": (lambda m, x: m.nansum(x, 1, keepdim=True) + x.nansum(0).sum(), [WITH_NAN]),
    "nansum_int": (lambda m, x: m.nansum(x), [np.array([1, 2, 3])]),
    "nanmean": (lambda m, x: m.nanmean(x), [WITH_NAN]),
    "nanmean_dim": (lambda m, x: m.nanmean(x, (0, 1)) + x.nanmean(1).sum(), [WITH_NAN]),
    "aminmax": (lambda m, x: tuple(m.aminmax(x)), [PLAIN]),
    "aminmax_dim": (lambda m, x: tuple(m.aminmax(x, dim=1, keepdim=True)), [PLAIN]),
    "aminmax_method": (lambda m, x: tuple(x.aminmax(dim=0)), [PLAIN]),
    "std_mean": (lambda m, x: m.std_mean(x, 1), [PLAIN]),
    "var_mean": (lambda m, x: m.var_mean(x, (0, 1), correction=0, keepdim=True), [PLAIN]),
    "masked_select": (lambda m, x: m.masked_select(x, x > 0.1), [PLAIN]),
    "masked_select_broadcast": (lambda m, x: x.masked_select(m.tensor([True, False, True, True])), [PLAIN]),
    "take": (lambda m, x: m.take(x, m.tensor([[0, 11], [-1, 5]])) + x.take(m.tensor(3)), [PLAIN]),
    "hstack": (lambda m, a, b: m.hstack([a, b]), [PLAIN, PLAIN[:, :2]]),
    "hstack_1d": (lambda m, a, b: m.hstack((a[0], b[1])), [PLAIN, PLAIN]),
    "vstack": (lambda m, a, b: m.vstack([a[0], b]), [PLAIN, PLAIN]),
    "row_stack": (lambda m, a: m.row_stack([a, a]), [PLAIN]),
    "dstack": (lambda m, a, b: m.dstack([a, b]), [PLAIN, PLAIN]),
    "column_stack": (lambda m, a, b: m.column_stack([a[:, 0], b, a]), [PLAIN, PLAIN[:, :1]]),
    "column_stack_0d": (lambda m, a: m.column_stack([a[0, 0], a[0, 1:2]]), [PLAIN]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    fn, arrays = CASES[name]
    _both(torch, fn, *arrays)


@pytest.mark.parametrize("fn", [
    lambda x: distgrad.nansum(x, 0), lambda x: distgrad.nanmean(x, 1), lambda x: distgrad.aminmax(x).max,
    lambda x: distgrad.std_mean(x, 0)[0], lambda x: distgrad.var_mean(x)[1],
    lambda x: distgrad.masked_select(x, x > 0), lambda x: distgrad.take(x, distgrad.tensor([1, 1, -2])),
    lambda x: distgrad.column_stack([x, x[:, 0]]), lambda x: distgrad.dstack([x, x])])
def test_gradcheck(fn):
    x = distgrad.tensor(PLAIN + 0.05, requires_grad=True)
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


def test_indices_and_isin_match_torch():
    torch = pytest.importorskip("torch")
    for args in ((3, 3), (3, 4, 1), (4, 3, -1), (0, 3), (2, 5, 9)):
        for name in ("tril_indices", "triu_indices"):
            ours, theirs = getattr(distgrad, name)(*args), getattr(torch, name)(*args)
            assert ours.dtype == distgrad.int64 and ours.tolist() == theirs.tolist(), (name, args)
    a, b = np.array([[1, 2], [3, 4]]), np.array([2, 4, 9])
    for kw in ({}, dict(invert=True), dict(assume_unique=True)):
        assert distgrad.isin(distgrad.tensor(a), distgrad.tensor(b), **kw).tolist() == \
            torch.isin(torch.tensor(a), torch.tensor(b), **kw).tolist()
    assert distgrad.isin(distgrad.tensor(a), 3).tolist() == torch.isin(torch.tensor(a), 3).tolist()
    assert distgrad.isin(2, distgrad.tensor(b)).tolist() == torch.isin(2, torch.tensor(b)).tolist()


ERRORS = {
    "nanmean_int": lambda m: m.nanmean(m.tensor([1, 2])),
    "aminmax_empty": lambda m: m.aminmax(m.ones(0)),
    "masked_select_float_mask": lambda m: m.masked_select(m.ones(3), m.ones(3)),
    "masked_select_shapes": lambda m: m.masked_select(m.ones(3), m.ones(2, dtype=m.bool)),
    "take_range": lambda m: m.take(m.ones(2, 3), m.tensor([6])),
    "take_float_index": lambda m: m.take(m.ones(2, 3), m.tensor([1.0])),
    "hstack_empty": lambda m: m.hstack([]),
    "vstack_shapes": lambda m: m.vstack([m.ones(2), m.ones(3)]),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch_types(name):
    assert_raises_like_torch(ERRORS[name])


def test_mode_cov_combinations_match_torch():
    torch = pytest.importorskip("torch")
    ints = RNG.integers(0, 4, (3, 7))
    for dim, keepdim in ((1, False), (0, True), (-1, True)):
        a, b = distgrad.mode(distgrad.tensor(ints), dim, keepdim), torch.mode(torch.tensor(ints), dim, keepdim)
        assert a.values.tolist() == b.values.tolist() and a.indices.tolist() == b.indices.tolist()
    floats = np.round(RNG.standard_normal((2, 6)), 0)
    _both(torch, lambda m, x: m.mode(x, 1).values * 2, floats)
    obs = RNG.standard_normal((3, 6))
    fw, aw = np.array([1, 2, 1, 3, 1, 1]), RNG.uniform(0.5, 2.0, 6)
    for kw in ({}, {"correction": 0}, {"correction": 2}):
        _both(torch, lambda m, x: m.cov(x, **kw), obs)
        _both(torch, lambda m, x: m.cov(x, fweights=m.tensor(fw), **kw), obs)
        _both(torch, lambda m, x, w: m.cov(x, aweights=w, **kw), obs, aw)
        _both(torch, lambda m, x, w: m.cov(x, fweights=m.tensor(fw), aweights=w, **kw), obs, aw)
    _both(torch, lambda m, x: m.cov(x[0]), obs)
    for r, rep in ((2, False), (3, False), (2, True), (0, False)):
        _both(torch, lambda m, x: m.combinations(x[0, :4], r, with_replacement=rep), obs)
    x = distgrad.tensor(obs, requires_grad=True)
    assert gradcheck(lambda t: distgrad.cov(t, aweights=distgrad.tensor(aw)), [x])
    assert gradgradcheck(lambda t: distgrad.mode(t.round(), 1).values * t.sum(), [x])
