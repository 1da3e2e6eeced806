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

from distgrad import backend as _backend

from distgrad.backend import get_array_module
from distgrad.backend import is_array as backend_is_array
from distgrad.autograd import grad_mode
from distgrad.autograd.backward_node import BackwardNode, _NoCtx, _resolve_saved
from distgrad.autograd.tensor import Tensor
from distgrad.autograd.wiring import connect_inputs, set_history

_state = grad_mode.state
_new_object = object.__new__


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
        connect_inputs(node, args)
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
                set_history(o, node, nr)
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
            # a ctx per call, as Function.apply gives: what forward sets on it dies with the call (a shared
            # one kept the last call's arrays alive, and two threads would read each other's values)
            out = cls.forward(_NoCtx(), *[a._data if isinstance(a, Tensor) else a for a in args])
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


def _meta(t):
    if not isinstance(t, Tensor):
        return None
    d = t._data
    return (d.shape, d.dtype, get_array_module(d))


def _record(cls, args):
    node = _new_object(cls._node_cls)  # the node class carries _fn: no __init__ call on the hot path
    arrays = connect_inputs(node, args)
    try:
        out = cls.forward(node, *arrays)
    except (TypeError, ValueError):
        check_same_device(cls, args)
        raise
    if type(out) is not tuple:
        t = args[0]._view_of(out) if cls._view else Tensor._make(out)
        if out.dtype.kind == "f" and (node._non_diff is None or id(out) not in node._non_diff):
            set_history(t, node, 0)
        if node._to_save:
            _resolve_saved(node, args, (out,), (t,))
        return t
    non_diff = node._non_diff
    results = []
    for nr, o in enumerate(out):
        t = args[0]._view_of(o) if cls._view else Tensor._make(o)
        if o.dtype.kind == "f" and (non_diff is None or id(o) not in non_diff):
            set_history(t, node, nr)
        results.append(t)
    node._num_outputs = len(out)
    node._out_meta = [_meta(t) for t in results]
    if node._to_save:
        _resolve_saved(node, args, out, results)
    return tuple(results)


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
