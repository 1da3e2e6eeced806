"""PyTorch's checkpoint files: the zip format of ``torch.save`` (PyTorch >= 1.6) and the legacy format before it.

**Zip format.** An uncompressed zip archive with one folder: ``data.pkl`` (the
pickled object, protocol 2), one raw little-endian record ``data/<key>`` per
storage, and small records ``byteorder``, ``version``, ``.format_version``.
Tensors in the pickle refer to their storage as ``('storage', torch.FloatStorage,
key, location, numel)``.

**Legacy format.** Consecutive pickles in one stream: a magic number, the
protocol version 1001, a dict of system facts (byte order, type sizes), the
object, and the list of storage keys; then each storage's element count (int64)
and raw bytes, in that order.  Its storages are read after the object, so the
object is unpickled twice: once to learn each storage's type and size with
zero-byte stand-ins, and again, after the records are read, with the real
storages (a file's allowed classes are therefore constructed twice).

Reading checks every record against what the pickle says before allocating:
a record whose size does not match its storage, a storage larger than the file,
a compressed record (``torch.save`` never compresses, so a compressed one is
refused as a possible zip bomb) or records that together claim more bytes than
the file holds (overlapping records) all fail with a ``RuntimeError`` naming the
record.  :func:`write_zip` writes the zip format, used by ``distgrad.save`` for
objects its pickle-free format cannot hold (a whole Module).

Example::

    >>> import io, distgrad
    >>> buf = io.BytesIO()
    >>> write_zip({"w": distgrad.arange(3.)}, buf)
    >>> _ = buf.seek(0)
    >>> read_zip(buf, place=None, unpickler=unpickler_for(True))
    {'w': tensor([0., 1., 2.])}
"""
import collections
import io
import pickle
import struct
import zipfile

import numpy as np

from distgrad import backend
from distgrad import safe_globals
from distgrad import torch_storage as ts
from distgrad.autograd.tensor import Tensor
from distgrad.nn.parameter import Parameter
from distgrad.weights_unpickler import WeightsUnpickler

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL = 1001
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _fail(msg):
    raise RuntimeError(f"distgrad.load: {msg}")


def _find_class(unpickler, module, name):
    """``weights_only=False``: any global the file names, PyTorch's names mapped to distgrad's objects."""
    full = f"{module}.{name}"
    known = safe_globals._default_names().get(full)
    if known is not None:
        return known
    through = safe_globals._through_alias(full)
    if through is not None:
        return through
    return super(type(unpickler), unpickler).find_class(module, name)


class _FullUnpickler(pickle.Unpickler):
    find_class = _find_class


def unpickler_for(weights_only, pickle_module=None):
    """A factory ``(file, persistent_load) -> object with .load()`` for the chosen trust level."""
    if weights_only:
        return lambda f, persistent_load: WeightsUnpickler(f, persistent_load)
    cls = _FullUnpickler
    if pickle_module is not None and pickle_module.Unpickler is not pickle.Unpickler:
        class _Custom(pickle_module.Unpickler):  # the caller's pickle module, with PyTorch's names mapped
            find_class = _find_class
        cls = _Custom

    def full(f, persistent_load):
        u = cls(f, encoding="utf-8")
        if persistent_load is not None:
            u.persistent_load = persistent_load
        return u
    return full


def _storage_pid(pid, n):
    if not isinstance(pid, tuple) or len(pid) != n or pid[0] != "storage":
        raise pickle.UnpicklingError(f"unknown persistent reference {pid!r:.80}")
    storage_type, key, location, numel = pid[1:5]
    if not isinstance(storage_type, ts.StorageType):
        raise pickle.UnpicklingError(f"storage reference names {storage_type!r:.60}, not a storage type")
    if not isinstance(key, str) or not isinstance(location, str) or type(numel) is not int or numel < 0:
        raise pickle.UnpicklingError(f"malformed storage reference {pid!r:.80}")
    try:
        np_dtype = storage_type.dtype.np
    except NotImplementedError as e:
        raise pickle.UnpicklingError(str(e)) from None
    return key, location, numel, np_dtype


# --- zip format ---------------------------------------------------------------------------------------

def _file_size(fh):
    here = fh.tell()
    end = fh.seek(0, io.SEEK_END)
    fh.seek(here)
    return end - here


def _data_offset(fh, info):
    """Where a stored record's bytes start in the file (after its local header)."""
    fh.seek(info.header_offset)
    header = fh.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        _fail(f"record {info.filename!r} has a damaged local header")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len


