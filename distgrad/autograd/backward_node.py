"""The node a Function records, which is also its ``ctx``, and what it keeps for backward.

A :class:`BackwardNode` is the ``ctx`` its Function's forward and backward
share: ``save_for_backward`` stores values as version-checked entries,
``saved_tensors`` gives them back (as Tensors, or as raw arrays while the
engine runs an ``array_backward``), and ``_apply_backward`` runs the
Function's backward on the gradients the engine hands it.

Example::

    >>> import distgrad
    >>> x = distgrad.ones(2, requires_grad=True)
    >>> y = x * x
    >>> isinstance(y.grad_fn, BackwardNode), len(y.grad_fn.saved_tensors)
    (True, 2)
"""
import weakref

from numpy import ndarray as _ndarray

from distgrad.autograd import anomaly
from distgrad.autograd import saved_hooks
from distgrad.autograd.graph import Node
from distgrad.autograd.tensor import Tensor
from distgrad.autograd.wiring import set_history
from distgrad.backend import get_array_module
from distgrad.backend import is_array as backend_is_array
from distgrad.dtypes import from_np

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward.")



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
        if kind == "h":
            return self._unpack_hooked(entry)._data
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
        if kind == "h":
            return self._in_graph(entry, self._unpack_hooked(entry))
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
        set_history(out, self, nr)
        return out

    def _unpack_hooked(self, entry):
        """What the unpack hook gives back for a value its pack hook kept (version-checked)."""
        t = entry[2](entry[1])
        if not isinstance(t, Tensor):
            raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
                            f"{type(t).__name__}")
        return t  # not version-checked, as in PyTorch: what the pack hook kept is the hook's to keep right

    def _in_graph(self, entry, t):
        """The unpacked tensor in the saved one's place in the graph, so double backward reaches the same nodes."""
        origin = entry[5]
        if origin[0] == "c":
            return t
        out = Tensor._make(t._data, entry[3])
        if origin[0] == "o":
            set_history(out, self, origin[1])
        else:
            _, grad_fn, nr, requires_grad, acc = origin
            set_history(out, grad_fn, nr, requires_grad)
            if acc is not None:
                out._acc = weakref.ref(acc)  # a leaf's gradient still lands on the leaf
        return out

    def _version_error(self, data, now, expected, tensor, nr=None):
        if tensor is not None and tensor.grad_fn is not None:
            where = f", which is output {tensor._output_nr} of {tensor.grad_fn.name()},"
        elif nr is not None:
            where = f", which is output {nr} of {self.name()},"
        else:
            where = ""
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
        try:
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
        except Exception as exc:
            if anomaly.state.enabled:  # name the op whose forward this was
                anomaly.with_forward_trace(self, exc)
            raise

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
    if saved_hooks.ACTIVE:  # one global read on the hot path; the thread's own stack only when some are on
        hooks = saved_hooks.current()
        if hooks is not None:
            entries = [_packed(e, hooks, out_tensors) for e in entries]
    node._saved = entries
    node._to_save = ()


def _packed(entry, hooks, out_tensors):
    """An entry kept by a saved-tensor pack hook: ("h", packed, unpack, version counter, version, origin).

    The version is kept for the tensor's identity in the graph, not checked on unpack (as in PyTorch).
    """
    pack, unpack = hooks
    kind = entry[0]
    if kind == "t":
        t = entry[1]
        acc = t._grad_accumulator() if t._requires_grad and t.grad_fn is None else None
        return ("h", pack(t), unpack, t._vc, entry[2], ("t", t.grad_fn, t._output_nr, t._requires_grad, acc))
    if kind == "o":
        _, data, vc, version, nr = entry
        return ("h", pack(out_tensors[nr]), unpack, vc, version, ("o", nr))
    v = entry[1]
    if isinstance(v, Tensor) or backend_is_array(v):
        return ("h", pack(v if isinstance(v, Tensor) else Tensor._make(v)), unpack, None, None, ("c",))
    return entry


def _inference_saved_error():
    raise RuntimeError("Inference tensors cannot be saved for backward. Please do not use Tensors created in "
                       "inference mode in computation tracked by autograd. To work around this, you can make a "
                       "clone to get a normal tensor and use it in autograd, or use `distgrad.no_grad()` instead "
                       "of `distgrad.inference_mode()`.")
