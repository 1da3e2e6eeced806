"""``torch.func``'s autodiff transforms over distgrad's autograd: grad, grad_and_value, vjp, jacrev, jacfwd, hessian.

Each transform takes a function and returns one: ``grad(f)(x)`` is the gradient
of ``f`` at ``x``.  Arguments and results may be tensors or tuples, lists and
dicts of them (:mod:`distgrad.func.pytree`).  The transforms run on the tape:
the chosen arguments are fresh tensors that require grad, and the result keeps
its graph when it is needed, inside another transform (``grad(grad(f))``,
``jacfwd(jacrev(f))``) or when an argument already required grad (so
``torch.func.grad(f)(x).sum().backward()`` works, as in PyTorch), and is
detached otherwise.  distgrad has no forward-mode AD: ``jacfwd`` computes
its columns by the double-backward trick and gives ``jacrev``'s values.

Example::

    >>> import distgrad
    >>> f = lambda x: (x ** 3).sum()
    >>> grad(f)(distgrad.tensor([1.0, 2.0]))
    tensor([ 3., 12.])
    >>> grad(grad(lambda x: x ** 3))(distgrad.tensor(2.0))
    tensor(12.)
"""
from distgrad.autograd import api
from distgrad.autograd import functional as _functional
from distgrad.autograd.grad_mode import enable_grad
from distgrad.autograd.tensor import Tensor
from distgrad.creation import zeros_like
from distgrad.func import pytree

_level = [0]  # how many transforms are running: inner ones keep their graph for the outer ones


def _argnums(argnums, nargs, fn):
    many = isinstance(argnums, tuple)
    nums = argnums if many else (argnums,)
    if not nums:
        raise RuntimeError(f"{fn}: argnums must be non-empty")
    for n in nums:
        if not isinstance(n, int):
            raise RuntimeError(f"{fn}: argnums must be int or Tuple[int, ...], got: {type(n)}")
        if not -nargs <= n < nargs:
            raise RuntimeError(f"Got argnum={n}, but only {nargs} positional inputs")
    return many, tuple(n % nargs for n in nums)


class _Watched:
    """Arguments of one transform call: the chosen ones replaced by fresh tensors that require grad."""

    def __init__(self, args, nums, fn):
        self.args = list(args)
        self.specs, self.leaves = [], []
        self.keep_graph = _level[0] > 0
        for n in nums:
            leaves, spec = pytree.flatten(args[n])
            for leaf in leaves:
                if not isinstance(leaf, Tensor):
                    raise ValueError(f"{fn}: Expected the argument at argnum {n} to be a Tensor or a tuple, list or "
                                     f"dict of Tensors, got {type(leaf)}")
                if not leaf.is_floating_point():
                    raise RuntimeError(f"{fn}: only Tensors of floating point dtype can require gradients, "
                                       f"got {leaf.dtype}")
                self.keep_graph = self.keep_graph or leaf.requires_grad
            fresh = [leaf.view_as(leaf) if leaf.requires_grad else leaf.detach().requires_grad_(True)
                     for leaf in leaves]
            self.args[n] = pytree.unflatten(spec, fresh)
            self.specs.append(spec)
            self.leaves.append(fresh)

    def flat(self):
        return [leaf for group in self.leaves for leaf in group]

    def regroup(self, flat_grads, many):
        out, at = [], 0
        for spec, group in zip(self.specs, self.leaves):
            out.append(pytree.unflatten(spec, flat_grads[at:at + len(group)]))
            at += len(group)
        return tuple(out) if many else out[0]

    def finish(self, values):
        return values if self.keep_graph else [v.detach() if isinstance(v, Tensor) else v for v in values]


def _split_aux(out, has_aux, fn):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{fn}(f)(*args): output of function f should be a tuple: (output, aux) if has_aux is True")
    return out


def _detached(tree):
    leaves, spec = pytree.flatten(tree)
    return pytree.unflatten(spec, [t.detach() if isinstance(t, Tensor) else t for t in leaves])