def read_zip(fh, place, unpickler, mmap_path=None):
    """The object in a ``torch.save`` zip archive read from seekable ``fh``; ``place`` maps storages.

    ``mmap_path`` (the path of ``fh``) maps the records copy-on-write instead of reading them.
    """
    size = _file_size(fh)
    try:
        zf = zipfile.ZipFile(fh)
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, struct.error) as e:
        _fail(f"not a readable PyTorch zip archive (truncated or damaged): {e}")
    pkls = [i for i in infos if i.filename.endswith("/data.pkl") and i.filename.count("/") == 1]
    if len(pkls) != 1:
        _fail(f"a PyTorch zip archive holds one '<name>/data.pkl' record, this one has {len(pkls)}")
    prefix = pkls[0].filename[:-len("data.pkl")]
    for i in infos:
        if not i.filename.startswith(prefix):
            _fail(f"record {i.filename!r} is outside the archive's folder {prefix!r}")
        if i.compress_type != zipfile.ZIP_STORED:
            _fail(f"record {i.filename!r} is compressed; torch.save stores records uncompressed, "
                  "and a compressed one is refused (it could be a zip bomb)")
    if sum(i.file_size for i in infos) > size:
        _fail(f"the records claim {sum(i.file_size for i in infos)} bytes but the file holds {size}: "
              "records overlap (a zip bomb) or the file is truncated")
    names = {i.filename: i for i in infos}

    def record(name):
        try:
            return zf.read(name)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error) as e:
            _fail(f"record {name!r} is damaged: {e}")

    order = record(prefix + "byteorder").decode("ascii", "replace") if prefix + "byteorder" in names else "little"
    if order not in ("little", "big"):
        _fail(f"unknown byte order {order!r:.20} in record {prefix}byteorder")
    storages = {}

    def persistent_load(pid):
        key, location, numel, np_dtype = _storage_pid(pid, 5)
        if key in storages:
            return storages[key]
        name = f"{prefix}data/{key}"
        info = names.get(name)
        if info is None:
            _fail(f"storage {key!r} has no record {name!r} in the archive")
        need = numel * np_dtype.itemsize
        if info.file_size != need:
            _fail(f"record {name!r} holds {info.file_size} bytes but its storage of {numel} {np_dtype} "
                  f"elements needs {need}" + (" (the storage is shorter than its tensor)"
                                              if info.file_size < need else ""))
        stored = np_dtype.newbyteorder("<" if order == "little" else ">")
        if mmap_path is not None and numel:
            arr = np.memmap(mmap_path, dtype=stored, mode="c", offset=_data_offset(fh, info), shape=(numel,))
        else:
            arr = np.empty(numel, dtype=stored)
            try:
                with zf.open(info) as r:
                    got = r.readinto(memoryview(arr).cast("B")) if need else 0
            except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
                _fail(f"record {name!r} is damaged: {e}")
            if got != need:
                _fail(f"record {name!r} is truncated: {got} of {need} bytes")
        if not stored.isnative:
            arr = arr.astype(np_dtype)
        storages[key] = s = ts.LoadedStorage(arr, location, key)
        s.place = place
        return s

    data = record(pkls[0].filename)
    return unpickler(io.BytesIO(data), persistent_load).load()


class _StorageRef:
    """What the writer's pickle stores in place of a tensor's storage (turned into a persistent id)."""

    def __init__(self, key, array, location):
        self.key, self.array, self.location = key, array, location


class _Pickler(pickle.Pickler):
    """Pickles tensors as PyTorch does: a rebuild call over a storage written as its own record."""

    def __init__(self, fh, protocol, storages):
        super().__init__(fh, protocol=protocol)
        self.storages = storages  # id(array) -> _StorageRef, in the order written
        self.keep = []  # the arrays whose ids are keys above stay alive while pickling

    def _storage(self, t):
        arr = t._data
        ref = self.storages.get(id(arr))
        if ref is None:
            host = backend.to_device(arr, backend.CPU)
            if not host.flags.c_contiguous:
                host = host.copy(order="C")
            ts.storage_type_of(host.dtype)
            ref = _StorageRef(str(len(self.storages)), host, str(t.device))
            self.storages[id(arr)] = ref
            self.keep.append(arr)
        return ref

    def reducer_override(self, obj):
        if isinstance(obj, Parameter):
            return ts._rebuild_parameter, (Tensor._make(obj._data), obj.requires_grad, collections.OrderedDict())
        if isinstance(obj, Tensor):
            ref = self._storage(obj)
            shape = tuple(ref.array.shape)
            strides = tuple(int(np.prod(shape[i + 1:])) for i in range(len(shape)))
            return ts._rebuild_tensor_v2, (ref, 0, shape, strides, obj.requires_grad, collections.OrderedDict())
        return NotImplemented

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", ts.storage_type_of(obj.array.dtype), obj.key, obj.location, obj.array.size)
        return None


def write_zip(obj, fh, protocol=2):
    """Write ``obj`` to binary file ``fh`` in PyTorch's zip layout (records ``archive/...``).

    Everything is pickled to memory first, so an unpicklable object raises before
    the first byte reaches ``fh``.
    """
    storages = {}
    buf = io.BytesIO()
    _Pickler(buf, protocol, storages).dump(obj)
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
        zf.writestr("archive/byteorder", "little")
        for ref in storages.values():
            zf.writestr(f"archive/data/{ref.key}", ref.array.astype(ref.array.dtype.newbyteorder("<")).tobytes())
        zf.writestr("archive/version", "3\n")
        zf.writestr("archive/.format_version", "1")


