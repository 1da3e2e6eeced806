"""In-place ops (``add_``, ``mul_``, ``x[i] = v`` ...): write into the tensor's own storage.

An in-place op computes its out-of-place twin, writes the result into the
tensor's array (so views and ``.data`` see it), bumps the version counter and,
when recording, hands the tensor the new ``grad_fn``.  When the op's backward
needs the old value, the old value is cloned first, so the graph stays right.
Leaves that require grad refuse in-place ops outside ``no_grad``.

Example::

    >>> import distgrad
    >>> x = distgrad.zeros(3)
    >>> x.add_(1)._version
    1
"""
from distgrad import backend
from distgrad import random
from distgrad.autograd import grad_mode
from distgrad.autograd.ops import arithmetic
from distgrad.autograd.ops import unary
from distgrad.autograd.ops.cast import to
from distgrad.autograd.ops.shape import expand
from distgrad.autograd.ops import view_inplace
from distgrad.autograd.tensor import Tensor
from distgrad.autograd.wiring import take_history
from distgrad.creation import tensor

_state = grad_mode.state


def check_inplace(t, op):
    """Raise if an in-place change of ``t`` would corrupt autograd (a leaf or a view that needs grad)."""
    if t._inference and not _state.inference:
        raise RuntimeError(f"{op}: Inplace update to inference tensor outside InferenceMode is not allowed. "
                           "You can make a clone to get a normal tensor before doing inplace update.")
    if not _state.enabled:
        return
    if t.grad_fn is None and t._requires_grad:
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation.")
    base = t._base
    if base is not None and base._requires_grad:
        if base.grad_fn is None:
            raise RuntimeError(f"{op}: a view of a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        if t._nograd_view:
            raise RuntimeError(f"{op}: A view was created in no_grad mode and is being modified inplace with grad "
                               "mode enabled. Given that this use case is ambiguous and error-prone, it is "
                               "forbidden. You can clarify your code by moving both the view and the inplace "
                               "either both inside the no_grad block (if you don't want the inplace to be tracked) "
                               "or both outside (if you want the inplace to be tracked).")


def write_result(t, res, op):
    """Store ``res`` (a Tensor) into ``t`` in place and take over its history."""
    if res._data.dtype.kind == "f" and t._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: result type {res.dtype} can't be cast to the desired output type {t.dtype}")
    if res._data.shape != t._data.shape:
        raise RuntimeError(f"{op}: output with shape {list(t.shape)} doesn't match the broadcast shape "
                           f"{list(res.shape)}")
    if t._base is not None and _state.enabled and (res.grad_fn is not None or t._base._requires_grad):
        return view_inplace.write_into_view(t, res)  # the base's history is rewritten too
    if res._data is not t._data:
        t._data[...] = res._data
    t._bump_version()
    if res.grad_fn is not None:
        take_history(t, res)
    return t


def apply_inplace(t, fn, args, op, needs_old=True):
    """Run ``fn(t, *args)`` and write the result into ``t``."""
    check_inplace(t, op)
    recording = _state.enabled and (t._requires_grad or any(isinstance(a, Tensor) and a._requires_grad
                                                             for a in args))
    src = t.clone() if recording and needs_old and t._requires_grad else t
    return write_result(t, fn(src, *args), op)


def inplace_variant(fn, name):
    """The method ``Tensor.<name>``: ``fn(t, *args, **kwargs)`` written into ``t`` by :func:`apply_inplace`.

    Example::

        >>> import distgrad
        >>> from distgrad.autograd.ops import unary
        >>> neg_ = inplace_variant(unary.neg, "neg_")
        >>> t = distgrad.ones(2)
        >>> neg_(t) is t, t.tolist()
        (True, [-1.0, -1.0])
    """
    def method(t, *args, **kwargs):
        call = (lambda src, *a: fn(src, *a, **kwargs)) if kwargs else fn
        return apply_inplace(t, call, args, name)
    method.__name__ = name
    method.__doc__ = f"In-place :func:`{fn.__name__}` (``Tensor.{name}``)."
    return method


def add_(t, other, alpha=1):
    """In place ``t += alpha * other`` (``Tensor.add_``)."""
    return apply_inplace(t, arithmetic.add, (other, alpha), "add_", needs_old=False)


def sub_(t, other, alpha=1):
    """In place ``t -= alpha * other`` (``Tensor.sub_``)."""
    return apply_inplace(t, arithmetic.sub, (other, alpha), "sub_", needs_old=False)


def mul_(t, other):
    """In place ``t *= other`` (``Tensor.mul_``)."""
    return apply_inplace(t, arithmetic.mul, (other,), "mul_")


def div_(t, other, rounding_mode=None):
    """In place ``t /= other``, optionally rounded (``Tensor.div_``)."""
    return apply_inplace(t, arithmetic.div, (other, rounding_mode), "div_")


def pow_(t, exponent):
    """In place ``t **= exponent`` (``Tensor.pow_``)."""
    return apply_inplace(t, arithmetic.pow, (exponent,), "pow_")


def clamp_(t, min=None, max=None):
    """In place: limit ``t`` to ``[min, max]`` (``Tensor.clamp_``)."""
    return apply_inplace(t, unary.clamp, (min, max), "clamp_")


def sigmoid_(t):
    """In place logistic sigmoid (``Tensor.sigmoid_``)."""
    return apply_inplace(t, unary.sigmoid, (), "sigmoid_")


def relu_(t):
    """In place ``max(t, 0)`` (``Tensor.relu_``)."""
    return apply_inplace(t, unary.relu, (), "relu_")


def tanh_(t):
    """In place hyperbolic tangent (``Tensor.tanh_``)."""
    return apply_inplace(t, unary.tanh, (), "tanh_")


def exp_(t):
    """In place ``exp(t)`` (``Tensor.exp_``)."""
    return apply_inplace(t, unary.exp, (), "exp_")


def neg_(t):
    """In place ``-t`` (``Tensor.neg_``)."""
    return apply_inplace(t, unary.neg, (), "neg_", needs_old=False)


def _constant_like(t, value):
    xp = t._xp()
    return Tensor._make(xp.full(t._data.shape, value, dtype=t._data.dtype))


def fill_(t, value):
    """Set every element to ``value`` (a number or a 0-d tensor)."""
    check_inplace(t, "fill_")
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} dimensions.")
        res = value.to(t.dtype).expand(t.shape).clone() if value._requires_grad and _state.enabled \
            else _constant_like(t, value.item())
    else:
        res = _constant_like(t, value)
    _forget_history_for_constant(t, res)
    return write_result(t, res, "fill_")


