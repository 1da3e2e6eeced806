"""The safetensors file format, written and read over NumPy with every field validated.

A file is: an 8-byte little-endian unsigned header length ``N``; ``N`` bytes of UTF-8
JSON, ``{name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
"__metadata__": {str: str}}``; then the raw little-endian bytes of every tensor
(offsets count from the first byte after the header).  This is the format of the
``safetensors`` package, so files move freely between distgrad, PyTorch and other
tools, and it is safe by construction: loading parses JSON and copies numbers, so
no file can make the loader run code.  A crafted or damaged file is rejected with
a ``ValueError`` that names the problem before any array is built.

Example::

    >>> import io, numpy as np
    >>> buf = io.BytesIO()
    >>> write(buf, [("w", np.ones((2, 2), np.float32))], {"note": "hi"})
    >>> _ = buf.seek(0)
    >>> arrays, meta = read(buf)
    >>> arrays["w"].shape, meta
    ((2, 2), {'note': 'hi'})
"""
import json
import os

import numpy as np

# safetensors dtype codes distgrad stores, with their little-endian NumPy layouts.
DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in DTYPES.items()}
# Codes that are valid safetensors but have no distgrad dtype: named in the error.
_FOREIGN = {"BF16", "U16", "U32", "U64", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3",
            "F6_E3M2", "C64", "C128"}

METADATA_KEY = "__metadata__"
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors package's own limit


def code_for(np_dtype):
    """The safetensors dtype code of a NumPy dtype (``float32`` -> ``"F32"``)."""
    code = _CODES.get(np.dtype(np_dtype).newbyteorder("="))
    if code is None:
        raise TypeError(f"safetensors: no dtype code for NumPy dtype {np.dtype(np_dtype)}")
    return code


def _little_endian_bytes(arr):
    """A C-contiguous little-endian version of ``arr`` (itself when it already is one)."""
    le = arr.dtype.newbyteorder("<")
    if arr.dtype != le:
        arr = arr.astype(le)
    if not arr.flags.c_contiguous:
        arr = arr.copy(order="C")
    return arr


def _write_bytes(f, arr):
    """Write one array's raw bytes (a seam the atomic-write tests use to fail midway)."""
    if arr.size:
        f.write(memoryview(arr.reshape(-1)).cast("B"))


