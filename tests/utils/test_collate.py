"""default_collate / default_convert / collate: each element type, checked against PyTorch's rules."""
import collections

import numpy as np
import pytest

import distgrad
from distgrad.utils.data import default_collate, default_convert
from distgrad.utils.data.collate import collate, default_collate_fn_map

Point = collections.namedtuple("Point", ["x", "y"])


def test_tensors_are_stacked_on_a_new_first_dim():
    a, b = distgrad.randn(2, 3), distgrad.randn(2, 3)
    out = default_collate([a, b])
    assert out.shape == (2, 2, 3) and np.array_equal(out.numpy(), np.stack([a.numpy(), b.numpy()]))
    assert default_collate([distgrad.tensor(1), distgrad.tensor(2)]).tolist() == [1, 2]
    assert default_collate([distgrad.ones(2, dtype=distgrad.int8)]).dtype == distgrad.int8
    with pytest.raises(RuntimeError):
        default_collate([distgrad.zeros(2), distgrad.zeros(3)])


def test_stacking_keeps_the_graph():
    w = distgrad.ones(3, requires_grad=True)
    out = default_collate([w * 2, w * 3])
    out.sum().backward()
    assert w.grad.tolist() == [5.0, 5.0, 5.0]


def test_python_numbers_get_pytorch_dtypes():
    f = default_collate([1.0, 2.5])
    assert f.dtype == distgrad.float64 and f.tolist() == [1.0, 2.5]
    i = default_collate([1, 2])
    assert i.dtype == distgrad.int64 and i.tolist() == [1, 2]
    b = default_collate([True, False])
    assert b.dtype == distgrad.bool and b.tolist() == [True, False]
    distgrad.set_default_dtype(distgrad.float16)
    try:
        assert default_collate([1.0]).dtype == distgrad.float64  # not the default dtype
    finally:
        distgrad.set_default_dtype(distgrad.float32)


def test_numpy_arrays_and_scalars():
    arrs = [np.arange(3, dtype=np.int32), np.arange(3, 6, dtype=np.int32)]
    out = default_collate(arrs)
    assert out.dtype == distgrad.int32 and out.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert default_collate([np.float32(1.5), np.float32(2)]).dtype == distgrad.float32
    assert default_collate([np.float64(1.5)]).dtype == distgrad.float64
    assert default_collate([np.int16(3), np.int16(4)]).dtype == distgrad.int16
    assert default_collate([np.bool_(True)]).dtype == distgrad.bool
    zero_d = default_collate([np.array(1.0), np.array(2.0)])
    assert zero_d.shape == (2,) and zero_d.dtype == distgrad.float64
    with pytest.raises(TypeError, match="found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(TypeError, match="found object"):
        default_collate([np.array([{}], dtype=object)])


def test_strings_and_bytes_stay_lists():
    assert default_collate(["a", "b"]) == ["a", "b"]
    assert default_collate([b"x", b"y"]) == [b"x", b"y"]
    assert default_collate([np.str_("u"), np.str_("v")]) == ["u", "v"]


def test_mappings_are_collated_per_key_and_keep_their_type():
    batch = [{"x": distgrad.zeros(2), "y": 1, "name": "a"}, {"x": distgrad.ones(2), "y": 2, "name": "b"}]
    out = default_collate(batch)
    assert set(out) == {"x", "y", "name"} and out["x"].shape == (2, 2)
    assert out["y"].tolist() == [1, 2] and out["name"] == ["a", "b"]
    od = default_collate([collections.OrderedDict(b=1.0, a=2), collections.OrderedDict(b=3.0, a=4)])
    assert type(od) is collections.OrderedDict and list(od) == ["b", "a"]
    dd = default_collate([collections.defaultdict(int, k=1)])
    assert type(dd) is collections.defaultdict and dd["k"].tolist() == [1]


def test_namedtuples_tuples_and_lists():
    out = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert type(out) is Point and out.x.tolist() == [1, 3] and out.y.dtype == distgrad.float64
    t = default_collate([(1, "a"), (2, "b")])
    assert type(t) is list and t[0].tolist() == [1, 2] and t[1] == ["a", "b"]  # tuples become lists
    lst = default_collate([[1, 2], [3, 4]])
    assert type(lst) is list and [v.tolist() for v in lst] == [[1, 3], [2, 4]]
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])


def test_nested_structures():
    batch = [{"inp": (distgrad.ones(2), [1.0, 2.0]), "meta": {"id": 7}},
             {"inp": (distgrad.zeros(2), [3.0, 4.0]), "meta": {"id": 8}}]
    out = default_collate(batch)
    assert out["inp"][0].shape == (2, 2)
    assert [v.tolist() for v in out["inp"][1]] == [[1.0, 3.0], [2.0, 4.0]]
    assert out["meta"]["id"].tolist() == [7, 8]


def test_unsupported_elements():
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays, numbers, "
                                        "dicts or lists; found <class 'object'>"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="NoneType"):
        default_collate([None])


def test_matches_pytorch_on_a_mixed_batch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate
    rows = [{"a": np.arange(3, dtype=np.float32) + i, "b": i, "c": 0.5 * i, "d": (i, [float(i)]), "e": f"s{i}"}
            for i in range(4)]
    ours, theirs = default_collate(rows), torch_collate(rows)

    def compare(x, y):
        if isinstance(y, torch.Tensor):
            assert isinstance(x, distgrad.Tensor) and str(x.dtype).split(".")[1] == str(y.dtype).split(".")[1]
            assert np.array_equal(x.numpy(), y.numpy())
        elif isinstance(y, dict):
            assert type(x) is type(y) and list(x) == list(y)
            for k in y:
                compare(x[k], y[k])
        elif isinstance(y, list):
            assert type(x) is list and len(x) == len(y)
            for a, b in zip(x, y):
                compare(a, b)
        else:
            assert x == y

    compare(ours, theirs)


def test_collate_with_a_custom_map():
    def tensor_sum(batch, *, collate_fn_map):
        return sum(t.sum().item() for t in batch)

    custom = {**default_collate_fn_map, distgrad.Tensor: tensor_sum}
    out = collate([(distgrad.ones(2), 1), (distgrad.ones(3), 2)], collate_fn_map=custom)
    assert out[0] == 5.0 and out[1].tolist() == [1, 2]
    assert collate([3, 4], collate_fn_map={int: lambda b, collate_fn_map: max(b)}) == 4


def test_default_convert_only_converts_numpy():
    assert default_convert(3) == 3 and default_convert("s") == "s"
    t = distgrad.ones(2)
    assert default_convert(t) is t
    arr = default_convert(np.arange(3, dtype=np.int16))
    assert isinstance(arr, distgrad.Tensor) and arr.dtype == distgrad.int16
    scalar = default_convert(np.float32(2.0))
    assert scalar.shape == () and scalar.dtype == distgrad.float32
    strs = np.array(["a"])
    assert default_convert(strs) is strs
    out = default_convert({"a": np.zeros(2), "b": (np.ones(1), 5), "p": Point(np.zeros(1), "y"), "l": [np.ones(1)]})
    assert isinstance(out["a"], distgrad.Tensor) and type(out["b"]) is list and out["b"][1] == 5
    assert type(out["p"]) is Point and isinstance(out["p"].x, distgrad.Tensor) and out["p"].y == "y"
    assert isinstance(out["l"][0], distgrad.Tensor)
