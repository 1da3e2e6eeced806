"""``RMSprop``: divide the gradient by a running root-mean-square of recent gradients.

Per parameter, with gradient ``g`` (negated under ``maximize``)::

    g = g + weight_decay * p
    v = alpha * v + (1 - alpha) * g * g                     square_avg
    a = lerp(a, g, 1 - alpha);  avg = sqrt(v - a * a)       centered (grad_avg)
    avg = sqrt(v)                                           otherwise
    avg = avg + eps
    buf = momentum * buf + g / avg;  p = p - lr * buf       momentum > 0 (momentum_buffer)
    p = p - lr * g / avg                                    otherwise

The update runs on the raw arrays with in-place ufuncs and reusable scratch buffers.

Example::

    >>> import distgrad
    >>> w = distgrad.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = distgrad.optim.RMSprop([w], lr=0.01, alpha=0.0)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([ 0.9900, -0.9900], requires_grad=True)
"""
from distgrad import backend
from distgrad.autograd.raw import array_of, bump_version
from distgrad.optim.adam import lerp_
from distgrad.optim.optimizer import Optimizer, check_lr_and_flags, scalar


class RMSprop(Optimizer):
    """The RMSprop optimizer, as ``torch.optim.RMSprop``.

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the squared-gradient average (default 0.99).
        eps: added to the denominator for stability (default 1e-8).
        weight_decay: L2 penalty added to the gradient (default 0).
        momentum: momentum factor (default 0).
        centered: normalise by the gradient's estimated variance instead of its second moment.
        capturable: keep ``state['step']`` on the parameter's device.
        foreach: accepted for compatibility; every setting gives the same update here.
        maximize: maximize the objective instead of minimizing it.
        differentiable: must stay False (steps are not recorded by autograd).

    State per parameter: ``step``, ``square_avg``, and ``momentum_buffer`` (momentum > 0)
    and ``grad_avg`` (centered).

    Example::

        >>> import distgrad
        >>> w = distgrad.zeros(2, requires_grad=True)
        >>> opt = distgrad.optim.RMSprop([w], lr=1e-3, momentum=0.9, centered=True)
    """

    _param_shaped_state = ("square_avg", "momentum_buffer", "grad_avg")
    _counts_steps = True

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_lr_and_flags(lr, foreach, differentiable)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _fill_group_defaults(self, group):
        group.setdefault("momentum", 0)
        group.setdefault("centered", False)
        group.setdefault("foreach", None)
        group.setdefault("maximize", False)
        group.setdefault("differentiable", False)
        group.setdefault("capturable", False)

    @staticmethod
    def _hyper(group):
        return (float(scalar(group["lr"])), float(group["alpha"]), float(group["eps"]),
                float(scalar(group["weight_decay"])), float(group["momentum"]), bool(group["centered"]),
                bool(group["maximize"]), bool(group["capturable"]))

    def _init_state(self, hyper, param, state):
        step_on_device = hyper[-1]  # capturable
        state["step"] = self._step_state(param, step_on_device)
        state["square_avg"] = self._zeros_state(param)

    def _update(self, hyper, param, grad, state):
        lr, alpha, eps, wd, momentum, centered, maximize, _ = hyper
        xp = backend.get_array_module(param)
        # Buffers that options switched on after the state was made start here.
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = self._zeros_state(param)
        if centered and "grad_avg" not in state:
            state["grad_avg"] = self._zeros_state(param)
        sq_t = state["square_avg"]
        sq = array_of(sq_t)
        tmp = self._scratch(param, 1)

        g = self._effective_grad(param, grad, wd, maximize)

        xp.multiply(sq, alpha, out=sq)
        xp.multiply(g, g, out=tmp)
        xp.multiply(tmp, 1 - alpha, out=tmp)
        xp.add(sq, tmp, out=sq)
        bump_version(sq_t)
        avg = tmp
        if centered:
            ga_t = state["grad_avg"]
            ga = array_of(ga_t)
            lerp_(xp, ga, g, 1 - alpha, tmp)
            bump_version(ga_t)
            xp.multiply(ga, ga, out=avg)
            xp.subtract(sq, avg, out=avg)
            xp.sqrt(avg, out=avg)
        else:
            xp.sqrt(sq, out=avg)
        xp.add(avg, eps, out=avg)
        if momentum > 0:
            buf_t = state["momentum_buffer"]
            buf = array_of(buf_t)
            xp.multiply(buf, momentum, out=buf)
            xp.divide(g, avg, out=avg)
            xp.add(buf, avg, out=buf)
            bump_version(buf_t)
            xp.multiply(buf, -lr, out=avg)
        else:
            xp.divide(g, avg, out=avg)
            xp.multiply(avg, -lr, out=avg)
        xp.add(param, avg, out=param)