def write(f, named_arrays, metadata=None):
    """Write ``named_arrays`` (a list of ``(name, host ndarray)``) and ``metadata`` to binary file ``f``.

    Wider dtypes come first so each array starts at a multiple of its item size when the
    file is mapped; the header is padded with spaces to a multiple of 8 bytes, as the
    safetensors package does.
    """
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("safetensors: metadata must be a dict of str to str")
    arrays = []
    seen = set()
    for name, arr in named_arrays:
        if not isinstance(name, str) or name == METADATA_KEY:
            raise ValueError(f"safetensors: invalid tensor name {name!r}")
        if name in seen:
            raise ValueError(f"safetensors: tensor name {name!r} used twice")
        seen.add(name)
        code_for(arr.dtype)
        arrays.append((name, _little_endian_bytes(arr)))
    arrays.sort(key=lambda item: -item[1].dtype.itemsize)  # stable: equal widths keep their order
    header = {}
    if metadata is not None:
        header[METADATA_KEY] = dict(metadata)
    offset = 0
    for name, arr in arrays:
        header[name] = {"dtype": code_for(arr.dtype), "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    f.write(len(raw).to_bytes(8, "little"))
    f.write(raw)
    for _, arr in arrays:
        _write_bytes(f, arr)


# --- reading ---------------------------------------------------------------------------------------

def _fail(msg):
    raise ValueError(f"safetensors: {msg}")


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            _fail(f"header has the key {k!r} twice")
        out[k] = v
    return out


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_header_length(prefix, remaining):
    """The header length from the 8-byte prefix, checked against what the file can hold."""
    if len(prefix) < 8:
        _fail(f"file too short ({len(prefix)} bytes): not a safetensors file")
    n = int.from_bytes(prefix, "little")
    hint = ""
    if prefix[:4] == b"PK\x03\x04":
        hint = " (this is a zip archive, e.g. a pickle checkpoint from torch.save; it is never unpickled)"
    elif prefix[:1] == b"\x80":
        hint = " (this looks like pickle data, which is never loaded)"
    if n > MAX_HEADER_BYTES:
        _fail(f"bad header length {n}: more than the {MAX_HEADER_BYTES}-byte limit{hint}")
    if remaining is not None and n > remaining:
        _fail(f"bad header length {n}: the file has only {remaining} bytes after the length{hint}")
    if n < 2:
        _fail(f"bad header length {n}: too short for a JSON object")
    return n


def parse_header(raw):
    """Validate header bytes; returns ``(entries, metadata)`` with entries ``(name, code, shape, begin, end)``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        _fail(f"header is not UTF-8 ({e})")
    if not text.lstrip().startswith("{"):
        _fail("header not JSON: it must be a JSON object starting with '{'")
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        _fail("header not JSON: nested too deeply")
    except ValueError as e:  # JSONDecodeError, or an int too long to parse
        if str(e).startswith("safetensors:"):
            raise
        _fail(f"header not JSON ({e})")
    metadata = header.pop(METADATA_KEY, None)
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(v, str) for v in metadata.values())):
        _fail(f"'{METADATA_KEY}' must map strings to strings")
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict):
            _fail(f"entry {name!r} must be an object with dtype, shape and data_offsets")
        code, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if code not in DTYPES:
            if code in _FOREIGN:
                _fail(f"tensor {name!r} has dtype {code}, which distgrad does not support")
            _fail(f"unknown dtype {code!r} for tensor {name!r} (known: {', '.join(DTYPES)})")
        if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
            _fail(f"tensor {name!r} has an invalid shape {shape!r}: expected a list of non-negative ints")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)
                and 0 <= offsets[0] <= offsets[1]):
            _fail(f"tensor {name!r} has invalid data_offsets {offsets!r}: expected [begin, end], 0 <= begin <= end")
        numel = 1
        for s in shape:
            numel *= s
        nbytes = numel * DTYPES[code].itemsize
        if offsets[1] - offsets[0] != nbytes:
            _fail(f"tensor {name!r}: shape {shape} of {code} needs {nbytes} bytes but data_offsets "
                  f"{offsets} span {offsets[1] - offsets[0]}")
        entries.append((name, code, tuple(shape), offsets[0], offsets[1]))
    return entries, metadata


def check_layout(entries, data_len):
    """Offsets must tile the data region exactly: in bounds, no overlaps, no gaps, nothing left over."""
    end = 0
    for name, _, _, begin, stop in sorted(entries, key=lambda e: (e[3], e[4])):
        if stop > data_len:
            _fail(f"tensor {name!r}: data_offsets [{begin}, {stop}] out of bounds: the data region has "
                  f"{data_len} bytes")
        if begin < end:
            _fail(f"tensor {name!r}: data_offsets [{begin}, {stop}] overlap the previous tensor (ends at {end})")
        if begin > end:
            _fail(f"tensor {name!r}: gap of {begin - end} unused bytes before data_offsets [{begin}, {stop}]")
        end = stop
    if end != data_len:
        _fail(f"the data region has {data_len} bytes but the tensors cover only {end}")


def arrays_from_buffer(entries, buf):
    """Build each entry's array over ``buf`` (a writable byte buffer), copying only when unaligned."""
    out = {}
    for name, code, shape, begin, stop in entries:
        dt = DTYPES[code]
        numel = (stop - begin) // dt.itemsize
        if numel == 0:
            arr = np.empty(shape, dtype=dt.newbyteorder("="))
        else:
            arr = np.frombuffer(buf, dtype=dt, count=numel, offset=begin).reshape(shape)
            if code == "BOOL" and arr.view(np.uint8).max() > 1:
                _fail(f"tensor {name!r} of dtype BOOL holds bytes other than 0 and 1")
            if not arr.dtype.isnative:
                arr = arr.astype(dt.newbyteorder("="))
            elif not arr.flags.aligned or not arr.flags.writeable:
                arr = arr.copy()
        out[name] = arr
    return out


def _remaining(f):
    """Bytes left in ``f`` from its position, or None when it cannot tell (a pipe, a socket)."""
    try:
        pos = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(pos)
        return end - pos
    except (AttributeError, OSError, ValueError):
        return None


def _read_exact(f, n, what):
    """Exactly ``n`` bytes of ``f`` in a writable buffer, or a clear error when the file ends early."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        if hasattr(f, "readinto"):
            k = f.readinto(view[got:]) or 0
        else:
            chunk = f.read(n - got)
            k = len(chunk)
            view[got:got + k] = chunk
        if not k:
            _fail(f"file truncated: {what} needs {n} bytes, only {got} present")
        got += k
    return buf


def read(f, mmap_path=None):
    """Read a safetensors file from binary file ``f``; returns ``({name: ndarray}, metadata)``.

    Arrays come back in header order, writable and in native byte order.  With
    ``mmap_path`` the data region is mapped copy-on-write instead of read, so loading
    is lazy and writes to the arrays never reach the file.
    """
    remaining = _remaining(f)
    prefix = f.read(8)
    n = _check_header_length(prefix, None if remaining is None else remaining - len(prefix))
    entries, metadata = parse_header(bytes(_read_exact(f, n, "the header")))
    if remaining is None:
        buf = bytearray(f.read())
        check_layout(entries, len(buf))
    else:
        data_len = remaining - 8 - n
        check_layout(entries, data_len)
        if mmap_path is not None and data_len > 0:
            buf = np.memmap(mmap_path, dtype=np.uint8, mode="c", offset=f.tell(), shape=(data_len,))
        else:
            buf = _read_exact(f, data_len, "the tensor data")
    return arrays_from_buffer(entries, buf), metadata
