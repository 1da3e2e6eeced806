"""``repr`` of tensors in PyTorch's exact format.

The fixed strings below are what PyTorch prints (with ``torch.`` read as
``distgrad.``); where torch is importable a wider set of tensors is compared
with its repr directly.
"""
import numpy as np
import pytest

import distgrad


def test_leaf_that_requires_grad():
    assert repr(distgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)) == \
        "tensor([1., 2., 3.], requires_grad=True)"


def test_result_shows_grad_fn():
    x = distgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert repr((x * x).sum()) == "tensor(14., grad_fn=<SumBackward0>)"
    assert repr(x * 2) == "tensor([2., 4., 6.], grad_fn=<MulBackward0>)"


def test_non_default_dtype_is_shown():
    assert repr(distgrad.tensor([1, 2], dtype=distgrad.int32)) == "tensor([1, 2], dtype=distgrad.int32)"
    assert repr(distgrad.tensor([1.5], dtype=distgrad.float64)) == "tensor([1.5000], dtype=distgrad.float64)"
    assert repr(distgrad.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(distgrad.tensor([True, False])) == "tensor([ True, False])"


def test_padding_and_modes():
    assert repr(distgrad.tensor([-1.5, 2.0])) == "tensor([-1.5000,  2.0000])"
    assert repr(distgrad.tensor([0.001, 1000.0])) == "tensor([1.0000e-03, 1.0000e+03])"
    assert repr(distgrad.tensor([1, 10, 100])) == "tensor([  1,  10, 100])"
    assert repr(distgrad.tensor(3.5)) == "tensor(3.5000)"
    assert repr(distgrad.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"


def test_empty_tensors():
    assert repr(distgrad.tensor([])) == "tensor([])"
    assert repr(distgrad.zeros(2, 0)) == "tensor([], size=(2, 0))"
    assert repr(distgrad.zeros(0, dtype=distgrad.int64)) == "tensor([], dtype=distgrad.int64)"


def test_default_dtype_change_changes_what_is_shown():
    prev = distgrad.get_default_dtype()
    try:
        distgrad.set_default_dtype(distgrad.float64)
        assert repr(distgrad.tensor([1.5])) == "tensor([1.5000])"
        assert repr(distgrad.tensor([1.5], dtype=distgrad.float32)) == "tensor([1.5000], dtype=distgrad.float32)"
    finally:
        distgrad.set_default_dtype(prev)


FLOAT_CASES = [
    "[1., 2., 3.]",
    "[[1.5, 2.25], [3., 4.]]",
    "[0.1234567, 100.5]",
    "[1e-5, 1.0]",
    "[1e10, 1.0]",
    "[123456.7, 1.0]",
    "[0.001, 1000.]",
    "[1e-10]",
    "[-1.5, 2.]",
    "[0., 0.]",
    "[-0.0, 1.0]",
    "[float('nan'), 1.0, float('inf')]",
    "[float('nan'), 1.5, -float('inf')]",
    "[float('nan')]",
    "[1e9, 2e9]",
    "[12345., 3.]",
    "[[[1.,2.],[3.,4.]],[[5.,6.],[7.,8.]]]",
    "3.25",
    "[0.5] * 30",
    "[[0.5] * 30] * 2",
]
INT_CASES = [
    "[1, 10, 100]",
    "[-7, 3]",
    "[[1, 2], [3, 4]]",
    "-2",
    "list(range(25))",
    "[[123456] * 12] * 2",
]
BOOL_CASES = ["[True, False, True]", "True", "[[True], [False]]"]


def _compare(data, dtype):
    torch = pytest.importorskip("torch")
    value = eval(data)
    kw_t = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    kw_d = {} if dtype is None else {"dtype": getattr(distgrad, dtype)}
    expected = repr(torch.tensor(value, **kw_t)).replace("torch.", "distgrad.")
    assert repr(distgrad.tensor(value, **kw_d)) == expected


@pytest.mark.filterwarnings("ignore:overflow")  # float16 turns 1e9 into inf, as torch does
@pytest.mark.parametrize("data", FLOAT_CASES)
@pytest.mark.parametrize("dtype", [None, "float64", "float16"])
def test_float_values_match_torch(data, dtype):
    _compare(data, dtype)


@pytest.mark.parametrize("data", INT_CASES)
@pytest.mark.parametrize("dtype", [None, "int32", "float32"])
def test_int_values_match_torch(data, dtype):
    _compare(data, dtype)


@pytest.mark.parametrize("data", BOOL_CASES)
def test_bool_values_match_torch(data):
    _compare(data, None)


@pytest.mark.parametrize("make", [
    "T.arange(2000.)",
    "T.arange(2000)",
    "T.arange(3000.).reshape(30, 100)",
    "T.arange(2000.).reshape(10, 10, 20) / 7",
    "T.linspace(-1, 1, 1001)",
    "T.arange(12.).reshape(3, 4) * 1e-6",
    "T.ones(2, 3, requires_grad=True) * 2",
    "(T.arange(40.).reshape(2, 20) / 3).requires_grad_()",
    "T.tensor([[1.5, 2.]], dtype=T.float64, requires_grad=True).sum(1)",
])
def test_large_and_autograd_matches_torch(make):
    torch = pytest.importorskip("torch")
    expected = repr(eval(make, {"T": torch})).replace("torch.", "distgrad.")
    assert repr(eval(make, {"T": distgrad})) == expected


def test_random_values_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for shape in [(5,), (3, 4), (2, 3, 2)]:
        for scale in [1e-6, 1e-2, 1.0, 1e3, 1e9]:
            a = (rng.standard_normal(shape) * scale).astype(np.float32)
            expected = repr(torch.from_numpy(a.copy())).replace("torch.", "distgrad.")
            assert repr(distgrad.from_numpy(a)) == expected
