"""unique / unique_consecutive (flat and along a dim, inverse, counts, NaN), bincount and histc:
values and dtypes against PyTorch, and the errors."""
import numpy as np
import pytest

import distgrad

torch = pytest.importorskip("torch")

NAN = float("nan")
CASES = {
    "ints": [[3, 1, 3], [2, 1, 1]],
    "floats_nan": [[0.5, NAN, -1.0], [0.5, NAN, 2.0]],
    "repeated_rows": [[1, 2, 3], [0, 5, 1], [1, 2, 3], [0, 5, 0]],
    "bool": [[True, False], [True, True]],
    "empty": [[], []],
}


def _as_list(x):
    return x if isinstance(x, tuple) else (x,)


def _same(ours, theirs):
    ours, theirs = _as_list(ours), _as_list(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert str(a.dtype).split(".")[1] == str(b.dtype).split(".")[1]
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("flags", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("op", ["unique", "unique_consecutive"])
def test_unique_matches_torch(op, case, dim, flags):
    inverse, counts = flags
    x, tx = distgrad.tensor(CASES[case]), torch.tensor(CASES[case])
    if case == "empty" and dim in (0, -2):
        with pytest.raises(RuntimeError, match="0 sized dimensions"):
            getattr(torch, op)(tx, dim=dim)
        with pytest.raises(RuntimeError, match="0 sized dimensions"):
            getattr(distgrad, op)(x, dim=dim)
        return
    ours = getattr(distgrad, op)(x, return_inverse=inverse, return_counts=counts, dim=dim)
    theirs = getattr(torch, op)(tx, return_inverse=inverse, return_counts=counts, dim=dim)
    _same(ours, theirs)


def test_unique_methods_scalars_and_sorted_flag():
    x = distgrad.tensor([2.0, 1.0, 2.0])
    _same(x.unique(sorted=False, return_counts=True), (torch.tensor([1.0, 2.0]), torch.tensor([1, 2])))
    _same(x.unique_consecutive(return_inverse=True), torch.tensor([2.0, 1.0, 2.0]).unique_consecutive(
        return_inverse=True))
    _same(distgrad.tensor(4).unique(return_inverse=True), torch.tensor(4).unique(return_inverse=True))
    assert not distgrad.unique(distgrad.tensor([1.0, 1.0], requires_grad=True)).requires_grad


def test_unique_inverse_rebuilds_input():
    x = distgrad.tensor([[4, 4, 1], [0, 4, 7]])
    values, inverse = x.unique(return_inverse=True)
    np.testing.assert_array_equal(values.numpy()[inverse.numpy()], x.numpy())
    rows, inv = x.t().unique(dim=0, return_inverse=True)
    np.testing.assert_array_equal(rows.numpy()[inv.numpy()], x.t().numpy())


def test_unique_errors():
    with pytest.raises(IndexError):
        distgrad.unique(distgrad.zeros(2, 2), dim=2)


@pytest.mark.parametrize("weights", [None, "float32", "float64", "int64", "float16"])
@pytest.mark.parametrize("minlength", [0, 7])
def test_bincount_matches_torch(weights, minlength):
    v = [1, 4, 1, 0, 4, 4]
    w = [0.5, 1.0, 2.0, -1.0, 0.25, 3.0]
    kw = {} if weights is None else {"weights": distgrad.tensor(w).to(getattr(distgrad, weights))}
    tkw = {} if weights is None else {"weights": torch.tensor(w).to(getattr(torch, weights))}
    _same(distgrad.bincount(distgrad.tensor(v), minlength=minlength, **kw),
          torch.bincount(torch.tensor(v), minlength=minlength, **tkw))
    _same(distgrad.tensor([], dtype=distgrad.int64).bincount(minlength=minlength),
          torch.tensor([], dtype=torch.int64).bincount(minlength=minlength))


def test_bincount_errors():
    for bad in (distgrad.tensor([[1]]), distgrad.tensor([-1, 2]), distgrad.tensor([1.0])):
        with pytest.raises(RuntimeError, match="1-d non-negative integral"):
            distgrad.bincount(bad)
    with pytest.raises(RuntimeError, match="same length"):
        distgrad.bincount(distgrad.tensor([1, 2]), weights=distgrad.ones(3))


@pytest.mark.parametrize("args", [(4, 0, 3), (5, 0, 0), (3, -1.0, 1.5), (1, 0, 10), (6, 2.0, 2.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_histc_matches_torch(args, dtype):
    v = [[1.0, 2.0, 1.0], [3.0, -0.5, 0.75]]
    bins, lo, hi = args
    _same(distgrad.tensor(v, dtype=getattr(distgrad, dtype)).histc(bins, lo, hi),
          torch.tensor(v, dtype=getattr(torch, dtype)).histc(bins, lo, hi))
    _same(distgrad.histc(distgrad.tensor([2.5, 2.5]), bins=bins), torch.histc(torch.tensor([2.5, 2.5]), bins=bins))


def test_histc_errors():
    with pytest.raises(RuntimeError, match="floating point"):
        distgrad.histc(distgrad.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        distgrad.histc(distgrad.tensor([1.0]), bins=2, min=3, max=1)
    with pytest.raises(RuntimeError, match="bins"):
        distgrad.histc(distgrad.tensor([1.0]), bins=0)


def test_histogram_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(50)
    w = np.random.default_rng(1).uniform(0, 2, 50)
    for bins, kw in ((10, {}), (4, {"range": (-1.0, 3.0)}), (5, {"density": True}), (6, {"weight": True}),
                     (np.array([-2.0, -0.5, 0.0, 2.5]), {}), (np.array([-1.0, 0.0, 1.0]), {"density": True})):
        kd, kt = dict(kw), dict(kw)
        if kw.get("weight"):
            kd["weight"], kt["weight"] = distgrad.tensor(w), torch.tensor(w)
        bd = distgrad.tensor(bins) if isinstance(bins, np.ndarray) else bins
        bt = torch.tensor(bins) if isinstance(bins, np.ndarray) else bins
        a, b = distgrad.histogram(distgrad.tensor(x), bd, **kd), torch.histogram(torch.tensor(x), bt, **kt)
        np.testing.assert_allclose(a.hist.numpy(), b.hist.numpy(), rtol=1e-12)
        np.testing.assert_allclose(a.bin_edges.numpy(), b.bin_edges.numpy(), rtol=1e-12)
    same = distgrad.histogram(distgrad.tensor([2.0, 2.0]), 2)
    assert same.bin_edges.tolist() == [1.5, 2.0, 2.5] and same.hist.tolist() == [0.0, 2.0]
    with pytest.raises(NotImplementedError, match="histogramdd"):
        distgrad.histogram(distgrad.tensor([1, 2]), 2)
