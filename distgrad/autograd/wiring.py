"""Graph wiring: the one place where tensors and backward nodes are linked.

A recorded op's node points at where each input's gradient goes
(``next_functions``: the input's ``grad_fn``, or for a leaf its
``AccumulateGrad``), and each differentiable output points back at the node
(``grad_fn`` and ``_output_nr``).  Every such link is made here:

* :func:`edge_of` - where a gradient for a tensor goes (the engine seeds and
  targets through it too);
* :func:`connect_inputs` - a new node's edges to its inputs;
* :func:`set_history` - an output (or an unpacked saved output) becomes
  output ``nr`` of a node;
* :func:`take_history` - an in-place write: the written tensor continues the
  history of the value written into it.

Example::

    >>> import distgrad
    >>> x = distgrad.ones(2, requires_grad=True)
    >>> y = x * 3
    >>> edge_of(y) == (y.grad_fn, 0), edge_of(x)[0].name()
    (True, 'torch::autograd::AccumulateGrad')
"""
import os
import traceback

from distgrad.autograd import anomaly
from distgrad.autograd.tensor import Tensor

_HERE = os.path.dirname(os.path.abspath(__file__))
_RECORDING_FILES = {os.path.join(_HERE, "wiring.py"), os.path.join(_HERE, "function.py")}


def edge_of(t):
    """Where a gradient for ``t`` goes: ``(node, output_nr)``, the leaf's AccumulateGrad for a leaf."""
    return (t.grad_fn if t.grad_fn is not None else t._grad_accumulator()), t._output_nr


def connect_inputs(node, args):
    """Point ``node``'s edges at its Tensor arguments; return ``args`` with each Tensor replaced by its array.

    Sets ``needs_input_grad`` (one flag per argument), ``_next`` (one edge
    per Tensor argument, ``(None, 0)`` where it needs no gradient), and what
    the engine checks gradients against (``_argpos``, ``_in_shapes``).  A view
    whose base was written since its history was made gets it rebuilt first.
    """
    needs = []
    arrays = []
    nexts, pos, shapes = [], [], []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            if a._base is not None and a._hist_v != a._vc.value:
                _refresh_view(a)
            d = a._data
            arrays.append(d)
            pos.append(i)
            shapes.append(d.shape)
            if a._requires_grad:
                needs.append(True)
                fn = a.grad_fn
                nexts.append((fn if fn is not None else a._grad_accumulator(), a._output_nr))
            else:
                needs.append(False)
                nexts.append((None, 0))
        else:
            arrays.append(a)
            needs.append(False)
    node.needs_input_grad = tuple(needs)
    node._next = tuple(nexts)
    node._argpos = tuple(pos)
    node._in_shapes = tuple(shapes)
    if anomaly.state.enabled:
        node._trace = _forward_trace()
    return arrays


def set_history(t, node, nr, requires_grad=True):
    """``t`` is output ``nr`` of ``node``: its gradient goes to that node."""
    t._requires_grad = requires_grad
    t.grad_fn = node
    t._output_nr = nr


def take_history(t, src):
    """``t`` continues ``src``'s history (an in-place write of ``src``'s value into ``t``)."""
    set_history(t, src.grad_fn, src._output_nr, src._requires_grad)


def _forward_trace():
    """The stack of the op's call, without the recording frames at its end (Function.apply, this module)."""
    stack = traceback.extract_stack()
    while stack and os.path.abspath(stack[-1].filename) in _RECORDING_FILES:
        stack.pop()
    return "".join(traceback.format_list(stack))


def _refresh_view(view):
    from distgrad.autograd.ops.view_inplace import refresh_view  # deferred: the ops import this module
    refresh_view(view)
