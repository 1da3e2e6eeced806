"""bernoulli, multinomial, normal, poisson: repeatable under manual_seed / a Generator, the right
shapes and dtypes, sample statistics, and PyTorch's errors (streams differ from PyTorch's by design)."""
import numpy as np
import pytest

import distgrad


def _twice(fn):
    distgrad.manual_seed(3)
    a = fn()
    distgrad.manual_seed(3)
    return a, fn()


SAMPLERS = {
    "bernoulli": lambda: distgrad.bernoulli(distgrad.full((50,), 0.5)),
    "bernoulli_p": lambda: distgrad.zeros(50).bernoulli(0.3),
    "multinomial": lambda: distgrad.multinomial(distgrad.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, 1.0]]), 2),
    "multinomial_repl": lambda: distgrad.tensor([1.0, 2.0, 3.0]).multinomial(20, replacement=True),
    "normal_numbers": lambda: distgrad.normal(1.0, 2.0, (40,)),
    "normal_tensors": lambda: distgrad.normal(distgrad.zeros(3, 1), distgrad.ones(4)),
    "poisson": lambda: distgrad.poisson(distgrad.full((40,), 3.0)),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_repeatable_under_manual_seed_and_generator(name):
    a, b = _twice(SAMPLERS[name])
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not a.requires_grad


def test_generator_argument():
    g1, g2 = distgrad.Generator().manual_seed(7), distgrad.Generator().manual_seed(7)
    np.testing.assert_array_equal(distgrad.bernoulli(distgrad.full((30,), 0.5), generator=g1).numpy(),
                                  distgrad.bernoulli(distgrad.full((30,), 0.5), generator=g2).numpy())
    np.testing.assert_array_equal(distgrad.normal(0.0, 1.0, (5,), generator=g1).numpy(),
                                  distgrad.normal(0.0, 1.0, (5,), generator=g2).numpy())
    np.testing.assert_array_equal(distgrad.multinomial(distgrad.ones(6), 3, generator=g1).numpy(),
                                  distgrad.multinomial(distgrad.ones(6), 3, generator=g2).numpy())
    np.testing.assert_array_equal(distgrad.poisson(distgrad.ones(6), generator=g1).numpy(),
                                  distgrad.poisson(distgrad.ones(6), generator=g2).numpy())


def test_shapes_dtypes_and_statistics():
    distgrad.manual_seed(0)
    b = distgrad.bernoulli(distgrad.full((4000,), 0.25, dtype=distgrad.float64))
    assert b.dtype == distgrad.float64 and set(b.unique().tolist()) <= {0.0, 1.0}
    assert abs(b.mean().item() - 0.25) < 0.03
    assert distgrad.bernoulli(distgrad.tensor([0.0, 1.0])).tolist() == [0.0, 1.0]
    m = distgrad.multinomial(distgrad.tensor([1.0, 0.0, 3.0]), 4000, replacement=True)
    assert m.dtype == distgrad.int64 and m.shape == (4000,)
    counts = distgrad.bincount(m, minlength=3).tolist()
    assert counts[1] == 0 and abs(counts[2] / 4000 - 0.75) < 0.03
    rows = distgrad.multinomial(distgrad.tensor([[1.0, 1.0, 0.0, 1.0]] * 50), 3)
    assert rows.shape == (50, 3)
    assert all(sorted(r) == [0, 1, 3] for r in rows.tolist())  # without replacement: distinct, never weight 0
    # positive weights first, then the zero-weight categories in index order (PyTorch 2 on the CPU)
    tail = distgrad.multinomial(distgrad.tensor([1.0, 0.0, 0.0, 0.0, 1.0]), 4).tolist()
    assert sorted(tail[:2]) == [0, 4] and tail[2:] == [1, 2]
    first = distgrad.multinomial(distgrad.tensor([[1.0, 9.0]] * 2000), 1).reshape(-1)
    assert abs(first.float().mean().item() - 0.9) < 0.03  # the first draw follows the weights
    n = distgrad.normal(distgrad.tensor([0.0, 100.0]).reshape(2, 1), distgrad.tensor(2.0).expand(2000))
    assert n.shape == (2, 2000) and n.dtype == distgrad.float32
    assert abs(n[1].mean().item() - 100) < 0.3 and abs(n[0].std().item() - 2) < 0.15
    assert distgrad.normal(0.0, 1.0, (3, 2), dtype=distgrad.float64).dtype == distgrad.float64
    assert distgrad.normal(distgrad.tensor([1.0]), 0.0).tolist() == [1.0]
    p = distgrad.poisson(distgrad.full((4000,), 4.0, dtype=distgrad.float64))
    assert p.dtype == distgrad.float64 and abs(p.mean().item() - 4) < 0.15 and abs(p.var().item() - 4) < 0.5
    assert bool((p == p.round()).all())


def test_errors_match_torch_types():
    with pytest.raises(RuntimeError, match="p_in >= 0"):
        distgrad.bernoulli(distgrad.tensor([1.5]))
    with pytest.raises(RuntimeError, match="p_in >= 0"):
        distgrad.zeros(2).bernoulli(-0.1)
    with pytest.raises(RuntimeError, match="1 or 2 dim"):
        distgrad.multinomial(distgrad.ones(2, 2, 2), 1)
    with pytest.raises(RuntimeError, match="element < 0"):
        distgrad.multinomial(distgrad.tensor([1.0, -1.0]), 1)
    with pytest.raises(RuntimeError, match="sum of probabilities"):
        distgrad.multinomial(distgrad.zeros(3), 1)
    with pytest.raises(RuntimeError, match="n_sample > prob_dist"):
        distgrad.multinomial(distgrad.ones(3), 4)
    with pytest.raises(RuntimeError, match="floating-point"):
        distgrad.multinomial(distgrad.tensor([1, 2]), 1)
    with pytest.raises(RuntimeError, match="std >= 0"):
        distgrad.normal(distgrad.zeros(2), -1.0)
    with pytest.raises(RuntimeError, match="std >= 0"):
        distgrad.normal(0.0, -1.0, (2,))
    with pytest.raises(TypeError, match="size"):
        distgrad.normal(0.0, 1.0)
    with pytest.raises(RuntimeError, match="non-negative"):
        distgrad.poisson(distgrad.tensor([-1.0]))