def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning ``(gradient of func's scalar output wrt args[argnums], that output)``.

    With ``has_aux``, ``func`` returns ``(output, aux)`` and the result is ``(grad, (output, aux))``.
    """
    def wrapper(*args, **kwargs):
        many, nums = _argnums(argnums, len(args), "grad_and_value")
        watched = _Watched(args, nums, "grad_and_value")
        _level[0] += 1
        try:
            with enable_grad():
                out, aux = _split_aux(func(*watched.args, **kwargs), has_aux, "grad_and_value")
                if not isinstance(out, Tensor):
                    raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got {type(out)}")
                if out.ndim != 0:
                    raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                       f"tensor with {out.ndim} dims. Maybe you wanted to use the vjp or jacrev APIs "
                                       "instead?")
                flat = watched.flat()
                grads = api.grad([out], flat, create_graph=True, allow_unused=True) if out.requires_grad \
                    else [None] * len(flat)
        finally:
            _level[0] -= 1
        grads = watched.finish([zeros_like(x) if g is None else g for g, x in zip(grads, flat)])
        value = out if watched.keep_graph else out.detach()
        if has_aux:
            return watched.regroup(grads, many), (value, aux if watched.keep_graph else _detached(aux))
        return watched.regroup(grads, many), value
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning the gradient of ``func``'s scalar output with respect to ``args[argnums]``.

    Example::

        >>> import distgrad
        >>> grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(distgrad.tensor([2.0]), distgrad.tensor([5.0]))
        (tensor([5.]), tensor([2.]))
    """
    inner = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = inner(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` gives a tuple with one gradient per primal.

    Example::

        >>> import distgrad
        >>> out, vjp_fn = vjp(lambda x: x.sin(), distgrad.tensor([0.0]))
        >>> vjp_fn(distgrad.tensor([2.0]))
        (tensor([2.]),)
    """
    watched = _Watched(primals, tuple(range(len(primals))), "vjp")
    _level[0] += 1
    try:
        with enable_grad():
            out, aux = _split_aux(func(*watched.args), has_aux, "vjp")
    finally:
        _level[0] -= 1
    out_leaves, out_spec = pytree.flatten(out)
    keep = watched.keep_graph or _level[0] > 0

    def vjp_fn(cotangents):
        cot_leaves, cot_spec = pytree.flatten(cotangents)
        if len(cot_leaves) != len(out_leaves):
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as pytree structure of outputs "
                               f"to the function. cotangents: {cot_spec}, primal output: {out_spec}")
        for c, o in zip(cot_leaves, out_leaves):
            if c.shape != o.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {c.shape} and output[0] has a "
                                   f"shape of {o.shape}.")
        pairs = [(o, c) for o, c in zip(out_leaves, cot_leaves) if o.requires_grad]
        flat = watched.flat()
        with enable_grad():
            grads = api.grad([o for o, _ in pairs], flat, [c for _, c in pairs], retain_graph=True,
                             create_graph=True, allow_unused=True) if pairs else [None] * len(flat)
        grads = [zeros_like(x) if g is None else g for g, x in zip(grads, flat)]
        grads = grads if keep or _level[0] > 0 else [g.detach() for g in grads]
        return watched.regroup(grads, True)

    shown = out if keep else _detached(out)
    return (shown, vjp_fn, aux) if has_aux else (shown, vjp_fn)


def _jacobian(func, argnums, has_aux, fn, forward):
    def wrapper(*args):
        many, nums = _argnums(argnums, len(args), fn)
        watched = _Watched(args, nums, fn)
        _level[0] += 1
        try:
            with enable_grad():
                out, aux = _split_aux(func(*watched.args), has_aux, fn)
                out_leaves, out_spec = pytree.flatten(out)
                flat = watched.flat()
                for o in out_leaves:
                    if not isinstance(o, Tensor):
                        raise RuntimeError(f"{fn}(f, ...)(*args): expected f(*args) to return only tensors, "
                                           f"got unsupported type {type(o)}")
                if forward:
                    table = _functional._forward_jacobian(tuple(out_leaves), tuple(flat), True)
                else:
                    table = _functional._reverse_jacobian(tuple(out_leaves), tuple(flat), True, False)
        finally:
            _level[0] -= 1
        per_output = [watched.regroup(watched.finish(list(row)), many) for row in table]
        result = pytree.unflatten(out_spec, per_output)
        return (result, aux) if has_aux else result
    return wrapper


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """A function returning the Jacobian of ``func`` wrt ``args[argnums]`` by reverse mode, one row per output element.

    Example::

        >>> import distgrad
        >>> jacrev(lambda x: x ** 2)(distgrad.tensor([1.0, 3.0]))
        tensor([[2., 0.],
                [0., 6.]])
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    return _jacobian(func, argnums, has_aux, "jacrev", forward=False)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """A function returning the Jacobian of ``func`` wrt ``args[argnums]``, one column per input element.

    Columns come from the double-backward trick (distgrad has no forward-mode AD);
    the values are jacrev's.
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. "
                           f"Got {randomness}")
    return _jacobian(func, argnums, has_aux, "jacfwd", forward=True)


def hessian(func, argnums=0):
    """``jacfwd(jacrev(func, argnums), argnums)``: the Hessian of ``func`` wrt ``args[argnums]``.

    Example::

        >>> import distgrad
        >>> hessian(lambda x: (x ** 3).sum())(distgrad.tensor([1.0, 2.0]))
        tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    return jacfwd(jacrev(func, argnums), argnums)
