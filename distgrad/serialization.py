"""``distgrad.save`` / ``distgrad.load``: checkpoints that cannot run code, written atomically.

A checkpoint is a safetensors file (see :mod:`distgrad.safetensors_format`).  Tensors
are its named entries; the Python structure around them (dicts with str/int/float/
bool/None/tuple keys, lists, tuples, numbers, strings, dtypes, devices) is stored as
tagged JSON in the ``__metadata__`` header, so a model state dict, an optimizer state
dict (integer keys, ``betas`` tuples), a scheduler state and the epoch fit in one file
and come back with the same types.  There is no pickle anywhere: loading parses JSON
and copies numbers, and a crafted or damaged file gets a ``ValueError`` naming what is
wrong.

A flat ``{str: Tensor}`` dict is stored under its own key names, so a state dict saved
here loads with ``safetensors.torch.load_file`` in PyTorch, and a file written by
``safetensors.torch.save_file`` loads here as a dict of tensors.

Example::

    >>> import io, distgrad
    >>> buf = io.BytesIO()
    >>> distgrad.save({"w": distgrad.ones(2), "epoch": 3, "betas": (0.9, 0.999)}, buf)
    >>> _ = buf.seek(0)
    >>> ckpt = distgrad.load(buf)
    >>> ckpt["epoch"], ckpt["betas"], ckpt["w"]
    (3, (0.9, 0.999), tensor([1., 1.]))
"""
import collections
import json
import os
import secrets
import stat

import numpy as np

from distgrad import backend
from distgrad import dtypes
from distgrad import safetensors_format as fmt
from distgrad.autograd.tensor import Size, Tensor

STRUCTURE_KEY = "distgrad.structure"
FORMAT_VERSION = 1
MAX_DEPTH = 200  # nesting deeper than this is refused, on save and on load, instead of overflowing the stack


# --- encoding: Python structure -> (named arrays, JSON tree) -----------------------------------------

class _Encoder:
    """Walks a checkpoint once, collecting host copies of tensors and the tagged JSON tree."""

    def __init__(self):
        self.arrays = []
        self.names = set()
        self.open = set()  # ids of the containers on the current path, to refuse cycles

    def _name(self, path):
        base = ".".join(path) if path else "tensor"
        name, k = base, 1
        while name in self.names or name == fmt.METADATA_KEY:
            name, k = f"{base}#{k}", k + 1
        self.names.add(name)
        return name

    def _array(self, arr, path):
        np_arr = backend.to_device(arr, backend.CPU)
        fmt.code_for(np_arr.dtype)
        name = self._name(path)
        self.arrays.append((name, np_arr))
        return name

    def key(self, k, path):
        if isinstance(k, tuple):
            return ["tuple", [self.key(x, path) for x in k]]
        if isinstance(k, (Tensor, list, dict)) or backend.is_array(k):
            raise TypeError(f"distgrad.save: dict key {k!r} at {self.where(path)} cannot be saved; "
                            "keys must be str, int, float, bool, None or tuples of them")
        return self.node(k, path, 0)

    @staticmethod
    def where(path):
        return "the top level" if not path else "'" + ".".join(path) + "'"

    def node(self, obj, path, depth):
        if depth > MAX_DEPTH:
            raise ValueError(f"distgrad.save: structure nested more than {MAX_DEPTH} levels deep")
        if obj is None:
            return ["none"]
        if isinstance(obj, (bool, np.bool_)):
            return ["bool", bool(obj)]
        if isinstance(obj, (int, np.integer)):
            return ["int", int(obj)]
        if isinstance(obj, (float, np.floating)):
            return ["float", repr(float(obj))]
        if isinstance(obj, str):
            return ["str", obj]
        if isinstance(obj, Tensor):
            name = self._array(obj._data, path)
            return ["tensor", name, str(obj.device), bool(obj.requires_grad)]
        if isinstance(obj, np.ndarray):
            return ["ndarray", self._array(obj, path)]
        if isinstance(obj, dtypes.dtype):
            return ["dtype", obj.name]
        if isinstance(obj, backend.device):
            return ["device", str(obj)]
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self.open:
                raise ValueError(f"distgrad.save: {self.where(path)} contains itself; cannot save a cycle")
            self.open.add(id(obj))
            try:
                return self._container(obj, path, depth)
            finally:
                self.open.discard(id(obj))
        raise TypeError(f"distgrad.save: cannot save an object of type {type(obj).__name__} at "
                        f"{self.where(path)}; checkpoints hold tensors, numbers, strings, None and "
                        "dicts/lists/tuples of them (save model.state_dict(), not the model)")

    def _container(self, obj, path, depth):
        if isinstance(obj, dict):
            items = [[self.key(k, path), self.node(v, path + [str(k)], depth + 1)] for k, v in obj.items()]
            return ["odict" if isinstance(obj, collections.OrderedDict) else "dict", items]
        items = [self.node(v, path + [str(i)], depth + 1) for i, v in enumerate(obj)]
        if isinstance(obj, Size):
            return ["size", items]
        return ["tuple" if isinstance(obj, tuple) else "list", items]


