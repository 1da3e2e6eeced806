"""``depends_on(value, *tensors)``: ``value``, recorded as a function of ``tensors`` whose derivative is zero.

Some of PyTorch's backward formulas take the forward's input or output and use
it only through a mask (relu's ``threshold_backward(grad, result)``, the
pools' ``*_backward(grad, self)``).  Under ``create_graph`` their first-order
gradients therefore require grad, and differentiating them again gives zeros,
where a formula that used only a constant mask would give a gradient that does
not require grad (and a second ``autograd.grad`` would raise).  Backward
formulas wrap their Tensor-path result in :func:`depends_on` to match.

Example::

    >>> import distgrad
    >>> x = distgrad.tensor([1.0, -1.0], requires_grad=True)
    >>> (g,) = distgrad.autograd.grad(x.relu().sum(), x, create_graph=True)
    >>> g.requires_grad, distgrad.autograd.grad(g.sum(), x)[0]
    (True, tensor([0., 0.]))
"""
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.grad_mode import is_grad_enabled
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.tensor import Tensor
from distgrad.creation import zeros


class ZeroGradDependency(ArrayFunction):
    """Passes ``value`` through; its gradient goes to ``value``, zeros go to each of ``deps``."""

    array_backward = True

    @staticmethod
    def forward(ctx, value, *deps):
        ctx.deps = [(d.shape, d.dtype) for d in deps]
        return value

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        if isinstance(g, Tensor):
            return (g,) + tuple(zeros(shape, dtype=g.dtype, device=g.device) for shape, _ in ctx.deps)
        return (g,) + tuple(xp.zeros(shape, dtype=dtype) for shape, dtype in ctx.deps)


def depends_on(value, *deps):
    """``value`` recorded as depending (with zero derivative) on the tensors among ``deps`` that require grad."""
    if not is_grad_enabled():  # a plain backward records nothing: nothing to depend on
        return value
    deps = [d for d in deps if isinstance(d, Tensor) and d.requires_grad]
    if not deps or not isinstance(value, Tensor):
        return value
    return ZeroGradDependency.apply(value, *deps)
