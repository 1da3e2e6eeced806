"""Shape ops: gradients (first and second order), results against NumPy, view semantics
(shared storage and version counter) and the error paths."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64


def rnd(*shape):
    return distgrad.randn(*shape, dtype=F64).requires_grad_()


# name -> (fn, input shape, numpy reference)
SHAPE_OPS = {
    "reshape": (lambda x: x.reshape(3, 4), (2, 6), lambda a: a.reshape(3, 4)),
    "reshape_infer": (lambda x: distgrad.reshape(x, (-1, 2)), (2, 3, 2), lambda a: a.reshape(-1, 2)),
    "view": (lambda x: x.view(-1), (2, 3), lambda a: a.reshape(-1)),
    "view_as": (lambda x: x.view_as(distgrad.zeros(3, 2)), (2, 3), lambda a: a.reshape(3, 2)),
    "reshape_as": (lambda x: x.reshape_as(distgrad.zeros(6)), (2, 3), lambda a: a.reshape(6)),
    "flatten": (lambda x: x.flatten(), (2, 3, 2), lambda a: a.reshape(-1)),
    "flatten_range": (lambda x: distgrad.flatten(x, 1, 2), (2, 3, 2), lambda a: a.reshape(2, 6)),
    "unflatten": (lambda x: x.unflatten(1, (2, -1)), (2, 6), lambda a: a.reshape(2, 2, 3)),
    "squeeze": (lambda x: x.squeeze(), (1, 3, 1), lambda a: a.squeeze()),
    "squeeze_dim": (lambda x: x.squeeze(-1), (1, 3, 1), lambda a: a.squeeze(-1)),
    "squeeze_tuple": (lambda x: distgrad.squeeze(x, (0, 2)), (1, 3, 1), lambda a: a.squeeze((0, 2))),
    "squeeze_noop": (lambda x: x.squeeze(1), (1, 3, 1), lambda a: a),
    "unsqueeze": (lambda x: x.unsqueeze(1), (2, 3), lambda a: a[:, None]),
    "unsqueeze_neg": (lambda x: distgrad.unsqueeze(x, -1), (2, 3), lambda a: a[..., None]),
    "permute": (lambda x: x.permute(2, 0, 1), (2, 3, 4), lambda a: a.transpose(2, 0, 1)),
    "permute_tuple": (lambda x: distgrad.permute(x, (1, 0, 2)), (2, 3, 4), lambda a: a.transpose(1, 0, 2)),
    "transpose": (lambda x: x.transpose(0, -1), (2, 3, 4), lambda a: a.swapaxes(0, -1)),
    "swapaxes": (lambda x: distgrad.swapaxes(x, 0, 1), (2, 3), lambda a: a.T),
    "swapdims": (lambda x: x.swapdims(1, 0), (2, 3), lambda a: a.T),
    "t": (lambda x: x.t(), (2, 3), lambda a: a.T),
    "t_1d": (lambda x: distgrad.t(x), (3,), lambda a: a),
    "T": (lambda x: x.T, (2, 3, 4), lambda a: a.T),
    "mT": (lambda x: x.mT, (2, 3, 4), lambda a: a.swapaxes(-1, -2)),
    "expand": (lambda x: x.expand(2, 3, 4), (3, 1), lambda a: np.broadcast_to(a, (2, 3, 4))),
    "expand_keep": (lambda x: x.expand(-1, 4), (3, 1), lambda a: np.broadcast_to(a, (3, 4))),
    "expand_as": (lambda x: x.expand_as(distgrad.zeros(2, 3)), (3,), lambda a: np.broadcast_to(a, (2, 3))),
    "broadcast_to": (lambda x: distgrad.broadcast_to(x, (2, 2, 3)), (1, 3), lambda a: np.broadcast_to(a, (2, 2, 3))),
    "repeat": (lambda x: x.repeat(2, 3), (2, 3), lambda a: np.tile(a, (2, 3))),
    "repeat_more_dims": (lambda x: x.repeat(2, 1, 2), (2, 3), lambda a: np.tile(a, (2, 1, 2))),
    "movedim": (lambda x: x.movedim(0, -1), (2, 3, 4), lambda a: np.moveaxis(a, 0, -1)),
    "movedim_multi": (lambda x: distgrad.movedim(x, (0, 1), (2, 0)), (2, 3, 4),
                      lambda a: np.moveaxis(a, (0, 1), (2, 0))),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_op(name):
    fn, shape, ref = SHAPE_OPS[name]
    x = rnd(*shape)
    out = fn(x)
    np.testing.assert_array_equal(out.detach().numpy(), ref(x.detach().numpy()))
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("fn", [lambda x: x.view(6), lambda x: x.reshape(3, 2), lambda x: x.t(),
                                lambda x: x.permute(1, 0), lambda x: x.unsqueeze(0), lambda x: x.expand(2, 2, 3),
                                lambda x: x.transpose(0, 1), lambda x: x.flatten()])
def test_views_share_storage_and_version(fn):
    x = distgrad.zeros(2, 3)
    v = fn(x)
    assert v._version == x._version
    x.add_(1)
    assert v._version == x._version == 1
    assert float(v.sum()) == v.numel()


def test_reshape_of_non_contiguous_copies():
    x = distgrad.arange(6.0).reshape(2, 3).t()
    y = x.reshape(6)
    assert y.tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]


def test_repeat_values():
    x = distgrad.tensor([1, 2])
    assert x.repeat(2).tolist() == [1, 2, 1, 2]
    assert x.repeat(2, 1).tolist() == [[1, 2], [1, 2]]


def test_shape_errors():
    x = distgrad.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"shape '\[4\]' is invalid for input of size 6"):
        x.view(4)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.reshape(-1, -1)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.t().view(6)
    with pytest.raises(RuntimeError, match=r"expanded size of the tensor \(3\) must match the existing size \(2\)"):
        x.expand(3, 3)
    with pytest.raises(RuntimeError, match="number of sizes provided"):
        x.expand(3)
    with pytest.raises(RuntimeError, match="duplicate dims"):
        x.permute(0, 0)
    with pytest.raises(RuntimeError, match="number of dimensions"):
        x.permute(0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.transpose(0, 2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.unsqueeze(3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.squeeze(2)
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        x.flatten(1, 0)
    with pytest.raises(RuntimeError, match="repeat dims can not be smaller"):
        x.repeat(2)
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        distgrad.ones(2, 2, 2).t()
    with pytest.raises(RuntimeError, match="mT"):
        distgrad.ones(3).mT


def test_zero_dim_shapes():
    s = distgrad.tensor(2.0, dtype=F64, requires_grad=True)
    assert s.reshape(1, 1).shape == (1, 1)
    assert s.flatten().shape == (1,)
    assert s.unsqueeze(0).shape == (1,)
    assert s.expand(3).tolist() == [2.0, 2.0, 2.0]
    assert gradcheck(lambda t: t.reshape(1).expand(2, 3), (s,))
