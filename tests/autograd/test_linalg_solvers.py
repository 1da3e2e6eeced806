"""inv, solve, solve_triangular, det/slogdet/logdet, pinv, lstsq, cholesky_solve: values,
gradients (first and second order, gradcheck and torch parity) and PyTorch's errors."""
import numpy as np
import pytest

import distgrad
from distgrad import linalg as LA
from distgrad.autograd import gradcheck, gradgradcheck
from linalg_parity import check_parity, dg, randn, spd, well


def both(fn, *inputs):
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


# --- inv ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3), (2, 1, 2, 2)])
def test_inv_gradients(shape):
    both(LA.inv, dg(well(*shape)))


def test_inv_parity():
    check_parity(lambda m, a: m.linalg.inv(a), well(2, 3, 3))
    check_parity(lambda m, a: m.inverse(a) + a.inverse(), well(3, 3))


def test_inv_errors():
    with pytest.raises(LA.LinAlgError, match="linalg.inv: The diagonal element 1 is zero"):
        LA.inv(distgrad.zeros(2, 2))
    with pytest.raises(LA.LinAlgError, match=r"\(Batch element 1\): The diagonal element 2 is zero"):
        LA.inv(distgrad.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]]]))
    with pytest.raises(RuntimeError, match="linalg.inv: Expected a floating point or complex tensor as input. Got Long"):
        LA.inv(distgrad.ones(2, 2, dtype=distgrad.int64))
    with pytest.raises(RuntimeError, match="linalg.inv: A must be batches of square matrices, but they are 2 by 3"):
        LA.inv(distgrad.ones(2, 3))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        LA.inv(distgrad.ones(3))
    assert issubclass(LA.LinAlgError, RuntimeError)


def test_inv_ex():
    a = distgrad.tensor(np.stack([np.eye(2) * 2, np.zeros((2, 2))]))
    inverse, info = LA.inv_ex(a)
    assert info.dtype == distgrad.int32 and info.tolist() == [0, 1]
    np.testing.assert_allclose(inverse[0].numpy(), np.eye(2) / 2)
    with pytest.raises(LA.LinAlgError):
        LA.inv_ex(a, check_errors=True)


def test_inv_ex_info_parity():
    torch = pytest.importorskip("torch")
    mats = [np.zeros((3, 3)), np.ones((3, 3)), np.array([[1.0, 2, 3], [2, 4, 6], [1, 0, 1]]), well(3, 3)]
    for m in mats:
        assert LA.inv_ex(distgrad.tensor(m)).info.item() == torch.linalg.inv_ex(torch.tensor(m)).info.item()


# --- solve -------------------------------------------------------------------------------------
@pytest.mark.parametrize("a_shape,b_shape,left", [
    ((3, 3), (3, 2), True), ((3, 3), (3,), True), ((2, 3, 3), (2, 3), True),  # vector rhs by PyTorch's rule
    ((2, 3, 3), (3, 2), True), ((3, 3), (2, 3, 1), True), ((2, 1, 3, 3), (4, 3, 2), True),  # broadcasting
    ((3, 3), (2, 3), False), ((2, 3, 3), (1, 4, 3), False),
])
def test_solve(a_shape, b_shape, left):
    a, b = well(*a_shape), randn(*b_shape, seed=3)
    both(lambda x, y: LA.solve(x, y, left=left), *dg(a, b))
    check_parity(lambda m, x, y: m.linalg.solve(x, y, left=left), a, b)


def test_solve_errors():
    a = distgrad.eye(3)
    with pytest.raises(RuntimeError, match=r"Incompatible shapes of A and B for the equation AX = B \(3x3 and 4x2\)"):
        LA.solve(a, distgrad.ones(4, 2))
    with pytest.raises(RuntimeError, match=r"XA = B \(3x3 and 3x1\)"):
        LA.solve(a, distgrad.ones(3), left=False)
    with pytest.raises(RuntimeError, match="Expected A and B to have the same dtype, but found A of type Float and B "
                                           "of type Double"):
        LA.solve(a, distgrad.ones(3, dtype=distgrad.float64))
    with pytest.raises(LA.LinAlgError, match="torch.linalg.solve: The solver failed because the input matrix is singular"):
        LA.solve(distgrad.zeros(2, 2), distgrad.ones(2))
    with pytest.raises(RuntimeError, match="must match the size"):
        LA.solve(distgrad.eye(3).expand(2, 3, 3), distgrad.ones(4, 3, 2))


