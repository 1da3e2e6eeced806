"""Moving a Module's tensors to another device or dtype, in place.

``Module.to``, ``float()``, ``cuda()`` ... all come down to one walk that
converts each parameter's data (keeping the very same Parameter object, so an
optimizer built earlier still holds the right tensors), its gradient, and each
buffer.

Example::

    >>> import distgrad
    >>> lin = distgrad.nn.Linear(2, 2)
    >>> w = lin.weight
    >>> lin.double().weight is w, w.dtype
    (True, distgrad.float64)
"""
from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.grad_mode import no_grad
from distgrad.autograd.raw import array_of, set_array
from distgrad.autograd.tensor import Tensor


def parse_to(args, kwargs):
    """Read ``device``/``dtype`` out of ``Module.to``'s flexible arguments."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"Module.to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, dtypes.dtype) or (isinstance(a, str) and a in dtypes._NAMES):
            dtype = a
        elif isinstance(a, bool):
            pass  # non_blocking, given positionally: copies here are synchronous anyway
        elif isinstance(a, (str, backend.device, int)):
            device = a
        elif isinstance(a, type):
            dtype = a
        else:
            raise TypeError(f"Module.to() received an invalid argument: {a!r}")
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
        if not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got desired "
                            f"dtype={dtype}")
    if device is not None:
        device = backend.normalize_device(device)
    return device, dtype



def apply_to_tensors(module, fn):
    """Replace the data of every parameter, gradient and buffer under ``module`` by ``fn(tensor)``."""
    for m in module.children():
        apply_to_tensors(m, fn)
    with no_grad():
        for p in module._parameters.values():
            if p is None:
                continue
            new = array_of(fn(p))
            if new is not array_of(p):
                set_array(p, new)
            grad = p.grad
            if grad is not None:
                set_array(grad, array_of(fn(grad)))
        buffers = module._buffers
        for name, b in buffers.items():
            if b is not None:
                buffers[name] = fn(b)
    return module
