"""The LU family: linalg.lu_factor(_ex), linalg.lu, lu_unpack, linalg.lu_solve, linalg.solve_ex and
linalg.diagonal: values, pivots and info as LAPACK gives them, gradients (gradcheck, gradgradcheck and
PyTorch parity up to second order) and PyTorch's errors."""
import numpy as np
import pytest

import distgrad
from distgrad import linalg as LA
from distgrad.autograd import gradcheck, gradgradcheck
from error_parity import assert_raises_like_torch
from linalg_parity import check_parity, dg, randn, well

SHAPES = [(3, 3), (2, 4, 4), (3, 5), (5, 3), (2, 1, 2, 4)]


# --- lu_factor / lu ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
def test_lu_factor_matches_lapack(shape):
    torch = pytest.importorskip("torch")
    a = randn(*shape)
    LU, pivots = LA.lu_factor(distgrad.tensor(a))
    tLU, tpiv = torch.linalg.lu_factor(torch.tensor(a))
    np.testing.assert_allclose(LU.numpy(), tLU.numpy(), atol=1e-12)
    assert pivots.dtype == distgrad.int32 and pivots.tolist() == tpiv.tolist()


@pytest.mark.parametrize("shape", SHAPES)
def test_lu_reconstructs_and_matches_torch(shape):
    a = randn(*shape)
    P, L, U = LA.lu(distgrad.tensor(a))
    np.testing.assert_allclose((P @ L @ U).numpy(), a, atol=1e-12)
    check_parity(lambda m, x: m.linalg.lu(x)[1:], a)


@pytest.mark.parametrize("shape", SHAPES)
def test_lu_factor_gradients(shape):
    a = dg(randn(*shape))
    assert gradcheck(lambda x: LA.lu_factor(x).LU, (a,))
    assert gradgradcheck(lambda x: LA.lu_factor(x).LU, (a,))
    check_parity(lambda m, x: m.linalg.lu_factor(x).LU, randn(*shape))


def test_lu_grad_fn_and_non_differentiable_outputs():
    x = dg(randn(3, 3))
    LU, pivots = LA.lu_factor(x)
    assert type(LU.grad_fn).__name__ == "LinalgLuFactorExBackward0"
    assert not pivots.requires_grad
    P, L, U = LA.lu(x)
    assert not P.requires_grad and L.requires_grad and U.requires_grad


def test_singular_matrices():
    torch = pytest.importorskip("torch")
    z = np.array([[[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])
    out = LA.lu_factor_ex(distgrad.tensor(z))
    ref = torch.linalg.lu_factor_ex(torch.tensor(z))
    assert out.info.tolist() == ref.info.tolist() == [2, 1, 0]
    assert out.pivots.tolist() == ref.pivots.tolist()
    np.testing.assert_allclose(out.LU.numpy(), ref.LU.numpy())
    P, L, U = LA.lu(distgrad.tensor(z))  # lu works for singular matrices
    np.testing.assert_allclose((P @ L @ U).numpy(), z)
    with pytest.raises(LA.LinAlgError, match=r"\(Batch element 0\): U\[2,2\] is zero"):
        LA.lu_factor(distgrad.tensor(z))
    with pytest.raises(LA.LinAlgError, match=r"torch.linalg.lu_factor_ex: U\[1,1\] is zero"):
        LA.lu_factor_ex(distgrad.zeros(2, 2), check_errors=True)


@pytest.mark.parametrize("case", [
    lambda m: m.linalg.lu_factor(m.ones(2, 2, dtype=m.long)),
    lambda m: m.linalg.lu_factor(m.ones(3)),
    lambda m: m.linalg.lu_factor(m.zeros(2, 2)),
    lambda m: m.linalg.lu_factor(m.eye(2), pivot=False),
    lambda m: m.linalg.lu(m.ones(2)),
    lambda m: m.linalg.lu_solve(*m.linalg.lu_factor(m.eye(2)), m.ones(3, 1)),
    lambda m: m.linalg.lu_solve(*m.linalg.lu_factor(m.eye(2)), m.ones(2)),
    lambda m: m.linalg.lu_solve(*m.linalg.lu_factor(m.eye(2)), m.ones(2, 1, dtype=m.float64)),
    lambda m: m.linalg.solve_ex(m.ones(2, 3), m.ones(2)),
])
def test_errors_match_torch(case):
    assert_raises_like_torch(case)


# --- lu_unpack ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
def test_lu_unpack_matches_torch(shape):
    torch = pytest.importorskip("torch")
    a = randn(*shape)
    ours = distgrad.lu_unpack(*LA.lu_factor(distgrad.tensor(a)))
    theirs = torch.lu_unpack(*torch.linalg.lu_factor(torch.tensor(a)))
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), t.numpy(), atol=1e-12)
    check_parity(lambda m, x: m.lu_unpack(*m.linalg.lu_factor(x))[1:], a)


def test_lu_unpack_flags():
    LU, piv = LA.lu_factor(distgrad.tensor(well(3, 3)))
    P, L, U = distgrad.lu_unpack(LU, piv, unpack_data=False)
    assert P.shape == (3, 3) and L.numel() == 0 and U.numel() == 0
    P, L, U = distgrad.lu_unpack(LU, piv, unpack_pivots=False)
    assert P.numel() == 0 and L.shape == (3, 3)


# --- lu_solve -------------------------------------------------------------------------------------
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [True, False])
def test_lu_solve_matches_torch(left, adjoint):
    a, b = well(2, 3, 3), randn(2, 3, 2) if left else randn(2, 2, 3)
    check_parity(lambda m, x, y: m.linalg.lu_solve(*m.linalg.lu_factor(x), y, left=left, adjoint=adjoint), a, b)
    x = distgrad.linalg.lu_solve(*LA.lu_factor(distgrad.tensor(a)), distgrad.tensor(b), left=left, adjoint=adjoint)
    A = np.swapaxes(a, -1, -2) if adjoint else a
    np.testing.assert_allclose((A @ x.numpy()) if left else (x.numpy() @ A), b, atol=1e-12)


def test_lu_solve_gradients():
    a, b = dg(well(3, 3), randn(3, 2))
    assert gradcheck(lambda x, y: LA.lu_solve(*LA.lu_factor(x), y), (a, b))
    assert gradgradcheck(lambda x, y: LA.lu_solve(*LA.lu_factor(x), y), (a, b))


# --- solve_ex, diagonal --------------------------------------------------------------------------
def test_solve_ex_matches_solve_and_reports_singular():
    torch = pytest.importorskip("torch")
    check_parity(lambda m, x, y: m.linalg.solve_ex(x, y).result, well(2, 3, 3), randn(2, 3))
    out = LA.solve_ex(distgrad.zeros(2, 2), distgrad.ones(2))
    ref = torch.linalg.solve_ex(torch.zeros(2, 2), torch.ones(2))
    assert out.info.tolist() == ref.info.tolist() == 1
    np.testing.assert_array_equal(out.result.numpy(), ref.result.numpy())  # nan and inf, as PyTorch's
    with pytest.raises(LA.LinAlgError):
        LA.solve_ex(distgrad.zeros(2, 2), distgrad.ones(2), check_errors=True)


def test_linalg_diagonal():
    check_parity(lambda m, x: m.linalg.diagonal(x), randn(2, 3, 4))
    check_parity(lambda m, x: m.linalg.diagonal(x, offset=1, dim1=0, dim2=2), randn(2, 3, 4))
