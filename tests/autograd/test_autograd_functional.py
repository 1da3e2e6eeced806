"""``torch.autograd.functional`` parity: vjp, jvp, jacobian, hessian, vhp, hvp against PyTorch in float64.

Every function of :data:`FUNCS` is written once against the library it is given (torch or distgrad), with
tuple inputs, tuple outputs, an unused input and non-scalar outputs among them. Each API is compared on
values and, under ``create_graph=True``, on the gradients of its results with respect to the inputs.
"""
import numpy as np
import pytest

import distgrad
import distgrad.autograd.functional as AF

from error_parity import assert_raises_like_torch

torch = pytest.importorskip("torch")
import torch.autograd.functional as TF  # noqa: E402

RNG = np.random.default_rng(0)
DATA = {s: RNG.standard_normal(s) for s in [(3,), (2, 3), (2,), (3, 3)]}

# name -> (builder taking the library, input shapes, whether it returns one element)
FUNCS = {
    "one_to_one": (lambda L: lambda x: (x * 1.5).exp() * x.sin(), [(3,)], False),
    "tuple_to_tuple": (lambda L: lambda a, b: (a @ b, (a.tanh() * 2).sum(0), b.cos()), [(2, 3), (3,)], False),
    "unused_input": (lambda L: lambda a, b: a ** 3, [(3,), (2,)], False),
    "matrix": (lambda L: lambda m: m @ m.t() + m.sigmoid(), [(3, 3)], False),
    "scalar_one": (lambda L: lambda x: (x ** 3).sum() + x.sin().prod(), [(3,)], True),
    "scalar_tuple": (lambda L: lambda a, b: ((a ** 2).sum(1) * b[:2]).sum() + b.exp().sum(), [(2, 3), (3,)], True),
    "scalar_unused": (lambda L: lambda a, b: (a.exp() * a).sum(), [(3,), (2,)], True),
}


def inputs(L, shapes, requires_grad=False):
    ts = tuple(L.tensor(DATA[s], dtype=L.float64, requires_grad=requires_grad) for s in shapes)
    return ts[0] if len(ts) == 1 else ts


def flat(x):
    if isinstance(x, (tuple, list)):
        return [t for el in x for t in flat(el)]
    return [x]


def compare(ours, theirs):
    a, b = flat(ours), flat(theirs)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert isinstance(x, distgrad.Tensor) and tuple(x.shape) == tuple(y.shape)
        np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-10, atol=1e-12)


def run_both(call, name, create_graph):
    """``call(api, L, func, inputs)`` with both libraries; compares results and, under create_graph, their grads."""
    build, shapes, _ = FUNCS[name]
    results = []
    for api, L in ((AF, distgrad), (TF, torch)):
        ins = inputs(L, shapes, requires_grad=create_graph)
        out = call(api, L, build(L), ins)
        grads = None
        if create_graph:
            total = sum(t.sum() for t in flat(out) if t.requires_grad)
            grads = L.autograd.grad(total, flat(ins), allow_unused=True) if not isinstance(total, int) else None
        results.append((out, grads))
    (ours, g_ours), (theirs, g_theirs) = results
    compare(ours, theirs)
    if create_graph:
        assert (g_ours is None) == (g_theirs is None)
        if g_ours is not None:
            for x, y in zip(g_ours, g_theirs):
                assert (x is None) == (y is None)
                if x is not None:
                    np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-9, atol=1e-11)


def cotangents(L, like):
    return tuple(L.tensor(np.linspace(0.5, 1.5, t.numel()).reshape(tuple(t.shape)), dtype=L.float64)
                 for t in flat(like))


def _maybe_single(v, template):
    return v if isinstance(template, tuple) else v[0]


VECTOR_FUNCS = [n for n, (_, _, scalar) in FUNCS.items() if not scalar]
SCALAR_FUNCS = [n for n, (_, _, scalar) in FUNCS.items() if scalar]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", list(FUNCS))
def test_vjp(name, create_graph):
    def call(api, L, f, ins):
        out = f(*ins) if isinstance(ins, tuple) else f(ins)
        v = _maybe_single(cotangents(L, out), out)
        return api.vjp(f, ins, v, create_graph=create_graph)
    run_both(call, name, create_graph)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", list(FUNCS))
def test_jvp(name, create_graph):
    def call(api, L, f, ins):
        return api.jvp(f, ins, _maybe_single(cotangents(L, ins), ins), create_graph=create_graph)
    run_both(call, name, create_graph)


@pytest.mark.parametrize("mode", ["reverse", "reverse-vectorized", "forward-vectorized"])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", list(FUNCS))
def test_jacobian(name, create_graph, mode):
    if mode == "forward-vectorized" and create_graph:
        pytest.skip("forward mode with create_graph is refused by both (tested below)")

    def call(api, L, f, ins):
        return api.jacobian(f, ins, create_graph=create_graph, vectorize=mode != "reverse",
                            strategy="forward-mode" if mode.startswith("forward") else "reverse-mode")
    run_both(call, name, create_graph)


