"""``Function``: an op with a forward and a backward, and the graph node it records.

A Function subclass has static ``forward(ctx, ...)`` and ``backward(ctx, *grads)``.
Calling ``MyFn.apply(...)`` runs forward and, when grad mode is on and an input
requires grad, records a :class:`BackwardNode` (the outputs' ``grad_fn``).  The
node is also the ``ctx``: what forward saves on it, backward reads back.

Two flavours share that contract:

* :class:`Function` - PyTorch's custom-function API: forward receives Tensors
  (and runs with grad mode off), backward receives and returns Tensors.
* :class:`ArrayFunction` - distgrad's built-in ops: forward receives the raw
  NumPy/CuPy arrays, which keeps recording cheap; backward still receives and
  returns Tensors, so every backward formula is itself differentiable and
  ``create_graph=True`` gives higher derivatives for free.

Example::

    >>> import distgrad
    >>> class Square(distgrad.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         x, = ctx.saved_tensors
    ...         return 2 * x * g
    >>> x = distgrad.tensor([3.0], requires_grad=True)
    >>> Square.apply(x).backward()
    >>> x.grad
    tensor([6.])
"""
import functools
import traceback
import weakref

from distgrad.autograd import anomaly
from distgrad import backend as _backend
from numpy import ndarray as _ndarray

from distgrad.backend import get_array_module
from distgrad.backend import is_array as backend_is_array
from distgrad.autograd import grad_mode

_state = grad_mode.state
_new_object = object.__new__
Tensor = None  # bound by distgrad.autograd.tensor once the class exists (import cycle)

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward.")


def bind_tensor_class(cls):
    global Tensor
    Tensor = cls


