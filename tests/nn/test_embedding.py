"""Embedding: lookups and gradients against PyTorch, padding_idx, max_norm, scale_grad_by_freq, errors."""
import numpy as np
import pytest

import distgrad
from distgrad import nn
from distgrad.autograd import gradcheck, gradgradcheck
import distgrad.nn.functional as F
from nn_helpers import close, copy_state, np_of, same_repr

IDX = np.array([[1, 3, 3, 0], [9, 0, 2, 3]])


@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 0}, {"padding_idx": -1}, {"scale_grad_by_freq": True},
                                    {"max_norm": 1.0}, {"max_norm": 0.5, "norm_type": 1.0}])
def test_embedding_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    d, t = nn.Embedding(10, 4, **kwargs), torch.nn.Embedding(10, 4, **kwargs)
    copy_state(d, t, torch)
    dy, ty = d(distgrad.tensor(IDX)), t(torch.tensor(IDX))
    close(dy, ty)
    g = np.random.default_rng(0).standard_normal(IDX.shape + (4,)).astype(np.float32)
    dy.backward(distgrad.tensor(g))
    ty.backward(torch.tensor(g))
    close(d.weight.grad, t.weight.grad)
    close(d.weight, t.weight)  # max_norm renormalised the same rows in place
    same_repr(d, t)


def test_padding_row_zero_initialised_and_without_gradient():
    e = nn.Embedding(5, 3, padding_idx=2)
    assert np_of(e.weight[2]).tolist() == [0.0, 0.0, 0.0]
    with distgrad.no_grad():
        e.weight[2] = 7.0
    out = e(distgrad.tensor([2, 2, 1]))
    assert out[0].tolist() == [7.0, 7.0, 7.0]  # the row's value is still returned
    out.sum().backward()
    assert np_of(e.weight.grad[2]).tolist() == [0.0, 0.0, 0.0]
    assert np_of(e.weight.grad[1]).tolist() == [1.0, 1.0, 1.0]


def test_default_init_is_standard_normal():
    w = np_of(nn.Embedding(1000, 50).weight)
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02


def test_from_pretrained_and_freeze():
    table = distgrad.arange(6.0).reshape(3, 2)
    e = nn.Embedding.from_pretrained(table)
    assert not e.weight.requires_grad and e(distgrad.tensor([2])).tolist() == [[4.0, 5.0]]
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_errors():
    e = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="index out of range"):
        e(distgrad.tensor([0, 4]))
    with pytest.raises(RuntimeError, match="Long, Int"):
        e(distgrad.tensor([0.0]))
    with pytest.raises(AssertionError, match="Padding_idx"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(AssertionError, match="Padding_idx"):
        nn.Embedding(4, 2, padding_idx=-5)


def test_embedding_gradcheck_and_double_backward():
    w = distgrad.tensor(np.random.default_rng(1).standard_normal((6, 3)), requires_grad=True)
    idx = distgrad.tensor([[0, 2, 2], [5, 1, 0]])
    # (padding_idx deliberately breaks gradcheck: its row is used but gets no gradient)
    assert gradcheck(lambda w: F.embedding(idx, w), (w,))
    assert gradgradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))
