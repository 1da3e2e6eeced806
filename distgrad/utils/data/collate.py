"""Turning a list of samples into a batch: ``default_collate``, ``default_convert`` and ``collate``.

``default_collate`` follows PyTorch type by type: tensors are stacked along a new first
dimension; NumPy arrays become tensors and are stacked; Python floats become a float64
tensor, ints an int64 tensor and bools a bool tensor; NumPy scalars keep their dtype;
strings and bytes stay a list; dicts, namedtuples, lists and tuples are collated field
by field (tuples come back as lists, as in PyTorch).  ``collate(batch,
collate_fn_map=...)`` is the extensible version: map a type to your own function.

Example::

    >>> import distgrad
    >>> from distgrad.utils.data import default_collate
    >>> out = default_collate([(distgrad.ones(2), 1), (distgrad.zeros(2), 2)])
    >>> out[0].shape, out[1]
    (distgrad.Size([2, 2]), tensor([1, 2]))
"""
import collections.abc
import copy
import re

import numpy as np

import distgrad
from distgrad.autograd.tensor import Tensor

# NumPy dtype kinds that hold strings or objects, which cannot become tensors.
_STR_OBJ_KINDS = re.compile(r"[SaUO]")

DEFAULT_COLLATE_ERR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def collate_tensor_fn(batch, *, collate_fn_map=None):
    return distgrad.stack(batch, 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if _STR_OBJ_KINDS.search(elem.dtype.str) is not None:
        raise TypeError(DEFAULT_COLLATE_ERR.format(elem.dtype))
    return collate([distgrad.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    # np.array keeps the scalars' own dtype (float32 scalars give a float32 tensor, as in PyTorch)
    return distgrad.as_tensor(np.array(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    return distgrad.tensor(batch, dtype=distgrad.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    return distgrad.tensor(batch)


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def collate(batch, *, collate_fn_map=None):
    """Collate ``batch`` (a list of samples), dispatching leaves through ``collate_fn_map``.

    ``collate_fn_map`` maps a type (or tuple of types) to ``fn(batch, *, collate_fn_map)``;
    the first element's exact type is looked up first, then each key in order with
    ``isinstance``.  Containers are walked here so every leaf reaches the map.

    Example::

        >>> collate([1.5, 2.5], collate_fn_map={float: lambda b, collate_fn_map: sum(b)})
        4.0
    """
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for kind, fn in collate_fn_map.items():
            if isinstance(elem, kind):
                return fn(batch, collate_fn_map=collate_fn_map)

    def sub(samples):
        return collate(list(samples), collate_fn_map=collate_fn_map)

    if isinstance(elem, collections.abc.Mapping):
        fields = {key: sub([d[key] for d in batch]) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                out = copy.copy(elem)  # keeps the mapping's own type and extra attributes
                out.update(fields)
                return out
            return elem_type(fields)
        except TypeError:  # a mapping type that cannot be built from a dict
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(sub(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [sub(samples) for samples in transposed]  # PyTorch returns tuples as lists
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                out = copy.copy(elem)
                for i, samples in enumerate(transposed):
                    out[i] = sub(samples)
                return out
            return elem_type([sub(samples) for samples in transposed])
        except TypeError:
            return [sub(samples) for samples in transposed]
    raise TypeError(DEFAULT_COLLATE_ERR.format(elem_type))


def default_collate(batch):
    """Stack a list of samples into a batch with PyTorch's rules (see the module docstring).

    Example::

        >>> default_collate([{"x": 1.0}, {"x": 2.0}])
        {'x': tensor([1., 2.], dtype=distgrad.float64)}
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Turn NumPy arrays and scalars inside one sample into tensors, leaving everything else.

    The DataLoader uses it instead of :func:`default_collate` when automatic batching
    is off (``batch_size=None``).

    Example::

        >>> default_convert((np.arange(2), "a"))
        [tensor([0, 1]), 'a']
    """
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_"):
        if isinstance(data, np.ndarray) and _STR_OBJ_KINDS.search(data.dtype.str) is not None:
            return data
        return distgrad.as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        fields = {key: default_convert(data[key]) for key in data}
        try:
            if isinstance(data, collections.abc.MutableMapping):
                out = copy.copy(data)
                out.update(fields)
                return out
            return elem_type(fields)
        except TypeError:
            return fields
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                out = copy.copy(data)
                for i, d in enumerate(data):
                    out[i] = default_convert(d)
                return out
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
