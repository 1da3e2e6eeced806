"""Tensor dtypes and PyTorch's type-promotion rules.

``distgrad.float32`` and friends are :class:`dtype` objects; each wraps the
NumPy dtype that stores it (``dtype.np``).  :func:`result_type` implements
PyTorch's promotion: categories bool < integer < floating, and Python scalars
or zero-dim tensors only raise the result's *category*, never its width within
a category (``float32_tensor * 2.5`` stays float32, ``int_tensor * 2.5`` becomes
the default float dtype).

Example::

    >>> import distgrad
    >>> distgrad.promote_types(distgrad.int32, distgrad.float16)
    distgrad.float16
"""
import numpy as np


class dtype:
    """A tensor element type, printed as ``distgrad.float32``."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_category")

    def __init__(self, name, np_dtype, category):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = category == 2
        self.is_signed = self.np.kind in "fi"
        self.itemsize = self.np.itemsize
        self._category = category  # 0 bool, 1 integer, 2 floating

    @property
    def is_complex(self):
        return False

    def __repr__(self):
        return f"distgrad.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)



class _TensorlessDtype(dtype):
    """A PyTorch dtype distgrad names but cannot store yet: it exists, compares and prints, holds no tensor.

    Programs name ``torch.bfloat16`` in passing (a table of dtypes, a check of
    what the GPU supports) long before they make a tensor of it; those lines run.
    Making a tensor of it, casting to it or promoting with it raises
    NotImplementedError naming the dtype.  Partial (see the README): NumPy has no
    bfloat16, and storing it (through ``ml_dtypes``) is issue #25's.
    """

    __slots__ = ()

    def __init__(self, name, itemsize):
        self.name = name
        self.is_floating_point = True
        self.is_signed = True
        self.itemsize = itemsize
        self._category = 2

    @property
    def np(self):
        raise NotImplementedError(f"distgrad has no {self.name} tensors yet; use float32 or float16 "
                                  f"(distgrad.{self.name} exists so that programs naming it run)")


bfloat16 = _TensorlessDtype("bfloat16", 2)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_FROM_NP = {d.np: d for d in ALL}
_NAMES = {d.name: d for d in ALL}
_NAMES["bfloat16"] = bfloat16
_NAMES.update(half=float16, float=float32, double=float64, short=int16, int=int32, long=int64)

_SCALAR_TYPE_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                      "int64": "Long", "float16": "Half", "float32": "Float", "float64": "Double"}


def torch_name(d):
    """PyTorch's scalar-type name of a dtype (or a NumPy dtype / its name), as its error messages print it.

    Example::

        >>> torch_name(int64), torch_name(np.dtype("float32"))
        ('Long', 'Float')
    """
    name = d.name if isinstance(d, (dtype, np.dtype)) else str(d)
    return _SCALAR_TYPE_NAMES.get(name, name)


_default_float = float32


def _by_name(name):
    return _NAMES[name]


def from_np(np_dtype):
    """The distgrad dtype that stores arrays of NumPy dtype ``np_dtype``."""
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        d = _FROM_NP.get(np.dtype(np_dtype))
        if d is None:
            raise TypeError(f"distgrad has no dtype for NumPy dtype {np_dtype}") from None
        return d


def as_dtype(d):
    """Accept a distgrad dtype, a NumPy dtype, a name, or Python's ``bool/int/float``."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str) and d in _NAMES:
        return _NAMES[d]
    try:
        return from_np(np.dtype(d))
    except TypeError:
        raise TypeError(f"not a distgrad dtype: {d!r}") from None


def get_default_dtype():
    """The dtype of floating-point tensors made from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(d):
    """Set the default floating-point dtype (float16, float32 or float64)."""
    global _default_float
    d = as_dtype(d)
    d.np  # noqa: B018  (a dtype distgrad cannot store raises here, not at the next tensor)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def promote_types(a, b):
    """The smallest dtype both ``a`` and ``b`` convert to without losing category."""
    if a is b:
        return a
    if a._category != b._category:
        return a if a._category > b._category else b
    return from_np(np.promote_types(a.np, b.np))


def scalar_dtype(value):
    """The dtype a Python scalar takes on its own: bool, int64 or the default float."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return _default_float
    raise TypeError(f"expected a number, got {type(value).__name__}")


def result_type(*operands):
    """PyTorch's result dtype for an op on tensors and Python scalars.

    Dimensioned tensors decide; zero-dim tensors and then Python scalars count
    only if they belong to a higher category than what was decided so far.
    """
    dim = zero = wrapped = None
    for o in operands:
        d = getattr(o, "dtype", None)
        if isinstance(d, dtype):
            if o.ndim:
                dim = d if dim is None else promote_types(dim, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        elif o is not None:
            s = scalar_dtype(o)
            wrapped = s if wrapped is None else promote_types(wrapped, s)
    res = dim
    for nxt in (zero, wrapped):
        if nxt is None:
            continue
        if res is None:
            res = nxt
        elif nxt._category > res._category:
            res = promote_types(res, nxt) if nxt is zero else promote_types(res, nxt)
    return res
