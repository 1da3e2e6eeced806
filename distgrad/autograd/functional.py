"""``torch.autograd.functional``: vjp, jvp, jacobian, hessian, vhp and hvp of a Python function.

Each takes ``func`` and its ``inputs`` (a Tensor or a tuple of Tensors) and
answers in the same structure PyTorch does: a Tensor where ``func`` takes and
returns one, tuples (and tuples of tuples for Jacobians) otherwise.  The inputs
are detached copies that require grad (views of the originals under
``create_graph=True``, so the results stay differentiable in them); an input
the output does not depend on gets zeros, or a RuntimeError under
``strict=True``.

distgrad has no forward-mode AD, so ``jvp`` and forward-mode Jacobians use the
double-backward trick (the vjp of the vjp, linear in its cotangent), as
PyTorch's ``jvp`` does; ``vectorize=True`` (PyTorch's vmap over the basis)
loops over the basis here, with the same results.

Example::

    >>> import distgrad
    >>> from distgrad.autograd.functional import jacobian, hessian
    >>> x = distgrad.tensor([1.0, 2.0])
    >>> jacobian(lambda t: t ** 2, x)
    tensor([[2., 0.],
            [0., 4.]])
    >>> hessian(lambda t: (t ** 3).sum(), x)
    tensor([[ 6.,  0.],
            [ 0., 12.]])
"""
from distgrad.autograd import api
from distgrad.autograd.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from distgrad.autograd.tensor import Tensor
from distgrad.creation import zeros, zeros_like
from distgrad.autograd.ops.join import stack


def _tupled(value, what, fn):
    """``(was_a_tuple, tuple_of_tensors)``, with PyTorch's TypeError for anything else."""
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            where = f"the value at index {i} has type {type(el)}" if is_tuple else \
                f"the given {what} has type {type(el)}"
            raise TypeError(f"The {what} given to {fn} must be either a Tensor or a tuple of Tensors but {where}.")
    return is_tuple, items


def _untupled(res, is_tuple):
    """Undo :func:`_tupled`: ``is_tuple`` is one flag, or (outer, inner) for nested results."""
    if isinstance(is_tuple, tuple):
        outer, inner = is_tuple
        if not inner:
            res = tuple(r[0] for r in res)
        return res if outer else res[0]
    return res if is_tuple else res[0]


def _prepare(inputs, create_graph, need_graph):
    """Fresh inputs for ``func``: views that keep the graph under create_graph, else detached leaves."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad else t.detach().requires_grad_(need_graph)
                 for t in inputs)


def _finish(values, create_graph):
    if values and isinstance(values[0], tuple):
        return tuple(_finish(v, create_graph) for v in values)
    return values if create_graph else tuple(v.detach() for v in values)


def _check_v(v, other, other_is_tuple):
    if len(v) != len(other):
        if other_is_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, other)):
        if a.shape != b.shape:
            prefix = f"Entry {i} in " if other_is_tuple else ""
            raise RuntimeError(f"{prefix}v has invalid size: should be {b.shape} but got {a.shape}.")


_STRICT = {
    "outputs": "Output {i} of the user-provided function does not require gradients. The outputs must be computed "
               "in a differentiable manner from the input when running in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of the user-provided "
                   "function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided function with respect to "
                "input {i} is independent of the input. This is not allowed in strict mode.",
    "hessian": "The hessian of the user-provided function with respect to input {i} is independent of the input. "
               "This is not allowed in strict mode.",
}


def _strict_check(values, kind, strict):
    if not strict:
        return
    for i, t in enumerate(values):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. "
                               "This is not allowed in strict mode.")
        if not t.requires_grad:
            raise RuntimeError(_STRICT[kind].format(i=i))


def _grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """autograd.grad over the outputs that require grad; None for every input when none does."""
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else grad_outputs
    kept = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not kept:
        return (None,) * len(inputs)
    return api.grad([o for o, _ in kept], inputs, [g for _, g in kept], retain_graph=retain_graph,
                    create_graph=create_graph, allow_unused=True)


_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in "
            "strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs when "
                  "using the double backward trick to compute forward mode gradients. This is not allowed in "
                  "strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not allowed "
                   "in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the "
                         "grad_jacobian. This is not allowed in strict mode as it prevents from using the double "
                         "backward trick to replace forward mode AD.",
}


def _zeros_for_none(grads, refs, strict, create_graph, stage):
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_INDEPENDENT[stage].format(i=i))
            g = zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of input {i}. "
                               "This is not allowed in strict mode when create_graph=True.")
        out.append(g)
    return tuple(out)


_V_FOR_INPUT = ("The vector v can only be None if the input to the user-provided function is a single Tensor "
                "with a single element.")


def _vector(v, fn, create_graph, against, against_is_tuple, none_message=_V_FOR_INPUT):
    """The checked ``v`` (shaped like ``against``), or None where ``against`` is one element and v was omitted."""
    if v is not None:
        v = _prepare(_tupled(v, "v", fn)[1], create_graph, False)
        _check_v(v, against, against_is_tuple)
        return v
    if len(against) != 1 or against[0].numel() != 1:
        raise RuntimeError(none_message)
    return None


def _call(func, inputs, fn):
    return _tupled(func(*inputs), "outputs of the user-provided function", fn)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product (``v`` may be omitted for a one-element output).

    Example::

        >>> import distgrad
        >>> x = distgrad.tensor([1.0, 2.0])
        >>> vjp(lambda t: t * t, x, distgrad.tensor([1.0, 1.0]))[1]
        tensor([2., 4.])
    """
    with enable_grad():
        in_tuple, inputs = _tupled(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, True)
        out_tuple, outputs = _call(func, inputs, "vjp")
        _strict_check(outputs, "outputs", strict)
        v = _vector(v, "vjp", create_graph, outputs, out_tuple, "The vector v can only be None if the "
                    "user-provided function returns a single Tensor with a single element.")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _zeros_for_none(_grad(outputs, inputs, v, create_graph), inputs, strict, create_graph, "back")
    return _untupled(_finish(outputs, create_graph), out_tuple), _untupled(_finish(res, create_graph), in_tuple)


