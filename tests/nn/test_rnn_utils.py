"""nn.utils.rnn: packing and padding match PyTorch (fields, values, gradients through them) and its errors."""

import numpy as np
import pytest

import distgrad
from nn_helpers import assert_same_error_as_torch
from distgrad.autograd import gradcheck
from distgrad.nn.utils import rnn as U


def _close(ours, theirs, tol=1e-12):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


def _same_packed(p, q):
    _close(p.data, q.data)
    assert p.batch_sizes.tolist() == q.batch_sizes.tolist() and p.batch_sizes.dtype == distgrad.int64
    for f in ("sorted_indices", "unsorted_indices"):
        a, b = getattr(p, f), getattr(q, f)
        assert (a is None) == (b is None)
        if a is not None:
            assert a.tolist() == b.tolist()


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths, enforce_sorted", [([4, 2, 1], True), ([2, 4, 1], False), ([3, 3, 1], False),
                                                     ([4, 4, 4], True)])
def test_pack_and_pad_round_trip_match_torch(batch_first, lengths, enforce_sorted):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((3, 4, 2) if batch_first else (4, 3, 2))
    xd, xt = distgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for lens in (lengths, torch.tensor(lengths)):
        pd = U.pack_padded_sequence(xd, lens if isinstance(lens, list) else distgrad.tensor(lengths),
                                    batch_first=batch_first, enforce_sorted=enforce_sorted)
        pt = torch.nn.utils.rnn.pack_padded_sequence(xt, lens, batch_first=batch_first, enforce_sorted=enforce_sorted)
        _same_packed(pd, pt)
    for kw in ({}, dict(padding_value=-2.0), dict(total_length=6)):
        (yd, ld), (yt, lt) = (U.pad_packed_sequence(pd, batch_first=batch_first, **kw),
                              torch.nn.utils.rnn.pad_packed_sequence(pt, batch_first=batch_first, **kw))
        _close(yd, yt)
        assert ld.tolist() == lt.tolist() and ld.dtype == distgrad.int64
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    yd.backward(distgrad.tensor(g))
    yt.backward(torch.tensor(g))
    _close(xd.grad, xt.grad)


def test_gradcheck_through_pack_and_pad():
    x = distgrad.randn(4, 3, 2, dtype=distgrad.float64, requires_grad=True)
    assert gradcheck(lambda a: U.pad_packed_sequence(U.pack_padded_sequence(a, [3, 4, 1], enforce_sorted=False),
                                                     padding_value=0.5)[0], [x])
    assert gradcheck(lambda a: U.pack_padded_sequence(a, [4, 2, 2]).data, [x])


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((n, 2)) for n in (2, 4, 1)]
    sd = [distgrad.tensor(a, requires_grad=True) for a in arrays]
    st = [torch.tensor(a, requires_grad=True) for a in arrays]
    yd = U.pad_sequence(sd, batch_first=batch_first, padding_value=9.0, padding_side=padding_side)
    yt = torch.nn.utils.rnn.pad_sequence(st, batch_first=batch_first, padding_value=9.0, padding_side=padding_side)
    _close(yd, yt)
    g = rng.standard_normal(tuple(yt.shape))
    yd.backward(distgrad.tensor(g))
    yt.backward(torch.tensor(g))
    for a, b in zip(sd, st):
        _close(a.grad, b.grad)


def test_pack_sequence_unpack_and_unpad_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((n, 3)) for n in (2, 5, 3)]
    pd = U.pack_sequence([distgrad.tensor(a) for a in arrays], enforce_sorted=False)
    pt = torch.nn.utils.rnn.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=False)
    _same_packed(pd, pt)
    for a, b in zip(U.unpack_sequence(pd), torch.nn.utils.rnn.unpack_sequence(pt)):
        _close(a, b)
    padded = rng.standard_normal((5, 3, 2))
    for a, b in zip(U.unpad_sequence(distgrad.tensor(padded), distgrad.tensor([2, 5, 3])),
                    torch.nn.utils.rnn.unpad_sequence(torch.tensor(padded), torch.tensor([2, 5, 3]))):
        _close(a, b)
    sorted_p = U.pack_sequence([distgrad.ones(3), distgrad.ones(2)])
    assert sorted_p.sorted_indices is None and sorted_p.unsorted_indices is None


def test_packed_sequence_is_a_named_tuple_that_moves():
    p = U.pack_sequence([distgrad.ones(2, 1), distgrad.ones(1, 1)], enforce_sorted=False)
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert data is p.data and p._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    q = p.double()
    assert q.data.dtype == distgrad.float64 and q.batch_sizes is p.batch_sizes
    assert p.to(distgrad.float32) is p and not p.is_cuda and not p.is_pinned()
    r = U.PackedSequence(p.data, p.batch_sizes, p.sorted_indices)
    assert r.unsorted_indices.tolist() == p.unsorted_indices.tolist()
    assert U.invert_permutation(distgrad.tensor([2, 0, 1])).tolist() == [1, 2, 0]


def _error_cases(m):
    u = m.nn.utils.rnn
    return {
        "unsorted": lambda: u.pack_padded_sequence(m.randn(5, 3, 2), [3, 5, 2]),
        "zero_length": lambda: u.pack_padded_sequence(m.randn(5, 3, 2), [5, 3, 0]),
        "lengths_count": lambda: u.pack_padded_sequence(m.randn(5, 3, 2), [5, 3]),
        "total_length": lambda: u.pad_packed_sequence(u.pack_padded_sequence(m.randn(5, 3, 2), [5, 3, 1]),
                                                      total_length=3),
        "padding_side": lambda: u.pad_sequence([m.ones(2), m.ones(3)], padding_side="middle"),
        "trailing_dims": lambda: u.pad_sequence([m.ones(2, 2), m.ones(3, 3)]),
        "empty": lambda: u.pad_sequence([]),
    }


@pytest.mark.parametrize("name", sorted(_error_cases(distgrad)))
def test_errors_match_torch(name):
    assert_same_error_as_torch(_error_cases, name)


def test_a_length_beyond_the_padding_is_refused():
    # PyTorch reads past the padding here without a word; distgrad says which length is too long
    with pytest.raises(RuntimeError, match=r"a length \(6\) exceeds the padded sequence length 5"):
        U.pack_padded_sequence(distgrad.randn(5, 3, 2), [6, 3, 1])
