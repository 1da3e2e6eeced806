"""DistributedSampler: equal disjoint shards that cover the dataset, the same permutation on all ranks."""
import collections

import pytest

import distgrad
from distgrad.utils.data import DataLoader, DistributedSampler, TensorDataset


def shards(n, replicas, **kw):
    return [list(DistributedSampler(range(n), num_replicas=replicas, rank=r, **kw)) for r in range(replicas)]


@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [0, 1, 5, 8, 10, 13])
@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_cover_the_dataset_with_padding(replicas, n, shuffle):
    parts = shards(n, replicas, shuffle=shuffle)
    per = -(-n // replicas)
    assert all(len(p) == per for p in parts)
    assert all(len(DistributedSampler(range(n), replicas, r)) == per for r in range(replicas))
    flat = [i for p in parts for i in p]
    assert set(flat) == set(range(n))
    counts = collections.Counter(flat)
    assert sum(c - 1 for c in counts.values()) == per * replicas - n  # only the padding repeats
    if replicas * per - n == 0:
        assert sorted(flat) == list(range(n))  # disjoint when nothing needs padding


@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [0, 1, 5, 8, 10, 13])
@pytest.mark.parametrize("shuffle", [False, True])
def test_drop_last_shards_are_disjoint_and_equal(replicas, n, shuffle):
    parts = shards(n, replicas, shuffle=shuffle, drop_last=True)
    per = n // replicas
    assert all(len(p) == per for p in parts)
    flat = [i for p in parts for i in p]
    assert len(flat) == len(set(flat)) == per * replicas and set(flat) <= set(range(n))


def test_padding_when_the_dataset_is_smaller_than_the_world():
    assert shards(2, 4, shuffle=False) == [[0], [1], [0], [1]]
    assert shards(1, 3, shuffle=False) == [[0], [0], [0]]
    assert shards(3, 4, shuffle=False, drop_last=True) == [[], [], [], []]


@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [5, 8, 11])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_shards_match_pytorch(replicas, n, drop_last):
    torch = pytest.importorskip("torch")
    for r in range(replicas):
        want = list(torch.utils.data.DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last))
        got = list(DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last))
        assert got == want


def test_the_permutation_is_the_same_on_every_rank_and_seed_dependent():
    n, k = 12, 3
    samplers = [DistributedSampler(range(n), k, r, seed=5) for r in range(k)]
    parts = [list(s) for s in samplers]
    assert sorted(i for p in parts for i in p) == list(range(n))
    interleaved = [parts[r][j] for j in range(n // k) for r in range(k)]
    perm = distgrad.randperm(n, generator=distgrad.Generator().manual_seed(5)).tolist()
    assert interleaved == perm
    distgrad.manual_seed(1234)  # the global seed plays no part
    assert [list(s) for s in samplers] == parts
    assert [list(DistributedSampler(range(n), k, r, seed=6)) for r in range(k)] != parts


def test_set_epoch_changes_the_order_reproducibly():
    s = DistributedSampler(range(40), num_replicas=2, rank=0)
    e0 = list(s)
    assert list(s) == e0
    s.set_epoch(1)
    e1 = list(s)
    assert e1 != e0 and s.epoch == 1
    other = DistributedSampler(range(40), num_replicas=2, rank=1)
    other.set_epoch(1)
    assert not set(e1) & set(other) and sorted(e1 + list(other)) == list(range(40))
    s.set_epoch(0)
    assert list(s) == e0
    unshuffled = DistributedSampler(range(10), 2, 0, shuffle=False)
    unshuffled.set_epoch(3)
    assert list(unshuffled) == [0, 2, 4, 6, 8]


def test_attributes_and_validation():
    s = DistributedSampler(range(10), num_replicas=4, rank=3, shuffle=False, seed=2, drop_last=True)
    assert (s.num_replicas, s.rank, s.num_samples, s.total_size, s.seed, s.epoch) == (4, 3, 2, 8, 2, 0)
    for rank in (-1, 4):
        with pytest.raises(ValueError, match=r"Invalid rank .*, rank should be in the interval \[0, 3\]"):
            DistributedSampler(range(10), num_replicas=4, rank=rank)
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match="num_replicas"):
            DistributedSampler(range(10), num_replicas=bad, rank=0)


def test_defaults_come_from_distgrad_comm(monkeypatch):
    comm = pytest.importorskip("distgrad.comm")
    if not hasattr(comm, "get_world_size"):
        with pytest.raises(RuntimeError, match="pass num_replicas and rank explicitly"):
            DistributedSampler(range(4))
        return
    monkeypatch.setattr(comm, "get_world_size", lambda *a, **k: 3)
    monkeypatch.setattr(comm, "get_rank", lambda *a, **k: 2)
    s = DistributedSampler(range(9), shuffle=False)
    assert (s.num_replicas, s.rank, list(s)) == (3, 2, [2, 5, 8])


def test_without_distgrad_comm_the_error_asks_for_explicit_values(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "distgrad.comm", None)  # makes `from distgrad import comm` fail
    monkeypatch.delattr(distgrad, "comm", raising=False)
    with pytest.raises(RuntimeError, match="pass num_replicas and rank explicitly"):
        DistributedSampler(range(4))
    with pytest.raises(RuntimeError, match="pass num_replicas and rank explicitly"):
        DistributedSampler(range(4), num_replicas=2)
    assert len(DistributedSampler(range(4), num_replicas=2, rank=1)) == 2


def test_with_a_dataloader_each_rank_sees_its_own_batches():
    ds = TensorDataset(distgrad.arange(20))
    seen = []
    for r in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=r, seed=3)
        sampler.set_epoch(4)
        loader = DataLoader(ds, batch_size=3, sampler=sampler)
        assert len(loader) == 4
        seen.append([int(v) for (b,) in loader for v in b.tolist()])
    assert sorted(seen[0] + seen[1]) == list(range(20)) and len(seen[0]) == len(seen[1]) == 10
