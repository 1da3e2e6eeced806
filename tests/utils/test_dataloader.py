"""DataLoader: batching, lengths, shuffling determinism, samplers, option checks, collate_fn."""
import numpy as np
import pytest

import distgrad
from distgrad.utils.data import (BatchSampler, DataLoader, Dataset, IterableDataset, SequentialSampler,
                                 TensorDataset)


class Rows(Dataset):
    """Sample i is (array of [i, i], i); counts fetches so tests can see how data is read."""

    def __init__(self, n):
        self.n = n
        self.fetches = 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.fetches += 1
        return np.array([i, i], dtype=np.float32), i


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def labels(loader):
    return [b[1].tolist() for b in loader]


def test_batches_and_lengths():
    ds = TensorDataset(distgrad.arange(10).float().reshape(10, 1), distgrad.arange(10))
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 1) and batches[0][0].dtype == distgrad.float32
    dl = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dl) == 2 and labels(dl) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert labels(DataLoader(ds)) == [[i] for i in range(10)]
    assert len(DataLoader(ds, batch_size=10)) == 1 and len(DataLoader(ds, batch_size=11, drop_last=True)) == 0


def test_numpy_samples_are_collated_and_the_dataset_read_once_per_sample():
    ds = Rows(5)
    x, y = next(iter(DataLoader(ds, batch_size=5)))
    assert x.dtype == distgrad.float32 and x.shape == (5, 2) and y.dtype == distgrad.int64
    assert ds.fetches == 5


def test_batch_size_none_disables_batching():
    ds = Rows(3)
    loader = DataLoader(ds, batch_size=None)
    items = list(loader)
    assert len(loader) == 3 and len(items) == 3
    x, y = items[2]
    assert isinstance(x, distgrad.Tensor) and x.shape == (2,) and y == 2  # default_convert leaves ints alone
    assert loader.collate_fn.__name__ == "default_convert"


def test_shuffle_covers_everything_and_changes_every_epoch():
    loader = DataLoader(range(30), batch_size=7, shuffle=True)
    e1, e2 = [[v for b in loader for v in b.tolist()] for _ in range(2)]
    assert sorted(e1) == list(range(30)) and sorted(e2) == list(range(30)) and e1 != e2


def epoch_orders(loader, epochs=2):
    return [[v for b in loader for v in b.tolist()] for _ in range(epochs)]


def test_shuffle_is_deterministic_under_manual_seed():
    distgrad.manual_seed(42)
    a = epoch_orders(DataLoader(range(25), batch_size=4, shuffle=True))
    distgrad.manual_seed(42)
    b = epoch_orders(DataLoader(range(25), batch_size=4, shuffle=True))
    assert a == b
    distgrad.manual_seed(43)
    assert epoch_orders(DataLoader(range(25), batch_size=4, shuffle=True)) != a


def test_shuffle_is_deterministic_with_a_generator():
    a = epoch_orders(DataLoader(range(25), batch_size=4, shuffle=True, generator=distgrad.Generator().manual_seed(7)))
    distgrad.manual_seed(999)
    b = epoch_orders(DataLoader(range(25), batch_size=4, shuffle=True, generator=distgrad.Generator().manual_seed(7)))
    assert a == b and a[0] != a[1]
    c = epoch_orders(DataLoader(range(25), batch_size=4, shuffle=True, generator=distgrad.Generator().manual_seed(8)))
    assert c != a


