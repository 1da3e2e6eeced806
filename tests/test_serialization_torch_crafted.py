"""Crafted and damaged PyTorch-format files are refused with an error naming what is wrong, and run nothing.

The files are built here without PyTorch: distgrad's own zip writer, a pickler whose
storage references and tensor rebuild calls say whatever a test wants, and a hand-written
zip directory for overlapping records.  The fuzz tests mutate a real pickle stream and
a real archive: every outcome is a loaded object or a clean error.
"""
import collections
import io
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np
import pytest

import distgrad
from distgrad import serialization, torch_format
from distgrad import torch_storage as ts
from distgrad.weights_unpickler import WeightsUnpickler

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

CLEAN = (pickle.UnpicklingError, RuntimeError)


class _System:
    """Unpickling this would run a shell command that creates the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Storage:
    def __init__(self, key, numel, storage_type=ts.FloatStorage):
        self.key, self.numel, self.storage_type = key, numel, storage_type


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())


class _Crafter(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, _Tensor):
            return ts._rebuild_tensor_v2, obj.args
        return NotImplemented


def crafted_pickle(obj):
    buf = io.BytesIO()
    _Crafter(buf, protocol=2).dump(obj)
    return buf.getvalue()


def archive(records, compress=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for name, body in records.items():
            z.writestr(name, body)
    return buf.getvalue()


def load(data, **kw):
    return distgrad.load(io.BytesIO(data), **kw)


def test_a_reduce_calling_os_system_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    torch_format.write_zip({"w": distgrad.ones(2), "evil": _System(marker)}, buf)
    with pytest.raises(pickle.UnpicklingError, match=r"posix\.system.*blocked"):
        load(buf.getvalue())
    serialization.add_safe_globals([os.system])
    try:
        with pytest.raises(pickle.UnpicklingError, match="blocked even when allowed"):
            load(buf.getvalue())
    finally:
        serialization.clear_safe_globals()
    assert not marker.exists()


@pytest.mark.parametrize("name", ["builtins.getattr", "collections.namedtuple", "numpy.core.multiarray._reconstruct",
                                  "__main__.Net", "torch.nn.modules.linear.Linear", "importlib.import_module"])
def test_globals_outside_the_allowlist_are_named(name):
    module, _, attr = name.rpartition(".")
    stream = b"\x80\x02c" + module.encode() + b"\n" + attr.encode() + b"\n)R."
    with pytest.raises(pickle.UnpicklingError, match=f"{name} is not allowed by default.*add_safe_globals"):
        load(archive({"a/data.pkl": stream}))


@pytest.mark.parametrize("name", ["subprocess.Popen", "sys.modules", "os.system", "builtins.eval", "builtins.exec"])
def test_blocked_globals_are_refused(name):
    module, _, attr = name.rpartition(".")
    stream = b"\x80\x02c" + module.encode() + b"\n" + attr.encode() + b"\n."
    with pytest.raises(pickle.UnpicklingError, match="blocked"):
        load(archive({"a/data.pkl": stream}))


def test_reduce_build_and_fill_are_limited_to_allowed_objects():
    d = {"a": 1}
    stream = pickle.dumps(d, protocol=2)
    assert load(archive({"a/data.pkl": stream})) == d
    # calling a non-global (the dict built above), filling a non-container, building a plain object
    for bad, words in [(b"\x80\x02}q\x00)R.", "REDUCE may only call allowed globals"),
                       (b"\x80\x02}K\x01a.", "APPEND may only fill a list"),
                       (b"\x80\x02K\x01}b.", "BUILD may only set the state of instances of allowed classes"),
                       (b"\x80\x02ccollections\nCounter\nK\x01\x81.", "NEWOBJ arguments must be a tuple"),
                       (b"\x80\x02K\x05)R.", "REDUCE may only call allowed globals")]:
        with pytest.raises(pickle.UnpicklingError, match=words):
            load(archive({"a/data.pkl": bad}))


def test_codecs_encode_only_encodes_text():
    stream = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x03\x00\x00\x00hex\x86R."
    with pytest.raises(pickle.UnpicklingError, match="only str with one of"):
        load(archive({"a/data.pkl": stream}))


@pytest.mark.parametrize("cut", [0.05, 0.3, 0.6, 0.9, 0.99])
def test_a_truncated_archive_is_refused(cut):
    buf = io.BytesIO()
    torch_format.write_zip({"w": distgrad.arange(100.), "s": {1}}, buf)
    data = buf.getvalue()
    with pytest.raises(CLEAN, match="zip archive|damaged|truncated|no STOP"):
        load(data[:int(len(data) * cut)])


def test_a_compressed_record_is_refused_as_a_zip_bomb_before_inflating():
    storage = _Storage("0", 50_000_000)
    data = archive({"a/data.pkl": crafted_pickle({"w": _Tensor(storage, 0, (50_000_000,), (1,))}),
                    "a/data/0": bytes(200_000_000)}, compress=zipfile.ZIP_DEFLATED)
    assert len(data) < 1_000_000  # 200 MB of zeros inflate from this
    with pytest.raises(RuntimeError, match="'a/data.pkl' is compressed.*zip bomb"):
        load(data)


def _overlapping_zip(body, names):
    """A zip whose central directory lists every name at the one local record (records overlap)."""
    crc = zlib.crc32(body)
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(body), len(body), len(names[0]), 0)
    out = local + names[0].encode() + body
    central = b""
    for name in names:
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, len(body), len(body),
                               len(name), 0, 0, 0, 0, 0, 0) + name.encode()
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(names), len(names), len(central), len(out), 0)
    return out + central + end


def test_overlapping_records_are_refused():
    body = bytes(4000)
    names = ["a/data.pkl"] + [f"a/data/{i}" for i in range(50)]
    with pytest.raises(RuntimeError, match="records overlap"):
        load(_overlapping_zip(body, names))


def test_an_oversized_storage_is_refused_before_allocating():
    storage = _Storage("0", 2 ** 50)
    stream = crafted_pickle({"w": _Tensor(storage, 0, (4,), (1,))})
    with pytest.raises(RuntimeError, match=r"'a/data/0' holds 16 bytes but its storage of 1125899906842624"):
        load(archive({"a/data.pkl": stream, "a/data/0": bytes(16)}))


def test_a_storage_shorter_than_its_tensor_is_refused():
    stream = crafted_pickle({"w": _Tensor(_Storage("0", 4), 0, (10,), (1,))})
    with pytest.raises(pickle.UnpicklingError, match="needs 10 elements, but storage '0' has only 4"):
        load(archive({"a/data.pkl": stream, "a/data/0": bytes(16)}))
    stream = crafted_pickle({"w": _Tensor(_Storage("0", 4), 2, (2, 2), (2, 1))})
    with pytest.raises(pickle.UnpicklingError, match="needs 6 elements"):
        load(archive({"a/data.pkl": stream, "a/data/0": bytes(16)}))
    stream = crafted_pickle({"w": _Tensor(_Storage("0", 4), 0, (4,), (1,))})
    with pytest.raises(RuntimeError, match="holds 8 bytes.*needs 16 .*shorter than its tensor"):
        load(archive({"a/data.pkl": stream, "a/data/0": bytes(8)}))
    with pytest.raises(RuntimeError, match="no record 'a/data/0'"):
        load(archive({"a/data.pkl": stream}))
    stream = crafted_pickle({"w": _Tensor(_Storage("0", 4), 0, (2,), (-1,))})
    with pytest.raises(pickle.UnpicklingError, match="negative size or stride"):
        load(archive({"a/data.pkl": stream, "a/data/0": bytes(16)}))


def _legacy(obj, storages):
    """A legacy-format stream: the header pickles, ``obj``, the key list, then the given records."""
    out = io.BytesIO()
    for part in (torch_format.LEGACY_MAGIC, torch_format.LEGACY_PROTOCOL, {"little_endian": True}):
        pickle.dump(part, out, protocol=2)
    pickled = io.BytesIO()
    _LegacyCrafter(pickled, protocol=2).dump(obj)
    out.write(pickled.getvalue())
    pickle.dump([key for key, _, _ in storages], out, protocol=2)
    for _, numel, raw in storages:
        out.write(struct.pack("<q", numel) + raw)
    return out.getvalue()


class _LegacyCrafter(_Crafter):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel, None)
        return None


def test_legacy_files_are_checked_like_zip_files():
    good = _legacy({"w": _Tensor(_Storage("k", 2), 0, (2,), (1,))},
                   [("k", 2, np.array([1.5, 2.5], np.float32).tobytes())])
    assert load(good)["w"].tolist() == [1.5, 2.5]
    for cut in (10, len(good) // 2, len(good) - 3):
        with pytest.raises(CLEAN):
            load(good[:cut])
    huge = _legacy({"w": _Tensor(_Storage("k", 2 ** 40), 0, (2,), (1,))}, [("k", 2 ** 40, bytes(8))])
    with pytest.raises(RuntimeError, match="claim 4398046511104 bytes but only .* remain"):
        load(huge)
    lying = _legacy({"w": _Tensor(_Storage("k", 2), 0, (2,), (1,))}, [("k", 3, bytes(12))])
    with pytest.raises(RuntimeError, match="should hold 2 elements"):
        load(lying)
    unlisted = _legacy({"w": _Tensor(_Storage("k", 2), 0, (2,), (1,))}, [])
    with pytest.raises(RuntimeError, match="no record"):
        load(unlisted)


def _seed_pickle():
    buf = io.BytesIO()
    lin = distgrad.nn.Linear(3, 2)
    torch_format.write_zip({"sd": lin.state_dict(), "p": lin.weight, "meta": {"epoch": 3, "b": b"x", "s": {1}},
                            "size": distgrad.Size([2]), "dtype": distgrad.float16}, buf)
    return buf.getvalue()


SEED = _seed_pickle()
SEED_PKL = zipfile.ZipFile(io.BytesIO(SEED)).read("archive/data.pkl")


def _storage_for(pid):
    return ts.LoadedStorage(np.zeros(8, np.float32), "cpu", "0")


@hypothesis.settings(max_examples=300, deadline=None, database=None)
@hypothesis.given(st.lists(st.tuples(st.integers(0, len(SEED_PKL) - 1), st.integers(0, 255),
                                     st.sampled_from(["replace", "insert", "delete"])), min_size=1, max_size=6))
def test_fuzzed_pickle_streams_load_or_fail_cleanly(edits):
    data = bytearray(SEED_PKL)
    for pos, byte, how in edits:
        pos = min(pos, len(data) - 1)
        if how == "replace":
            data[pos] = byte
        elif how == "insert":
            data.insert(pos, byte)
        elif len(data) > 1:
            del data[pos]
    try:
        WeightsUnpickler(io.BytesIO(bytes(data)), _storage_for).load()
    except CLEAN:
        pass


@hypothesis.settings(max_examples=150, deadline=None, database=None)
@hypothesis.given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_fuzzed_archives_load_or_fail_cleanly(edits):
    data = bytearray(SEED)
    for pos, byte in edits:
        data[pos] = byte
    try:
        load(bytes(data))
    except CLEAN:
        pass
    except ValueError as e:  # a damaged magic number sends the file to the safetensors reader, which says so
        assert "safetensors" in str(e) or "header" in str(e), e
