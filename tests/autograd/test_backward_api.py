"""``Tensor.backward``, ``autograd.backward`` and ``autograd.grad``: seeding, accumulation,
retain_graph, ``inputs=``, unused inputs, and every error they raise."""
import warnings

import numpy as np
import pytest

import distgrad
from distgrad import autograd


def leaf(values, dtype=None):
    return distgrad.tensor(values, dtype=dtype, requires_grad=True)


# --- Tensor.backward ------------------------------------------------------------------------------
def test_scalar_backward_fills_leaf_grads():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    assert x.grad.dtype is distgrad.float32 and not x.grad.requires_grad and x.grad.grad_fn is None


def test_non_scalar_output_needs_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(distgrad.tensor([1.0, 10.0]))
    assert x.grad.tolist() == [2.0, 20.0]


def test_one_element_non_scalar_output_is_allowed():
    x = leaf([3.0])
    (x * 2).backward()
    assert x.grad.tolist() == [2.0]


def test_gradient_shape_mismatch():
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of .*\[2\].* "
                                           r"and output\[0\] has a shape of .*\[3\]"):
        (x * 2).backward(distgrad.ones(2))


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a grad_fn"):
        distgrad.ones(2).sum().backward()


def test_grads_accumulate_across_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_accumulation_does_not_alias_the_incoming_gradient():
    x = leaf([1.0, 2.0])
    g = distgrad.tensor([1.0, 1.0])
    x.backward(g)  # backward of a leaf itself: .grad gets the seed
    x.backward(g)
    assert x.grad.tolist() == [2.0, 2.0]
    assert g.tolist() == [1.0, 1.0]


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = x.exp().sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_backward_inputs_restricts_accumulation():
    a, b = leaf([2.0]), leaf([3.0])
    (a * b).sum().backward(inputs=[a])
    assert a.grad.tolist() == [3.0] and b.grad is None
    (a * b).sum().backward(inputs=b)
    assert b.grad.tolist() == [2.0] and a.grad.tolist() == [3.0]


def test_backward_inputs_unused_input_stays_none():
    a, c = leaf([2.0]), leaf([1.0])
    (a * a).sum().backward(inputs=[c])
    assert c.grad is None and a.grad is None


def test_backward_inputs_non_leaf_accumulates_into_it():
    a, b = leaf([2.0]), leaf([3.0])
    ab = a * b
    (ab * 2).sum().backward(inputs=[ab])
    assert ab.grad.tolist() == [2.0]
    assert a.grad is None and b.grad is None


def test_backward_inputs_empty_is_an_error():
    a = leaf([2.0])
    with pytest.raises(RuntimeError, match="`inputs` argument to `backward\\(\\)` cannot be empty"):
        (a * 2).sum().backward(inputs=[])


# --- non-leaf .grad -------------------------------------------------------------------------------
def test_non_leaf_grad_is_none_and_warns():
    x = leaf([1.0, 2.0])
    y = x * 2
    (y * y).sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert y.grad is None
    assert not y.retains_grad


def test_retain_grad_keeps_non_leaf_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    y.retain_grad()  # twice is harmless
    assert y.retains_grad and not x.retains_grad
    (y * y).sum().backward(retain_graph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert y.grad.tolist() == [4.0, 8.0]
    (y * y).sum().backward()  # retained grads accumulate like leaf grads
    assert y.grad.tolist() == [8.0, 16.0]


def test_retain_grad_on_leaf_is_noop_and_on_constant_errors():
    x = leaf([1.0])
    x.retain_grad()
    assert not x.retains_grad
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        distgrad.ones(1).retain_grad()


# --- autograd.backward ----------------------------------------------------------------------------
def test_autograd_backward_several_roots():
    x = leaf([1.0, 2.0])
    autograd.backward([(x * 2).sum(), (x * 3).sum()])
    assert x.grad.tolist() == [5.0, 5.0]
    x.grad = None
    autograd.backward([x * 2, x * x], [distgrad.ones(2), distgrad.tensor([1.0, 0.5])])
    assert x.grad.tolist() == [4.0, 4.0]
    x.grad = None
    autograd.backward(x * 2, distgrad.tensor([1.0, -1.0]))
    assert x.grad.tolist() == [2.0, -2.0]


def test_autograd_backward_errors():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="got 2 tensors and 1 gradients"):
        autograd.backward([x * 2, x * 3], [distgrad.ones(2)])
    with pytest.raises(RuntimeError, match="element 1 of tensors does not require grad"):
        autograd.backward([(x * 2).sum(), distgrad.ones(1).sum()])
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        autograd.backward([x * 2])


