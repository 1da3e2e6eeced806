"""The graph and the engine: requires_grad propagation, leaves, grad_fn names and
``next_functions``, summing gradients from several paths before a node runs,
very deep graphs, and recording nothing under no_grad."""
import sys

import numpy as np
import pytest

import distgrad
from distgrad import autograd

ACC = "torch::autograd::AccumulateGrad"


def names(t):
    return [(None if n is None else n.name(), nr) for n, nr in t.grad_fn.next_functions]


# --- requires_grad --------------------------------------------------------------------------------
def test_output_requires_grad_iff_an_input_does():
    a = distgrad.ones(2, requires_grad=True)
    b = distgrad.ones(2)
    assert (a * b).requires_grad and (b * a).requires_grad
    assert not (b * b).requires_grad and (b * b).grad_fn is None
    assert (a + 1).requires_grad
    assert not (b.exp() + 1).requires_grad


def test_integer_and_bool_results_never_require_grad():
    a = distgrad.tensor([1.0, -2.0], requires_grad=True)
    assert not (a > 0).requires_grad and (a > 0).grad_fn is None
    assert not a.argmax().requires_grad
    assert not a.long().requires_grad


def test_leaves():
    a = distgrad.ones(2, requires_grad=True)
    c = distgrad.ones(2)
    assert a.is_leaf and a.grad_fn is None
    assert c.is_leaf  # tensors that do not require grad are leaves too
    y = a * 2
    assert not y.is_leaf and y.grad_fn is not None
    assert y.detach().is_leaf


def test_requires_grad_setters():
    t = distgrad.ones(2)
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad
    t.requires_grad = True
    assert t.requires_grad


def test_integer_tensors_cannot_require_grad():
    i = distgrad.tensor([1, 2])
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        i.requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        i.requires_grad = True
    i.requires_grad = False  # turning it off is fine
    with pytest.raises(RuntimeError, match="floating point"):
        distgrad.tensor([True]).requires_grad_()


def test_changing_requires_grad_of_a_non_leaf():
    y = distgrad.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables.*detach"):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad = True
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)
    assert y.requires_grad_() is y  # True on a non-leaf is allowed (it already requires grad)
    assert y.requires_grad


# --- grad_fn names and next_functions ---------------------------------------------------------------
# (square, var, std, logsumexp and norm are compositions in distgrad: their last node names them)
NAMED = [
    "x * w", "x + w", "x - w", "x / w", "x ** 2", "x ** w", "-x", "x.exp()", "x.log()", "x.sqrt()",
    "x.tanh()", "x.sigmoid()", "x.relu()", "x.abs()", "x.sin()", "x.cos()", "x.sum()", "x.sum(0)",
    "x.reshape(6)", "x.view(3, 2)", "x.clone()", "x.permute(1, 0)", "x.expand(4, 2, 3)",
    "x @ w.t()", "x.mean()", "x.mean(1)", "x.t()", "x.transpose(0, 1)", "x.unsqueeze(0)", "x.squeeze(0)",
    "x[0] @ w[0]", "x.max()", "x.amax(1)", "2 ** x", "x.pow(w)", "x.clamp(0, 1)", "x.flatten()",
    "x.neg()", "x.prod()", "x.erf()", "x.maximum(w)", "x.where(x > 0, w)", "x.repeat(2, 1)", "x.float()",
]


@pytest.mark.parametrize("expr", NAMED)
def test_grad_fn_names_match_torch(expr):
    torch = pytest.importorskip("torch")
    xs = np.arange(1.0, 7.0).reshape(2, 3) / 7

    def build(mod):
        x = mod.tensor(xs, requires_grad=True)
        w = mod.tensor(xs[::-1].copy(), requires_grad=True)
        return eval(expr, {"x": x, "w": w})

    expected = type(build(torch).grad_fn).__name__
    out = build(distgrad)
    assert out.grad_fn.name() == expected
    assert type(out.grad_fn).__name__ == expected


