"""Datasets: TensorDataset, StackDataset, ConcatDataset, ChainDataset, Subset, random_split."""
import warnings

import numpy as np
import pytest

import distgrad
from distgrad.utils.data import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset,
                                 TensorDataset, random_split)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i


class Stream(IterableDataset):
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


def test_base_dataset_needs_getitem_and_adds_to_concat():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    both = Squares(2) + Squares(3)
    assert isinstance(both, ConcatDataset) and [both[i] for i in range(5)] == [0, 1, 0, 1, 4]
    chained = Stream([1]) + Stream([2, 3])
    assert isinstance(chained, ChainDataset) and list(chained) == [1, 2, 3]
    with pytest.raises(NotImplementedError):
        iter(IterableDataset())
    assert Dataset[int] is not None  # generic, for type annotations as in PyTorch


def test_tensor_dataset_indexes_every_tensor_along_dim_0():
    x, y = distgrad.randn(6, 3), distgrad.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6 and ds.tensors == (x, y)
    xi, yi = ds[4]
    assert np.array_equal(xi.numpy(), x.numpy()[4]) and yi.item() == 4
    xs, ys = ds[1:3]
    assert xs.shape == (2, 3) and ys.tolist() == [1, 2]
    assert ds[[0, 5]][1].tolist() == [0, 5]
    assert ds[-1][1].item() == 5


def test_tensor_dataset_errors():
    with pytest.raises(AssertionError, match=r"Size mismatch between tensors: first dimensions \[3, 4\]"):
        TensorDataset(distgrad.zeros(3, 2), distgrad.zeros(4))
    with pytest.raises(IndexError, match="at least one"):
        TensorDataset()
    with pytest.raises(TypeError, match="argument 1 is a list"):
        TensorDataset(distgrad.zeros(2), [1, 2])
    with pytest.raises(IndexError, match="0-dimensional"):
        TensorDataset(distgrad.tensor(1.0))


def test_stack_dataset_tuple_and_dict_forms():
    t = StackDataset(Squares(3), ["a", "b", "c"])
    assert len(t) == 3 and t[2] == (4, "c") and t.__getitems__([0, 2]) == [(0, "a"), (4, "c")]
    d = StackDataset(x=Squares(2), y=Subset(["p", "q", "r"], [2, 0]))
    assert d[1] == {"x": 1, "y": "p"} and d.__getitems__([1, 0]) == [{"x": 1, "y": "p"}, {"x": 0, "y": "r"}]
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset(Squares(2), Squares(3))
    with pytest.raises(ValueError, match="both types"):
        StackDataset(Squares(2), y=Squares(2))
    with pytest.raises(ValueError, match="At least one"):
        StackDataset()

    class Liar(Dataset):
        def __len__(self):
            return 2

        def __getitems__(self, idx):
            return [0]

    with pytest.raises(ValueError, match="Expected 2, got 1"):
        StackDataset(Liar()).__getitems__([0, 1])


def test_concat_dataset_indexing():
    ds = ConcatDataset([Squares(3), [10, 11], Squares(1)])
    assert len(ds) == 6 and ds.cumulative_sizes == [3, 5, 6]
    assert [ds[i] for i in range(6)] == [0, 1, 4, 10, 11, 0]
    assert ds[-1] == 0 and ds[-6] == 0 and ds[-3] == 10
    with pytest.raises(ValueError, match="absolute value"):
        ds[-7]
    with pytest.raises(IndexError, match="out of range for length 6"):
        ds[6]
    with pytest.raises(AssertionError, match="empty"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="IterableDataset"):
        ConcatDataset([Stream([1])])
    assert len(ConcatDataset([[], [1]])) == 1 and ConcatDataset([[], [7]])[0] == 7


def test_chain_dataset_is_lazy_and_checks_its_parts():
    ch = ChainDataset([Stream([1, 2]), Stream([3])])
    assert list(ch) == [1, 2, 3] and len(ch) == 3
    bad = ChainDataset([Stream([1]), [2]])
    with pytest.raises(AssertionError, match="only supports IterableDataset"):
        list(bad)
    with pytest.raises(AssertionError, match="only supports IterableDataset"):
        len(bad)


def test_subset_maps_indices_and_batches():
    base = TensorDataset(distgrad.arange(10) * 10)
    s = Subset(base, [7, 2, 5])
    assert len(s) == 3 and s[0][0].item() == 70 and s[-1][0].item() == 50
    assert s[[0, 1]][0].tolist() == [70, 20]  # a list index goes to the dataset in one piece
    assert [b[0].item() for b in s.__getitems__([2, 0])] == [50, 70]

    class Batched(Squares):
        def __getitems__(self, idx):
            return ["batched", idx]

    assert Subset(Batched(9), [3, 4]).__getitems__([1, 0]) == ["batched", [4, 3]]

    class Custom(Subset):
        def __getitem__(self, idx):
            return 0

    with pytest.raises(NotImplementedError, match="__getitems__"):
        Custom(base, [0])


def test_random_split_with_lengths():
    parts = random_split(range(10), [3, 7], generator=distgrad.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [3, 7]
    got = sorted(i for p in parts for i in p)
    assert got == list(range(10))
    again = random_split(range(10), [3, 7], generator=distgrad.Generator().manual_seed(1))
    assert [list(p) for p in again] == [list(p) for p in parts]
    other = random_split(range(10), [3, 7], generator=distgrad.Generator().manual_seed(2))
    assert [list(p) for p in other] != [list(p) for p in parts]


def test_random_split_follows_manual_seed():
    distgrad.manual_seed(5)
    a = [list(p) for p in random_split(range(20), [10, 10])]
    distgrad.manual_seed(5)
    b = [list(p) for p in random_split(range(20), [10, 10])]
    assert a == b


@pytest.mark.parametrize("n, fracs", [(10, [0.8, 0.2]), (11, [0.5, 0.5]), (7, [0.1, 0.3, 0.6]),
                                      (5, [1 / 3, 1 / 3, 1 / 3]), (3, [0.25, 0.25, 0.25, 0.25])])
def test_random_split_fraction_lengths_match_pytorch(n, fracs):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = [len(p) for p in torch.utils.data.random_split(range(n), fracs)]
        got = [len(p) for p in random_split(range(n), fracs)]
    assert got == want and sum(got) == n


def test_random_split_errors_and_warnings():
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 1 is not between 0 and 1"):
        random_split(range(10), [0.5, 1.2, -0.7])
    with pytest.raises(ValueError, match="non-negative ints"):
        random_split(range(10), [12, -2])
    with pytest.raises(ValueError, match="non-negative ints"):
        random_split(range(10), [2.5, 7.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [0.5, 0.0, 0.5])
