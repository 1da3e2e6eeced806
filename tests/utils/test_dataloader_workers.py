"""DataLoader with num_workers > 0 (run in-process): identical batches, worker info, worker_init_fn,
iterable datasets split across workers, persistent workers."""
import warnings

import pytest

import distgrad
from distgrad.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset, get_worker_info
from distgrad.utils.data.worker import WorkerInfo


def flat(loader):
    return [[t.tolist() for t in b] if isinstance(b, list) else b.tolist() for b in loader]


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("shuffle", [False, True])
def test_map_style_batches_are_identical_to_num_workers_0(workers, shuffle):
    ds = TensorDataset(distgrad.randn(23, 2), distgrad.arange(23))
    runs = []
    for k in (0, workers):
        distgrad.manual_seed(11)
        loader = DataLoader(ds, batch_size=4, shuffle=shuffle, num_workers=k)
        runs.append([flat(loader), flat(loader)])
    assert runs[0] == runs[1]
    runs = [flat(DataLoader(ds, batch_size=5, shuffle=True, num_workers=k,
                            generator=distgrad.Generator().manual_seed(3))) for k in (0, workers)]
    assert runs[0] == runs[1]


def test_worker_info_is_none_in_the_main_process_and_set_while_fetching():
    assert get_worker_info() is None

    class Who(Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            info = get_worker_info()
            return -1 if info is None else info.id

    assert [b.tolist() for b in DataLoader(Who(), batch_size=2)] == [[-1, -1]] * 3 + [[-1]]
    by_worker = [b.tolist() for b in DataLoader(Who(), batch_size=2, num_workers=3)]
    assert by_worker == [[0, 0], [1, 1], [2, 2], [0]]  # batch i goes to worker i % num_workers
    assert get_worker_info() is None


def test_worker_init_fn_runs_once_per_worker_with_its_info():
    calls = []

    def init(worker_id):
        info = get_worker_info()
        calls.append((worker_id, info.id, info.num_workers, info.seed))

    distgrad.manual_seed(0)
    loader = DataLoader(range(4), batch_size=2, num_workers=3, worker_init_fn=init)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3]]
    assert [c[:3] for c in calls] == [(0, 0, 3), (1, 1, 3), (2, 2, 3)]
    base = calls[0][3]
    assert [c[3] for c in calls] == [base, base + 1, base + 2]  # seed = base_seed + worker id
    list(loader)
    assert len(calls) == 6 and calls[3][3] != base  # a new pass draws a new base seed
    calls.clear()
    list(DataLoader(range(4), num_workers=0, worker_init_fn=init))
    assert calls == []  # no workers, no init


def test_worker_info_is_read_only():
    info = WorkerInfo(id=1, num_workers=2, seed=5, dataset=None)
    with pytest.raises(RuntimeError, match="Cannot assign attributes to WorkerInfo objects"):
        info.id = 3
    assert "num_workers=2" in repr(info)


class Shard(IterableDataset):
    """Yields range(n), each worker taking every num_workers-th item: the usual PyTorch recipe."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


class NoShard(IterableDataset):
    def __iter__(self):
        return iter(range(3))


def test_iterable_dataset_split_across_workers_round_robin():
    assert [b.tolist() for b in DataLoader(Shard(10), batch_size=2, num_workers=2)] == [
        [0, 2], [1, 3], [4, 6], [5, 7], [8], [9]]
    assert [b.tolist() for b in DataLoader(Shard(10), batch_size=2, num_workers=2, drop_last=True)] == [
        [0, 2], [1, 3], [4, 6], [5, 7]]
    assert [b.tolist() for b in DataLoader(Shard(5), batch_size=2, num_workers=3)] == [[0, 3], [1, 4], [2]]
    assert sorted(int(v) for v in DataLoader(Shard(10), batch_size=None, num_workers=4)) == list(range(10))


def test_unsharded_iterable_dataset_is_duplicated_per_worker_like_pytorch():
    out = [b.tolist() for b in DataLoader(NoShard(), batch_size=2, num_workers=2)]
    assert out == [[0, 1], [0, 1], [2], [2]]


def test_iterable_order_matches_pytorch_workers():
    torch = pytest.importorskip("torch")

    class TorchShard(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            return iter(range(info.id, 13, info.num_workers) if info else range(13))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns about more workers than cores on small machines
        want = [b.tolist() for b in torch.utils.data.DataLoader(TorchShard(), batch_size=3, num_workers=2)]
    assert [b.tolist() for b in DataLoader(Shard(13), batch_size=3, num_workers=2)] == want


def test_persistent_workers_reuse_the_iterator_and_skip_reinit():
    calls = []
    loader = DataLoader(Shard(6), batch_size=2, num_workers=2, persistent_workers=True,
                        worker_init_fn=calls.append)
    first = iter(loader)
    e1 = [b.tolist() for b in first]
    second = iter(loader)
    e2 = [b.tolist() for b in second]
    assert second is first and e1 == e2 == [[0, 2], [1, 3], [4], [5]]
    assert calls == [0, 1]


def test_iterator_protocol_and_len():
    loader = DataLoader(range(5), batch_size=2, num_workers=2)
    it = iter(loader)
    assert iter(it) is it and len(it) == 3
    assert [b.tolist() for b in it] == [[0, 1], [2, 3], [4]]
    with pytest.raises(StopIteration):
        next(it)
