"""kthvalue, median, nanmedian, msort, searchsorted, bucketize (sort/argsort/topk: test_ops_misc.py,
plus their stability and NaN order here): values, indices and gradients against PyTorch; errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64
NAN = float("nan")
DISTINCT = [[0.3, -1.2, 2.5, 0.9, 1.7], [4.0, 0.1, -0.4, 2.2, 3.3], [1.1, 0.6, -2.0, 5.0, 0.2]]
WITH_NAN = [[3.0, NAN, 1.0, NAN], [2.0, 5.0, 1.5, 4.0], [NAN, 0.5, 2.0, 1.0]]  # ties only with NaN


def t64(values):
    return distgrad.tensor(values, dtype=F64, requires_grad=True)


def _same_pair(ours, theirs, grads=None):
    np.testing.assert_allclose(ours.values.detach().numpy(), theirs.values.detach().numpy(), equal_nan=True)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    assert ours.indices.dtype == distgrad.int64


OPS = {
    "kthvalue2": (lambda m, x, **kw: m.kthvalue(x, 2, **kw)),
    "kthvalue_last": (lambda m, x, **kw: m.kthvalue(x, x.shape[kw.get("dim", -1)], **kw)),
    "median": (lambda m, x, **kw: m.median(x, **kw)),
    "nanmedian": (lambda m, x, **kw: m.nanmedian(x, **kw)),
}


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("op", sorted(OPS))
def test_dim_ops_match_torch(op, dim, keepdim):
    torch = pytest.importorskip("torch")
    fn = OPS[op]
    for values in (DISTINCT, WITH_NAN):
        x, tx = t64(values), torch.tensor(values, dtype=torch.float64, requires_grad=True)
        ours, theirs = fn(distgrad, x, dim=dim, keepdim=keepdim), fn(torch, tx, dim=dim, keepdim=keepdim)
        if values is WITH_NAN and op == "nanmedian":
            finite = ~np.isnan(theirs.values.detach().numpy())  # all-NaN slices: PyTorch's index is arbitrary
            np.testing.assert_array_equal(ours.indices.numpy()[finite], theirs.indices.numpy()[finite])
            np.testing.assert_allclose(ours.values.detach().numpy(), theirs.values.detach().numpy(), equal_nan=True)
        else:
            _same_pair(ours, theirs)
        if values is DISTINCT:
            w = np.arange(1.0, 1.0 + ours.values.numel()).reshape(tuple(ours.values.shape))
            (ours.values * distgrad.tensor(w, dtype=F64)).sum().backward()
            (theirs.values * torch.tensor(w)).sum().backward()
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
            assert gradcheck(lambda a: fn(distgrad, a, dim=dim, keepdim=keepdim).values, (t64(values),))
            assert gradgradcheck(lambda a: fn(distgrad, a, dim=dim, keepdim=keepdim).values, (t64(values),))


@pytest.mark.parametrize("op", ["median", "nanmedian"])
def test_median_of_all_matches_torch_with_ties(op):
    torch = pytest.importorskip("torch")
    for values in ([[2.0, 7.0, 2.0], [1.0, 2.0, 9.0]], [3.0, NAN, 1.0, 2.0], [[5.0]]):
        x, tx = t64(values), torch.tensor(values, dtype=torch.float64, requires_grad=True)
        ours, theirs = getattr(distgrad, op)(x), getattr(torch, op)(tx)
        assert ours.shape == () and ours.dtype == F64
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), equal_nan=True)
        if not np.isnan(theirs.item()):
            ours.backward()
            theirs.backward()
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())  # shared evenly among ties


def test_integer_scalar_and_method_forms():
    torch = pytest.importorskip("torch")
    v = [[5, 1, 4, 1], [2, 8, 0, 3]]
    x, tx = distgrad.tensor(v), torch.tensor(v)
    assert x.median().item() == tx.median().item()
    _same_pair(x.median(0), tx.median(0))
    _same_pair(x.kthvalue(3, 1, True), tx.kthvalue(3, 1, True))
    s, ts = distgrad.tensor(2.5), torch.tensor(2.5)
    _same_pair(s.kthvalue(1), ts.kthvalue(1))
    _same_pair(s.median(0), ts.median(0))
    np.testing.assert_array_equal(x.msort().numpy(), torch.msort(tx).numpy())
    np.testing.assert_array_equal(distgrad.msort(distgrad.tensor(WITH_NAN)).numpy(),
                                  torch.msort(torch.tensor(WITH_NAN)).numpy())
    m = t64(DISTINCT)
    assert gradcheck(distgrad.msort, (m,))


def test_sort_is_stable_and_puts_nan_last_or_first():
    torch = pytest.importorskip("torch")
    v = [2.0, NAN, 1.0, 2.0, NAN, 1.0, 0.5]
    for descending in (False, True):
        ours = distgrad.sort(distgrad.tensor(v), descending=descending, stable=True)
        theirs = torch.sort(torch.tensor(v), descending=descending, stable=True)
        _same_pair(ours, theirs)
        np.testing.assert_array_equal(distgrad.tensor(v).argsort(descending=descending, stable=True).numpy(),
                                      torch.tensor(v).argsort(descending=descending, stable=True).numpy())
    ours, theirs = distgrad.tensor(DISTINCT).topk(2, 1, largest=False), torch.tensor(DISTINCT).topk(2, 1, largest=False)
    _same_pair(ours, theirs)


SEQ = [1.0, 3.0, 3.0, 5.0, 8.0]
VALS = [[0.0, 3.0, 4.0], [8.0, 9.0, 1.0]]


@pytest.mark.parametrize("side", [None, "left", "right"])
@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_matches_torch(side, right):
    torch = pytest.importorskip("torch")
    if right and side == "left":
        with pytest.raises(RuntimeError, match="opposites"):
            distgrad.searchsorted(distgrad.tensor(SEQ), distgrad.tensor(VALS), right=True, side="left")
        return
    kw = {"right": right, "side": side}
    for seq, vals in ((SEQ, VALS), ([SEQ, [0.0, 1.0, 2.0, 9.0, 9.0]], VALS)):
        np.testing.assert_array_equal(
            distgrad.searchsorted(distgrad.tensor(seq), distgrad.tensor(vals), **kw).numpy(),
            torch.searchsorted(torch.tensor(seq), torch.tensor(vals), **kw).numpy())
    ours = distgrad.searchsorted(distgrad.tensor(SEQ), 3.0, **kw)
    theirs = torch.searchsorted(torch.tensor(SEQ), 3.0, **kw)
    assert ours.shape == () and ours.item() == theirs.item()
    unsorted = [5.0, 1.0, 3.0]
    sorter = torch.argsort(torch.tensor(unsorted))
    np.testing.assert_array_equal(
        distgrad.searchsorted(distgrad.tensor(unsorted), distgrad.tensor([2.0, 3.0]), sorter=distgrad.tensor(
            sorter.numpy()), **kw).numpy(),
        torch.searchsorted(torch.tensor(unsorted), torch.tensor([2.0, 3.0]), sorter=sorter, **kw).numpy())
    assert distgrad.searchsorted(distgrad.tensor(SEQ), distgrad.tensor([2.0]), out_int32=True).dtype == distgrad.int32


@pytest.mark.parametrize("right", [False, True])
def test_bucketize_matches_torch(right):
    torch = pytest.importorskip("torch")
    b = [1, 5, 9]
    v = [[0, 1, 5], [6, 9, 10]]
    np.testing.assert_array_equal(distgrad.bucketize(distgrad.tensor(v), distgrad.tensor(b), right=right).numpy(),
                                  torch.bucketize(torch.tensor(v), torch.tensor(b), right=right).numpy())
    assert distgrad.bucketize(4, distgrad.tensor(b), out_int32=True).dtype == distgrad.int32


def test_errors():
    x = distgrad.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(RuntimeError, match="k out of range"):
        x.kthvalue(3)
    with pytest.raises(RuntimeError, match="k out of range"):
        x.kthvalue(0)
    with pytest.raises(IndexError):
        x.median(2)
    with pytest.raises(RuntimeError, match="cannot be empty"):
        distgrad.tensor([]).median()
    with pytest.raises(RuntimeError, match="first N-1 dimensions"):
        distgrad.searchsorted(distgrad.tensor([[1.0, 2.0]]), distgrad.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="side can only be"):
        distgrad.searchsorted(distgrad.tensor([1.0]), distgrad.tensor([1.0]), side="middle")
    with pytest.raises(RuntimeError, match="must be 1 dimension"):
        distgrad.bucketize(distgrad.tensor([1.0]), x)
