"""``torch.func`` parity: grad, grad_and_value, vjp, jacrev, jacfwd, hessian and vmap against PyTorch in float64.

Each case is written once against the library it is given, and compared leaf by leaf (values, structure,
dtype). Compositions (vmap of grad, jacfwd of jacrev, grad of grad, per-sample gradients through
functional_call) are compared the same way.
"""
import numpy as np
import pytest

import distgrad
import distgrad.func as DF

from error_parity import assert_raises_like_torch

torch = pytest.importorskip("torch")
import torch.func as TF  # noqa: E402

RNG = np.random.default_rng(3)
DATA = {s: RNG.standard_normal(s) for s in [(3,), (2, 3), (4, 3), (4, 2), (2,)]}


def t(L, shape, **kw):
    return L.tensor(DATA[shape], dtype=L.float64, **kw)


def api(L):
    return DF if L is distgrad else TF


def leaves(x):
    if isinstance(x, dict):
        return [(k, v) for key in x for k, v in leaves(x[key])]
    if isinstance(x, (tuple, list)):
        return [(type(x).__name__ + str(len(x)), v) for el in x for _, v in leaves(el)]
    return [("leaf", x)]


def same(ours, theirs):
    a, b = leaves(ours), leaves(theirs)
    assert [k for k, _ in a] == [k for k, _ in b], (ours, theirs)
    for (_, x), (_, y) in zip(a, b):
        if isinstance(y, torch.Tensor):
            assert isinstance(x, distgrad.Tensor) and tuple(x.shape) == tuple(y.shape)
            np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-10, atol=1e-12)
        else:
            assert x == y


def both(case):
    same(case(distgrad), case(torch))


