"""Tensor hooks (``register_hook``), post-accumulate-grad hooks and
``queue_callback``: when each runs, what it may change, and their errors."""
import pytest

import distgrad
from distgrad import autograd


def leaf(values):
    return distgrad.tensor(values, requires_grad=True)


# --- register_hook ------------------------------------------------------------------------------
def test_leaf_hook_sees_and_replaces_the_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()) or g * 2)
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]]
    assert x.grad.tolist() == [6.0, 6.0]


def test_non_leaf_hook_changes_what_flows_on():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.register_hook(lambda g: g + 1)
    (y * y).sum().backward()
    assert x.grad.tolist() == [(6 + 1) * 3, (12 + 1) * 3]


def test_hook_returning_none_keeps_the_gradient():
    x = leaf([1.0])
    calls = []
    x.register_hook(lambda g: calls.append(1))
    (x * 5).sum().backward()
    assert calls == [1] and x.grad.tolist() == [5.0]


def test_several_hooks_run_in_registration_order():
    x = leaf([1.0])
    order = []
    x.register_hook(lambda g: order.append("a") or g * 2)
    x.register_hook(lambda g: order.append(("b", g.item())) or g + 1)
    (x * 1).sum().backward()
    assert order == ["a", ("b", 2.0)]
    assert x.grad.item() == 3.0


def test_handle_remove():
    x = leaf([1.0, 2.0])
    h = x.register_hook(lambda g: g * 100)
    h.remove()
    h.remove()  # removing twice is harmless
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    y = leaf([1.0]) * 2
    hy = y.register_hook(lambda g: g * 100)
    hy.remove()
    with y.register_hook(lambda g: g * 7):
        pass  # a handle is also a context manager that removes on exit
    (y * 1).sum().backward()


def test_hook_order_with_retain_grad():
    # retain_grad stores the gradient after every tensor hook, whatever the order of registration
    for first_retain in (True, False):
        x = leaf([1.0])
        y = x * 2
        if first_retain:
            y.retain_grad()
        y.register_hook(lambda g: g * 10)
        if not first_retain:
            y.retain_grad()
        (y * 1).sum().backward()
        assert y.grad.tolist() == [10.0]
        assert x.grad.tolist() == [20.0]


def test_hook_requires_grad():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        distgrad.ones(1).register_hook(lambda g: g)


def test_hook_may_not_change_shape_or_dtype():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: distgrad.ones(3))
    with pytest.raises(RuntimeError, match="has changed the size of value"):
        (x * 2).sum().backward()
    y = leaf([1.0, 2.0]) * 2
    y.register_hook(lambda g: g.double())
    with pytest.raises(RuntimeError, match="has changed the type of value"):
        (y * 2).sum().backward()
    z = leaf([1.0])
    z.register_hook(lambda g: 3.0)
    with pytest.raises(TypeError, match="hook"):
        (z * 2).sum().backward()


def test_leaf_hook_runs_for_autograd_grad_but_nothing_accumulates():
    x = leaf([1.0])
    calls = []
    x.register_hook(lambda g: calls.append("hook") or g * 3)
    x.register_post_accumulate_grad_hook(lambda t: calls.append("post"))
    (g,) = autograd.grad((x * 2).sum(), x)
    assert calls == ["hook"]
    assert g.tolist() == [6.0] and x.grad is None


# --- register_post_accumulate_grad_hook -------------------------------------------------------------
def test_post_accumulate_hook_fires_once_after_grad_is_final():
    x = leaf([1.0])
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append((t is x, t.grad.tolist())))
    (x * 2 + x * 3 + x * x).sum().backward()  # three paths, one call, with the sum
    assert seen == [(True, [7.0])]
    (x * 2).sum().backward()
    assert seen[-1] == (True, [9.0])  # sees the accumulated grad


def test_post_accumulate_hook_can_modify_grad_in_place():
    x = leaf([1.0, 2.0])

    def clip(t):
        t.grad.clamp_(max=1.5)
    x.register_post_accumulate_grad_hook(clip)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [1.5, 1.5]


def test_post_accumulate_hook_errors():
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf tensors"):
        (leaf([1.0]) * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        distgrad.ones(1).register_post_accumulate_grad_hook(lambda t: None)


def test_post_accumulate_hook_remove_and_inputs_filter():
    a, b = leaf([1.0]), leaf([1.0])
    calls = []
    ha = a.register_post_accumulate_grad_hook(lambda t: calls.append("a"))
    b.register_post_accumulate_grad_hook(lambda t: calls.append("b"))
    (a * b).sum().backward(inputs=[b])
    assert calls == ["b"]
    ha.remove()
    (a * b).sum().backward()
    assert calls == ["b", "b"]


# --- queue_callback ---------------------------------------------------------------------------------
def test_queue_callback_runs_after_everything_else():
    x = leaf([1.0, 2.0])
    y = x * 3
    log = []

    def hook(g):
        autograd.Variable._execution_engine.queue_callback(lambda: log.append(("cb", x.grad.tolist())))
    y.register_hook(hook)
    x.register_post_accumulate_grad_hook(lambda t: log.append(("post", t.grad.tolist())))
    (y * y).sum().backward()
    assert log == [("post", [18.0, 36.0]), ("cb", [18.0, 36.0])]


def test_queue_callback_function_form_and_order():
    x = leaf([1.0])
    log = []

    def hook(g):
        autograd.queue_callback(lambda: log.append(1))
        autograd.queue_callback(lambda: log.append(2))
    x.register_hook(hook)
    (x * 2).sum().backward()
    assert log == [1, 2]
    (x * 2).sum().backward()
    assert log == [1, 2, 1, 2]  # callbacks do not carry over to the next pass


def test_queue_callback_outside_backward_errors():
    with pytest.raises(RuntimeError, match="Final callbacks can only be installed during backward pass"):
        autograd.Variable._execution_engine.queue_callback(lambda: None)


def test_callback_may_start_a_nested_backward():
    x = leaf([2.0])
    other = leaf([3.0])
    done = []

    def hook(g):
        autograd.queue_callback(lambda: done.append(autograd.grad((other * other).sum(), other)[0].item()))
    x.register_hook(hook)
    (x * x).sum().backward()
    assert done == [6.0] and x.grad.item() == 4.0
