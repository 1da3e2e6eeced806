"""einsum: every equation form (explicit and implicit output, ellipsis, repeated letters, broadcasting,
sublists), first and second derivatives, parity with PyTorch, the contraction order, and the errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.autograd.ops.einsum import _cheapest_pair

F64 = distgrad.float64

# equation -> operand shapes
CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 2), (1, 2, 4, 2)]),
    ("ij->ji", [(2, 3)]),
    ("ij", [(2, 3)]),
    ("ba", [(2, 3)]),
    ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("iji->j", [(2, 3, 2)]),
    ("i,i", [(3,), (3,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,->i", [(3,), ()]),
    (",->", [(), ()]),
    ("...ij,...jk", [(2, 2, 3), (3, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("i...->...", [(2, 3, 4)]),
    ("...", [(2, 3)]),
    ("ij,ij->i", [(1, 3), (4, 3)]),
    ("ab,ab,ab->", [(2, 3), (2, 3), (2, 3)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 2), (2, 2)]),
    ("ij,jk,k->i", [(3, 4), (4, 5), (5,)]),
    ("Ab,bA->", [(2, 3), (3, 2)]),
]


def _inputs(shapes, seed=0):
    g = distgrad.Generator().manual_seed(seed)
    return [distgrad.randn(*s, dtype=F64, generator=g).requires_grad_() for s in shapes]


@pytest.mark.parametrize("eq,shapes", CASES, ids=[c[0] or "empty" for c in CASES])
def test_einsum_gradcheck_and_gradgradcheck(eq, shapes):
    xs = _inputs(shapes)
    fn = lambda *t: distgrad.einsum(eq, *t)  # noqa: E731
    assert gradcheck(fn, xs)
    assert gradgradcheck(fn, xs)


@pytest.mark.parametrize("eq,shapes", CASES, ids=[c[0] or "empty" for c in CASES])
def test_einsum_matches_torch_values_and_gradients(eq, shapes):
    torch = pytest.importorskip("torch")
    xs = _inputs(shapes, seed=1)
    ts = [torch.tensor(x.detach().numpy(), requires_grad=True) for x in xs]
    out, ref = distgrad.einsum(eq, *xs), torch.einsum(eq, *ts)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    w = np.random.default_rng(2).standard_normal(tuple(ref.shape))
    gx = distgrad.autograd.grad((out * distgrad.tensor(w)).sum(), xs, create_graph=True)
    gt = torch.autograd.grad((ref * torch.tensor(w)).sum(), ts, create_graph=True)
    for a, b in zip(gx, gt):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-10)
    # second derivatives: the gradient of the squared first gradients
    if all(b.requires_grad for b in gt):
        hx = distgrad.autograd.grad(sum((a * a).sum() for a in gx), xs, allow_unused=True)
        ht = torch.autograd.grad(sum((b * b).sum() for b in gt), ts, allow_unused=True)
        for a, b in zip(hx, ht):
            if b is None:
                assert a is None or not a.detach().numpy().any()
            else:
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-9)


def test_einsum_sublist_form_and_operand_list_match_torch():
    torch = pytest.importorskip("torch")
    a, b = _inputs([(2, 3), (3, 4)])
    ta, tb = torch.tensor(a.detach().numpy()), torch.tensor(b.detach().numpy())
    np.testing.assert_allclose(distgrad.einsum(a, [0, 1], b, [1, 2], [0, 2]).detach().numpy(),
                               torch.einsum(ta, [0, 1], tb, [1, 2], [0, 2]).numpy())
    np.testing.assert_allclose(distgrad.einsum(a, [Ellipsis, 1], [1, Ellipsis]).detach().numpy(),
                               torch.einsum(ta, [Ellipsis, 1], [1, Ellipsis]).numpy())
    np.testing.assert_allclose(distgrad.einsum("ij,jk", [a, b]).detach().numpy(),
                               torch.einsum("ij,jk", [ta, tb]).numpy())
    np.testing.assert_allclose(distgrad.einsum(" i j , j k -> i k ", a, b).detach().numpy(),
                               (ta @ tb).numpy())


def test_einsum_integer_and_float32_dtypes_are_kept():
    x = distgrad.arange(6).reshape(2, 3)
    out = distgrad.einsum("ij->j", x)
    assert out.dtype == distgrad.int64 and out.tolist() == [3, 5, 7]
    assert distgrad.einsum("ij,kj->ik", distgrad.ones(2, 3), distgrad.ones(4, 3)).dtype == distgrad.float32


def test_einsum_output_is_a_new_tensor_not_an_alias():
    x = distgrad.ones(2, 3)
    y = distgrad.einsum("ij->ji", x)
    y[0, 0] = 5.0
    assert x[0, 0].item() == 1.0


def test_cheapest_pair_avoids_the_big_intermediate():
    # "ij,jk,k->i": left to right builds i x k first; contracting jk with k first is cheaper
    terms = [("ij", np.zeros((50, 40))), ("jk", np.zeros((40, 60))), ("k", np.zeros(60))]
    assert _cheapest_pair(terms, "i") == (1, 2)


ERRORS = [
    lambda m, a, b: m.einsum("ij,jk->ik", a),               # too few operands
    lambda m, a, b: m.einsum("ij->ij", a, b),               # too many operands
    lambda m, a, b: m.einsum("ijk,jk->ik", a, b),           # more letters than dims
    lambda m, a, b: m.einsum("ij,jk->iz", a, b),            # output letter not in any input
    lambda m, a, b: m.einsum("ij,jk->ii", a, b),            # output letter repeated
    lambda m, a, b: m.einsum("ij,ik->jk", a, b),            # i is 2 and 3
    lambda m, a, b: m.einsum("i1,jk->ik", a, b),            # invalid subscript
    lambda m, a, b: m.einsum("i..j,jk->ik", a, b),          # broken ellipsis
    lambda m, a, b: m.einsum("ii->i", a),                   # repeated letter, sizes differ
    lambda m, a, b: m.einsum("ij,jk->ik", a, b.double()),   # mixed dtypes
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_einsum_errors_are_runtime_errors_as_in_torch(k):
    with pytest.raises(RuntimeError, match="einsum"):
        ERRORS[k](distgrad, distgrad.ones(2, 3), distgrad.ones(3, 4))
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        ERRORS[k](torch, torch.ones(2, 3), torch.ones(3, 4))


def test_einsum_bad_arguments_are_type_errors():
    with pytest.raises(TypeError):
        distgrad.einsum()
    with pytest.raises(TypeError):
        distgrad.einsum("ij,jk->ik", distgrad.ones(2, 3), np.ones((3, 4)))
