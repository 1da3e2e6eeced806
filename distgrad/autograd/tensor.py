"""``Tensor``: an n-dimensional array that records the ops applied to it.

This file holds the tensor's state and its autograd API (``requires_grad``,
``grad``, ``grad_fn``, ``backward``, hooks, ``detach``, ``.data``, version
counters).  The math methods (``x.exp()``, ``x + y`` ...) are bound one
explicit line each in :mod:`distgrad.autograd.tensor_methods`.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""
import copy
import warnings
import weakref

import numpy as np

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd import grad_mode
from distgrad.autograd.graph import AccumulateGrad, add_hook
from distgrad.autograd.printing import tensor_repr

_state = grad_mode.state
_ndarray = np.ndarray
_new = object.__new__
_inference_active = grad_mode.inference_active


class VersionCounter:
    """Counts in-place changes to a storage; shared by a tensor, its views and ``detach()``."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Size(tuple):
    """The shape of a tensor: a tuple that prints as ``distgrad.Size([2, 3])``."""

    def __repr__(self):
        return f"distgrad.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


class Tensor:
    """A multi-dimensional array on a device, with autograd.

    Build tensors with ``distgrad.tensor``, ``zeros``, ``randn`` ...; the legacy
    constructor ``Tensor(data)`` / ``Tensor(*sizes)`` makes float tensors.
    """

    # Hot attributes live in slots; rarely set ones default on the class and go to __dict__.
    __slots__ = ("_data", "_requires_grad", "_grad", "grad_fn", "_output_nr", "_vc", "_base",
                 "__weakref__", "__dict__")
    _acc = None             # weakref to this leaf's AccumulateGrad node
    _hooks = None           # register_hook on a leaf: {id: fn}
    _post_acc_hooks = None  # register_post_accumulate_grad_hook: {id: fn}
    _retains = False        # retain_grad() was called
    _inference = False      # created under inference_mode
    _hist_v = 0             # a view: the version of its base when its history was made
    _nograd_view = False    # a view made in no_grad mode (PyTorch refuses in-place on it under grad)

    def __init__(self, *args):
        # deferred: creation imports this module for Tensor
        from distgrad.creation import legacy_tensor_data
        self._init(legacy_tensor_data(args))

    def _init(self, data, vc=None):
        """Set every slot of a fresh tensor over ``data`` (shared by ``__init__`` and ``_make``)."""
        self._data = data
        self._requires_grad = False
        self._grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._vc = vc if vc is not None else VersionCounter()
        self._base = None
        if _inference_active[0] and _state.inference:
            self._inference = True

    @classmethod
    def _make(cls, data, vc=None):
        """Wrap an array without copying (the fast internal constructor)."""
        if type(data) is not _ndarray and not backend.is_array(data):
            data = np.asarray(data)
        # _init's body, inlined: this is the hottest constructor (one method call is ~7% of it)
        t = _new(cls)
        t._data = data
        t._requires_grad = False
        t._grad = None
        t.grad_fn = None
        t._output_nr = 0
        t._vc = vc if vc is not None else VersionCounter()
        t._base = None
        if _inference_active[0] and _state.inference:
            t._inference = True
        return t

    def _view_of(self, data):
        """A tensor over ``data``, a view of this tensor's storage: same version counter."""
        t = Tensor._make(data, self._vc)
        t._base = self if self._base is None else self._base
        t._hist_v = self._vc.value  # the base's version its history describes (stale views are rebuilt)
        if not _state.enabled:
            t._nograd_view = True
        return t

    def _alias(self):
        """Another tensor object over the same storage (a view of all of it)."""
        return self._view_of(self._data)

    def _xp(self):
        return backend.get_array_module(self._data)

    # --- basic properties ----------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        """The shape, or the length of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[self._dim(dim)]

    def dim(self):
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self):
        return dtypes.from_np(self._data.dtype)

    @property
    def device(self):
        return backend.device_of(self._data)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def element_size(self):
        return self._data.itemsize

    def is_inference(self):
        return self._inference

    def _dim(self, d):
        """Wrap a possibly negative dimension index, with PyTorch's error when out of range."""
        n = max(self._data.ndim, 1)
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
        return d % n

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # --- autograd state --------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if self.grad_fn is not None:  # either way, as in PyTorch: only leaves have a settable flag
            hint = "" if value else (" If you want to use a computed variable in a subgraph that doesn't "
                                     "require differentiation use var_no_grad = var.detach().")
            raise RuntimeError("you can only change requires_grad flags of leaf variables." + hint)
        if value and self._data.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients (got {self.dtype})")
        if value and self._inference and not _state.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.")
        self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place and return self (a no-op for True on a non-leaf, as in PyTorch)."""
        if self.grad_fn is not None and requires_grad:
            return self
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        g = self._grad
        if g is None and self.grad_fn is not None and not self._retains:
            warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                          "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                          "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf "
                          "Tensor. If you access the non-leaf Tensor by mistake, make sure you access the leaf "
                          "Tensor instead.", UserWarning, stacklevel=2)
        return g

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of {type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"assigned grad has data of a different size: {list(value.shape)} "
                                   f"vs the tensor's {list(self.shape)}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(f"assigned grad has data of a different type: {value.dtype} vs {self.dtype}")
        self._grad = value

    @property
    def _version(self):
        return self._vc.value

    def _bump_version(self):
        self._vc.value += 1

    def _grad_accumulator(self):
        acc = self._acc() if self._acc is not None else None
        if acc is None:
            acc = AccumulateGrad(self)
            self._acc = weakref.ref(acc)
        return acc

    @property
    def output_nr(self):
        return self._output_nr

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward (a no-op on leaves)."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains:
            return
        node = self.grad_fn
        retained = node.__dict__.setdefault("_retained", {})
        retained[self._output_nr] = weakref.ref(self)
        self._retains = True

    @property
    def retains_grad(self):
        return self._retains

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it.

        Example::

            >>> x = distgrad.ones(2, requires_grad=True)
            >>> h = x.register_hook(lambda g: g * 2)
            >>> x.sum().backward(); x.grad
            tensor([2., 2.])
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            return add_hook(self._hooks, hook)
        table = self.grad_fn.__dict__.setdefault("_tensor_hooks", {})
        return add_hook(table.setdefault(self._output_nr, {}), hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` on a leaf once its ``.grad`` is final for this backward pass."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = {}
        return add_hook(self._post_acc_hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``distgrad.autograd.backward``)."""
        # deferred: api imports engine and this module
        from distgrad.autograd.api import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # --- detaching and .data -----------------------------------------------------------
    def detach(self):
        """A tensor over the same storage and version counter, cut from the graph."""
        t = Tensor._make(self._data, self._vc)
        return t

    def detach_(self):
        """Cut this tensor from the graph in place (it becomes a leaf)."""
        if self._base is not None and self.grad_fn is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self):
        """The same storage as a tensor that does not require grad, with its own version counter."""
        return Tensor._make(self._data)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(value).__name__}")
        self._data = value._data

    # --- conversion ---------------------------------------------------------------------
    def numpy(self, force=False):
        """The data as a NumPy array (sharing memory on the CPU)."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self.device.type != "cpu":
            if not force:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. "
                                "Use Tensor.cpu() to copy the tensor to host memory first.")
            return backend.to_device(self._data, backend.CPU)
        return self._data

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return backend.to_device(self._data, backend.CPU).tolist()

    def __array__(self, dtype=None, copy=None):
        a = backend.to_device(self._data, backend.CPU)
        return a if dtype is None else a.astype(dtype, copy=False)

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()).item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __hash__(self):
        return id(self)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter([self[i] for i in range(self._data.shape[0])])

    def __repr__(self):
        return tensor_repr(self)

    def __format__(self, format_spec):
        # PyTorch: a 0-d plain Tensor formats as its Python number ('{:+.2f}'.format(loss)); anything else as object
        if self._data.ndim == 0 and type(self) is Tensor:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __reduce_ex__(self, protocol):
        raise TypeError("distgrad tensors are not pickled; use distgrad.save (safetensors, no code on load)")

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol")
        new = type(self).__new__(type(self))
        Tensor._init(new, self._data.copy())
        new._requires_grad = self._requires_grad
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        for k, v in self.__dict__.items():
            new.__dict__[k] = copy.deepcopy(v, memo)
        memo[id(self)] = new
        return new
