"""``SGD``: stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

Per parameter, with gradient ``g`` (negated under ``maximize``)::

    g = g + weight_decay * p
    buf = g                                   (first step)
    buf = momentum * buf + (1 - dampening) * g (later steps)
    g = g + momentum * buf  if nesterov  else  buf
    p = p - lr * g

The update runs on the raw arrays with in-place ufuncs (no graph, no new
tensors), writing temporaries into the optimizer's scratch buffers.

Example::

    >>> import distgrad
    >>> w = distgrad.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = distgrad.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([ 0.8000, -1.6000], requires_grad=True)
"""
from distgrad import backend
from distgrad.autograd.raw import array_of, bump_version
from distgrad.autograd.tensor import Tensor
from distgrad.optim.optimizer import Optimizer, check_lr_and_flags, scalar


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening of the momentum (default 0).
        weight_decay: L2 penalty added to the gradient (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, fused: accepted for compatibility; every setting gives the same update here.
        differentiable: must stay False (steps are not recorded by autograd).

    State per parameter: ``momentum_buffer`` (only when momentum != 0).

    Example::

        >>> import distgrad
        >>> w = distgrad.zeros(2, requires_grad=True)
        >>> opt = distgrad.optim.SGD([w], lr=0.01, momentum=0.9, nesterov=True)
    """

    _param_shaped_state = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        check_lr_and_flags(lr, foreach, differentiable, fused)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "foreach": foreach,
                    "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def _fill_group_defaults(self, group):
        group.setdefault("nesterov", False)
        group.setdefault("maximize", False)
        group.setdefault("foreach", None)
        group.setdefault("differentiable", False)
        group.setdefault("fused", False)

    @staticmethod
    def _hyper(group):
        return (float(scalar(group["lr"])), float(group["momentum"]), float(group["dampening"]),
                float(scalar(group["weight_decay"])), bool(group["nesterov"]), bool(group["maximize"]))

    def _keeps_state(self, hyper):
        momentum = hyper[1]
        return momentum != 0  # the momentum buffer is SGD's only state

    def _update(self, hyper, param, grad, state):
        lr, momentum, dampening, wd, nesterov, maximize = hyper
        xp = backend.get_array_module(param)
        # d: the effective gradient; it aliases the user's grad unless it had to be changed.
        d = self._effective_grad(param, grad, wd, maximize)
        if momentum != 0:
            buf_t = state.get("momentum_buffer")
            if buf_t is None:  # the first step starts the buffer at the gradient itself
                state["momentum_buffer"] = buf_t = Tensor._make(d.copy())
                buf = array_of(buf_t)
            else:
                buf = array_of(buf_t)
                xp.multiply(buf, momentum, out=buf)
                if dampening == 0:
                    xp.add(buf, d, out=buf)
                else:
                    tmp = self._scratch(param, 1)
                    xp.multiply(d, 1 - dampening, out=tmp)
                    xp.add(buf, tmp, out=buf)
                bump_version(buf_t)
            if nesterov:
                tmp = self._scratch(param, 1)
                xp.multiply(buf, momentum, out=tmp)
                xp.add(d, tmp, out=tmp)
                d = tmp
            else:
                d = buf
        tmp = self._scratch(param, 1)
        xp.multiply(d, -lr, out=tmp)
        xp.add(param, tmp, out=param)