class RemovableHandle:
    """Returned by ``register_*hook``; ``remove()`` takes the hook out again.

    Example::

        >>> h = distgrad.ones(1, requires_grad=True).register_hook(lambda g: g)
        >>> h.remove()
    """

    _next_id = 0

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(hooks, fn):
    """Insert ``fn`` into the dict ``hooks`` and return its handle."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


class Node:
    """A node of the backward graph: a tensor's ``grad_fn``.

    ``next_functions`` lists, per tensor input, ``(node, output_nr)`` of where
    the gradient goes next (``(None, 0)`` for inputs that need no gradient).
    """

    _pre_hooks = None       # register_prehook: fn(grad_outputs) -> new grad_outputs or None
    _post_hooks = None      # register_hook: fn(grad_inputs, grad_outputs) -> new grad_inputs or None
    _trace = None           # forward stack, recorded under anomaly detection
    _next = ()
    _num_outputs = 1

    @property
    def next_functions(self):
        return self._next

    def name(self):
        return type(self).__name__

    @property
    def metadata(self):
        d = self.__dict__.get("_metadata")
        if d is None:
            d = self._metadata = {}
        return d

    def register_hook(self, fn):
        """Run ``fn(grad_inputs, grad_outputs)`` after this node; it may return new grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = {}
        return add_hook(self._post_hooks, fn)

    def register_prehook(self, fn):
        """Run ``fn(grad_outputs)`` before this node; it may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = {}
        return add_hook(self._pre_hooks, fn)

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad(Node):
    """The sink of a leaf tensor that requires grad: adds the arriving gradient to ``.grad``."""

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "torch::autograd::AccumulateGrad"


class BackwardNode(Node):
    """The node a Function records; it is also the ``ctx`` that forward and backward share."""

    _saved = ()
    _to_save = ()
    _non_diff = None
    _dirty = None
    materialize_grads = True

    def __init__(self, fn):
        self._fn = fn

    def name(self):
        return self._fn._node_name

    # --- the ctx API -------------------------------------------------------------
    def save_for_backward(self, *values):
        """Keep tensors (or arrays, for built-in ops) for backward; read them as ``saved_tensors``."""
        self._to_save = values

    def mark_dirty(self, *tensors):
        """Declare inputs that forward modified in place (they must be returned as outputs)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *outputs):
        """Declare outputs that carry no gradient (indices, masks)."""
        self._non_diff = {id(o) for o in outputs}

    def set_materialize_grads(self, value):
        """With False, backward sees None (not zeros) for outputs that got no gradient."""
        self.materialize_grads = bool(value)

    _array_mode = False  # set by the engine: backward runs on raw arrays

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(FREED_MESSAGE)
        if self._array_mode:
            out = []
            for e in saved:
                if e[0] == "t" and e[1]._vc.value == e[2]:
                    out.append(e[1]._data)  # the common case, inlined
                else:
                    out.append(self._unpack_array(e))
            return tuple(out)
        return tuple([self._unpack(e) for e in saved])

    def _unpack_array(self, entry):
        kind = entry[0]
        if kind == "c":
            v = entry[1]
            return v._data if isinstance(v, Tensor) else v
        if kind == "t":
            t, version = entry[1], entry[2]
            if t._vc.value != version:
                self._version_error(t._data, t._vc.value, version, t)
            return t._data
        _, data, vc, version, nr = entry
        if vc.value != version:
            self._version_error(data, vc.value, version, None, nr)
        return data

    def _unpack(self, entry):
        kind = entry[0]
        if kind == "c":
            v = entry[1]
            return Tensor._make(v) if backend_is_array(v) else v
        if kind == "t":
            t, version = entry[1], entry[2]
            if t._vc.value != version:
                self._version_error(t._data, t._vc.value, version, t)
            return t
        _, data, vc, version, nr = entry
        if vc.value != version:
            self._version_error(data, vc.value, version, None, nr)
        out = Tensor._make(data, vc)
        out._requires_grad = True
        out.grad_fn = self
        out._output_nr = nr
        return out

    def _version_error(self, data, now, expected, tensor, nr=None):
        if tensor is not None and tensor.grad_fn is not None:
            where = f", which is output {tensor._output_nr} of {tensor.grad_fn.name()},"
        elif nr is not None:
            where = f", which is output {nr} of {self.name()},"
        else:
            where = ""
        from distgrad.dtypes import from_np
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{from_np(data.dtype)} {list(data.shape)}]{where} is at version "
            f"{now}; expected version {expected} instead (needed by {self.name()}). Hint: enable "
            "anomaly detection to find the operation that failed to compute its gradient, with "
            "distgrad.autograd.set_detect_anomaly(True).")

    def _release(self):
        self._saved = None

    def _apply_backward(self, grads, arrays=False):
        """Run the Function's backward on this node's output gradients (a list).

        With ``arrays`` the gradients are raw arrays: an ``array_backward`` op
        gets them (and its saved values) as arrays, any other op gets Tensors
        and its results are unwrapped again.
        """
        fn = self._fn
        if self._num_outputs > 1 and self.materialize_grads:
            for i, g in enumerate(grads):
                if g is None:
                    z = _zeros_like_meta(self._out_meta[i])
                    grads[i] = z._data if arrays and z is not None else z
        if arrays and not fn.array_backward:
            self._array_mode = False
            res = fn.backward(self, *[None if g is None else Tensor._make(g) for g in grads])
            if type(res) is not tuple:
                res = (res,)
            res = tuple([r._data if isinstance(r, Tensor) else r for r in res])
        else:
            self._array_mode = arrays
            res = fn.backward(self, *grads)
            if type(res) is not tuple:
                res = (res,)
        argpos = self._argpos
        if len(res) != len(self.needs_input_grad):
            nargs = len(self.needs_input_grad)
            if len(res) < nargs or any(r is not None for r in res[nargs:]):
                raise RuntimeError(
                    f"function {self.name()} returned an incorrect number of gradients "
                    f"(expected {nargs}, got {len(res)})")
        out = res if len(argpos) == len(res) else [res[p] for p in argpos]
        expected = _ndarray if arrays else Tensor
        for r in out:
            if r is not None and r.__class__ is not expected:
                return self._check_results(out, arrays)
        return out

    def _check_results(self, out, arrays):
        """The slow path of result checking: CuPy arrays, NumPy scalars, subclasses, or an error."""
        out = list(out)
        for i, r in enumerate(out):
            if r is None or (backend_is_array(r) if arrays else isinstance(r, Tensor)):
                continue
            if arrays and hasattr(r, "dtype") and hasattr(r, "shape") and r.shape == ():
                # NumPy math on 0-d arrays returns scalars: make them 0-d arrays again
                out[i] = get_array_module(r).asarray(r)
                continue
            raise RuntimeError(f"{self.name()}.backward returned {type(r).__name__} for an input: "
                               f"expected Variable or None (got {type(r).__name__})")
        return out


def _zeros_like_meta(meta):
    if meta is None:
        return None
    shape, np_dtype, xp = meta
    return Tensor._make(xp.zeros(shape, dtype=np_dtype))


class _NoCtx:
    """The ctx forward gets when nothing is recorded: saving is a no-op."""

    needs_input_grad = (False,) * 32
    materialize_grads = True

    def save_for_backward(self, *values):
        pass

    def mark_dirty(self, *tensors):
        pass

    def mark_non_differentiable(self, *outputs):
        pass

    def set_materialize_grads(self, value):
        pass