def _forget_history_for_constant(t, res):
    """Values without a gradient replace ``t``'s: it loses its history (a view gets its base's back on writing)."""
    if res.grad_fn is None:
        t.grad_fn = None
        if t._base is None and _state.enabled:
            t._requires_grad = False


def zero_(t):
    """Set every element to zero."""
    return fill_(t, 0)


def copy_(t, src, non_blocking=False):
    """Copy ``src`` (broadcast, cast and moved as needed) into ``t``; the gradient flows to ``src``."""
    check_inplace(t, "copy_")
    if not isinstance(src, Tensor):
        src = tensor(src)
    res = to(expand(src, t.shape), t.dtype, t.device)
    if res._data is src._data:
        res = res.clone() if res._requires_grad else Tensor._make(res._data)
    _forget_history_for_constant(t, res)
    return write_result(t, res, "copy_")


def _fill_constant(t, values, op):
    """Write values that carry no gradient; a tensor in a graph forgets its history there, as in PyTorch."""
    res = Tensor._make(values)
    if _state.enabled and t._base is None and t._requires_grad:
        t.grad_fn, t._requires_grad = None, False
    return write_result(t, res, op)


def uniform_(t, a=0.0, b=1.0, generator=None):
    """Fill with samples from U(a, b) drawn from distgrad's seeded generator."""
    check_inplace(t, "uniform_")
    return _fill_constant(t, random.uniform_array(t.shape, a, b, t._data.dtype, t.device, generator), "uniform_")


def normal_(t, mean=0.0, std=1.0, generator=None):
    """Fill with samples from N(mean, std^2) drawn from distgrad's seeded generator."""
    check_inplace(t, "normal_")
    return _fill_constant(t, random.normal_array(t.shape, mean, std, t._data.dtype, t.device, generator), "normal_")


def _python_fill(t, op, values):
    xp = backend.get_array_module(t._data)
    if not backend.is_host_module(xp):
        raise TypeError(f"{op} is only implemented on CPU tensors")
    t._data[...] = xp.asarray(values).reshape(t._data.shape).astype(t._data.dtype)
    t._bump_version()
    return t


def _no_grad_for(t, op):
    if t._requires_grad:
        raise RuntimeError(f"Can't call {op}() on Variable that requires grad. Use var.detach().{op}() instead.")


def apply_(t, callable):  # noqa: A002  (PyTorch's argument name)
    """Replace each element ``v`` with ``callable(v)``, in Python, on the CPU (``Tensor.apply_``).

    Slow by design, as PyTorch's; results are cast to ``t``'s dtype (truncated for integers).

    Example::

        >>> import distgrad
        >>> distgrad.tensor([1.0, 2.0]).apply_(lambda v: v * 3)
        tensor([3., 6.])
    """
    _no_grad_for(t, "apply_")
    return _python_fill(t, "apply_", [callable(v) for v in t._data.reshape(-1).tolist()])


def map_(t, tensor, callable):  # noqa: A002
    """Replace each element ``a`` with ``callable(a, b)``, ``b`` from ``tensor`` broadcast to ``t``
    (``Tensor.map_``).

    Example::

        >>> import distgrad
        >>> distgrad.tensor([1.0, 2.0]).map_(distgrad.tensor([10.0]), lambda a, b: a + b)
        tensor([11., 12.])
    """
    _no_grad_for(t, "map_")
    other = tensor.broadcast_to(tuple(t.shape))._data.reshape(-1).tolist()
    return _python_fill(t, "map_", [callable(a, b) for a, b in zip(t._data.reshape(-1).tolist(), other)])
