"""``Parameter``: a tensor that a :class:`~distgrad.nn.Module` registers as learnable.

Assigning a Parameter to a module attribute adds it to ``module.parameters()``,
which is what optimizers and ``state_dict`` walk.  A Parameter is a plain
:class:`~distgrad.Tensor` otherwise: it requires grad by default and shares the
storage of the tensor it wraps, so no copy is made.

Example::

    >>> import distgrad
    >>> p = distgrad.nn.Parameter(distgrad.zeros(2))
    >>> p.requires_grad, isinstance(p, distgrad.Tensor)
    (True, True)
"""
from distgrad.autograd.printing import tensor_repr
from distgrad.autograd.raw import array_of
from distgrad.autograd.tensor import Tensor
from distgrad.creation import empty


class Parameter(Tensor):
    """A leaf tensor that a Module treats as one of its learnable parameters.

    ``Parameter(data, requires_grad=True)`` wraps ``data`` (sharing its storage
    and version counter, like ``data.detach()``); with no data it is an empty
    float tensor.

    Example::

        >>> w = distgrad.nn.Parameter(distgrad.ones(2, 2))
        >>> (w * 3).sum().backward(); w.grad
        tensor([[3., 3.],
                [3., 3.]])
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): data must be a Tensor, got {type(data).__name__}")
        self._init(array_of(data), data._vc)
        if requires_grad and array_of(data).dtype.kind != "f":
            raise RuntimeError(f"Only Tensors of floating point dtype can require gradients (got {data.dtype})")
        self._requires_grad = bool(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + tensor_repr(self)

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        new = Parameter(Tensor._make(array_of(self).copy()), self._requires_grad)
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute.

    ``Buffer(data, persistent=True)``; a non-persistent buffer is left out of ``state_dict``.

    Example::

        >>> m = distgrad.nn.Module()
        >>> m.steps = distgrad.nn.Buffer(distgrad.zeros(1))
        >>> list(m.state_dict())
        ['steps']
    """

    def __init__(self, data=None, *, persistent=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer(): data must be a Tensor, got {type(data).__name__}")
        self._init(array_of(data), data._vc)
        self.persistent = persistent
