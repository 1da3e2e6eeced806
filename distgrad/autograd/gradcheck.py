"""Finite-difference checks of backward formulas: ``gradcheck`` and ``gradgradcheck``.

``gradcheck(fn, inputs)`` compares the Jacobian that autograd computes with
central differences, input element by input element, in the inputs' own dtype
(use float64).  ``gradgradcheck`` does the same for the gradient function
itself, so second derivatives are checked too.  Both fail on a wrong backward.

Example::

    >>> import distgrad
    >>> x = distgrad.randn(3, dtype=distgrad.float64, requires_grad=True)
    >>> distgrad.autograd.gradcheck(distgrad.tanh, (x,))
    True
"""
import warnings

import numpy as np

from distgrad import backend
from distgrad.autograd.api import grad as _grad
from distgrad.autograd.grad_mode import enable_grad, no_grad
from distgrad.autograd.tensor import Tensor
from distgrad.creation import randn_like


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytical and numerical Jacobians differ."""


def _as_tuple(x):
    return (x,) if isinstance(x, Tensor) or not isinstance(x, (tuple, list)) else tuple(x)


def _outputs(fn, inputs):
    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor)]


def _numerical(fn, inputs, diff_idx, eps):
    """d(outputs)/d(inputs) by central differences: a list (per input) of lists (per output) of arrays."""
    with no_grad():
        outs = _outputs(fn, inputs)
        jac = [[np.zeros((inputs[i].numel(), o.numel())) for o in outs] for i in diff_idx]
        for k, i in enumerate(diff_idx):
            data = inputs[i]._data
            flat = data.reshape(-1)
            if not backend.get_array_module(data).shares_memory(flat, data):
                raise GradcheckError(f"gradcheck: input {i} must be contiguous")
            for j in range(flat.size):
                orig = flat[j].item()
                flat[j] = orig + eps
                plus = [_host64(o) for o in _outputs(fn, inputs)]
                flat[j] = orig - eps
                minus = [_host64(o) for o in _outputs(fn, inputs)]
                flat[j] = orig
                for m in range(len(outs)):
                    jac[k][m][j] = (plus[m] - minus[m]) / (2 * eps)
    return jac


def _analytical(fn, inputs, diff_idx):
    with enable_grad():
        outs = _outputs(fn, inputs)
    jac = [[np.zeros((inputs[i].numel(), o.numel())) for o in outs] for i in diff_idx]
    for m, out in enumerate(outs):
        if not out._requires_grad:
            continue
        for j in range(out.numel()):
            seed = np.zeros(out.numel(), dtype=out._data.dtype)
            seed[j] = 1
            seed = backend.to_device(seed.reshape(out._data.shape), out.device)  # on the output's device
            gs = _grad([out], [inputs[i] for i in diff_idx], [Tensor._make(seed)], retain_graph=True,
                       allow_unused=True)
            for k, g in enumerate(gs):
                if g is not None:
                    jac[k][m][:, j] = _host64(g)
    return jac


def _host64(t):
    """A flat float64 NumPy copy of a tensor on any device."""
    return backend.to_device(t._data, backend.CPU).astype(np.float64).reshape(-1)


def _fail(msg, raise_exception):
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, fast_mode=False, **_ignored):
    """Check ``func``'s gradients against finite differences for every input that requires grad.

    Returns True, or raises :class:`GradcheckError` (returns False with
    ``raise_exception=False``) naming the input and output and both Jacobians.
    """
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t._requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them have "
                         "requires_grad=True.")
    for i in diff_idx:
        if inputs[i].dtype.itemsize < 8:
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. "
                          "This check will likely fail if all the inputs are not of double precision floating "
                          "point.", stacklevel=2)
    numerical = _numerical(func, inputs, diff_idx, eps)
    analytical = _analytical(func, inputs, diff_idx)
    for k, i in enumerate(diff_idx):
        for m in range(len(numerical[k])):
            n, a = numerical[k][m], analytical[k][m]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                return _fail(f"Jacobian mismatch for output {m} with respect to input {i},\n"
                             f"numerical:{n}\nanalytical:{a}\n", raise_exception)
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, **_ignored):
    """Check second derivatives: gradcheck of the map (inputs, grad_outputs) -> input gradients."""
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t._requires_grad]
    with enable_grad():
        outs = _outputs(func, inputs)
    if grad_outputs is None:
        grad_outputs = [randn_like(o).requires_grad_() for o in outs if o._requires_grad]
    grad_outputs = list(_as_tuple(grad_outputs))
    n_in = len(inputs)

    def first_derivative(*args):
        # grad mode on even inside gradcheck's no_grad finite differences: without a graph there
        # would be no outputs, hence no first derivative, and nothing would be compared
        with enable_grad():
            ins, gouts = args[:n_in], args[n_in:]
            outputs = [o for o in _outputs(func, ins) if o._requires_grad]
            gs = _grad(outputs, [ins[i] for i in diff_idx], list(gouts), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
