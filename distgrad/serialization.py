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

An object this structure cannot hold (a whole Module, a set, bytes, a cycle) is
saved as PyTorch does, in its zip format with a pickle (:mod:`distgrad.torch_format`).
:func:`load` reads that format and PyTorch's own files, ``torch.save``'s zip
archives and its legacy format, through a pickle reader that admits only
allowed globals (:mod:`distgrad.safe_globals`) unless ``weights_only=False``.
"""
import collections
import io
import json
import os
import pickle

import numpy as np

from distgrad import backend
from distgrad.atomic_file import atomic_write
from distgrad import dtypes
from distgrad import safetensors_format as fmt
from distgrad import torch_format
from distgrad.safe_globals import (add_safe_globals, clear_safe_globals, get_safe_globals,  # noqa: F401
                                   remove_safe_globals, safe_globals)
from distgrad.autograd.tensor import Size, Tensor

STRUCTURE_KEY = "distgrad.structure"
FORMAT_VERSION = 1
MAX_DEPTH = 200  # nesting deeper than this is refused, on save and on load, instead of overflowing the stack


# --- encoding: Python structure -> (named arrays, JSON tree) -----------------------------------------

class _NeedsPickle(TypeError):
    """The object is more than plain data; :func:`save` writes it in PyTorch's pickle format instead."""

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
            raise _NeedsPickle(f"dict key {k!r:.40} at {self.where(path)}")
        return self.node(k, path, 0)

    @staticmethod
    def where(path):
        return "the top level" if not path else "'" + ".".join(path) + "'"

    def node(self, obj, path, depth):
        if depth > MAX_DEPTH:
            raise _NeedsPickle(f"structure nested more than {MAX_DEPTH} levels deep")
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
                raise _NeedsPickle(f"{self.where(path)} contains itself")
            self.open.add(id(obj))
            try:
                return self._container(obj, path, depth)
            finally:
                self.open.discard(id(obj))
        raise _NeedsPickle(f"an object of type {type(obj).__name__} at {self.where(path)}")

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

def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Save ``obj`` to ``f``: plain data as a pickle-free safetensors file, anything else as PyTorch does.

    Tensors and dicts/lists/tuples of tensors, numbers, strings, None, dtypes and
    devices (state dicts, optimizer state, a training checkpoint) go into a
    safetensors file that loading never executes.  Anything else (a whole Module,
    a set, bytes, a cycle) is pickled into PyTorch's zip format, as ``torch.save``
    does; loading it back needs its classes allowed (:func:`safe_globals`).

    ``f`` is a path (``str`` or ``os.PathLike``), written atomically (temp file, fsync,
    rename), or a binary file object, written at its position.  Everything is encoded
    before the first byte is written, so an object that cannot be saved leaves ``f``
    untouched.  Tensors are saved as contiguous copies of their current values.

    Example::

        >>> import io, distgrad
        >>> distgrad.save({"weight": distgrad.zeros(2, 3)}, io.BytesIO())
    """
    if pickle_module not in (None, pickle):
        raise ValueError("distgrad.save: pickle_module must be None or the pickle module")
    if not _use_new_zipfile_serialization:
        raise NotImplementedError("distgrad.save writes only the zip format of PyTorch >= 1.6 "
                                  "(_use_new_zipfile_serialization=False is not supported)")
    try:
        arrays, metadata = _encode(obj)
    except _NeedsPickle:
        buf = io.BytesIO()
        torch_format.write_zip(obj, buf, 2 if pickle_protocol is None else pickle_protocol)
        data = buf.getvalue()

        def write(fh):
            fh.write(data)
    else:
        def write(fh):
            fmt.write(fh, arrays, metadata)

    if isinstance(f, (str, os.PathLike)):
        atomic_write(f, write)
    elif hasattr(f, "write"):
        write(f)
    else:
        raise TypeError(f"distgrad.save: f must be a path or a binary file object, got {type(f).__name__}")


def _weights_only(weights_only, pickle_module):
    """PyTorch's rule: True unless asked otherwise, and the TORCH_FORCE_* variables override the argument."""
    yes = ("1", "y", "yes", "true")
    force_on = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0").lower() in yes
    force_off = os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "0").lower() in yes
    if force_on and force_off:
        raise RuntimeError("Only one of `TORCH_FORCE_WEIGHTS_ONLY_LOAD` or `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD` "
                           "should be set, but both were set.")
    if force_on:
        return True
    if force_off:
        return False
    if weights_only is None:
        return pickle_module is None
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    return bool(weights_only)


