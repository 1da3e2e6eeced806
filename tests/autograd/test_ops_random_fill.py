"""exponential_, geometric_, log_normal_, cauchy_, random_: distributions (moments and ranges on 20k
draws), seeding, generators, dtypes, versions and PyTorch's errors."""
import numpy as np
import pytest

import distgrad
from error_parity import assert_raises_like_torch

N = 20000


def _draw(method, *args, dtype=distgrad.float64, **kw):
    distgrad.manual_seed(0)
    return getattr(distgrad.empty(N, dtype=dtype), method)(*args, **kw).numpy()


def test_exponential_moments():
    x = _draw("exponential_", 2.0)
    assert x.min() >= 0 and abs(x.mean() - 0.5) < 0.02 and abs(x.std() - 0.5) < 0.02


def test_geometric_support_and_mean():
    x = _draw("geometric_", 0.25)
    assert x.min() == 1 and np.all(x == np.round(x)) and abs(x.mean() - 4.0) < 0.1
    ints = _draw("geometric_", 0.5, dtype=distgrad.int64)
    assert ints.dtype == np.int64 and abs(ints.mean() - 2.0) < 0.05


def test_log_normal_moments():
    x = _draw("log_normal_", 0.5, 0.25)
    assert x.min() > 0 and abs(np.log(x).mean() - 0.5) < 0.01 and abs(np.log(x).std() - 0.25) < 0.01


def test_cauchy_quartiles():
    x = _draw("cauchy_", 1.0, 2.0)
    q1, q2, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    assert abs(q2 - 1.0) < 0.1 and abs((q3 - q1) - 4.0) < 0.2   # quartiles at median +- sigma


def test_random_ranges():
    assert set(np.unique(_draw("random_", 3))) == {0.0, 1.0, 2.0}
    assert set(np.unique(_draw("random_", -2, 1))) == {-2.0, -1.0, 0.0}
    assert set(np.unique(_draw("random_", **{"from": 4, "to": 6}))) == {4.0, 5.0}
    f32 = _draw("random_", dtype=distgrad.float32)
    assert f32.min() >= 0 and f32.max() <= 2 ** 24 and np.all(f32 == np.round(f32)) and f32.max() > 2 ** 23
    assert set(np.unique(_draw("random_", dtype=distgrad.bool))) == {False, True}
    assert _draw("random_", dtype=distgrad.int64).min() >= 0


def test_seeded_generator_and_version():
    g1, g2 = distgrad.Generator().manual_seed(5), distgrad.Generator().manual_seed(5)
    a = distgrad.empty(10).exponential_(generator=g1)
    b = distgrad.empty(10).exponential_(generator=g2)
    assert a.tolist() == b.tolist()
    t = distgrad.zeros(3)
    v = t._version
    assert t.cauchy_() is t and t._version == v + 1


ERRORS = {
    "exponential_lambda": lambda m: m.empty(3).exponential_(0.0),
    "exponential_int": lambda m: m.empty(3, dtype=m.int64).exponential_(),
    "geometric_p": lambda m: m.empty(3).geometric_(1.5),
    "log_normal_std": lambda m: m.empty(3).log_normal_(1.0, -1.0),
    "cauchy_sigma": lambda m: m.empty(3).cauchy_(0.0, -1.0),
    "random_bounds": lambda m: m.empty(3).random_(5, 2),
    "leaf_requires_grad": lambda m: m.ones(3, requires_grad=True).exponential_(),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch_types(name):
    assert_raises_like_torch(ERRORS[name])


def test_error_messages_match_torch():
    torch = pytest.importorskip("torch")
    for name in ("exponential_lambda", "geometric_p", "log_normal_std", "cauchy_sigma", "random_bounds"):
        with pytest.raises(RuntimeError) as ref:
            ERRORS[name](torch)
        with pytest.raises(RuntimeError) as ours:
            ERRORS[name](distgrad)
        assert str(ours.value) == str(ref.value), name


def test_bernoulli_():
    x = _draw("bernoulli_", 0.3)
    assert set(np.unique(x)) == {0.0, 1.0} and abs(x.mean() - 0.3) < 0.02
    distgrad.manual_seed(1)
    p = distgrad.tensor([0.0, 1.0, 0.5]).repeat(1000)
    y = distgrad.empty(3000).bernoulli_(p).numpy().reshape(1000, 3)
    assert y[:, 0].sum() == 0 and y[:, 1].sum() == 1000 and abs(y[:, 2].mean() - 0.5) < 0.06
    assert_raises_like_torch(lambda m: m.empty(3).bernoulli_(1.5))