# --- legacy format ------------------------------------------------------------------------------------

class _Bounded:
    """A file view whose reads never ask for more than the bytes that remain (lengths come from the file)."""

    def __init__(self, fh):
        self.fh = fh
        self.end = fh.tell() + _file_size(fh)

    def read(self, n=-1):
        left = self.end - self.fh.tell()
        return self.fh.read(left if n is None or n < 0 else min(n, left))

    def readline(self, n=-1):
        left = self.end - self.fh.tell()
        return self.fh.readline(left if n is None or n < 0 else min(n, left))

    def tell(self):
        return self.fh.tell()

    def seek(self, pos):
        return self.fh.seek(pos)


def _legacy_header(f, unpickler):
    def plain(what):
        try:
            return unpickler(f, None).load()
        except pickle.UnpicklingError as e:
            raise pickle.UnpicklingError(f"{e} (reading the legacy checkpoint's {what})") from None
    if plain("magic number") != LEGACY_MAGIC:
        _fail("not a PyTorch checkpoint: wrong magic number")
    version = plain("protocol version")
    if version != LEGACY_PROTOCOL:
        _fail(f"unknown legacy protocol version {version!r:.40}")
    info = plain("system info")
    if not isinstance(info, dict):
        _fail("the legacy checkpoint's system info is not a dict")
    return "<" if info.get("little_endian", True) else ">"


def read_legacy(fh, place, unpickler):
    """The object in a checkpoint of PyTorch < 1.6 (``_use_new_zipfile_serialization=False``)."""
    f = _Bounded(fh)
    order = _legacy_header(f, unpickler_for(True))
    start = f.tell()
    seen = {}  # root key -> (numel, NumPy dtype, location)

    def probe(pid):
        if isinstance(pid, tuple) and pid[:1] == ("module",) and len(pid) == 4:
            return pid[1]
        key, location, numel, np_dtype = _storage_pid(pid, 6)
        seen.setdefault(key, (numel, np_dtype, location))
        stand_in = np.lib.stride_tricks.as_strided(np.zeros(1, np_dtype), shape=(numel,), strides=(0,))
        return _view_of(ts.LoadedStorage(stand_in, location, key), pid[5])

    unpickler(f, probe).load()
    keys = unpickler_for(True)(f, None).load()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        _fail("the legacy checkpoint's storage key list is malformed")
    left = f.end - f.tell()
    claimed = sum(seen[k][0] * seen[k][1].itemsize for k in keys if k in seen)
    if claimed > left:
        _fail(f"the storages claim {claimed} bytes but only {left} remain in the file (an oversized storage)")
    roots = {}
    for key in keys:
        if key not in seen or key in roots:
            _fail(f"storage key {key!r:.40} is listed but not used once by the checkpoint")
        numel, np_dtype, location = seen[key]
        head = f.read(8)
        if len(head) != 8 or struct.unpack(order + "q", head)[0] != numel:
            _fail(f"storage {key!r} should hold {numel} elements; its record says otherwise or is truncated")
        raw = f.read(numel * np_dtype.itemsize)
        if len(raw) != numel * np_dtype.itemsize:
            _fail(f"storage {key!r} is truncated: {len(raw)} of {numel * np_dtype.itemsize} bytes")
        arr = np.frombuffer(raw, dtype=np_dtype.newbyteorder(order)).astype(np_dtype)
        roots[key] = s = ts.LoadedStorage(arr, location, key)
        s.place = place
    if set(seen) - set(roots):
        _fail(f"storages {sorted(set(seen) - set(roots))[:5]} have no record in the file")

    def real(pid):
        if isinstance(pid, tuple) and pid[:1] == ("module",):
            return pid[1]
        key = _storage_pid(pid, 6)[0]
        return _view_of(roots[key], pid[5])

    f.seek(start)
    return unpickler(f, real).load()


def _view_of(storage, view_metadata):
    """A legacy storage view ``(view_key, offset, size)`` of a root storage, or the root itself."""
    if view_metadata is None:
        return storage
    if not isinstance(view_metadata, tuple) or len(view_metadata) != 3:
        raise pickle.UnpicklingError(f"malformed storage view {view_metadata!r:.60}")
    key, offset, size = view_metadata
    if type(offset) is not int or type(size) is not int or offset < 0 or size < 0 or offset + size > len(storage):
        raise pickle.UnpicklingError(f"storage view {view_metadata!r:.60} lies outside its storage")
    view = ts.LoadedStorage(storage.array[offset:offset + size], storage.location, str(key))
    view.place = storage.place
    return view


def is_zip(head):
    """Whether the first bytes of a file are a zip archive's."""
    return head[:4] in ZIP_MAGIC


def is_legacy(head):
    """Whether the first bytes of a file start a pickle (the legacy format begins with a PROTO opcode)."""
    return head[:1] == pickle.PROTO