# --- solve_triangular and cholesky_solve --------------------------------------------------------
@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [True, False])
def test_solve_triangular(upper, left, unit):
    a, b = well(2, 3, 3), randn(2, 3, 2, seed=4) if left else randn(2, 2, 3, seed=4)

    def case(m, x, y):
        return m.linalg.solve_triangular(x, y, upper=upper, left=left, unitriangular=unit)
    both(lambda x, y: case(distgrad, x, y), *dg(a, b))
    check_parity(case, a, b)


def test_solve_triangular_broadcast_and_zero_diagonal():
    check_parity(lambda m, x, y: m.linalg.solve_triangular(x, y, upper=False), well(3, 3), randn(2, 3, 2))
    a = distgrad.tensor([[0.0, 1.0], [0.0, 1.0]])
    out = LA.solve_triangular(a, distgrad.ones(2, 1), upper=True)  # no LinAlgError, as in PyTorch
    assert not bool(out.isfinite().all())


def test_solve_triangular_errors():
    with pytest.raises(RuntimeError, match="linalg.solve_triangular: The input tensor B must have at least 2 dimensions"):
        LA.solve_triangular(distgrad.eye(3), distgrad.ones(3), upper=True)
    with pytest.raises(RuntimeError, match=r"Incompatible shapes of A and B for the equation AX = B \(3x3 and 4x2\)"):
        LA.solve_triangular(distgrad.eye(3), distgrad.ones(4, 2), upper=True)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve(upper):
    low = np.linalg.cholesky(spd(2, 3, 3))
    factor = np.ascontiguousarray(np.swapaxes(low, -1, -2)) if upper else low
    b = randn(2, 3, 2, seed=5)
    # only the factor's triangle is read, so gradcheck perturbs that triangle (as PyTorch's OpInfo
    # does); parity then compares the full gradient PyTorch returns for the factor
    tri = (lambda y: y.triu()) if upper else (lambda y: y.tril())
    both(lambda x, y: distgrad.cholesky_solve(x, tri(y), upper=upper), *dg(b, factor))
    check_parity(lambda m, x, y: m.cholesky_solve(x, y, upper=upper), b, factor)
    check_parity(lambda m, x, y: x.cholesky_solve(y, upper), b, factor)


# --- det, slogdet, logdet ----------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3)])
def test_det(shape):
    both(LA.det, dg(well(*shape)))
    check_parity(lambda m, a: m.linalg.det(a), well(*shape))
    check_parity(lambda m, a: m.det(a) * a.det(), randn(2, 3, 3))


