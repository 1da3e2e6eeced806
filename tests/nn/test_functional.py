"""nn.functional odds and ends: one_hot, pad (all modes), normalize, softmax wrappers, linear checks."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
import distgrad.nn.functional as F
from nn_helpers import close, np_of


def test_one_hot():
    out = F.one_hot(distgrad.tensor([[0, 2], [1, 1]]))
    assert out.dtype == distgrad.int64 and out.shape == (2, 2, 3)
    assert F.one_hot(distgrad.tensor([1]), 4).tolist() == [[0, 1, 0, 0]]
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(distgrad.tensor([-1, 0]))
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(distgrad.tensor([3]), 3)
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(distgrad.tensor([1.0]))
    with pytest.raises(RuntimeError, match="empty tensor"):
        F.one_hot(distgrad.tensor([], dtype=distgrad.int64))


PAD_CASES = [
    ((2, 3, 4), (1, 2), "constant", 0.5), ((2, 3, 4), (1, 1, 2, 0), "constant", None),
    ((2, 3, 4), (-1, 2, 0, -1), "constant", 0.0), ((2, 3, 5), (2, 1), "reflect", None),
    ((1, 2, 4, 5), (1, 2, 3, 0), "reflect", None), ((2, 3, 4), (3, 2), "replicate", None),
    ((1, 2, 4, 5), (2, 2, 1, 3), "replicate", None), ((2, 3, 4), (2, 3), "circular", None),
    ((1, 2, 3, 4), (1, 2, 3, 1), "circular", None),
]


@pytest.mark.parametrize("shape,pad,mode,value", PAD_CASES)
def test_pad_matches_torch(shape, pad, mode, value):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(shape)
    dx, tx = distgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    dy, ty = F.pad(dx, pad, mode=mode, value=value), torch.nn.functional.pad(tx, pad, mode=mode, value=value)
    close(dy, ty)
    g = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    dy.backward(distgrad.tensor(g))
    ty.backward(torch.tensor(g))
    close(dx.grad, tx.grad)
    small = distgrad.tensor(x[:1, :2], requires_grad=True)
    assert gradgradcheck(lambda t: F.pad(t, pad, mode=mode, value=value) ** 2, (small,))


def test_pad_errors():
    x = distgrad.zeros(1, 2, 3)
    with pytest.raises(RuntimeError, match="divisible by 2"):
        F.pad(x, (1,))
    with pytest.raises(RuntimeError, match="too large"):
        F.pad(x, (1, 1) * 4)
    with pytest.raises(RuntimeError, match="padding size should be less than"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="unknown padding mode"):
        F.pad(x, (1, 1), mode="mirror")
    with pytest.raises(RuntimeError, match="negative"):
        F.pad(distgrad.zeros(2, 3), (-2, -2))
    with pytest.raises(RuntimeError, match="only supported in constant mode"):
        F.pad(x, (-1, 1), mode="replicate")


def test_normalize_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((3, 4))
    x[1] = 0.0  # the eps floor keeps a zero row finite
    for p, dim in ((2.0, 1), (1.0, 0), (3.0, -1)):
        dx, tx = distgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        dy, ty = F.normalize(dx, p, dim), torch.nn.functional.normalize(tx, p, dim)
        close(dy, ty)
        dy.sum().backward()
        ty.sum().backward()
        close(dx.grad, tx.grad)


def test_softmax_wrappers_and_linear_functional():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((2, 5)).astype(np.float32)
    close(F.softmax(distgrad.tensor(x), 1), torch.nn.functional.softmax(torch.tensor(x), 1))
    close(F.log_softmax(distgrad.tensor(x), dim=0), torch.nn.functional.log_softmax(torch.tensor(x), dim=0))
    w = np.random.default_rng(4).standard_normal((3, 5)).astype(np.float32)
    close(F.linear(distgrad.tensor(x), distgrad.tensor(w)), torch.nn.functional.linear(torch.tensor(x), torch.tensor(w)))
    with pytest.raises(RuntimeError, match="same dtype"):
        F.linear(distgrad.tensor(x).double(), distgrad.tensor(w))


def test_pad_gradcheck_constant():
    x = distgrad.tensor(np.random.default_rng(5).standard_normal((2, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.pad(t, (1, -1, 2, 0), value=3.0), (x,))
    assert np_of(F.pad(distgrad.tensor([[1, 2]]), (1, 0))).tolist() == [[0, 1, 2]]