def _encode(obj):
    enc = _Encoder()
    root = enc.node(obj, [], 0)
    tree = json.dumps({"version": FORMAT_VERSION, "root": root}, separators=(",", ":"), allow_nan=False)
    return enc.arrays, {"format": "pt", STRUCTURE_KEY: tree}


# --- decoding: JSON tree -> Python structure ---------------------------------------------------------

def _corrupt(msg):
    raise ValueError(f"distgrad.load: corrupt checkpoint structure: {msg}")


class _Decoder:
    def __init__(self, arrays, place):
        self.arrays = arrays
        self.place = place
        self.tensors = {}

    def _args(self, node, n):
        if len(node) != n + 1:
            _corrupt(f"tag {node[0]!r} takes {n} argument(s), got {node[1:]!r}")
        return node[1:]

    def _items(self, node):
        items, = self._args(node, 1)
        if not isinstance(items, list):
            _corrupt(f"tag {node[0]!r} needs a list, got {type(items).__name__}")
        return items

    def _array_named(self, name):
        if not isinstance(name, str) or name not in self.arrays:
            _corrupt(f"reference to a tensor {name!r} that is not in the file")
        return self.arrays[name]

    def key(self, node, depth):
        k = self.node(node, depth)
        try:
            hash(k)
        except TypeError:
            _corrupt(f"unhashable dict key {node!r}")
        return k

    def node(self, node, depth):
        if depth > MAX_DEPTH:
            _corrupt(f"nested more than {MAX_DEPTH} levels deep")
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            _corrupt(f"expected a tagged node [tag, ...], got {node!r:.80}")
        tag = node[0]
        if tag == "none":
            self._args(node, 0)
            return None
        if tag in ("bool", "int", "str"):
            v, = self._args(node, 1)
            want = {"bool": bool, "int": int, "str": str}[tag]
            if type(v) is not want:
                _corrupt(f"tag {tag!r} holds a {type(v).__name__}")
            return v
        if tag == "float":
            v, = self._args(node, 1)
            if not isinstance(v, str):
                _corrupt(f"float stored as a {type(v).__name__}")
            try:
                return float(v)
            except ValueError:
                _corrupt(f"invalid float {v!r:.40}")
        if tag == "tensor":
            name, loc, requires_grad = self._args(node, 3)
            if not isinstance(loc, str) or not isinstance(requires_grad, bool):
                _corrupt(f"bad tensor reference {node!r:.80}")
            return self._tensor(name, loc, requires_grad)
        if tag == "ndarray":
            name, = self._args(node, 1)
            return self._array_named(name)
        if tag == "dtype":
            v, = self._args(node, 1)
            if not isinstance(v, str) or v not in dtypes._NAMES:
                _corrupt(f"unknown dtype {v!r:.40}")
            return dtypes._NAMES[v]
        if tag == "device":
            return backend.device(self._location(self._args(node, 1)[0]))
        if tag in ("dict", "odict"):
            out = collections.OrderedDict() if tag == "odict" else {}
            for pair in self._items(node):
                if not isinstance(pair, list) or len(pair) != 2:
                    _corrupt("dict items must be [key, value] pairs")
                out[self.key(pair[0], depth + 1)] = self.node(pair[1], depth + 1)
            return out
        if tag in ("list", "tuple", "size"):
            items = [self.node(x, depth + 1) for x in self._items(node)]
            if tag == "size":
                if not all(type(x) is int for x in items):
                    _corrupt("a Size holds only ints")
                return Size(items)
            return tuple(items) if tag == "tuple" else items
        _corrupt(f"unknown structure tag {tag!r:.40}")

    @staticmethod
    def _location(loc):
        try:
            return str(backend.device(loc))
        except (TypeError, ValueError, RuntimeError):
            _corrupt(f"invalid device {loc!r:.40}")

    def _tensor(self, name, loc, requires_grad):
        t = self.tensors.get(name)
        if t is None:
            arr = self._array_named(name)
            t = self.place(arr, self._location(loc))
            if requires_grad:
                if not t.is_floating_point():
                    _corrupt(f"tensor {name!r} of dtype {t.dtype} marked requires_grad")
                t.requires_grad_(True)
            self.tensors[name] = t
        return t


# --- map_location ---------------------------------------------------------------------------------------

