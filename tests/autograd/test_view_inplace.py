"""In-place writes through views of tensors in a graph: PyTorch's values, gradients, errors, second derivatives.

Each case builds ``b = x * 2`` (plus an optional second tensor), writes into it through a view, and compares
the result, its grad_fn kind and the gradients with PyTorch's; a stale view (its base written after it was
taken) must get the base's new history, not the old one.
"""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck

from error_parity import assert_raises_like_torch

torch = pytest.importorskip("torch")

W = np.arange(1.0, 7.0).reshape(2, 3)

CASES = {
    "setitem_column": lambda L, b, y: b.__setitem__((slice(None), 0), 0),
    "mul_row": lambda L, b, y: b[1].mul_(3),
    "transpose_add": lambda L, b, y: b.t().add_(1),
    "flat_view_setitem": lambda L, b, y: b.view(-1).__setitem__(2, 5.0),
    "copy_into_row": lambda L, b, y: b[0].copy_(y[1] * 7),
    "view_of_view_mul_by_tensor": lambda L, b, y: b[:, 1:][0].mul_(y[0, 0]),
    "diagonal_like_strided": lambda L, b, y: b[:, ::2].sub_(y[:, :2]),
    "fill_row": lambda L, b, y: b[1].fill_(2.5),
    "zero_column": lambda L, b, y: b[:, 2].zero_(),
    "setitem_tensor_in_view": lambda L, b, y: b[1].__setitem__(slice(0, 2), y[0, 1:] ** 2),
    "two_writes": lambda L, b, y: (b[0].mul_(y[1]), b[:, 1].add_(y[0, 0])),
    "stale_sibling": lambda L, b, y: (lambda v: (b.mul_(3), v.add_(y[0, 0])))(b[0]),
}


def run(L, name):
    x = L.tensor(W, dtype=L.float64, requires_grad=True)
    y = L.tensor(W[::-1].copy(), dtype=L.float64, requires_grad=True)
    b = x * 2
    CASES[name](L, b, y)
    (b * L.tensor(W, dtype=L.float64)).sum().backward()
    return b.detach().numpy(), x.grad.numpy(), None if y.grad is None else y.grad.numpy()


@pytest.mark.parametrize("name", list(CASES))
def test_values_and_gradients_match_pytorch(name):
    ours, theirs = run(distgrad, name), run(torch, name)
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_view_taken_before_its_base_was_written_sees_the_write():
    for L in (distgrad, torch):
        x = L.tensor(W, dtype=L.float64, requires_grad=True)
        b = x * 2
        v = b[0]
        b.mul_(3)                      # v's values change with b
        (v * L.tensor([1.0, 2.0, 3.0], dtype=L.float64)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [[6.0, 12.0, 18.0], [0.0, 0.0, 0.0]])


def test_second_derivatives_through_a_view_write():
    def f(L, x):
        b = x * x
        b[1].mul_(x[0])
        return (b ** 2).sum()
    results = []
    for L in (distgrad, torch):
        x = L.tensor(W, dtype=L.float64, requires_grad=True)
        (g,) = L.autograd.grad(f(L, x), x, create_graph=True)
        (h,) = L.autograd.grad((g * L.tensor(W, dtype=L.float64)).sum(), x)
        results.append((g.detach().numpy(), h.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_gradcheck_of_functions_writing_through_views():
    def f(x, y):
        b = x * x.sum()  # (exp would save its output, which a later write would invalidate)
        b.t()[1:].mul_(y.sin())
        b[0, ::2] = y[0, :2] * 3
        return b.sum(0)
    x = distgrad.randn(3, 4, dtype=distgrad.float64, requires_grad=True)
    y = distgrad.randn(3, 3, dtype=distgrad.float64, requires_grad=True)
    assert gradcheck(f, (x, y))


@pytest.mark.parametrize("misuse", [
    lambda L: L.ones(2, 2, requires_grad=True)[0].mul_(2),                       # a view of a leaf
    lambda L: _nograd_view(L).mul_(2),                                            # view made in no_grad
    lambda L: (L.ones(3, requires_grad=True) * 2).expand(2, 3).mul_(2),           # overlapping elements
])
def test_refusals_match_pytorch(misuse):
    assert_raises_like_torch(misuse)


def _nograd_view(L):
    b = L.ones(2, 2, requires_grad=True) * 2
    with L.no_grad():
        v = b[0]
    return v


def test_writes_without_grad_stay_plain():
    b = distgrad.ones(2, 3)
    b[0].mul_(4)
    b.t()[2].add_(1)
    assert b.tolist() == [[4.0, 4.0, 5.0], [1.0, 1.0, 2.0]] and b.grad_fn is None
