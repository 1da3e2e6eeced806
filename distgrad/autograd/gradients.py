"""How gradients travel through one backward pass: as raw arrays, or as Tensors that record.

The engine picks one of the two once per pass and asks it every question whose
answer depends on the choice:

* :data:`ARRAYS` (``create_graph=False``, the common case): gradients are the
  raw NumPy/CuPy arrays.  Nothing is recorded, ``array_backward`` ops see
  arrays, and a leaf keeps the array it is handed when nothing else holds it.
* :data:`TENSORS` (``create_graph=True``): gradients are Tensors, so the
  backward formulas themselves are recorded and can be differentiated again.

Hooks always see Tensors: ``wrap`` and ``unwrap`` cross between what travels
and what a hook gets.

Example::

    >>> import distgrad
    >>> ARRAYS.wrap(ARRAYS.seed(distgrad.ones(2)))
    tensor([1., 1.])
    >>> TENSORS.arrays, ARRAYS.arrays
    (False, True)
"""
import sys

from distgrad.autograd.tensor import Tensor


def wrap_array(g):
    """A Tensor over the raw gradient ``g`` (None stays None)."""
    return None if g is None else Tensor._make(g)


def unwrap_tensor(g):
    """The array of a Tensor gradient (arrays and None pass through)."""
    return g._data if isinstance(g, Tensor) else g


_ONLY_THE_ENGINE = 3


class ArrayGradients:
    """Gradients as raw arrays: nothing of backward is recorded."""

    arrays = True
    wrap = staticmethod(wrap_array)
    unwrap = staticmethod(unwrap_tensor)

    @staticmethod
    def seed(t):
        """What travels for the root gradient ``t`` (a Tensor)."""
        return t._data

    @staticmethod
    def store(t, g):
        """Add ``g`` into the ``.grad`` of a non-leaf (retain_grad, ``backward(inputs=[non_leaf])``)."""
        g = Tensor._make(g.copy())
        t._grad = g if t._grad is None else t._grad + g

    @staticmethod
    def accumulate(var, g):
        """Add ``g`` into leaf ``var``'s ``.grad``.

        When only the engine holds ``g`` (the engine's frame, this one and
        getrefcount's argument: 3 references) the array becomes ``.grad``
        without a copy; an array another gradient or a hook still holds is copied.
        """
        if g.dtype != var._data.dtype:
            g = g.astype(var._data.dtype)
        old = var._grad
        if old is None:
            if g.base is None and sys.getrefcount(g) <= _ONLY_THE_ENGINE:
                var._grad = Tensor._make(g)
            else:
                var._grad = Tensor._make(g.copy())
        elif old._requires_grad:
            var._grad = old + Tensor._make(g)
        else:
            old._data += g

    @staticmethod
    def results(captured):
        """``autograd.grad``'s return value: Tensors."""
        return [wrap_array(g) for g in captured]


def _same(g):
    return g


class TensorGradients:
    """Gradients as Tensors: backward is recorded (``create_graph=True``)."""

    arrays = False
    wrap = staticmethod(_same)
    unwrap = staticmethod(_same)
    seed = staticmethod(_same)

    @staticmethod
    def store(t, g):
        g = g.detach().clone()
        t._grad = g if t._grad is None else t._grad + g

    @staticmethod
    def accumulate(var, g):
        if g._data.dtype != var._data.dtype:
            g = g.to(var.dtype)
        old = var._grad
        var._grad = g if old is None else old + g

    @staticmethod
    def results(captured):
        return captured


ARRAYS = ArrayGradients()
TENSORS = TensorGradients()