def test_next_functions_structure():
    x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    c = distgrad.tensor([3.0, 4.0])
    y = x * c
    assert names(y) == [(ACC, 0), (None, 0)]
    assert names(c * x) == [(None, 0), (ACC, 0)]
    assert y.grad_fn.next_functions[0][0].variable is x
    z = y.exp()
    assert names(z) == [("MulBackward0", 0)]
    assert z.grad_fn.next_functions[0][0] is y.grad_fn
    s = (z + y).sum()
    assert names(s) == [("AddBackward0", 0)]


def test_one_accumulate_grad_node_per_leaf():
    a, b = distgrad.ones(2, requires_grad=True), distgrad.ones(2, requires_grad=True)
    p, q = a + b, a * b
    assert p.grad_fn.next_functions[0][0] is q.grad_fn.next_functions[0][0]
    assert p.grad_fn.next_functions[1][0] is not p.grad_fn.next_functions[0][0]


def test_output_nr_of_multi_output_op():
    x = distgrad.tensor([[1.0, 5.0], [3.0, 2.0]], requires_grad=True)
    values, indices = distgrad.max(x, dim=1)
    assert values.output_nr == 0 and values.grad_fn.name() == "MaxBackward0"
    assert not indices.requires_grad
    (values * 2).sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0], [2.0, 0.0]]


def test_node_hooks_and_prehooks():
    x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    seen = {}

    def pre(grad_outputs):
        seen["pre"] = grad_outputs[0].tolist()
        return (grad_outputs[0] * 10,)

    def post(grad_inputs, grad_outputs):
        seen["post"] = (grad_inputs[0].tolist(), grad_outputs[0].tolist())

    y.grad_fn.register_prehook(pre)
    y.grad_fn.register_hook(post)
    y.sum().backward()
    assert seen["pre"] == [1.0, 1.0]
    assert seen["post"] == ([30.0, 30.0], [10.0, 10.0])
    assert x.grad.tolist() == [30.0, 30.0]


# --- summing paths and ordering -------------------------------------------------------------------
def test_diamond_hook_on_shared_node_sees_the_full_sum_once():
    x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    shared = x * 2
    calls = []
    shared.register_hook(lambda g: calls.append(g.tolist()))
    left, right = shared * 3, shared.exp()
    (left + right).sum().backward()
    expected = (3 + np.exp([2.0, 4.0])).tolist()
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], expected, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array(expected), rtol=1e-6)


def test_shared_node_runs_once_with_many_consumers():
    x = distgrad.tensor([1.0], requires_grad=True)
    shared = x * 1
    runs = []
    shared.grad_fn.register_prehook(lambda go: runs.append(1))
    total = shared
    for _ in range(50):
        total = total + shared
    total.sum().backward()
    assert len(runs) == 1
    assert x.grad.tolist() == [51.0]


