"""distgrad.load on hand-crafted malicious or damaged files: every one gets a clear
ValueError (or the file is read as plain numbers), and nothing in a file is ever executed."""
import io
import json
import os
import pickle

import numpy as np
import pytest

import distgrad


def build(header, data=b"", pad=True):
    """A file from a header object (dumped as JSON unless already bytes) and raw data bytes."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw + data


def load_bytes(raw, **kw):
    return distgrad.load(io.BytesIO(raw), **kw)


def good_entry(shape=(2,), begin=0, dtype="F32"):
    n = int(np.prod(shape)) * {"F32": 4, "F64": 8, "U8": 1, "BOOL": 1}[dtype]
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, begin + n]}


def test_a_valid_hand_written_file_loads():
    raw = build({"a": good_entry((2,)), "b": good_entry((1,), 8, "F64")},
                np.array([1.5, 2.5], "<f4").tobytes() + np.array([3.0], "<f8").tobytes())
    out = load_bytes(raw)
    assert out["a"].tolist() == [1.5, 2.5] and out["b"].dtype == distgrad.float64


@pytest.mark.parametrize("raw, words", [
    (b"", "too short"),
    (b"\x05\x00\x00", "too short"),
    ((2 ** 62).to_bytes(8, "little") + b"{}", "bad header length"),
    ((2 ** 64 - 1).to_bytes(8, "little") + b"{}", "bad header length"),
    ((1000).to_bytes(8, "little") + b'{"a":1}', "bad header length 1000"),
    ((0).to_bytes(8, "little"), "bad header length 0"),
])
def test_bad_header_lengths(raw, words):
    with pytest.raises(ValueError, match=words):
        load_bytes(raw)


@pytest.mark.parametrize("header, words", [
    (b"not json at all!", "header not JSON"),
    (b"[1, 2, 3]       ", "header not JSON"),
    (b'{"a": ', "header not JSON"),
    (b'{"a": 1} trailing', "header not JSON"),
    (b"\xff\xfe{}    ", "not UTF-8"),
    (b'{"a": 1, "a": 2}', "twice"),
    (b'{"a":' * 100000 + b"1" + b"}" * 100000, "nested too deeply"),
    (b'{"x": {"dtype": "F32", "shape": [' + b"9" * 5000 + b'], "data_offsets": [0, 0]}}', "header not JSON"),
])
def test_headers_that_are_not_a_json_object(header, words):
    with pytest.raises(ValueError, match=words):
        load_bytes(build(header))


@pytest.mark.parametrize("entry, words", [
    ("just a string", "must be an object"),
    ({"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}, "unknown dtype 'Q7'"),
    ({"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}, "BF16, which distgrad does not support"),
    ({"dtype": None, "shape": [1], "data_offsets": [0, 4]}, "unknown dtype"),
    ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}, "invalid shape"),
    ({"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}, "invalid shape"),
    ({"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}, "invalid shape"),
    ({"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}, "invalid shape"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}, "invalid data_offsets"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}, "invalid data_offsets"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [0]}, "invalid data_offsets"),
    ({"dtype": "F32", "shape": [2], "data_offsets": None}, "invalid data_offsets"),
    ({"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}, "needs 12 bytes"),
    ({"dtype": "F32", "shape": [2 ** 40, 2 ** 40], "data_offsets": [0, 8]}, "needs"),
])
def test_malformed_tensor_entries(entry, words):
    with pytest.raises(ValueError, match=words):
        load_bytes(build({"x": entry}, b"\x00" * 8))


def test_offsets_past_the_end_overlapping_gaps_and_leftovers():
    data = b"\x00" * 8
    with pytest.raises(ValueError, match="out of bounds"):
        load_bytes(build({"x": good_entry((2,), 4)}, data))
    with pytest.raises(ValueError, match="out of bounds"):
        load_bytes(build({"x": good_entry((2 ** 20,))}, data))
    with pytest.raises(ValueError, match="overlap"):
        load_bytes(build({"x": good_entry((2,), 0), "y": good_entry((1,), 4)}, data + b"\x00" * 4))
    with pytest.raises(ValueError, match="gap"):
        load_bytes(build({"x": good_entry((1,), 4)}, data))
    with pytest.raises(ValueError, match="cover only 4"):
        load_bytes(build({"x": good_entry((1,), 0)}, data))
    empty = {"dtype": "F32", "shape": [0, 3], "data_offsets": [8, 8]}
    assert load_bytes(build({"x": good_entry((2,)), "e": empty}, data))["e"].shape == (0, 3)


def test_truncated_file():
    raw = build({"x": good_entry((4,))}, b"\x00" * 16)
    for cut in (len(raw) - 1, len(raw) - 16, 12):
        with pytest.raises(ValueError):
            load_bytes(raw[:cut])


def test_bad_metadata():
    with pytest.raises(ValueError, match="strings to strings"):
        load_bytes(build({"__metadata__": {"a": 1}}))
    with pytest.raises(ValueError, match="strings to strings"):
        load_bytes(build({"__metadata__": ["a"]}))
    assert load_bytes(build({"__metadata__": {"format": "pt"}})) == {}


def test_bool_bytes_other_than_zero_and_one():
    with pytest.raises(ValueError, match="BOOL"):
        load_bytes(build({"m": good_entry((2,), 0, "BOOL")}, b"\x01\x02"))
    assert load_bytes(build({"m": good_entry((2,), 0, "BOOL")}, b"\x01\x00"))["m"].tolist() == [True, False]


def structure_file(root, tensors=None):
    header = {"__metadata__": {"distgrad.structure": json.dumps({"version": 1, "root": root})}}
    data = b""
    for name, arr in (tensors or {}).items():
        arr = np.asarray(arr, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [len(data), len(data) + arr.nbytes]}
        data += arr.tobytes()
    return build(header, data)


@pytest.mark.parametrize("root, words", [
    (["exec", "print(1)"], "unknown structure tag 'exec'"),
    (["__reduce__", ["os.system", "echo"]], "unknown structure tag"),
    ("string root", "tagged node"),
    ([], "tagged node"),
    ([3, 4], "tagged node"),
    (["int", "3"], "holds a str"),
    (["bool", 1], "holds a int"),
    (["float", 1.5], "float stored as a float"),
    (["float", "one"], "invalid float"),
    (["none", 1], "takes 0 argument"),
    (["dict", [[["str", "a"], ["none"], ["none"]]]], "pairs"),
    (["dict", ["str"]], "pairs"),
    (["dict", [[["list", []], ["none"]]]], "unhashable"),
    (["list", "abc"], "needs a list"),
    (["tensor", "missing", "cpu", False], "not in the file"),
    (["tensor", "w", "tpu:0", False], "invalid device"),
    (["tensor", "w", "cpu", "yes"], "bad tensor reference"),
    (["dtype", "complex128"], "unknown dtype"),
    (["size", [["str", "a"]]], "Size holds only ints"),
])
def test_corrupt_structures(root, words):
    with pytest.raises(ValueError, match=words):
        load_bytes(structure_file(root, {"w": np.ones(2)}))


def test_structure_document_itself_is_checked():
    for doc, words in [("{not json", "not JSON"), (json.dumps({"version": 99, "root": ["none"]}), "version"),
                       (json.dumps([1]), "version")]:
        raw = build({"__metadata__": {"distgrad.structure": doc}})
        with pytest.raises(ValueError, match=words):
            load_bytes(raw)
    for depth in (300, 100000):  # past distgrad's own limit, and past what json itself can parse
        deep = '{"version": 1, "root": ' + '["list", [' * depth + '["none"]' + "]]" * depth + "}"
        with pytest.raises(ValueError, match="nested"):
            load_bytes(build({"__metadata__": {"distgrad.structure": deep}}))


def test_requires_grad_on_an_integer_tensor_is_corrupt():
    header = {"__metadata__": {"distgrad.structure": json.dumps(
        {"version": 1, "root": ["tensor", "i", "cpu", True]})}, "i": good_entry((1,), 0, "U8")}
    with pytest.raises(ValueError, match="requires_grad"):
        load_bytes(build(header, b"\x01"))


class _Payload:
    """Unpickling this would create the marker file: the test checks it never appears."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def test_pickle_payloads_are_never_executed(tmp_path):
    marker = tmp_path / "pwned.txt"
    payload = pickle.dumps(_Payload(str(marker)))
    path = tmp_path / "evil.pt"
    path.write_bytes(payload)
    # a bare pickle reads as PyTorch's legacy format, whose header pickles are plain data either way
    with pytest.raises(pickle.UnpicklingError, match="builtins.exec.*blocked"):
        distgrad.load(path)
    with pytest.raises(pickle.UnpicklingError, match="builtins.exec.*blocked"):
        distgrad.load(path, weights_only=False)
    # pickle bytes hidden in the metadata or the tensor data are only ever strings and numbers
    header = {"__metadata__": {"evil": payload.decode("latin1")}, "x": good_entry((len(payload),), 0, "U8")}
    out = load_bytes(build(header, payload))
    assert bytes(out["x"].numpy()) == payload
    zipped = io.BytesIO()
    import zipfile
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", payload)
    with pytest.raises(pickle.UnpicklingError, match="builtins.exec.*blocked"):
        load_bytes(zipped.getvalue())
    assert not marker.exists()
    assert not os.path.exists("pwned.txt")


def test_crafted_files_from_a_pipe_like_stream():
    class Stream(io.RawIOBase):
        """A non-seekable stream (like a socket), so the loader cannot know the size up front."""

        def __init__(self, raw):
            self.src = io.BytesIO(raw)

        def readable(self):
            return True

        def readinto(self, b):
            return self.src.readinto(b)

    good = build({"a": good_entry((2,))}, np.array([1, 2], "<f4").tobytes())
    assert load_bytes(good)["a"].tolist() == [1.0, 2.0]
    assert distgrad.load(io.BufferedReader(Stream(good)))["a"].tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="out of bounds"):
        distgrad.load(io.BufferedReader(Stream(good[:-4])))
    with pytest.raises(ValueError, match="truncated"):
        distgrad.load(io.BufferedReader(Stream((2 ** 20).to_bytes(8, "little") + b"{}")))
