"""``Adagrad``: per-coordinate learning rates that shrink with the sum of squared gradients.

Per parameter at step ``t``, with gradient ``g`` (negated under ``maximize``)::

    g = g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g * g                                  sum
    p = p - clr * g / (sqrt(s) + eps)

As in PyTorch, the state (``step`` and ``sum``, filled with
``initial_accumulator_value``) is created when the optimizer is built, so it
appears in ``state_dict()`` before the first step.  The update runs on the raw
arrays with in-place ufuncs and reusable scratch buffers.

Example::

    >>> import distgrad
    >>> w = distgrad.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = distgrad.optim.Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([ 0.5000, -0.5000], requires_grad=True)
"""
from distgrad import backend
from distgrad.autograd.raw import array_of, bump_version
from distgrad.optim.optimizer import Optimizer, check_lr_and_flags, scalar


class Adagrad(Optimizer):
    """The Adagrad optimizer, as ``torch.optim.Adagrad``.

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay per step (default 0).
        weight_decay: L2 penalty added to the gradient (default 0).
        initial_accumulator_value: starting value of the squared-gradient sum (default 0).
        eps: added to the denominator for stability (default 1e-10).
        foreach, fused: accepted for compatibility; every setting gives the same update here
            (``fused`` keeps ``state['step']`` on the parameter's device, as in PyTorch).
        maximize: maximize the objective instead of minimizing it.
        differentiable: must stay False (steps are not recorded by autograd).

    State per parameter: ``step`` and ``sum``.

    Example::

        >>> import distgrad
        >>> w = distgrad.zeros(2, requires_grad=True)
        >>> opt = distgrad.optim.Adagrad([w], lr=0.1, lr_decay=1e-4, initial_accumulator_value=0.1)
    """

    _param_shaped_state = ("sum",)
    _counts_steps = True

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_lr_and_flags(lr, foreach, differentiable, fused)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        for group in self.param_groups:
            hyper = self._hyper(group)
            for p in group["params"]:
                self._init_state(hyper, array_of(p), self.state[p])

    def _fill_group_defaults(self, group):
        group.setdefault("foreach", None)
        group.setdefault("maximize", False)
        group.setdefault("differentiable", False)
        group.setdefault("fused", None)

    @staticmethod
    def _hyper(group):
        return (float(scalar(group["lr"])), float(group["lr_decay"]), float(scalar(group["weight_decay"])),
                float(group["eps"]), bool(group["maximize"]),
                float(group.get("initial_accumulator_value", 0)), bool(group.get("fused")))

    def _init_state(self, hyper, param, state):
        # Also called by __init__: PyTorch's Adagrad has its state before the first step.
        initial_accumulator_value, step_on_device = hyper[5], hyper[6]
        state["step"] = self._step_state(param, step_on_device)
        state["sum"] = self._zeros_state(param, initial_accumulator_value)

    def _update(self, hyper, param, grad, state):
        lr, lr_decay, wd, eps, maximize, _, _ = hyper
        xp = backend.get_array_module(param)
        sum_t = state["sum"]
        step = float(array_of(state["step"]))
        s = array_of(sum_t)
        tmp = self._scratch(param, 1)

        g = self._effective_grad(param, grad, wd, maximize)

        clr = lr / (1 + (step - 1) * lr_decay)
        xp.multiply(g, g, out=tmp)
        xp.add(s, tmp, out=s)
        bump_version(sum_t)
        xp.sqrt(s, out=tmp)
        xp.add(tmp, eps, out=tmp)
        xp.divide(g, tmp, out=tmp)
        xp.multiply(tmp, -clr, out=tmp)
        xp.add(param, tmp, out=param)
