"""Binary arithmetic: gradients (first and second order, with broadcasting), values,
PyTorch's type promotion, comparisons and logic, and the error paths."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64


def rnd(*shape):
    return distgrad.randn(*shape, dtype=F64).requires_grad_()


def pos(*shape):
    """Values in [0.5, 1.5): safe for division, logs and fractional powers."""
    return (distgrad.rand(*shape, dtype=F64) + 0.5).requires_grad_()


BROADCAST = [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3)), ((4, 1, 3), (2, 3))]

# name -> (fn, makes input a, makes input b, smooth)
BINARY = {
    "add": (distgrad.add, rnd, rnd, True),
    "add_alpha": (lambda a, b: distgrad.add(a, b, alpha=2.5), rnd, rnd, True),
    "sub": (distgrad.sub, rnd, rnd, True),
    "sub_alpha": (lambda a, b: a.sub(b, alpha=-1.5), rnd, rnd, True),
    "rsub": (distgrad.rsub, rnd, rnd, True),
    "mul": (distgrad.mul, rnd, rnd, True),
    "div": (distgrad.div, rnd, pos, True),
    "pow": (distgrad.pow, pos, rnd, True),
    "maximum": (distgrad.maximum, rnd, rnd, False),
    "minimum": (distgrad.minimum, rnd, rnd, False),
    "remainder": (distgrad.remainder, pos, lambda *s: (pos(*s).detach() * 0.3).requires_grad_(), False),
    "where": (lambda a, b: distgrad.where(a > 0, a, b), rnd, rnd, False),
    "operators": (lambda a, b: (a + b) * a - b / (b * b + 1) + (-a), rnd, rnd, True),
}


@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck(name, shapes):
    fn, ma, mb, smooth = BINARY[name]
    a, b = ma(*shapes[0]), mb(*shapes[1])
    assert gradcheck(fn, (a, b))
    if smooth:
        assert gradgradcheck(fn, (a, b))


SCALAR = {
    "add_scalar": (lambda x: x + 2.5, rnd),
    "radd_scalar": (lambda x: 2 + x, rnd),
    "rsub_scalar": (lambda x: 2.5 - x, rnd),
    "mul_scalar": (lambda x: x * -3, rnd),
    "rdiv_scalar": (lambda x: 3.0 / x, pos),
    "div_scalar": (lambda x: x / 4, rnd),
    "pow_int": (lambda x: x ** 3, rnd),
    "pow_float": (lambda x: x ** 2.5, pos),
    "pow_zero": (lambda x: x ** 0, rnd),
    "pow_negative": (lambda x: x ** -1.5, pos),
    "rpow": (lambda x: 2.0 ** x, rnd),
    "rpow_int_base": (lambda x: 3 ** x, rnd),
    "true_divide": (lambda x: distgrad.true_divide(x, 0.5), rnd),
    "neg_operator": (lambda x: -x, rnd),
    "pos_operator": (lambda x: +x * 2, rnd),
}


@pytest.mark.parametrize("name", sorted(SCALAR))
def test_scalar_operand_gradcheck(name):
    fn, make = SCALAR[name]
    x = make(2, 3)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_pow_with_zero_base_has_finite_gradients():
    x = distgrad.tensor([0.0, 1.0, 2.0], dtype=F64, requires_grad=True)
    (x ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 2.0, 4.0])
    e = distgrad.tensor([0.0, 1.0, 2.0], dtype=F64, requires_grad=True)
    base = distgrad.zeros(3, dtype=F64, requires_grad=True)
    (base ** e).sum().backward()
    assert np.isfinite(e.grad.numpy()).all()


def test_maximum_ties_split_the_gradient():
    a = distgrad.tensor([1.0, 2.0], requires_grad=True)
    b = distgrad.tensor([1.0, 3.0], requires_grad=True)
    distgrad.maximum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 0.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.5, 1.0])


def test_values_match_numpy():
    a, b = np.array([[1.5, -2.0, 3.0]]), np.array([[2.0], [-0.5]])
    ta, tb = distgrad.tensor(a), distgrad.tensor(b)
    np.testing.assert_allclose((ta + tb).numpy(), a + b)
    np.testing.assert_allclose((ta - tb).numpy(), a - b)
    np.testing.assert_allclose((ta * tb).numpy(), a * b)
    np.testing.assert_allclose((ta / tb).numpy(), a / b)
    np.testing.assert_allclose((ta // tb).numpy(), np.floor_divide(a, b))
    np.testing.assert_allclose((ta % tb).numpy(), np.remainder(a, b))
    np.testing.assert_allclose(distgrad.maximum(ta, tb).numpy(), np.maximum(a, b))
    np.testing.assert_allclose(distgrad.div(ta, tb, rounding_mode="trunc").numpy(), np.trunc(a / b))
    np.testing.assert_allclose(distgrad.div(ta, tb, rounding_mode="floor").numpy(), np.floor(a / b))


def test_integer_division_modes_keep_integers():
    a, b = distgrad.tensor([7, -7]), distgrad.tensor([2, 2])
    assert (a / b).dtype == distgrad.float32
    np.testing.assert_allclose((a / b).numpy(), [3.5, -3.5])
    assert distgrad.div(a, b, rounding_mode="trunc").tolist() == [3, -3]
    assert distgrad.div(a, b, rounding_mode="floor").tolist() == [3, -4]
    assert (a // b).dtype == distgrad.int64 and (a % b).tolist() == [1, 1]
    with pytest.raises(ValueError, match="rounding_mode"):
        distgrad.div(a, b, rounding_mode="up")


# (left operand, right operand, expected dtype) -- PyTorch's promotion table
PROMOTION = [
    (lambda: distgrad.tensor([1, 2]), lambda: 2.5, distgrad.float32),
    (lambda: distgrad.tensor([1, 2], dtype=distgrad.int32), lambda: 2, distgrad.int32),
    (lambda: distgrad.ones(2), lambda: distgrad.ones(2, dtype=F64), F64),
    (lambda: distgrad.ones(2), lambda: distgrad.tensor(1.0, dtype=F64), distgrad.float32),
    (lambda: distgrad.tensor([1], dtype=distgrad.int32), lambda: distgrad.tensor(5), distgrad.int32),
    (lambda: distgrad.tensor([1], dtype=distgrad.int32), lambda: distgrad.tensor(2.5, dtype=F64), F64),
    (lambda: distgrad.tensor([True]), lambda: distgrad.tensor([1], dtype=distgrad.int8), distgrad.int8),
    (lambda: distgrad.tensor([True]), lambda: 1, distgrad.int64),
    (lambda: distgrad.tensor([True]), lambda: True, distgrad.bool),
    (lambda: distgrad.tensor([True]), lambda: 1.5, distgrad.float32),
    (lambda: distgrad.tensor([1], dtype=distgrad.uint8), lambda: distgrad.tensor([1], dtype=distgrad.int8), distgrad.int16),
    (lambda: distgrad.tensor([1.0], dtype=distgrad.float16), lambda: distgrad.tensor([2]), distgrad.float16),
    (lambda: distgrad.ones(2, dtype=distgrad.float16), lambda: 1e3, distgrad.float16),
    (lambda: distgrad.tensor(1, dtype=distgrad.int32), lambda: distgrad.tensor(1), distgrad.int64),
]


@pytest.mark.parametrize("i", range(len(PROMOTION)))
def test_type_promotion(i):
    a, b, expected = PROMOTION[i]
    a, b = a(), b()
    assert (a + b).dtype == expected
    assert (b + a).dtype == expected
    assert (a * b).dtype == expected


def test_int_true_division_gives_default_float_dtype():
    a = distgrad.tensor([1, 2])
    assert (a / 2).dtype == distgrad.float32
    assert (a / distgrad.tensor([2, 2])).dtype == distgrad.float32
    assert (1 / a).dtype == distgrad.float32
    distgrad.set_default_dtype(F64)
    try:
        assert (a / 2).dtype == F64
        assert (a * 0.5).dtype == F64
    finally:
        distgrad.set_default_dtype(distgrad.float32)


def test_result_type_and_promote_types():
    assert distgrad.result_type(distgrad.ones(2, dtype=distgrad.int32), 2.0) == distgrad.float32
    assert distgrad.promote_types(distgrad.int32, distgrad.float16) == distgrad.float16
    assert distgrad.promote_types(distgrad.uint8, distgrad.int8) == distgrad.int16


def test_gradient_arrives_in_the_input_dtype():
    a = distgrad.ones(3, requires_grad=True)
    b = distgrad.ones(3, dtype=F64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == distgrad.float32 and b.grad.dtype == F64


def test_comparisons_and_logic():
    a, b = distgrad.tensor([1.0, 2.0, 3.0]), distgrad.tensor([3, 2, 1])
    assert (a < b).tolist() == [True, False, False]
    assert (a <= b).tolist() == [True, True, False]
    assert (a == b).tolist() == [False, True, False]
    assert (a != b).tolist() == [True, False, True]
    assert (a > 2).tolist() == [False, False, True] and (a >= 2).dtype == distgrad.bool
    assert distgrad.eq(a, 2.0).tolist() == [False, True, False]
    m, n = a > 1, b > 1
    assert (m & n).tolist() == [False, True, False]
    assert (m | n).tolist() == [True, True, True]
    assert (m ^ n).tolist() == [True, False, True]
    assert (~m).tolist() == [True, False, False]
    assert distgrad.logical_and(a, b).tolist() == [True, True, True]
    assert distgrad.logical_not(a - 1).tolist() == [True, False, False]
    assert distgrad.equal(a, a.clone()) and not distgrad.equal(a, a[:2])
    assert distgrad.allclose(a, a + 1e-9) and not distgrad.allclose(a, a + 1)
    assert distgrad.isclose(a, distgrad.tensor([1.0, 2.1, 3.0])).tolist() == [True, False, True]
    x = distgrad.ones(2, requires_grad=True)
    assert not (x > 0).requires_grad


def test_bitwise_on_floats_is_an_error():
    with pytest.raises(RuntimeError, match="bitwise_and"):
        distgrad.ones(2) & distgrad.ones(2)
    with pytest.raises(RuntimeError, match="bitwise_not"):
        ~distgrad.ones(2)


@pytest.mark.parametrize("fn", [distgrad.add, distgrad.mul, distgrad.sub, distgrad.div, distgrad.maximum])
def test_broadcast_mismatch_is_runtime_error(fn):
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of tensor b \(4\)"):
        fn(distgrad.ones(3), distgrad.ones(4))
    with pytest.raises(RuntimeError, match="non-singleton dimension 1"):
        fn(distgrad.ones(2, 3), distgrad.ones(2, 4))


def test_where_values_and_promotion():
    c = distgrad.tensor([True, False, True])
    out = distgrad.where(c, distgrad.tensor([1, 2, 3]), 0.5)
    assert out.dtype == distgrad.float32 and out.tolist() == [1.0, 0.5, 3.0]
    with pytest.raises(TypeError, match="condition"):
        distgrad.where([True], distgrad.ones(1), distgrad.ones(1))
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of tensor b \(4\)"):
        distgrad.where(distgrad.ones(3) > 0, distgrad.ones(4), 0.0)
    with pytest.raises(RuntimeError, match="non-singleton dimension 1"):
        distgrad.where(distgrad.ones(3) > 0, distgrad.ones(3), distgrad.ones(2, 2))
    with pytest.raises(RuntimeError, match="must match the size"):
        distgrad.ones(3) == distgrad.ones(4)


def test_floor_divide_and_comparisons_carry_no_gradient():
    x = distgrad.ones(2, requires_grad=True)
    assert not (x // 2).requires_grad