def test_det_singular_gradient_is_the_adjugate():
    # rank n-1: det's gradient is adj(A)^T, nonzero; rank n-2: it is 0
    a = randn(3, 3) @ np.diag([1.0, 2.0, 0.0]) @ randn(3, 3, seed=1)
    x = dg(a)
    LA.det(x).backward()
    cof = np.array([[np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) * (-1) ** (i + j) for j in range(3)]
                    for i in range(3)])
    np.testing.assert_allclose(x.grad.numpy(), cof, atol=1e-10)
    assert gradcheck(LA.det, (dg(a),))
    y = dg(randn(3, 3) @ np.diag([1.0, 0.0, 0.0]) @ randn(3, 3, seed=1))
    LA.det(y).backward()
    np.testing.assert_allclose(y.grad.numpy(), 0, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_slogdet(shape):
    a = randn(*shape)  # mixed signs
    both(lambda x: LA.slogdet(x).logabsdet, dg(a))
    check_parity(lambda m, x: tuple(m.linalg.slogdet(x)), a)
    check_parity(lambda m, x: x.slogdet()[1] + m.slogdet(x).logabsdet, a)
    check_parity(lambda m, x: m.logdet(x @ x.mT) + (x @ x.mT).logdet(), a)


def test_slogdet_return_type_and_logdet_signs():
    r = LA.slogdet(distgrad.tensor([[-2.0, 0.0], [0.0, 1.0]]))
    assert type(r).__name__ == "linalg_slogdet" and r._fields == ("sign", "logabsdet")
    assert r.sign.item() == -1.0 and abs(r.logabsdet.item() - np.log(2)) < 1e-6
    assert "distgrad.return_types.linalg_slogdet(" in repr(r)
    assert np.isnan(distgrad.logdet(distgrad.tensor([[-2.0]])).item())
    assert distgrad.logdet(distgrad.zeros(2, 2)).item() == -np.inf
    with pytest.raises(RuntimeError, match="linalg.slogdet: A must be batches of square matrices, but they are 3 by 2"):
        LA.slogdet(distgrad.ones(3, 2))
    with pytest.raises(RuntimeError, match="linalg.det: Expected a floating point"):
        LA.det(distgrad.ones(2, 2, dtype=distgrad.int64))


# --- pinv and lstsq ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_pinv(shape):
    both(LA.pinv, dg(randn(*shape)))
    check_parity(lambda m, a: m.linalg.pinv(a), randn(*shape))


def test_pinv_hermitian_tolerances_and_rank_deficient_values():
    torch = pytest.importorskip("torch")
    check_parity(lambda m, a: m.linalg.pinv(a + a.mT, hermitian=True), randn(2, 3, 3))
    low_rank = randn(4, 2) @ randn(2, 3, seed=2)
    for kw in ({}, {"rtol": 0.3}, {"atol": 1.0}, {"atol": 0.5, "rtol": 0.1}, {"hermitian": True}):
        a = low_rank @ low_rank.T if kw.get("hermitian") else low_rank
        np.testing.assert_allclose(LA.pinv(distgrad.tensor(a), **kw).numpy(),
                                   torch.linalg.pinv(torch.tensor(a), **kw).numpy(), atol=1e-8)
    np.testing.assert_allclose(distgrad.pinverse(distgrad.tensor(low_rank)).numpy(),
                               torch.pinverse(torch.tensor(low_rank)).numpy(), atol=1e-8)
    with pytest.raises(RuntimeError, match="expected a tensor with 2 or more dimensions"):
        LA.pinv(distgrad.ones(3))


@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
def test_lstsq_fields_match_torch(driver):
    torch = pytest.importorskip("torch")
    for a_shape, b_shape in (((5, 3), (5, 2)), ((2, 5, 3), (2, 5)), ((3, 4), (3, 2)), ((5, 3), (5,))):
        a, b = randn(*a_shape), randn(*b_shape, seed=7)
        d = LA.lstsq(distgrad.tensor(a), distgrad.tensor(b), driver=driver)
        t = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        assert type(d).__name__ == "linalg_lstsq"
        for f in ("solution", "residuals", "rank", "singular_values"):
            dv, tv = getattr(d, f), getattr(t, f)
            assert tuple(dv.shape) == tuple(tv.shape), (f, a_shape)
            np.testing.assert_allclose(dv.numpy(), tv.numpy(), atol=1e-8)


def test_lstsq_gradients_and_errors():
    a, b = randn(5, 3), randn(5, 2, seed=7)
    both(lambda x, y: LA.lstsq(x, y).solution, *dg(a, b))
    check_parity(lambda m, x, y: m.linalg.lstsq(x, y).solution, a, b)
    check_parity(lambda m, x, y: m.linalg.lstsq(x, y, driver="gelsd").residuals, a, b)
    low_rank = randn(5, 2) @ randn(2, 3, seed=2)
    assert LA.lstsq(distgrad.tensor(low_rank), distgrad.tensor(b)).rank.item() == 2
    with pytest.raises(RuntimeError, match=r"input.size\(-2\) should match other.size\(-2\)"):
        LA.lstsq(distgrad.ones(3, 2), distgrad.ones(4, 2))
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):  # PyTorch's quirk: B (4, 2) as vectors
        LA.lstsq(distgrad.ones(2, 4, 3), distgrad.ones(4, 2))
    with pytest.raises(RuntimeError, match="parameter `driver` should be one of"):
        LA.lstsq(distgrad.ones(3, 2), distgrad.ones(3, 2), driver="magma")


@pytest.mark.parametrize("upper, transpose, unitriangular", [(True, False, False), (False, False, False),
                                                             (True, True, False), (False, True, True)])
def test_legacy_triangular_solve(upper, transpose, unitriangular):
    a, b = well(2, 3, 3), randn(2, 3, 2, seed=3)
    kw = dict(upper=upper, transpose=transpose, unitriangular=unitriangular)
    tri = (lambda y: y.triu()) if upper else (lambda y: y.tril())
    both(lambda x, y: distgrad.triangular_solve(x, tri(y), **kw).solution, *dg(b, a))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns that triangular_solve is deprecated
        check_parity(lambda m, x, y: m.triangular_solve(x, y, **kw).solution, b, a)
        check_parity(lambda m, x, y: x.triangular_solve(y, **kw).cloned_coefficient, b, a, grad=False)
