"""The objects a PyTorch checkpoint's pickle names: storage types, dtypes and the tensor rebuild functions.

A file written by ``torch.save`` stores each tensor as a call
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``
whose ``storage`` is a reference (``('storage', torch.FloatStorage, key, location,
numel)``) to a raw record beside the pickle.  This module holds distgrad's versions
of those names: :class:`StorageType` objects standing for ``torch.FloatStorage`` and
friends (only their element type matters), :class:`LoadedStorage` for a storage read
from a file, and the rebuild functions, which check every offset, size and stride
against the storage before making a view of it, so a crafted file cannot make a
tensor that reads outside its storage.

:data:`TORCH_NAMES` maps each PyTorch name these objects stand for (as the pickle
spells it) to the object; :mod:`distgrad.safe_globals` allows exactly these by
default.  distgrad's own pickled checkpoints name the objects here by their
distgrad paths, which are allowed too.

Example::

    >>> import numpy as np
    >>> s = LoadedStorage(np.arange(6, dtype=np.float32), "cpu", "0")
    >>> _rebuild_tensor_v2(s, 1, (2, 2), (3, 1), False, {})
    tensor([[1., 2.],
            [4., 5.]])
"""
import collections

import numpy as np

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.tensor import Size, Tensor
from distgrad.nn.parameter import Parameter


class StorageType:
    """A PyTorch storage class a checkpoint names (``torch.FloatStorage``); only its element type matters.

    Example::

        >>> FloatStorage, FloatStorage.dtype
        (torch.FloatStorage, distgrad.float32)
    """

    def __init__(self, name, dtype_name):
        self.name = name
        self.dtype_name = dtype_name

    @property
    def dtype(self):
        """The distgrad dtype of the storage's elements; a clear error for one distgrad does not have."""
        d = dtypes._NAMES.get(self.dtype_name)
        if d is None:
            raise NotImplementedError(f"the checkpoint holds a torch.{self.name} ({self.dtype_name} elements); "
                                      f"distgrad has no {self.dtype_name} dtype yet")
        return d

    def __repr__(self):
        return f"torch.{self.name}"

    def __reduce__(self):
        return self.name  # pickled as the module-level global of that name


DoubleStorage = StorageType("DoubleStorage", "float64")
FloatStorage = StorageType("FloatStorage", "float32")
HalfStorage = StorageType("HalfStorage", "float16")
BFloat16Storage = StorageType("BFloat16Storage", "bfloat16")
LongStorage = StorageType("LongStorage", "int64")
IntStorage = StorageType("IntStorage", "int32")
ShortStorage = StorageType("ShortStorage", "int16")
CharStorage = StorageType("CharStorage", "int8")
ByteStorage = StorageType("ByteStorage", "uint8")
BoolStorage = StorageType("BoolStorage", "bool")
ComplexFloatStorage = StorageType("ComplexFloatStorage", "complex64")
ComplexDoubleStorage = StorageType("ComplexDoubleStorage", "complex128")
UntypedStorage = StorageType("UntypedStorage", "uint8")

STORAGE_TYPES = (DoubleStorage, FloatStorage, HalfStorage, BFloat16Storage, LongStorage, IntStorage,
                 ShortStorage, CharStorage, ByteStorage, BoolStorage, ComplexFloatStorage,
                 ComplexDoubleStorage, UntypedStorage)


class LoadedStorage:
    """A storage read from a checkpoint: a flat host array, the location it was saved from, its record key."""

    def __init__(self, array, location, key):
        self.array = array
        self.location = location
        self.key = key
        self.place = None  # set by the loader: (host array, saved location) -> Tensor, the map_location rule

    def __len__(self):
        return self.array.size

    def __repr__(self):
        return f"<storage {self.key!r}: {self.array.size} x {self.array.dtype} from {self.location}>"


def _ints(what, values):
    if not isinstance(values, (tuple, list)) or not all(type(v) is int for v in values):
        raise ValueError(f"_rebuild_tensor: {what} must be a tuple of ints, got {values!r:.80}")
    return tuple(values)


def _view(storage, storage_offset, size, stride):
    """The ``size``/``stride`` view of ``storage`` at ``storage_offset``, refused if any element falls outside."""
    if not isinstance(storage, LoadedStorage):
        raise ValueError(f"_rebuild_tensor: expected a storage, got {type(storage).__name__}")
    size, stride = _ints("size", size), _ints("stride", stride)
    if type(storage_offset) is not int or storage_offset < 0:
        raise ValueError(f"_rebuild_tensor: storage offset must be a non-negative int, got {storage_offset!r:.40}")
    if len(size) != len(stride):
        raise ValueError(f"_rebuild_tensor: size {size} and stride {stride} have different lengths")
    if any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise ValueError(f"_rebuild_tensor: negative size or stride in size {size}, stride {stride}")
    flat = storage.array
    if 0 in size:
        return flat[:0].reshape(size)
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= flat.size:
        raise ValueError(f"_rebuild_tensor: a tensor of size {size}, stride {stride} at offset {storage_offset} "
                         f"needs {last + 1} elements, but storage {storage.key!r} has only {flat.size}")
    item = flat.itemsize
    return np.lib.stride_tricks.as_strided(flat[storage_offset:], shape=size,
                                           strides=tuple(s * item for s in stride))


def _place(storage, view):
    if storage.place is None:
        return Tensor._make(view)
    return storage.place(view, storage.location)


def _set_requires_grad(t, requires_grad):
    if type(requires_grad) is not bool:
        raise ValueError(f"_rebuild_tensor: requires_grad must be a bool, got {requires_grad!r:.40}")
    if requires_grad:
        if not t.is_floating_point():
            raise ValueError(f"_rebuild_tensor: a {t.dtype} tensor cannot require grad")
        t.requires_grad_(True)
    return t


