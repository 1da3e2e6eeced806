"""``Adam``: adaptive moment estimation (with AMSGrad and decoupled weight decay options).

Per parameter at step ``t``, with gradient ``g`` (negated under ``maximize``)::

    g = g + weight_decay * p                  (L2, unless decoupled)
    p = p * (1 - lr * weight_decay)           (decoupled weight decay: AdamW)
    m = lerp(m, g, 1 - beta1)                 exp_avg
    v = beta2 * v + (1 - beta2) * g * g       exp_avg_sq
    v_hat = max(v_max, v) if amsgrad else v   max_exp_avg_sq
    p = p - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)

All of it runs on the raw arrays with in-place ufuncs and two reusable scratch
buffers, so a step allocates nothing after the first.

Example::

    >>> import distgrad
    >>> w = distgrad.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = distgrad.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([ 0.9000, -0.9000], requires_grad=True)
"""
from distgrad import backend
from distgrad.autograd.raw import array_of, bump_version
from distgrad.autograd.tensor import Tensor
from distgrad.optim.optimizer import Optimizer, check_lr_and_flags, scalar


def lerp_(xp, start, end, weight, tmp):
    """``start += weight * (end - start)`` in place, with PyTorch's two-branch formula for accuracy."""
    xp.subtract(end, start, out=tmp)
    if abs(weight) < 0.5:
        xp.multiply(tmp, weight, out=tmp)
        xp.add(start, tmp, out=start)
    else:
        xp.multiply(tmp, 1.0 - weight, out=tmp)
        xp.subtract(end, tmp, out=start)


def check_betas(betas):
    """PyTorch's checks on ``betas``: two values in [0, 1), both floats or both 1-element tensors."""
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
            or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
        raise ValueError("betas must be either both floats or both Tensors")
    for i, b in enumerate(betas):
        if isinstance(b, Tensor) and b.numel() != 1:
            raise ValueError(f"Tensor betas[{i}] must be 1-element")


class Adam(Optimizer):
    """The Adam optimizer, as ``torch.optim.Adam``.

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates of the gradient average and squared-gradient average (default (0.9, 0.999)).
        eps: added to the denominator for stability (default 1e-8).
        weight_decay: L2 penalty (default 0); decoupled (AdamW) when ``decoupled_weight_decay``.
        amsgrad: use the maximum of past squared-gradient averages (AMSGrad).
        maximize: maximize the objective instead of minimizing it.
        capturable: keep ``state['step']`` on the parameter's device.
        foreach, fused: accepted for compatibility; every setting gives the same update here.
        differentiable: must stay False (steps are not recorded by autograd).
        decoupled_weight_decay: decay the weights directly instead of through the gradient.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq`` and, with amsgrad, ``max_exp_avg_sq``.

    Example::

        >>> import distgrad
        >>> w = distgrad.zeros(2, requires_grad=True)
        >>> opt = distgrad.optim.Adam([w], lr=3e-4, betas=(0.9, 0.98), amsgrad=True)
    """

    _param_shaped_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _counts_steps = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        check_lr_and_flags(lr, foreach, differentiable, fused)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _fill_group_defaults(self, group):
        group.setdefault("amsgrad", False)
        group.setdefault("maximize", False)
        group.setdefault("foreach", None)
        group.setdefault("capturable", False)
        group.setdefault("differentiable", False)
        group.setdefault("decoupled_weight_decay", False)
        group.setdefault("fused", None)

    @staticmethod
    def _hyper(group):
        beta1, beta2 = group["betas"]
        return (float(scalar(group["lr"])), float(scalar(beta1)), float(scalar(beta2)), float(group["eps"]),
                float(scalar(group["weight_decay"])), bool(group["amsgrad"]), bool(group["maximize"]),
                bool(group["decoupled_weight_decay"]), bool(group["capturable"] or group["fused"]))

    def _init_state(self, hyper, param, state):
        amsgrad, step_on_device = hyper[5], hyper[8]  # see _hyper for the order
        state["step"] = self._step_state(param, step_on_device)
        state["exp_avg"] = self._zeros_state(param)
        state["exp_avg_sq"] = self._zeros_state(param)
        if amsgrad:
            state["max_exp_avg_sq"] = self._zeros_state(param)

    def _update(self, hyper, param, grad, state):
        lr, beta1, beta2, eps, wd, amsgrad, maximize, decoupled, _ = hyper
        xp = backend.get_array_module(param)
        m_t, v_t = state["exp_avg"], state["exp_avg_sq"]
        m, v = array_of(m_t), array_of(v_t)
        tmp = self._scratch(param, 1)
        step = float(array_of(state["step"]))

        if wd != 0 and decoupled:
            xp.multiply(param, 1 - lr * wd, out=param)  # AdamW: decay the weights, not the gradient
            wd = 0
        g = self._effective_grad(param, grad, wd, maximize)

        lerp_(xp, m, g, 1 - beta1, tmp)
        xp.multiply(v, beta2, out=v)
        xp.multiply(g, g, out=tmp)
        xp.multiply(tmp, 1 - beta2, out=tmp)
        xp.add(v, tmp, out=v)
        bump_version(m_t)
        bump_version(v_t)

        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5
        if amsgrad:
            vmax_t = state.get("max_exp_avg_sq")
            if vmax_t is None:  # amsgrad switched on after the state was made
                state["max_exp_avg_sq"] = vmax_t = self._zeros_state(param)
            vmax = array_of(vmax_t)
            xp.maximum(vmax, v, out=vmax)
            bump_version(vmax_t)
            v = vmax
        denom = tmp
        xp.sqrt(v, out=denom)
        xp.divide(denom, bias_correction2_sqrt, out=denom)
        xp.add(denom, eps, out=denom)
        xp.divide(m, denom, out=denom)
        xp.multiply(denom, -step_size, out=denom)
        xp.add(param, denom, out=param)
