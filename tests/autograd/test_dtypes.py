"""dtypes: the dtype objects and their aliases, the float32 default, dtype inference
from Python and NumPy data, and PyTorch's type promotion."""
import itertools

import numpy as np
import pytest

import distgrad

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def test_dtype_objects_and_aliases():
    assert repr(distgrad.float32) == "distgrad.float32"
    assert str(distgrad.int64) == "distgrad.int64"
    assert distgrad.float is distgrad.float32
    assert distgrad.double is distgrad.float64
    assert distgrad.half is distgrad.float16
    assert distgrad.long is distgrad.int64
    assert distgrad.int is distgrad.int32
    assert distgrad.short is distgrad.int16
    assert isinstance(distgrad.bool, distgrad.dtype)


@pytest.mark.parametrize("name", NAMES)
def test_dtype_properties_match_torch(name):
    torch = pytest.importorskip("torch")
    d, t = getattr(distgrad, name), getattr(torch, name)
    assert d.is_floating_point == t.is_floating_point
    assert d.is_signed == t.is_signed
    assert d.itemsize == t.itemsize
    assert not d.is_complex


def test_dtypes_are_picklable_singletons():
    import pickle
    assert pickle.loads(pickle.dumps(distgrad.float16)) is distgrad.float16


@pytest.mark.parametrize("name", NAMES)
def test_every_dtype_makes_tensors(name):
    d = getattr(distgrad, name)
    t = distgrad.zeros(2, dtype=d)
    assert t.dtype is d
    assert t.numpy().dtype == d.np


def test_float32_is_the_default():
    assert distgrad.get_default_dtype() is distgrad.float32
    assert distgrad.tensor([1.5]).dtype is distgrad.float32
    assert distgrad.zeros(1).dtype is distgrad.float32
    assert distgrad.rand(1).dtype is distgrad.float32


def test_set_default_dtype():
    try:
        distgrad.set_default_dtype(distgrad.float64)
        assert distgrad.tensor([1.5]).dtype is distgrad.float64
        assert distgrad.ones(2).dtype is distgrad.float64
        assert distgrad.tensor([1]).dtype is distgrad.int64  # ints are unaffected
        assert (distgrad.tensor([1]) * 0.5).dtype is distgrad.float64
    finally:
        distgrad.set_default_dtype(distgrad.float32)
    with pytest.raises(TypeError, match="floating-point"):
        distgrad.set_default_dtype(distgrad.int64)
    assert distgrad.get_default_dtype() is distgrad.float32


@pytest.mark.parametrize("data,expected", [
    ([1.0, 2.0], "float32"),
    (2.5, "float32"),
    ([1, 2], "int64"),
    (3, "int64"),
    ([True, False], "bool"),
    ([True, 2], "int64"),
    ([1, 2.5], "float32"),
    ([True, 2.5], "float32"),
    ([[1], [2.0]], "float32"),
    ([], "float32"),
])
def test_inference_from_python_data(data, expected):
    assert distgrad.tensor(data).dtype is getattr(distgrad, expected)


@pytest.mark.parametrize("np_dtype", [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
                                      np.int64, np.uint8, np.bool_])
def test_numpy_arrays_keep_their_dtype(np_dtype):
    a = np.zeros(3, dtype=np_dtype)
    for fn in (distgrad.tensor, distgrad.as_tensor, distgrad.from_numpy):
        assert fn(a).dtype.np == np.dtype(np_dtype)


def test_numpy_scalars_and_tensors_inside_lists_count_with_their_dtype():
    torch = pytest.importorskip("torch")
    cases = ["[np.float64(2.5), 1.0]", "[np.float32(1.0)]", "[np.int32(1)]", "[np.int32(1), 2]",
             "[np.float16(1.0), np.float64(2.0)]", "[1, np.float32(2.0)]", "np.float64(2.5)",
             "[T.tensor(1.0, dtype=T.float64), 2.0]", "[T.tensor(1, dtype=T.int32), 2]",
             "[np.bool_(True)]", "[[1, 2], np.array([1.0, 2.0])]"]
    import warnings
    for c in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = torch.tensor(eval(c, {"np": np, "T": torch})).dtype
        got = distgrad.tensor(eval(c, {"np": np, "T": distgrad})).dtype
        assert repr(got).split(".")[1] == repr(expected).split(".")[1], c


def test_unsupported_numpy_dtype():
    with pytest.raises(TypeError):
        distgrad.from_numpy(np.zeros(2, dtype=np.complex64))


def test_dtype_argument_forms():
    assert distgrad.zeros(1, dtype=distgrad.float64).dtype is distgrad.float64
    assert distgrad.ones(1, dtype=float).dtype is distgrad.float64  # Python float means double
    assert distgrad.ones(1, dtype=int).dtype is distgrad.int64
    assert distgrad.ones(1, dtype=bool).dtype is distgrad.bool
    with pytest.raises(TypeError):
        distgrad.ones(1, dtype="complex128")


@pytest.mark.parametrize("a,b", list(itertools.combinations_with_replacement(NAMES, 2)))
def test_promote_types_matches_torch(a, b):
    torch = pytest.importorskip("torch")
    got = distgrad.promote_types(getattr(distgrad, a), getattr(distgrad, b))
    assert got.name == str(torch.promote_types(getattr(torch, a), getattr(torch, b))).split(".")[1]


def _operand(mod, kind, name):
    if kind == "dim":
        return mod.ones(2, dtype=getattr(mod, name))
    if kind == "zero":
        return mod.ones((), dtype=getattr(mod, name))
    return {"bool": True, "int64": 2, "float32": 2.5}[name]


OPERANDS = ([("dim", n) for n in NAMES] + [("zero", n) for n in ("bool", "int32", "int64", "float16", "float64")]
            + [("scalar", n) for n in ("bool", "int64", "float32")])


PAIRS = [(x, y) for x in OPERANDS for y in OPERANDS if "dim" in (x[0], y[0]) or "zero" in (x[0], y[0])]


@pytest.mark.parametrize("x,y", PAIRS, ids=[f"{x[0]}-{x[1]}-{y[0]}-{y[1]}" for x, y in PAIRS])
def test_result_type_matches_torch(x, y):
    torch = pytest.importorskip("torch")
    expected = torch.result_type(_operand(torch, *x), _operand(torch, *y))
    got = distgrad.result_type(_operand(distgrad, *x), _operand(distgrad, *y))
    assert got.name == str(expected).split(".")[1]


def test_binary_ops_follow_promotion():
    f32 = distgrad.ones(2)
    assert (f32 * 2.5).dtype is distgrad.float32
    assert (f32 * distgrad.ones((), dtype=distgrad.float64)).dtype is distgrad.float32
    assert (distgrad.ones(2, dtype=distgrad.int32) * 2.5).dtype is distgrad.float32
    assert (distgrad.ones(2, dtype=distgrad.int32) + 2).dtype is distgrad.int32
    assert (distgrad.ones(2, dtype=distgrad.int32) + distgrad.ones(2, dtype=distgrad.int64)).dtype \
        is distgrad.int64
    assert (f32 + distgrad.ones(2, dtype=distgrad.float64)).dtype is distgrad.float64
    assert (distgrad.tensor([True]) + distgrad.tensor([True])).dtype is distgrad.bool
    assert (distgrad.tensor([1, 2]) / 2).dtype is distgrad.float32  # true division of ints