def _placer(map_location):
    """A function ``(host array, saved location) -> Tensor`` implementing PyTorch's map_location rules."""
    if map_location is not None and not isinstance(map_location, (str, backend.device, dict)) \
            and not callable(map_location):
        raise TypeError(f"distgrad.load: map_location must be None, a str, a device, a dict or a callable, "
                        f"got {type(map_location).__name__}")

    def move(arr, where):
        dev = backend.device(where)
        if dev.type == "cuda" and not backend.cuda_is_available():
            raise RuntimeError("Attempting to deserialize object on a CUDA device but CUDA is not available. "
                               "If you are running on a CPU-only machine, please use distgrad.load with "
                               "map_location='cpu' to map your storages to the CPU.")
        return Tensor._make(backend.to_device(arr, backend.normalize_device(dev)))

    def place(arr, saved):
        if map_location is None:
            return move(arr, saved)
        if isinstance(map_location, (str, backend.device)):
            return move(arr, map_location)
        if isinstance(map_location, dict):
            return move(arr, map_location.get(saved, saved))
        out = map_location(Tensor._make(arr), saved)
        if out is None:
            return move(arr, saved)
        if not isinstance(out, Tensor):
            raise TypeError(f"distgrad.load: map_location returned {type(out).__name__}, expected a Tensor or None")
        return out
    return place


# --- files ----------------------------------------------------------------------------------------------

def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows, where directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path, write):
    """Run ``write(fileobj)`` into a temp file beside ``path``, fsync it, then rename it over ``path``.

    A crash or an exception at any point leaves the previous file at ``path`` as it was;
    the temp file is removed on failure.  A symlink is written through, like ``open(path, "wb")``.
    """
    path = os.path.realpath(os.fspath(path))
    directory, base = os.path.split(path)
    if not os.path.isdir(directory):
        raise RuntimeError(f"Parent directory {directory} does not exist.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"distgrad.save: {path!r} is a directory")
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fd = None
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if os.path.exists(path):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(tmp, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Save ``obj`` (tensors and dicts/lists/tuples of tensors, numbers, strings, None) to ``f``.

    ``f`` is a path (``str`` or ``os.PathLike``), written atomically (temp file, fsync,
    rename), or a binary file object, written at its position.  Everything is checked
    before the first byte is written, so an unsupported object leaves ``f`` untouched.
    Tensors are saved as contiguous copies of their current values; views and tensors
    that share storage each get their own copy.  The pickle arguments exist for
    PyTorch compatibility only: nothing is pickled.

    Example::

        >>> import io, distgrad
        >>> distgrad.save({"weight": distgrad.zeros(2, 3)}, io.BytesIO())
    """
    if pickle_module is not None:
        raise ValueError("distgrad.save never pickles; pickle_module is not supported")
    arrays, metadata = _encode(obj)

    def write(fh):
        fmt.write(fh, arrays, metadata)

    if isinstance(f, (str, os.PathLike)):
        _atomic_write(f, write)
    elif hasattr(f, "write"):
        write(f)
    else:
        raise TypeError(f"distgrad.save: f must be a path or a binary file object, got {type(f).__name__}")


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    """Load a checkpoint written by :func:`save` or any safetensors file.

    ``map_location`` places tensors as in PyTorch: None restores each to the device it
    was saved from, a str or device sends all there, a dict maps saved locations
    (``"cuda:1"``) to new ones, and a callable ``fn(tensor_on_cpu, saved_location)``
    returns the tensor to use (or None for the default).  A safetensors file without
    distgrad's structure loads as a ``{name: Tensor}`` dict.  ``weights_only`` is
    accepted for compatibility; loading never runs code whatever its value.  With
    ``mmap=True`` a path is memory-mapped copy-on-write instead of read.

    Example::

        >>> import io, distgrad
        >>> buf = io.BytesIO(); distgrad.save({0: {"step": 3}}, buf); _ = buf.seek(0)
        >>> distgrad.load(buf, map_location="cpu")
        {0: {'step': 3}}
    """
    if pickle_module is not None:
        raise ValueError("distgrad.load never unpickles; pickle_module is not supported")
    if pickle_load_args:
        raise TypeError(f"distgrad.load got unexpected keyword arguments {sorted(pickle_load_args)}")
    place = _placer(map_location)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            arrays, metadata = fmt.read(fh, mmap_path=os.fspath(f) if mmap else None)
    elif hasattr(f, "read"):
        if mmap:
            raise ValueError("distgrad.load: mmap=True needs a file path, not a file object")
        arrays, metadata = fmt.read(f)
    else:
        raise TypeError(f"distgrad.load: f must be a path or a binary file object, got {type(f).__name__}")
    tree = (metadata or {}).get(STRUCTURE_KEY)
    if tree is None:
        return {name: place(arr, "cpu") for name, arr in arrays.items()}
    try:
        doc = json.loads(tree)
    except RecursionError:
        _corrupt(f"nested more than {MAX_DEPTH} levels deep")
    except ValueError as e:
        _corrupt(f"not JSON ({e})")
    if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION or "root" not in doc:
        _corrupt(f"expected {{'version': {FORMAT_VERSION}, 'root': ...}}")
    return _Decoder(arrays, place).node(doc["root"], 0)
