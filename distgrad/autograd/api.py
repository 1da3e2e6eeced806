"""The public entry points of the engine: ``backward`` and ``grad``.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor(3.0, requires_grad=True)
    >>> y = x ** 3
    >>> (dy,) = distgrad.autograd.grad(y, x, create_graph=True)
    >>> (d2y,) = distgrad.autograd.grad(dy, x)
    >>> float(dy), float(d2y)
    (27.0, 18.0)
"""
from distgrad.autograd import engine
from distgrad.autograd.tensor import Tensor
from distgrad.creation import ones_like, tensor, zeros_like


def _as_tuple(x):
    if x is None:
        return ()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _make_grads(outputs, grad_outputs):
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if i < len(grad_outputs) else None
        if g is None:
            if not out._requires_grad:
                grads.append(None)
                continue
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not out.dtype.is_floating_point:
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {out.dtype}")
            g = ones_like(out)
        elif not isinstance(g, Tensor):
            g = tensor(g, dtype=out.dtype, device=out.device)
        if g.shape != out.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                               f"has a shape of {out.shape}.")
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of leaves (only ``inputs`` when given).

    A non-scalar tensor needs its ``grad_tensors`` entry.  The graph is freed
    afterwards unless ``retain_graph`` (default: ``create_graph``).
    """
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors) if not isinstance(grad_tensors, Tensor) else (grad_tensors,)
    if grad_tensors and len(grad_tensors) != len(tensors):
        raise RuntimeError(f"got {len(tensors)} tensors and {len(grad_tensors)} gradients")
    for i, t in enumerate(tensors):
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
    grads = _make_grads(tensors, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    inputs = _as_tuple(inputs) if inputs is not None else None
    if inputs is not None and len(inputs) == 0:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    pairs = list(zip(tensors, grads))
    engine.run_backward([t for t, _ in pairs], [g for _, g in pairs], retain_graph, create_graph, inputs)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return the gradients of ``outputs`` with respect to ``inputs`` (nothing is accumulated).

    An input the outputs do not depend on is an error unless ``allow_unused``,
    which returns None for it (zeros with ``materialize_grads``).
    """
    if is_grads_batched:
        raise NotImplementedError("grad(is_grads_batched=True) is not supported")
    outputs = _as_tuple(outputs)
    single = isinstance(inputs, Tensor)
    inputs = _as_tuple(inputs)
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    grads = _make_grads(outputs, _as_tuple(grad_outputs) if not isinstance(grad_outputs, Tensor)
                        else (grad_outputs,))
    if retain_graph is None:
        retain_graph = create_graph
    for i, o in enumerate(outputs):
        if not o._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
    result = engine.run_backward(list(outputs), grads, retain_graph, create_graph, inputs, capture=True)
    out = []
    for i, (t, g) in enumerate(zip(inputs, result)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in "
                                   "the graph. Set allow_unused=True if this is the desired behavior.")
            if materialize_grads:
                g = zeros_like(t)
        out.append(g)
    del single
    return tuple(out)