class Function:
    """Base class for custom differentiable operations, with PyTorch's contract.

    Subclass it with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``
    and call ``apply``; forward runs with grad mode off.  backward returns one
    gradient (or None) per forward argument.
    """

    _node_name = "FunctionBackward"
    array_backward = False  # True: backward is written against xp and may receive raw arrays

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        builtin = cls.__module__.startswith("distgrad.")
        suffix = "Backward0" if builtin else "Backward"
        cls._node_name = cls.__dict__.get("node_name", cls.__name__ + suffix)
        # a node class of that name, so type(t.grad_fn).__name__ reads as in PyTorch
        cls._node_cls = type(cls._node_name, (BackwardNode,), {"__module__": cls.__module__, "_fn": cls})

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            f"{type(self).__name__}: autograd Functions are used through the static "
            f"{type(self).__name__}.apply(...), not by creating an instance")

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        record = _state.enabled and any(isinstance(a, Tensor) and a._requires_grad for a in args)
        prev = _state.enabled
        _state.enabled = False
        node = cls._node_cls(cls) if record else _NoCtx()
        node.needs_input_grad = tuple(record and isinstance(a, Tensor) and a._requires_grad for a in args)
        try:
            out = cls.forward(node, *args, **kwargs)
        finally:
            _state.enabled = prev
        if not record:
            return out
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        _connect_inputs(node, args)
        input_ids = {id(a): a for a in args if isinstance(a, Tensor)}
        dirty = {id(t) for t in (node._dirty or ())}
        non_diff = node._non_diff or ()
        results = []
        for nr, o in enumerate(outs):
            if not isinstance(o, Tensor):
                results.append(o)
                continue
            if id(o) in input_ids and id(o) not in dirty:
                o = o._alias()  # returned an input unchanged: a view of it
            elif id(o) in dirty:
                if o.grad_fn is None and o._requires_grad:
                    raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
                o._vc.value += 1  # forward may have written through raw data: count the change
            if id(o) in non_diff or not o.dtype.is_floating_point:
                o._requires_grad = False
            else:
                o._requires_grad = True
                o.grad_fn = node
                o._output_nr = nr
            results.append(o)
        node._num_outputs = len(outs)
        node._out_meta = [_meta(o) for o in results]
        for i, v in enumerate(node._to_save):
            if v is not None and not isinstance(v, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} is of type "
                                f"{type(v).__name__}")
        _resolve_saved(node, args, [r._data if isinstance(r, Tensor) else None for r in results], results)
        return results[0] if single else tuple(results)


class ArrayFunction(Function):
    """A built-in op: forward works on raw arrays, backward on Tensors (differentiable)."""

    _view = False  # output shares storage (and version counter) with input 0

    @classmethod
    def apply(cls, *args):
        if _state.enabled:
            for a in args:
                if a.__class__ is Tensor or isinstance(a, Tensor):
                    if a._requires_grad:
                        return _record(cls, args)
        try:
            out = cls.forward(_NO_CTX, *[a._data if isinstance(a, Tensor) else a for a in args])
        except (TypeError, ValueError):
            check_same_device(cls, args)
            raise
        if cls._view:
            base = args[0]
            if type(out) is tuple:
                return tuple([base._view_of(o) for o in out])
            return base._view_of(out)
        if type(out) is tuple:
            return tuple([Tensor._make(o) for o in out])
        return Tensor._make(out)


_NO_CTX = _NoCtx()


def check_same_device(cls, args):
    """Raise PyTorch's RuntimeError, naming both devices, when an op's tensors live on different devices.

    Ops call it only after their forward failed (CuPy refuses NumPy operands
    and NumPy refuses CuPy ones, with a TypeError or ValueError that does not
    say why), so agreeing devices cost nothing.
    """
    first = None
    for a in args:
        if isinstance(a, Tensor) or backend_is_array(a):  # raw arrays: index positions built on a device
            d = a.device if isinstance(a, Tensor) else _backend.device_of(a)
            if first is None:
                first = d
            elif d != first:
                raise RuntimeError(f"{cls.__name__.lower()}: Expected all tensors to be on the same device, but "
                                   f"found at least two devices, {first} and {d}!")


def _connect_inputs(node, args):
    nexts, pos, shapes = [], [], []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            pos.append(i)
            shapes.append(a._data.shape)
            if a._requires_grad:
                fn = a.grad_fn
                nexts.append((fn if fn is not None else a._grad_accumulator(), a._output_nr))
            else:
                nexts.append((None, 0))
    node._next = tuple(nexts)
    node._argpos = tuple(pos)
    node._in_shapes = tuple(shapes)
    if anomaly.state.enabled:
        node._trace = "".join(traceback.format_stack()[:-2])  # drop this frame and Function.apply


