"""``AdamW``: Adam with decoupled weight decay (Loshchilov & Hutter).

The weights shrink directly, ``p = p * (1 - lr * weight_decay)``, before the
Adam update, instead of the decay being added to the gradient (where Adam's
per-coordinate scaling would weaken it).  The update itself is
:class:`distgrad.optim.Adam`'s with ``decoupled_weight_decay=True``, as in
PyTorch, where ``AdamW`` is a subclass of ``Adam``.

Example::

    >>> import distgrad
    >>> w = distgrad.ones(2, requires_grad=True)
    >>> opt = distgrad.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = distgrad.zeros(2)
    >>> opt.step(); w
    tensor([0.9500, 0.9500], requires_grad=True)
"""
from distgrad.optim.adam import Adam


class AdamW(Adam):
    """The AdamW optimizer, as ``torch.optim.AdamW`` (default ``weight_decay=1e-2``).

    Args:
        params: tensors or param-group dicts to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates of the gradient average and squared-gradient average (default (0.9, 0.999)).
        eps: added to the denominator for stability (default 1e-8).
        weight_decay: decoupled weight decay coefficient (default 1e-2).
        amsgrad: use the maximum of past squared-gradient averages (AMSGrad).
        maximize: maximize the objective instead of minimizing it.
        capturable: keep ``state['step']`` on the parameter's device.
        foreach, fused: accepted for compatibility; every setting gives the same update here.
        differentiable: must stay False (steps are not recorded by autograd).

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq`` and, with amsgrad, ``max_exp_avg_sq``.

    Example::

        >>> import distgrad
        >>> w = distgrad.zeros(2, requires_grad=True)
        >>> opt = distgrad.optim.AdamW([w], lr=1e-3, weight_decay=0.05)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def _fill_group_defaults(self, group):
        super()._fill_group_defaults(group)
        # A loaded group always decays decoupled here, whatever the saved dict says (as PyTorch).
        group["decoupled_weight_decay"] = True