def _check_hooks(backward_hooks):
    if backward_hooks:
        raise ValueError("_rebuild_tensor: the checkpoint attaches backward hooks to a tensor; "
                         "distgrad does not restore hooks from files")


def _rebuild_tensor(storage, storage_offset, size, stride):
    """``torch._utils._rebuild_tensor``: a view of a loaded storage (files of PyTorch < 1.0)."""
    return _place(storage, _view(storage, storage_offset, size, stride))


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    """``torch._utils._rebuild_tensor_v2``: a tensor viewing a loaded storage, as ``torch.save`` stores it."""
    _check_hooks(backward_hooks)
    t = _rebuild_tensor(storage, storage_offset, size, stride)
    return _set_requires_grad(t, requires_grad)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    """``torch._utils._rebuild_parameter``: a Parameter around a rebuilt tensor."""
    _check_hooks(backward_hooks)
    if not isinstance(data, Tensor):
        raise ValueError(f"_rebuild_parameter: expected a tensor, got {type(data).__name__}")
    if type(requires_grad) is not bool:
        raise ValueError(f"_rebuild_parameter: requires_grad must be a bool, got {requires_grad!r:.40}")
    return Parameter(data.detach(), requires_grad)


def _set_state(obj, state):
    """Restore the ``(dict_state, slots_state)`` or ``dict_state`` a tensor's pickle carries."""
    if state is None:
        return obj
    dict_state, slots_state = state if isinstance(state, tuple) and len(state) == 2 else (state, None)
    for part in (dict_state, slots_state):
        if part is None:
            continue
        if not isinstance(part, dict) or not all(isinstance(k, str) for k in part):
            raise ValueError(f"tensor state must be a dict of attribute names, got {type(part).__name__}")
        for k, v in part.items():
            if k.startswith("__") or k in Tensor.__slots__:
                raise ValueError(f"tensor state may not set the attribute {k!r}")
            setattr(obj, k, v)
    return obj


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    """``torch._utils._rebuild_parameter_with_state``: a Parameter that carries Python attributes."""
    return _set_state(_rebuild_parameter(data, requires_grad, backward_hooks), state)


REBUILD_FUNCTIONS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_parameter, _rebuild_parameter_with_state)


def _rebuild_from_type_v2(func, new_type, args, state):
    """``torch._tensor._rebuild_from_type_v2``: rebuild with ``func(*args)``, then restore ``state``.

    PyTorch wraps a tensor this way when it carries Python attributes or is a
    subclass; distgrad knows the subclasses Tensor and Parameter.
    """
    if func not in REBUILD_FUNCTIONS:
        raise ValueError(f"_rebuild_from_type_v2: {func!r:.60} is not a tensor rebuild function")
    if new_type not in (Tensor, Parameter):
        raise ValueError(f"_rebuild_from_type_v2: cannot rebuild a tensor as {new_type!r:.60}")
    if not isinstance(args, tuple):
        raise ValueError("_rebuild_from_type_v2: arguments must be a tuple")
    t = func(*args)
    if new_type is Parameter and not isinstance(t, Parameter):
        t = Parameter(t.detach(), t.requires_grad)
    return _set_state(t, state)


# PyTorch dtype names as pickles spell them (``torch.float32``) -> the dtype name distgrad uses
_DTYPE_NAMES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
                "complex64", "complex128")


class _MissingDtype:
    """Stands for a PyTorch dtype distgrad lacks: loading succeeds only if nothing uses it as a dtype."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name} (not provided by distgrad)"


def _torch_dtype(name):
    return dtypes._NAMES.get(name) or _MissingDtype(name)


def torch_names():
    """Every PyTorch global a plain checkpoint needs, by the name its pickle uses, mapped to distgrad's object."""
    names = {
        "collections.OrderedDict": collections.OrderedDict,
        "torch.Tensor": Tensor,
        "torch.nn.parameter.Parameter": Parameter,
        "torch.Size": Size,
        "torch.device": backend.device,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    }
    for f in REBUILD_FUNCTIONS:
        names[f"torch._utils.{f.__name__}"] = f
    for s in STORAGE_TYPES:
        prefix = "torch.storage." if s is UntypedStorage else "torch."
        names[prefix + s.name] = s
        if s is not UntypedStorage:
            names[f"torch.cuda.{s.name}"] = s  # how checkpoints saved from a GPU before PyTorch 1.x name them
    for n in _DTYPE_NAMES:
        names[f"torch.{n}"] = _torch_dtype(n)
    return names


def distgrad_names():
    """The same objects under the names distgrad's own pickled checkpoints give them."""
    names = {f"{__name__}.{f.__name__}": f for f in REBUILD_FUNCTIONS + (_rebuild_from_type_v2,)}
    names.update({f"{__name__}.{s.name}": s for s in STORAGE_TYPES})
    names.update({"distgrad.autograd.tensor.Size": Size, "distgrad.autograd.tensor.Tensor": Tensor,
                  "distgrad.nn.parameter.Parameter": Parameter, "distgrad.backend.device": backend.device,
                  "distgrad.dtypes._by_name": dtypes._by_name})
    return names


def storage_type_of(np_dtype):
    """The :class:`StorageType` that stores elements of NumPy dtype ``np_dtype`` (used when writing)."""
    name = dtypes.from_np(np_dtype).name
    for s in STORAGE_TYPES:
        if s.dtype_name == name and s is not UntypedStorage:
            return s
    raise TypeError(f"no storage type for {np_dtype}")