def test_custom_sampler_batch_sampler_and_collate_fn():
    loader = DataLoader(range(6), batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert [b.tolist() for b in loader] == [[5, 4], [3, 2], [1, 0]] and len(loader) == 3
    bs = [[0, 2], [1], [5, 4, 3]]
    loader = DataLoader(range(6), batch_sampler=bs)
    assert [b.tolist() for b in loader] == bs and loader.batch_size is None and len(loader) == 3
    loader = DataLoader(range(6), batch_sampler=BatchSampler(SequentialSampler(range(6)), 4, True))
    assert [b.tolist() for b in loader] == [[0, 1, 2, 3]]
    summed = DataLoader(range(6), batch_size=3, collate_fn=sum)
    assert list(summed) == [3, 12]
    assert list(DataLoader(range(3), batch_size=None, sampler=[2, 0], collate_fn=lambda x: -x)) == [-2, 0]


def test_getitems_fetches_a_whole_batch():
    class Batched(Rows):
        calls = []

        def __getitems__(self, idx):
            self.calls.append(list(idx))
            return [(float(i), i) for i in idx]

    ds = Batched(5)
    out = list(DataLoader(ds, batch_size=2))
    assert ds.calls == [[0, 1], [2, 3], [4]] and ds.fetches == 0
    assert out[0][0].dtype == distgrad.float64 and out[2][1].tolist() == [4]


@pytest.mark.parametrize("kwargs, words", [
    (dict(shuffle=True, sampler=[0, 1]), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive with batch_size"),
    (dict(batch_sampler=[[0]], shuffle=True), "mutually exclusive"),
    (dict(batch_sampler=[[0]], sampler=[0]), "mutually exclusive"),
    (dict(batch_sampler=[[0]], drop_last=True), "mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(timeout=-1), "timeout option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified in multiprocessing"),
    (dict(num_workers=1, prefetch_factor=-1), "prefetch_factor option should be non-negative"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
    (dict(multiprocessing_context="fork"), "multiprocessing_context can only be used with multi-process"),
    (dict(num_workers=1, multiprocessing_context="teleport"), "should specify a valid start method"),
    (dict(batch_size=0), "batch_size should be a positive integer value"),
    (dict(batch_size=2, drop_last="yes"), "drop_last should be a boolean value"),
])
def test_conflicting_or_invalid_options(kwargs, words):
    with pytest.raises(ValueError, match=words):
        DataLoader(range(4), **kwargs)


def test_iterable_dataset_option_errors():
    for kwargs, words in [(dict(shuffle=True), "expected unspecified shuffle option, but got shuffle=True"),
                          (dict(sampler=[0]), "expected unspecified sampler option"),
                          (dict(batch_sampler=[[0]]), "expected unspecified batch_sampler option")]:
        with pytest.raises(ValueError, match=words):
            DataLoader(Stream(3), **kwargs)
    with pytest.raises(TypeError, match="multiprocessing_context option should be a valid context"):
        DataLoader(range(4), num_workers=1, multiprocessing_context=3)


def test_some_attributes_cannot_change_after_init():
    loader = DataLoader(range(4), batch_size=2)
    for attr in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers"):
        with pytest.raises(ValueError, match=f"{attr} attribute should not be set after DataLoader is initialized"):
            setattr(loader, attr, None)
    loader.num_workers = 0  # others may change
    assert (loader.batch_size, loader.drop_last, loader.num_workers, loader.timeout) == (2, False, 0, 0)
    assert isinstance(loader.sampler, SequentialSampler) and isinstance(loader.batch_sampler, BatchSampler)


def test_iterable_dataset_batching_and_length():
    loader = DataLoader(Stream(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    dl = DataLoader(Stream(7), batch_size=3, drop_last=True)
    assert [b.tolist() for b in dl] == [[0, 1, 2], [3, 4, 5]] and len(dl) == 2
    assert [int(v) for v in DataLoader(Stream(3), batch_size=None)] == [0, 1, 2]
    assert list(DataLoader(Stream(0), batch_size=2)) == []


def test_iterable_dataset_longer_than_its_len_warns():
    class Liar(Stream):
        def __len__(self):
            return 2

    loader = DataLoader(Liar(4), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        assert len(list(loader)) == 4


def test_pin_memory_without_cuda_warns_and_changes_nothing():
    if distgrad.backend.cuda_is_available():
        pytest.skip("pin_memory is silent with CUDA")
    with pytest.warns(UserWarning, match="pin_memory"):
        out = list(DataLoader(range(3), batch_size=3, pin_memory=True))
    assert out[0].tolist() == [0, 1, 2]


def test_a_training_loop_over_a_loader_learns():
    distgrad.manual_seed(0)
    x = distgrad.randn(64, 3)
    y = x @ distgrad.tensor([[1.0], [-2.0], [0.5]])
    w = distgrad.zeros(3, 1, requires_grad=True)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    for _ in range(30):
        for xb, yb in loader:
            loss = ((xb @ w - yb) ** 2).mean()
            loss.backward()
            with distgrad.no_grad():
                w -= 0.1 * w.grad
            w.grad = None
    assert np.allclose(w.detach().numpy().ravel(), [1.0, -2.0, 0.5], atol=1e-3)