@pytest.mark.parametrize("outer", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", SCALAR_FUNCS)
def test_hessian(name, create_graph, outer):
    if outer == "forward-mode" and create_graph:
        pytest.skip("forward mode with create_graph is refused by both")

    def call(api, L, f, ins):
        return api.hessian(f, ins, create_graph=create_graph, vectorize=outer == "forward-mode",
                           outer_jacobian_strategy=outer)
    run_both(call, name, create_graph)


@pytest.mark.parametrize("which", ["vhp", "hvp"])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", SCALAR_FUNCS)
def test_hessian_vector_products(name, create_graph, which):
    def call(api, L, f, ins):
        return getattr(api, which)(f, ins, _maybe_single(cotangents(L, ins), ins), create_graph=create_graph)
    run_both(call, name, create_graph)


def test_v_may_be_omitted_only_for_one_element():
    for api, L in ((AF, distgrad), (TF, torch)):
        x = L.tensor([2.0], dtype=L.float64)
        assert float(api.vjp(lambda t: t ** 2, x)[1]) == 4.0
        assert float(api.jvp(lambda t: t ** 2, x)[1]) == 4.0
        assert float(api.vhp(lambda t: (t ** 3).sum(), x)[1]) == 12.0


def test_unused_inputs_get_zeros_and_strict_refuses_them():
    build = FUNCS["unused_input"][0]
    for api, L in ((AF, distgrad), (TF, torch)):
        ins = inputs(L, [(3,), (2,)])
        _, grads = api.vjp(build(L), ins, L.ones(3, dtype=L.float64))
        assert grads[1].abs().sum().item() == 0
    assert_raises_like_torch(lambda L: (AF if L is distgrad else TF).vjp(
        FUNCS["unused_input"][0](L), inputs(L, [(3,), (2,)]), L.ones(3, dtype=L.float64), strict=True))
    assert_raises_like_torch(lambda L: (AF if L is distgrad else TF).jacobian(
        FUNCS["unused_input"][0](L), inputs(L, [(3,), (2,)]), strict=True))
    assert_raises_like_torch(lambda L: (AF if L is distgrad else TF).hessian(
        lambda a: (a * 2).sum(), inputs(L, [(3,)]), strict=True))  # linear: the jacobian is constant


def _api(L):
    return AF if L is distgrad else TF


@pytest.mark.parametrize("misuse", [
    lambda L: _api(L).vjp(lambda x: x * 2, L.ones(3)),                                  # v needed
    lambda L: _api(L).vjp(lambda x: x * 2, L.ones(3), L.ones(2)),                       # v of the wrong size
    lambda L: _api(L).vjp(lambda a, b: (a, b), (L.ones(1), L.ones(1)), (L.ones(1),)),   # v too short
    lambda L: _api(L).jvp(lambda x: x * 2, L.ones(3)),                                  # v needed
    lambda L: _api(L).jacobian(lambda x: x, [1.0, 2.0]),                                # not tensors
    lambda L: _api(L).jacobian(lambda x: 3.0, L.ones(2)),                               # output not a tensor
    lambda L: _api(L).jacobian(lambda x: x, L.ones(2), strategy="sideways"),
    lambda L: _api(L).jacobian(lambda x: x, L.ones(2), strategy="forward-mode"),        # needs vectorize
    lambda L: _api(L).jacobian(lambda x: x, L.ones(2), create_graph=True, strategy="forward-mode", vectorize=True),
    lambda L: _api(L).jacobian(lambda x: x * x, L.ones(2), strict=True, vectorize=True),
    lambda L: _api(L).hessian(lambda x: x * x, L.ones(2)),                              # not one element
    lambda L: _api(L).hessian(lambda x: (x.sum(), x.sum()), L.ones(2)),                 # a tuple
    lambda L: _api(L).vhp(lambda x: x * x, L.ones(2), L.ones(2)),
    lambda L: _api(L).hvp(lambda x: x.sum(), L.ones(2), L.ones(3)),
])
def test_misuse_raises_pytorchs_error_type(misuse):
    assert_raises_like_torch(misuse)


def test_inputs_are_not_modified_and_results_are_detached_without_create_graph():
    x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    jac = AF.jacobian(lambda t: t * t, x)
    assert not jac.requires_grad and x.grad is None and x.grad_fn is None
    jac = AF.jacobian(lambda t: t * t, x, create_graph=True)
    assert jac.requires_grad
    (g,) = distgrad.autograd.grad(jac.sum(), x)
    assert g.tolist() == [2.0, 2.0]