def _meta(t):
    if not isinstance(t, Tensor):
        return None
    d = t._data
    return (d.shape, d.dtype, get_array_module(d))


def _record(cls, args):
    node = _new_object(cls._node_cls)  # the node class carries _fn: no __init__ call on the hot path
    needs = []
    arrays = []
    nexts, pos, shapes = [], [], []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            d = a._data
            arrays.append(d)
            pos.append(i)
            shapes.append(d.shape)
            if a._requires_grad:
                needs.append(True)
                fn = a.grad_fn
                nexts.append((fn if fn is not None else a._grad_accumulator(), a._output_nr))
            else:
                needs.append(False)
                nexts.append((None, 0))
        else:
            arrays.append(a)
            needs.append(False)
    node.needs_input_grad = tuple(needs)
    node._next = tuple(nexts)
    node._argpos = tuple(pos)
    node._in_shapes = tuple(shapes)
    if anomaly.state.enabled:
        node._trace = "".join(traceback.format_stack()[:-2])
    try:
        out = cls.forward(node, *arrays)
    except (TypeError, ValueError):
        check_same_device(cls, args)
        raise
    if type(out) is not tuple:
        if cls._view:
            t = args[0]._view_of(out)
        else:
            t = Tensor._make(out)
        if out.dtype.kind == "f" and (node._non_diff is None or id(out) not in node._non_diff):
            t._requires_grad = True
            t.grad_fn = node
        if node._to_save:
            _resolve_saved(node, args, (out,), (t,))
        return t
    non_diff = node._non_diff
    results = []
    for nr, o in enumerate(out):
        t = args[0]._view_of(o) if cls._view else Tensor._make(o)
        if o.dtype.kind == "f" and (non_diff is None or id(o) not in non_diff):
            t._requires_grad = True
            t.grad_fn = node
            t._output_nr = nr
        results.append(t)
    node._num_outputs = len(out)
    node._out_meta = [_meta(t) for t in results]
    if node._to_save:
        _resolve_saved(node, args, out, results)
    return tuple(results)


def _resolve_saved(node, args, out_arrays, out_tensors):
    """Turn what forward saved into entries that check versions when unpacked."""
    entries = []
    for s in node._to_save:
        entry = None
        if isinstance(s, Tensor):
            for j, t in enumerate(out_tensors):
                if t is s and t.grad_fn is node:
                    entry = ("o", t._data, t._vc, t._vc.value, j)
                    break
            if entry is None:
                if s._inference:
                    _inference_saved_error()
                entry = ("t", s, s._vc.value)
        elif s is not None:
            for a in args:
                if isinstance(a, Tensor) and a._data is s:
                    if a._inference:
                        _inference_saved_error()
                    entry = ("t", a, a._vc.value)
                    break
            if entry is None:
                for j, o in enumerate(out_arrays):
                    if o is s:
                        t = out_tensors[j]
                        if t.grad_fn is node:
                            entry = ("o", s, t._vc, t._vc.value, j)
                        else:
                            entry = ("c", t)
                        break
        entries.append(entry or ("c", s))
    node._saved = entries
    node._to_save = ()


def _inference_saved_error():
    raise RuntimeError("Inference tensors cannot be saved for backward. Please do not use Tensors created in "
                       "inference mode in computation tracked by autograd. To work around this, you can make a "
                       "clone to get a normal tensor and use it in autograd, or use `distgrad.no_grad()` instead "
                       "of `distgrad.inference_mode()`.")


def once_differentiable(backward):
    """Decorate a backward that cannot itself be differentiated.

    It runs with grad mode off; if a higher-order graph was requested, its
    results get a node that raises when differentiated.
    """
    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with grad_mode.no_grad():
            res = backward(ctx, *grads)
        if not _state.enabled or not any(isinstance(g, Tensor) and g._requires_grad for g in grads):
            return res
        single = not isinstance(res, tuple)
        res = (res,) if single else res
        gs = [g for g in grads if isinstance(g, Tensor) and g._requires_grad]
        out = tuple(_DelayedError.apply(r, *gs) if isinstance(r, Tensor) and r.dtype.is_floating_point
                    else r for r in res)
        return out[0] if single else out
    return wrapper


class _DelayedError(ArrayFunction):
    node_name = "DelayedError"

    @staticmethod
    def forward(ctx, x, *grads):
        return x.copy()  # depends on the incoming grads, so a double backward reaches backward below

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("trying to differentiate twice a function that was marked with @once_differentiable")


def weak_tensor_ref(t):
    return weakref.ref(t)
