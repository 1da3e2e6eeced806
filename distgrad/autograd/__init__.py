"""distgrad.autograd: the define-by-run engine.

Example::

    >>> import distgrad
    >>> x = distgrad.ones(3, requires_grad=True)
    >>> distgrad.autograd.grad((2 * x).sum(), x)
    (tensor([2., 2., 2.]),)
"""
from distgrad.autograd.tensor import Tensor  # noqa: F401  (first: the ops need the class)
from distgrad.autograd import tensor_methods  # noqa: F401  (binds the ops to Tensor)
from distgrad.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly  # noqa: F401
from distgrad.autograd.api import backward, grad  # noqa: F401
from distgrad.autograd.engine import queue_callback  # noqa: F401
from distgrad.autograd.function import Function, once_differentiable  # noqa: F401
from distgrad.autograd.backward_node import BackwardNode as FunctionCtx  # noqa: F401
from distgrad.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,  # noqa: F401
                                         no_grad, set_grad_enabled)


class _ExecutionEngine:
    """``Variable._execution_engine`` as PyTorch scripts reach it (for ``queue_callback``)."""

    queue_callback = staticmethod(queue_callback)


class Variable:
    """PyTorch's legacy name; only ``Variable._execution_engine.queue_callback`` is provided."""

    _execution_engine = _ExecutionEngine()
from distgrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402,F401
from distgrad.autograd import functional  # noqa: E402,F401  (torch.autograd.functional)
