"""Flatten parameters into one vector and back (for line searches, second-order methods ...).

Example::

    >>> import distgrad
    >>> from distgrad.nn.utils import parameters_to_vector, vector_to_parameters
    >>> lin = distgrad.nn.Linear(2, 1)
    >>> v = parameters_to_vector(lin.parameters())
    >>> v.shape
    distgrad.Size([3])
    >>> vector_to_parameters(distgrad.zeros(3), lin.parameters())
    >>> lin.bias.tolist()
    [0.0]
"""
from distgrad.autograd.ops.join import cat
from distgrad.autograd.raw import array_of, set_array
from distgrad.autograd.tensor import Tensor


def _same_device(params):
    dev = None
    for p in params:
        if dev is None:
            dev = p.device
        elif p.device != dev:
            raise TypeError("Found two parameters on different devices, this is currently not supported.")


def parameters_to_vector(parameters):
    """Concatenate the flattened parameters into one 1-D tensor (``torch.nn.utils.parameters_to_vector``).

    Differentiable: gradients flow back to the parameters.
    """
    params = list(parameters)
    _same_device(params)
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Point each parameter's data at its slice of ``vec`` (``torch.nn.utils.vector_to_parameters``).

    The parameters then share ``vec``'s storage, so no copy is made.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    _same_device(params)
    total = sum(p.numel() for p in params)
    if vec.numel() != total:
        raise RuntimeError(f"vector_to_parameters: the vector has {vec.numel()} elements but the parameters need "
                           f"{total}")
    flat = array_of(vec).reshape(-1)
    pointer = 0
    for p in params:
        n = p.numel()
        set_array(p, flat[pointer:pointer + n].reshape(tuple(p.shape)))
        pointer += n
