"""Saved-tensor hooks, save_on_cpu, disable_saved_tensors_hooks and register_multi_grad_hook, against PyTorch.

Where the two libraries save the same tensors (mul saves both inputs, pow and sin their input), a hook that
changes what comes back changes the gradients the same way in both; elsewhere gradients under hooks must
equal the gradients without them, including second derivatives.
"""
import contextlib

import numpy as np
import pytest

import distgrad
from distgrad.autograd import graph

from error_parity import assert_raises_like_torch

torch = pytest.importorskip("torch")

X = np.array([0.5, -1.0, 2.0])


def grads_under(L, hooks, f, create_graph=False):
    x = L.tensor(X, dtype=L.float64, requires_grad=True)
    with hooks(L):
        y = f(L, x)
    (g,) = L.autograd.grad(y, x, create_graph=create_graph)
    if not create_graph:
        return g.numpy(), None
    (h,) = L.autograd.grad(g.sum(), x)
    return g.detach().numpy(), h.numpy()


FUNCS = {
    "mul": lambda L, x: (x * x).sum(),
    "pow": lambda L, x: (x ** 3).sum(),
    "sin": lambda L, x: x.sin().sum(),
    "chain": lambda L, x: (x.exp() * x.tanh()).sum() + (x.sigmoid() ** 2).sum(),
    "matmul": lambda L, x: (L.outer(x, x) @ x).sum(),
}


def identity_hooks(L):
    return L.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t)


def zeroing_hooks(L):
    return L.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t * 0)


def cpu_hooks(L):
    return L.autograd.graph.save_on_cpu()


def detached_copy_hooks(L):
    return L.autograd.graph.saved_tensors_hooks(lambda t: t.detach().clone(), lambda t: t)


@pytest.mark.parametrize("hooks", [identity_hooks, cpu_hooks, detached_copy_hooks])
@pytest.mark.parametrize("name", list(FUNCS))
def test_gradients_and_second_derivatives_are_unchanged_by_faithful_hooks(name, hooks):
    f = FUNCS[name]
    without = grads_under(distgrad, lambda L: _no_hooks(), f, True)
    ours = grads_under(distgrad, hooks, f, True)
    theirs = grads_under(torch, hooks, f, True)
    for a, b, c in zip(ours, theirs, without):
        np.testing.assert_allclose(a, b, rtol=1e-12)
        np.testing.assert_allclose(a, c, rtol=1e-12)


def _no_hooks():
    return contextlib.nullcontext()


@pytest.mark.parametrize("name", ["mul", "pow", "sin"])
def test_what_unpack_returns_is_what_backward_uses(name):
    ours, _ = grads_under(distgrad, zeroing_hooks, FUNCS[name])
    theirs, _ = grads_under(torch, zeroing_hooks, FUNCS[name])
    np.testing.assert_allclose(ours, theirs)


def test_pack_sees_tensors_the_innermost_pair_applies_and_hooks_end_with_the_block():
    outer, inner = [], []
    x = distgrad.ones(2, requires_grad=True)
    with graph.saved_tensors_hooks(lambda t: outer.append(t) or t, lambda t: t):
        a = x * x
        with graph.saved_tensors_hooks(lambda t: inner.append(t) or t, lambda t: t):
            b = a.sin()
    c = b * 2  # saved nothing under hooks
    assert len(outer) == 2 and len(inner) == 1
    assert all(isinstance(t, distgrad.Tensor) for t in outer + inner)
    c.sum().backward()
    assert len(outer) == 2 and len(inner) == 1 and x.grad is not None


def test_hooked_values_are_not_version_checked_as_in_pytorch():
    results = []
    for L in (distgrad, torch):
        x = L.ones(2, requires_grad=True)
        with L.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            a = x * 1
            y = (a * a).sum()
        a.add_(1)
        y.backward()  # PyTorch leaves in-place safety to the hook; so does distgrad
        results.append(x.grad.tolist())
        copied = L.ones(2, requires_grad=True)
        with L.autograd.graph.saved_tensors_hooks(lambda t: t.clone(), lambda t: t):
            b = copied * 1
            z = (b * b).sum()
        b.add_(1)
        z.backward()
        results.append(copied.grad.tolist())
    assert results[:2] == results[2:] == [[4.0, 4.0], [2.0, 2.0]]


def test_unpack_must_return_a_tensor_and_disable_refuses_hooks():
    assert_raises_like_torch(lambda L: _bad_unpack(L))
    assert_raises_like_torch(lambda L: _disabled(L))
    with pytest.raises(RuntimeError, match="no hooks here"):
        _disabled(distgrad)


def _bad_unpack(L):
    x = L.ones(2, requires_grad=True)
    with L.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: 3):
        y = (x * x).sum()
    y.backward()


def _disabled(L):
    with L.autograd.graph.disable_saved_tensors_hooks("no hooks here"):
        with L.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            pass


def test_multi_grad_hook_matches_pytorch():
    def case(L):
        a, b, c = (L.ones(2, requires_grad=True) for _ in range(3))
        seen = []
        h = L.autograd.graph.register_multi_grad_hook(
            (a, b, c), lambda gs: seen.append([None if g is None else g.tolist() for g in gs]))
        ((a * 2).sum() + (b * 3).sum()).backward()
        (c * 4).sum().backward()
        h.remove()
        (a * 2).sum().backward()
        L.autograd.graph.register_multi_grad_hook((a, b), lambda g: seen.append(g.tolist()), mode="any")
        ((a * 2).sum() + (b * 3).sum()).backward()
        return seen
    assert case(distgrad) == case(torch)
    assert_raises_like_torch(lambda L: L.autograd.graph.register_multi_grad_hook(
        (L.ones(1, requires_grad=True),), lambda g: None, mode="some"))