# --- autograd.grad --------------------------------------------------------------------------------
def test_grad_returns_and_does_not_accumulate():
    x = leaf([1.0, 2.0, 3.0])
    (g,) = autograd.grad((x * x).sum(), x)
    assert g.tolist() == [2.0, 4.0, 6.0]
    assert x.grad is None
    assert not g.requires_grad


def test_grad_several_inputs_and_outputs():
    a, b = leaf([2.0]), leaf([5.0])
    ga, gb = autograd.grad([(a * b).sum(), (a * a).sum()], [a, b])
    assert ga.tolist() == [9.0] and gb.tolist() == [2.0]
    ga, gb = autograd.grad([(a * b).sum(), (a * a).sum()], (a, b), [distgrad.tensor(2.0), None])
    assert ga.tolist() == [14.0] and gb.tolist() == [4.0]  # None seeds a scalar output with 1


def test_grad_with_grad_outputs():
    x = leaf([1.0, 2.0])
    (g,) = autograd.grad(x * 3, x, grad_outputs=distgrad.tensor([1.0, 2.0]))
    assert g.tolist() == [3.0, 6.0]
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        autograd.grad(x * 3, x)


def test_grad_unused_input():
    x, u = leaf([1.0, 2.0]), leaf([1.0])
    with pytest.raises(RuntimeError, match="index 1 appears to not have been used in the graph. "
                                           "Set allow_unused=True"):
        autograd.grad((x * x).sum(), [x, u])
    gx, gu = autograd.grad((x * x).sum(), [x, u], allow_unused=True)
    assert gx.tolist() == [2.0, 4.0] and gu is None
    gx, gu = autograd.grad((x * x).sum(), [x, u], materialize_grads=True)
    assert gu.tolist() == [0.0]
    with pytest.raises(ValueError, match="allow_unused"):
        autograd.grad((x * x).sum(), [x, u], materialize_grads=True, allow_unused=False)
    assert x.grad is None and u.grad is None


def test_grad_errors():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors .*does not require grad"):
        autograd.grad((x * x).sum(), [distgrad.ones(1)])
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        autograd.grad(distgrad.ones(1).sum(), [x])
    y = x.exp().sum()
    autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        autograd.grad(y, x)


def test_grad_retain_graph():
    x = leaf([1.0, 2.0])
    y = x.exp().sum()
    (g1,) = autograd.grad(y, x, retain_graph=True)
    (g2,) = autograd.grad(y, x)
    assert g1.tolist() == g2.tolist()


def test_grad_wrt_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3
    (g,) = autograd.grad((h * h).sum(), h)
    assert g.tolist() == [6.0, 12.0]
    assert x.grad is None


def test_grad_only_runs_the_needed_part_of_the_graph():
    calls = []
    x, w = leaf([1.0]), leaf([2.0])
    a = x * 2
    b = w * 3
    b.register_hook(lambda g: calls.append("b"))
    autograd.grad((a + b).sum(), a)
    assert calls == []  # the branch into w was not needed for d/da


def test_backward_matches_torch_on_a_small_network():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((4, 3))
    ws = rng.standard_normal((3, 2))
    results = []
    for mod in (torch, distgrad):
        x = mod.tensor(xs, requires_grad=True)
        w = mod.tensor(ws, requires_grad=True)
        h = (x @ w).tanh()
        loss = (h * h).mean() + (x.exp() / (1 + w.sum())).sum()
        loss.backward()
        results.append((x.grad.numpy().copy(), w.grad.numpy().copy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-10)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-10)
