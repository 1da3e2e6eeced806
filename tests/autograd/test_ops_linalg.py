"""Matrix products: matmul over every operand-rank combination (with batch broadcasting),
mm/bmm/dot/mv/outer, their gradients (first and second order) and shape errors."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64


def rnd(*shape):
    return distgrad.randn(*shape, dtype=F64).requires_grad_()


MATMUL_SHAPES = [
    ((3,), (3,)),             # dot
    ((3,), (3, 2)),           # vector @ matrix
    ((2, 3), (3,)),           # matrix @ vector
    ((2, 3), (3, 4)),         # matrix @ matrix
    ((2, 2, 3), (3, 4)),      # batch @ matrix
    ((3,), (2, 3, 4)),        # vector @ batch
    ((2, 2, 3), (3,)),        # batch @ vector
    ((2, 1, 2, 3), (3, 3, 2)),  # broadcast batches
    ((1, 2, 3), (2, 3, 1)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    a, b = rnd(*shapes[0]), rnd(*shapes[1])
    out = a @ b
    np.testing.assert_allclose(out.detach().numpy(), np.matmul(a.detach().numpy(), b.detach().numpy()))
    assert gradcheck(distgrad.matmul, (a, b))
    assert gradgradcheck(distgrad.matmul, (a, b))


def test_matmul_one_side_requires_grad():
    a, b = rnd(2, 3), distgrad.randn(3, 4, dtype=F64)
    assert gradcheck(lambda x: x @ b, (a,))
    assert gradcheck(lambda x: b.t() @ x.t(), (a,))


@pytest.mark.parametrize("name,fn,shapes,ref", [
    ("mm", distgrad.mm, ((2, 3), (3, 4)), np.matmul),
    ("bmm", distgrad.bmm, ((2, 2, 3), (2, 3, 4)), np.matmul),
    ("dot", distgrad.dot, ((4,), (4,)), np.dot),
    ("mv", distgrad.mv, ((2, 3), (3,)), np.matmul),
    ("outer", distgrad.outer, ((2,), (3,)), np.outer),
    ("rmatmul", lambda a, b: a.__rmatmul__(b), ((3, 2), (4, 3)), lambda a, b: b @ a),
])
def test_named_products(name, fn, shapes, ref):
    a, b = rnd(*shapes[0]), rnd(*shapes[1])
    np.testing.assert_allclose(fn(a, b).detach().numpy(), ref(a.detach().numpy(), b.detach().numpy()))
    assert gradcheck(fn, (a, b))
    assert gradgradcheck(fn, (a, b))


def test_methods_are_bound():
    a, b = distgrad.ones(2, 3), distgrad.ones(3, 2)
    assert a.matmul(b).shape == (2, 2) and a.mm(b).shape == (2, 2)
    assert a.mv(distgrad.ones(3)).shape == (2,)
    assert distgrad.ones(3).dot(distgrad.ones(3)).item() == 3.0
    assert distgrad.ones(2).outer(distgrad.ones(3)).shape == (2, 3)
    assert distgrad.ones(1, 2, 3).bmm(distgrad.ones(1, 3, 2)).shape == (1, 2, 2)


def test_matmul_promotes_dtypes():
    a = distgrad.ones(2, 2, dtype=F64)
    assert (a @ distgrad.ones(2, 2)).dtype == F64
    ints = distgrad.tensor([[1, 2], [3, 4]])
    assert (ints @ ints).tolist() == [[7, 10], [15, 22]] and (ints @ ints).dtype == distgrad.int64


def test_matmul_errors():
    with pytest.raises(RuntimeError, match=r"shapes cannot be multiplied \(2x3 and 2x3\)"):
        distgrad.ones(2, 3) @ distgrad.ones(2, 3)
    with pytest.raises(RuntimeError, match="1D"):
        distgrad.ones(()) @ distgrad.ones(3)
    with pytest.raises(RuntimeError):
        distgrad.ones(2, 2, 3) @ distgrad.ones(3, 3, 2)  # batch dims 2 and 3 do not broadcast
    with pytest.raises(RuntimeError, match="2D"):
        distgrad.mm(distgrad.ones(2, 3), distgrad.ones(3))
    with pytest.raises(RuntimeError, match="3D"):
        distgrad.bmm(distgrad.ones(2, 3), distgrad.ones(3, 2))
    with pytest.raises(RuntimeError):
        distgrad.bmm(distgrad.ones(2, 2, 3), distgrad.ones(3, 3, 2))
    with pytest.raises(RuntimeError, match="inconsistent tensor size"):
        distgrad.dot(distgrad.ones(3), distgrad.ones(4))
    with pytest.raises(RuntimeError, match="1D tensors expected"):
        distgrad.dot(distgrad.ones(3, 1), distgrad.ones(3))


def test_matmul_grad_fn_name():
    a = rnd(2, 3)
    assert (a @ rnd(3, 2)).grad_fn.name() == "MmBackward0"
