"""Samplers: order, lengths, validation, and determinism with manual_seed or a generator."""
import collections

import pytest

import distgrad
from distgrad.utils.data import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                                 WeightedRandomSampler)


def gen(seed):
    return distgrad.Generator().manual_seed(seed)


def test_sequential_sampler():
    s = SequentialSampler(range(5))
    assert list(s) == [0, 1, 2, 3, 4] and len(s) == 5 and list(s) == list(s)
    assert list(SequentialSampler([])) == []


def test_base_sampler_is_abstract_and_generic():
    with pytest.raises(NotImplementedError):
        iter(Sampler())
    assert Sampler[int] is not None


def test_random_sampler_permutes_without_replacement():
    s = RandomSampler(range(50))
    a, b = list(s), list(s)
    assert sorted(a) == list(range(50)) and sorted(b) == list(range(50))
    assert a != b  # each pass draws a new order
    assert len(s) == 50 and s.num_samples == 50


def test_random_sampler_repeats_with_manual_seed():
    distgrad.manual_seed(123)
    a = [list(RandomSampler(range(20))) for _ in range(2)]
    distgrad.manual_seed(123)
    b = [list(RandomSampler(range(20))) for _ in range(2)]
    assert a == b
    distgrad.manual_seed(124)
    assert [list(RandomSampler(range(20))) for _ in range(2)] != a


def test_random_sampler_with_its_own_generator_ignores_the_global_seed():
    distgrad.manual_seed(0)
    a = list(RandomSampler(range(30), generator=gen(7)))
    distgrad.manual_seed(99)
    b = list(RandomSampler(range(30), generator=gen(7)))
    assert a == b
    s = RandomSampler(range(30), generator=gen(7))
    assert list(s) == a and list(s) != a  # the generator advances between passes


def test_random_sampler_num_samples_without_replacement_repeats_permutations():
    s = RandomSampler(range(4), num_samples=10, generator=gen(0))
    out = list(s)
    assert len(out) == 10 == len(s)
    assert sorted(out[:4]) == [0, 1, 2, 3] and sorted(out[4:8]) == [0, 1, 2, 3]
    assert set(out[8:]) <= {0, 1, 2, 3} and len(set(out[8:])) == 2
    assert sorted(RandomSampler(range(9), num_samples=3, generator=gen(0))) != []


@pytest.mark.parametrize("num_samples", [1, 31, 32, 33, 100])
def test_random_sampler_with_replacement(num_samples):
    out = list(RandomSampler(range(3), replacement=True, num_samples=num_samples, generator=gen(1)))
    assert len(out) == num_samples and set(out) <= {0, 1, 2}


def test_random_sampler_with_replacement_hits_everything_roughly_evenly():
    counts = collections.Counter(RandomSampler(range(4), replacement=True, num_samples=4000, generator=gen(3)))
    assert set(counts) == {0, 1, 2, 3} and all(800 < c < 1200 for c in counts.values())


def test_random_sampler_validation():
    with pytest.raises(TypeError, match="replacement should be a boolean value, but got replacement=1"):
        RandomSampler(range(3), replacement=1)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            RandomSampler(range(3), num_samples=bad)
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler([])


def test_subset_random_sampler():
    idx = [10, 20, 30, 40, 50]
    s = SubsetRandomSampler(idx, generator=gen(4))
    a = list(s)
    assert sorted(a) == idx and len(s) == 5
    assert list(SubsetRandomSampler(idx, generator=gen(4))) == a
    distgrad.manual_seed(8)
    x = list(SubsetRandomSampler(idx))
    distgrad.manual_seed(8)
    assert list(SubsetRandomSampler(idx)) == x


def test_weighted_random_sampler():
    s = WeightedRandomSampler([0.0, 3.0, 1.0], 4000, generator=gen(0))
    counts = collections.Counter(s)
    assert len(s) == 4000 and 0 not in counts and 2700 < counts[1] < 3300
    assert list(WeightedRandomSampler([1, 2, 3], 20, generator=gen(5))) == list(
        WeightedRandomSampler([1, 2, 3], 20, generator=gen(5)))
    assert sorted(WeightedRandomSampler([1.0, 1.0, 5.0], 3, replacement=False)) == [0, 1, 2]
    assert s.weights.dtype == distgrad.float64


def test_weighted_random_sampler_validation():
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        WeightedRandomSampler([1.0], 0)
    with pytest.raises(ValueError, match="replacement should be a boolean"):
        WeightedRandomSampler([1.0], 1, replacement=None)
    with pytest.raises(ValueError, match=r"1d sequence but given weights have shape \(1, 2\)"):
        WeightedRandomSampler([[1.0, 2.0]], 1)
    with pytest.raises(RuntimeError, match="element < 0"):
        list(WeightedRandomSampler([1.0, -1.0], 1))
    with pytest.raises(RuntimeError, match="sum of probabilities"):
        list(WeightedRandomSampler([0.0, 0.0], 1))
    with pytest.raises(RuntimeError, match="n_sample > prob_dist"):
        list(WeightedRandomSampler([1.0, 1.0], 3, replacement=False))
    with pytest.raises(RuntimeError, match="not enough non-negative category"):
        list(WeightedRandomSampler([1.0, 0.0], 2, replacement=False))


@pytest.mark.parametrize("n, bs", [(10, 3), (9, 3), (1, 5), (0, 2), (7, 1)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_matches_pytorch(n, bs, drop_last):
    torch = pytest.importorskip("torch")
    got = list(BatchSampler(SequentialSampler(range(n)), bs, drop_last))
    want = list(torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(n)), bs, drop_last))
    assert got == want
    assert len(BatchSampler(range(n), bs, drop_last)) == len(want)


def test_batch_sampler_over_any_iterable_and_validation():
    assert list(BatchSampler(iter([5, 6, 7]), 2, False)) == [[5, 6], [7]]
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
            BatchSampler(range(3), bad, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value, but got drop_last=1"):
        BatchSampler(range(3), 2, 1)
