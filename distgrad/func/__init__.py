"""``torch.func``: function transforms (grad, vjp, jacrev, jacfwd, hessian, vmap) and ``functional_call``.

They compose (``vmap(grad(f))``, ``jacfwd(jacrev(f))``) and work with
``functional_call`` to differentiate a module's output with respect to a dict
of its parameters.  Partial, as the submodules say: the autodiff transforms run
on distgrad's tape (no forward mode: ``jacfwd`` uses the double-backward trick),
and ``vmap`` loops over the batch.

Example::

    >>> import distgrad
    >>> model = distgrad.nn.Linear(2, 1)
    >>> params = dict(model.named_parameters())
    >>> x = distgrad.ones(3, 2)
    >>> grads = grad(lambda p: functional_call(model, p, (x,)).sum())(params)
    >>> sorted(grads), grads["bias"]
    (['bias', 'weight'], tensor([3.]))
"""
from distgrad.func.functional_call import functional_call  # noqa: F401
from distgrad.func.transforms import grad, grad_and_value, hessian, jacfwd, jacrev, vjp  # noqa: F401
from distgrad.func.vmap import vmap  # noqa: F401