CASES = {
    "grad": lambda L: api(L).grad(lambda x: (x.sin() * x).sum())(t(L, (3,))),
    "grad_argnums": lambda L: api(L).grad(lambda a, b: (a @ b).sum() + (b ** 3).sum(), argnums=(0, 1))(
        t(L, (2, 3)), t(L, (3,))),
    "grad_negative_argnum": lambda L: api(L).grad(lambda a, b: (a * b).sum(), argnums=-1)(t(L, (3,)), t(L, (3,))),
    "grad_aux": lambda L: api(L).grad(lambda x: ((x ** 2).sum(), {"m": x.mean()}), has_aux=True)(t(L, (3,))),
    "grad_dict": lambda L: api(L).grad(lambda p: (p["w"] @ p["b"]).sum())({"w": t(L, (2, 3)), "b": t(L, (3,))}),
    "grad_unused": lambda L: api(L).grad(lambda a, b: a.exp().sum(), argnums=(0, 1))(t(L, (3,)), t(L, (2,))),
    "grad_of_grad": lambda L: api(L).grad(lambda x: api(L).grad(lambda y: (y ** 4).sum())(x).sum())(t(L, (3,))),
    "grad_and_value": lambda L: api(L).grad_and_value(lambda x: x.tanh().sum())(t(L, (3,))),
    "vjp": lambda L: (lambda o, f: (o, f((t(L, (2,)), t(L, (2, 3))))))(
        *api(L).vjp(lambda a, b: ((a * b).sum(1), a.sin() * b), t(L, (2, 3)), t(L, (2, 3)))),
    "vjp_aux": lambda L: (lambda o, f, aux: (o, f(t(L, (3,))), aux))(
        *api(L).vjp(lambda x: (x.exp(), x.sum()), t(L, (3,)), has_aux=True)),
    "jacrev": lambda L: api(L).jacrev(lambda x: x.sin() * x.sum())(t(L, (3,))),
    "jacrev_tuple": lambda L: api(L).jacrev(lambda a, b: {"p": a @ b, "q": (b.cos(),)}, argnums=(0, 1))(
        t(L, (2, 3)), t(L, (3,))),
    "jacfwd": lambda L: api(L).jacfwd(lambda x: x.exp() * x[0])(t(L, (3,))),
    "jacfwd_tuple": lambda L: api(L).jacfwd(lambda a, b: (a * b.sum(), b ** 2), argnums=(0, 1))(
        t(L, (3,)), t(L, (2,))),
    "jac_aux": lambda L: api(L).jacrev(lambda x: (x ** 2, x.sum()), has_aux=True)(t(L, (3,))),
    "hessian": lambda L: api(L).hessian(lambda x: (x.sin() * x ** 2).sum())(t(L, (3,))),
    "hessian_argnums": lambda L: api(L).hessian(lambda a, b: (a.exp() * b.sum()).sum(), argnums=1)(
        t(L, (3,)), t(L, (2,))),
    "jacfwd_of_jacrev": lambda L: api(L).jacfwd(api(L).jacrev(lambda x: (x ** 3).prod()))(t(L, (3,))),
    "vmap": lambda L: api(L).vmap(lambda row: row.dot(row.sin()))(t(L, (4, 3))),
    "vmap_in_dims": lambda L: api(L).vmap(lambda a, b: a * b, in_dims=(1, None))(t(L, (2, 3)), t(L, (2,))),
    "vmap_out_dims": lambda L: api(L).vmap(lambda a: (a * 2, a.sum()), out_dims=(1, 0))(t(L, (4, 3))),
    "vmap_negative": lambda L: api(L).vmap(lambda c: c.exp(), in_dims=-1, out_dims=-1)(t(L, (2, 3))),
    "vmap_nested_input": lambda L: api(L).vmap(lambda p: p["a"] @ p["b"][0])(
        {"a": t(L, (4, 3)), "b": (t(L, (4, 3)),)}),
    "vmap_of_grad": lambda L: api(L).vmap(api(L).grad(lambda x: (x ** 3).sum()))(t(L, (4, 3))),
    "vmap_of_jacrev": lambda L: api(L).vmap(api(L).jacrev(lambda x: x.sin() * x.sum()))(t(L, (4, 2))),
    "vmap_of_vmap": lambda L: api(L).vmap(api(L).vmap(lambda x: x ** 2))(t(L, (4, 3))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_pytorch(name):
    both(CASES[name])


def test_per_sample_gradients_through_functional_call():
    def case(L):
        L.manual_seed(0)
        model = L.nn.Linear(3, 2).double()
        with L.no_grad():
            model.weight.copy_(t(L, (2, 3)))
            model.bias.copy_(t(L, (2,)))
        params = {k: v.detach() for k, v in model.named_parameters()}

        def loss(p, x, y):
            out = api(L).functional_call(model, p, (x.unsqueeze(0),))
            return ((out - y) ** 2).sum()
        return api(L).vmap(api(L).grad(loss), in_dims=(None, 0, 0))(params, t(L, (4, 3)), t(L, (4, 2)))
    both(case)


def test_results_keep_their_graph_when_the_input_requires_grad():
    for L in (distgrad, torch):
        x = t(L, (3,), requires_grad=True)
        g = api(L).grad(lambda v: (v ** 3).sum())(x)
        assert g.requires_grad
        (h,) = L.autograd.grad(g.sum(), x)
        np.testing.assert_allclose(h.numpy(), 6 * DATA[(3,)])
        assert not api(L).grad(lambda v: (v ** 3).sum())(t(L, (3,))).requires_grad


def test_vmap_randomness_modes():
    for L in (distgrad, torch):
        x = L.zeros(3, 1)
        same_draws = api(L).vmap(lambda v: v + L.rand(1), randomness="same")(x)
        assert float((same_draws - same_draws[0]).abs().max()) == 0
        different = api(L).vmap(lambda v: v + L.rand(1), randomness="different")(x)
        assert float((different - different[0]).abs().max()) > 0
    assert_raises_like_torch(lambda L: api(L).vmap(lambda v: v + L.rand(1))(L.zeros(3, 1)))


@pytest.mark.parametrize("misuse", [
    lambda L: api(L).grad(lambda x: x * 2)(L.ones(3)),                              # not a scalar
    lambda L: api(L).grad(lambda x: x.sum(), argnums=2)(L.ones(3)),                 # no such argument
    lambda L: api(L).grad(lambda x: x.sum())(L.ones(3, dtype=L.int64)),             # integers
    lambda L: api(L).grad(lambda x: (x.sum(), 1, 2), has_aux=True)(L.ones(3)),      # aux not a pair
    lambda L: api(L).vjp(lambda x: x * 2, L.ones(3))[1](L.ones(2)),                 # cotangent shape
    lambda L: api(L).vmap(lambda a, b: a + b)(L.ones(3, 2), L.ones(2, 2)),          # batch sizes differ
    lambda L: api(L).vmap(lambda a: a, in_dims=None)(L.ones(3)),                    # nothing batched
    lambda L: api(L).vmap(lambda a: a, in_dims=2)(L.ones(3, 2)),                    # in_dim out of range
    lambda L: api(L).vmap(lambda a: a, in_dims=(0, 0))(L.ones(3)),                  # in_dims structure
    lambda L: api(L).vmap(lambda a: a, randomness="sometimes")(L.ones(3)),
])
def test_misuse_raises_pytorchs_error_type(misuse):
    assert_raises_like_torch(misuse)