class _Peeked:
    """A non-seekable stream with its first bytes read for format detection, handed on unchanged."""

    def __init__(self, head, f):
        self.head, self.f = head, f

    def read(self, n=-1):
        if not self.head:
            return self.f.read(n)
        if n is None or n < 0:
            out, self.head = self.head + self.f.read(), b""
            return out
        out, self.head = self.head[:n], self.head[n:]
        return out + (self.f.read(n - len(out)) if n > len(out) else b"")


def _open_format(fh):
    """(kind, file) for a binary file: 'zip', 'legacy' (both seekable) or 'safetensors'."""
    seekable = getattr(fh, "seekable", lambda: False)()
    head = fh.read(9)
    if seekable:
        fh.seek(-len(head), io.SEEK_CUR)
    if torch_format.is_zip(head) or (head[8:9] != b"{" and torch_format.is_legacy(head)):
        if not seekable:
            fh = io.BytesIO(head + fh.read())
        return ("zip" if torch_format.is_zip(head) else "legacy"), fh
    return "safetensors", (fh if seekable else _Peeked(head, fh))


def _load_from(fh, place, weights_only, pickle_module, mmap_path):
    kind, fh = _open_format(fh)
    if kind != "safetensors":
        unpickler = torch_format.unpickler_for(weights_only, pickle_module)
        if kind == "zip":
            return torch_format.read_zip(fh, place, unpickler, mmap_path)
        if mmap_path is not None:
            raise RuntimeError("mmap can only be used with files saved with "
                               "`torch.save(_use_new_zipfile_serialization=True)`, please torch.save your "
                               "checkpoint with this option in order to use mmap.")
        return torch_format.read_legacy(fh, place, unpickler)
    arrays, metadata = fmt.read(fh, mmap_path=mmap_path)
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


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load a checkpoint: distgrad's own, any safetensors file, or a file written by ``torch.save``.

    ``map_location`` places tensors as in PyTorch: None restores each to the device it
    was saved from, a str or device sends all there, a dict maps saved locations
    (``"cuda:1"``) to new ones, and a callable ``fn(tensor_on_cpu, saved_location)``
    returns the tensor to use (or None for the default).  A safetensors file without
    distgrad's structure loads as a ``{name: Tensor}`` dict.

    A pickled file (PyTorch's zip format, or its legacy format from before 1.6)
    is read with ``weights_only=True`` semantics unless ``weights_only=False``:
    only allowed globals are resolved (:func:`add_safe_globals`, :func:`safe_globals`),
    and anything else is refused with ``pickle.UnpicklingError`` before it runs.
    ``weights_only=False`` trusts the file: its pickle may run any code.  distgrad's
    safetensors files never run code either way.  With ``mmap=True`` a path is
    memory-mapped copy-on-write instead of read.

    Example::

        >>> import io, distgrad
        >>> buf = io.BytesIO(); distgrad.save({0: {"step": 3}}, buf); _ = buf.seek(0)
        >>> distgrad.load(buf, map_location="cpu")
        {0: {'step': 3}}
    """
    weights_only = _weights_only(weights_only, pickle_module)
    if pickle_load_args:
        raise TypeError(f"distgrad.load got unexpected keyword arguments {sorted(pickle_load_args)}")
    place = _placer(map_location)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return _load_from(fh, place, weights_only, pickle_module, os.fspath(f) if mmap else None)
    if hasattr(f, "read"):
        if mmap:
            raise ValueError("distgrad.load: mmap=True needs a file path, not a file object")
        return _load_from(f, place, weights_only, pickle_module, None)
    raise TypeError(f"distgrad.load: f must be a path or a binary file object, got {type(f).__name__}")