def _double_back_jvp(outputs, inputs, v, create_graph, strict):
    """J v by the double-backward trick: u -> u^T J is linear in u, so its vjp with v is J v."""
    with enable_grad():
        cotangents = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        grad_inputs = _grad(outputs, inputs, cotangents, create_graph=True)
        _strict_check(grad_inputs, "grad_inputs", strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _grad(grad_inputs, cotangents, v, create_graph=create_graph)
        return _zeros_for_none(res, outputs, strict, create_graph, "back_trick")


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product (``v`` may be omitted for a one-element input).

    Example::

        >>> import distgrad
        >>> x = distgrad.tensor([1.0, 2.0])
        >>> jvp(lambda t: t * t, x, distgrad.tensor([1.0, 0.0]))[1]
        tensor([2., 0.])
    """
    with enable_grad():
        in_tuple, inputs = _tupled(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph, True)
        v = _vector(v, "jvp", create_graph, inputs, in_tuple)
        out_tuple, outputs = _call(func, inputs, "jvp")
        _strict_check(outputs, "outputs", strict)
    res = _double_back_jvp(outputs, inputs, v, create_graph, strict)
    return _untupled(_finish(outputs, create_graph), out_tuple), _untupled(_finish(res, create_graph), out_tuple)


def _basis(n, like):
    for k in range(n):
        e = zeros(n, dtype=like.dtype, device=like.device)
        e[k] = 1
        yield e


def _reverse_jacobian(outputs, inputs, create_graph, strict):
    rows = []
    for i, out in enumerate(outputs):
        flat = out.reshape(-1)
        per_input = [[] for _ in inputs]
        for j in range(flat.numel()):
            grads = _grad((flat[j],), inputs, retain_graph=True, create_graph=create_graph)
            for k, (g, inp) in enumerate(zip(grads, inputs)):
                if g is None:
                    if strict:
                        raise RuntimeError(f"Output {i} of the user-provided function is independent of input {k}. "
                                           "This is not allowed in strict mode.")
                    g = zeros_like(inp)
                elif strict and create_graph and not g.requires_grad:
                    raise RuntimeError(f"The jacobian of the user-provided function is independent of input {i}. "
                                       "This is not allowed in strict mode when create_graph=True.")
                per_input[k].append(g)
        rows.append(tuple(_stacked(gs, out.shape + inp.shape, inp) for gs, inp in zip(per_input, inputs)))
    return tuple(rows)


def _stacked(pieces, shape, like):
    if not pieces:
        return zeros(shape, dtype=like.dtype, device=like.device)
    return stack(pieces, 0).reshape(shape)


def _forward_jacobian(outputs, inputs, create_graph):
    """Columns J e_k by the double-backward trick, one per input element (forward mode, as a loop)."""
    columns = [[] for _ in outputs]  # per output: one column per flattened input element
    for k, inp in enumerate(inputs):
        for e in _basis(inp.numel(), inp):
            v = tuple(e.reshape(inp.shape) if m == k else zeros_like(t) for m, t in enumerate(inputs))
            jv = _double_back_jvp(outputs, inputs, v, create_graph, False)
            for i, col in enumerate(jv):
                columns[i].append(col)
    result, start = [], 0
    sizes = [t.numel() for t in inputs]
    for i, out in enumerate(outputs):
        row, start = [], 0
        for inp, n in zip(inputs, sizes):
            cols = columns[i][start:start + n]
            start += n
            jac = _stacked(cols, (n,) + out.shape, inp)  # (n_in, *out) -> (*out, *in)
            row.append(jac.permute(*range(1, jac.ndim), 0).reshape(out.shape + inp.shape))
        result.append(tuple(row))
    return tuple(result)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: shape ``output.shape + input.shape`` per (output, input) pair.

    Example::

        >>> import distgrad
        >>> jacobian(lambda a, b: a * b, (distgrad.tensor([2.0]), distgrad.tensor([3.0])))
        (tensor([[3.]]), tensor([[2.]]))
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                             'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError('torch.autograd.functional.jacobian: `create_graph=True` and '
                                      '`strategy="forward-mode"` are not supported together (yet). Please either '
                                      'set `create_graph=False` or `strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` '
                               'are not supported together (yet). Please either set `strict=False` or '
                               '`strategy="reverse-mode"`.')
        if not vectorize:
            raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse Hessian is"
                                      "only implemented for `vectorize=True`.")
    with enable_grad():
        in_tuple, inputs = _tupled(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph, True)
        out_tuple, outputs = _call(func, inputs, "jacobian")
        _strict_check(outputs, "outputs", strict)
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                               "supported together. Please either set `strict=False` or `vectorize=False`.")
        if strategy == "forward-mode":
            jac = _forward_jacobian(outputs, inputs, create_graph)
        else:
            jac = _reverse_jacobian(outputs, inputs, create_graph, strict)
    return _untupled(_finish(jac, create_graph), (out_tuple, in_tuple))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a function returning one element: shape ``input_i.shape + input_j.shape`` per pair.

    Example::

        >>> import distgrad
        >>> hessian(lambda x: (x ** 2).sum(), distgrad.tensor([1.0, 1.0]))
        tensor([[2., 0.],
                [0., 2.]])
    """
    in_tuple, inputs = _tupled(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar(*args):
        out = func(*args)
        out_tuple, outs = _tupled(out, "outputs of the user-provided function", "hessian")
        _strict_check(outs, "outputs", strict)
        if out_tuple or not isinstance(out, Tensor):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should contain a single element")
        return out.squeeze()

    def gradient(*args):
        if outer_jacobian_strategy == "forward-mode":
            args = tuple(t.requires_grad_(True) for t in args)
        jac = jacobian(scalar, args, create_graph=True)
        _strict_check(jac, "jacobian", strict)
        return jac

    res = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _untupled(res, (in_tuple, in_tuple))


def _hessian_product(func, inputs, v, create_graph, strict, fn, transpose):
    with enable_grad():
        in_tuple, inputs = _tupled(inputs, "inputs", fn)
        inputs = _prepare(inputs, create_graph, True)
        v = _vector(v, fn, create_graph, inputs, in_tuple)
        out_tuple, outputs = _call(func, inputs, fn)
        _strict_check(outputs, "outputs", strict)
        if out_tuple or not isinstance(outputs[0], Tensor):
            raise RuntimeError(f"The function given to {fn} should return a single Tensor")
        if outputs[0].numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {fn} should contain a single element")
        jac = _grad(outputs, inputs, create_graph=True)
        _strict_check(jac, "jacobian", strict)
    if transpose:  # vhp: the vjp of the gradient with v
        with set_grad_enabled(True if create_graph else is_grad_enabled()):
            res = _zeros_for_none(_grad(jac, inputs, v, create_graph), inputs, strict, create_graph, "double_back")
    else:  # hvp: the double-backward trick on the gradient, as PyTorch computes it
        with enable_grad():
            cotangents = tuple(zeros_like(t).requires_grad_(True) for t in inputs)
            double = _grad(jac, inputs, cotangents, create_graph=True)
            _strict_check(double, "hessian", strict)
        with set_grad_enabled(True if create_graph else is_grad_enabled()):
            res = _zeros_for_none(_grad(double, cotangents, v, create_graph), inputs, strict, create_graph,
                                  "double_back_trick")
    return _untupled(_finish(outputs, create_graph), out_tuple), _untupled(_finish(res, create_graph), in_tuple)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for a function returning one element.

    Example::

        >>> import distgrad
        >>> vhp(lambda x: (x ** 3).sum(), distgrad.tensor([1.0, 2.0]), distgrad.tensor([1.0, 1.0]))[1]
        tensor([ 6., 12.])
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp", True)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` for a function returning one element (through double backward, as PyTorch).

    Example::

        >>> import distgrad
        >>> hvp(lambda x: (x ** 3).sum(), distgrad.tensor([1.0, 2.0]), distgrad.tensor([1.0, 0.0]))[1]
        tensor([6., 0.])
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp", False)