def test_same_tensor_used_twice_in_one_op():
    x = distgrad.tensor([3.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [6.0]


def test_deep_chain_has_no_recursion_limit():
    x = distgrad.tensor([1.0], dtype=distgrad.float64, requires_grad=True)
    y = x
    n = 100_000
    for _ in range(n):
        y = y * 1.0
    assert n > sys.getrecursionlimit()
    y.sum().backward()
    assert x.grad.tolist() == [1.0]


def test_deep_chain_of_mixed_ops():
    x = distgrad.tensor([0.5], dtype=distgrad.float64, requires_grad=True)
    y = x
    for _ in range(5_000):
        y = (y + 1.0) - 1.0
    (y * y).sum().backward()
    assert x.grad.tolist() == [1.0]


def test_wide_graph():
    xs = [distgrad.tensor([float(i)], requires_grad=True) for i in range(2000)]
    total = xs[0]
    for t in xs[1:]:
        total = total + t * t
    total.sum().backward()
    assert xs[0].grad.tolist() == [1.0]
    assert xs[1999].grad.tolist() == [2 * 1999.0]


# --- no_grad records nothing ----------------------------------------------------------------------
def _live_nodes():
    import gc
    from distgrad.autograd.function import BackwardNode
    gc.collect()
    return sum(1 for o in gc.get_objects() if issubclass(type(o), BackwardNode))


def test_no_grad_records_no_graph():
    x = distgrad.ones(3, requires_grad=True)
    before = _live_nodes()
    kept = [(x * 2).sum()]
    assert _live_nodes() == before + 2  # the count does see recorded nodes
    with distgrad.no_grad():
        for _ in range(10):
            y = (x * 2).exp().sum()
            kept.append(y)
            assert y.grad_fn is None and not y.requires_grad and y.is_leaf
    assert _live_nodes() == before + 2


def test_backward_of_graph_built_under_enable_grad_inside_no_grad():
    x = distgrad.ones(2, requires_grad=True)
    with distgrad.no_grad():
        with distgrad.enable_grad():
            y = (x * 4).sum()
    y.backward()
    assert x.grad.tolist() == [4.0, 4.0]


def test_backward_runs_without_recording():
    x = distgrad.tensor([2.0], requires_grad=True)
    inside = []
    x.register_hook(lambda g: inside.append(distgrad.is_grad_enabled()))
    (x * x).sum().backward()
    assert inside == [False]
    (g,) = autograd.grad((x * x).sum(), x, create_graph=True)
    assert g.requires_grad


def test_grad_with_respect_to_a_non_leaf_stops_there_and_keeps_its_node():
    # as in PyTorch: the input's own backward does not run, so its saved tensors survive for a later pass
    x = distgrad.ones(2, requires_grad=True)
    h = x.exp()
    (gh,) = distgrad.autograd.grad((h * 3).sum(), h)
    assert gh.tolist() == [3.0, 3.0] and x.grad is None
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(1.0) * np.ones(2), rtol=1e-6)
    a = distgrad.ones(2, requires_grad=True)
    b = a * 2
    c = b * 3
    ga, gb = distgrad.autograd.grad((c * c).sum(), [a, b])  # b is a target with another target beyond it
    assert ga.tolist() == [72.0, 72.0] and gb.tolist() == [36.0, 36.0]


@pytest.mark.parametrize("name", ["avg_pool2d", "max_pool2d", "relu", "leaky_relu", "abs", "pad", "adaptive_avg_pool2d",
                                  "tanh", "gelu"])
def test_second_order_gradients_follow_pytorchs_backward_formulas(name):
    # PyTorch's backward for the pools and relu takes the input (or result): the first-order gradient
    # requires grad and the second is zeros; pad's does not take it, so a second grad raises
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    data = rng.standard_normal((1, 1, 4, 4))
    outcomes = []
    for L in (distgrad, torch):
        F = L.nn.functional
        ops = {"avg_pool2d": lambda t: F.avg_pool2d(t, 2), "max_pool2d": lambda t: F.max_pool2d(t, 2),
               "relu": lambda t: t.relu(), "leaky_relu": lambda t: F.leaky_relu(t, 0.1), "abs": lambda t: t.abs(),
               "pad": lambda t: F.pad(t, (1, 1, 1, 1)), "adaptive_avg_pool2d": lambda t: F.adaptive_avg_pool2d(t, 1),
               "tanh": lambda t: t.tanh(), "gelu": lambda t: F.gelu(t)}
        x = L.tensor(data, dtype=L.float64, requires_grad=True)
        (g,) = L.autograd.grad((ops[name](x) ** 2).sum() if name in ("pad", "adaptive_avg_pool2d") else
                               ops[name](x).sum(), x, create_graph=True)
        if not g.requires_grad:
            outcomes.append(("no grad",))
            continue
        (h,) = L.autograd.grad((g * L.tensor(data, dtype=L.float64)).sum(), x)
        h = h.detach() + L.zeros_like(x)  # materialises a PyTorch ZeroTensor
        outcomes.append(("grad", np.round(np.asarray(h.tolist()), 10).tolist()))
    assert outcomes[0] == outcomes[1]
