"""Memory: saved intermediates are released as soon as backward has used them (unless
retain_graph), and the whole graph goes away with its output, promptly (no reference
cycles) and completely (tracemalloc returns to its baseline)."""
import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import distgrad

MB = 1 << 20


@pytest.fixture
def no_gc():
    """Run with the cycle collector off: what is freed must be freed by reference counting."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def test_saved_intermediate_is_released_by_backward(no_gc):
    x = distgrad.ones(1000, dtype=distgrad.float64, requires_grad=True)
    h = x.exp()
    y = h.sin().sum()  # sin saves h, exp saves its output h
    ref = weakref.ref(h._data)
    del h
    assert ref() is not None  # the graph still needs it
    y.backward()
    assert ref() is None  # freed right after the nodes that saved it ran
    assert y.grad_fn is not None  # the (now empty) graph itself lives on with y


def test_retain_graph_keeps_saved_values_until_output_dies(no_gc):
    x = distgrad.ones(100, dtype=distgrad.float64, requires_grad=True)
    h = x.exp()
    y = h.sin().sum()
    ref = weakref.ref(h._data)
    del h
    y.backward(retain_graph=True)
    assert ref() is not None
    y.backward()
    assert ref() is None


def test_graph_is_freed_when_output_goes_away(no_gc):
    x = distgrad.ones(10, requires_grad=True)
    h = (x * 2).exp()
    y = (h * h).sum()
    node_refs = [weakref.ref(y.grad_fn), weakref.ref(h.grad_fn)]
    data_ref = weakref.ref(h._data)
    del h
    assert all(r() is not None for r in node_refs)
    del y
    assert all(r() is None for r in node_refs)
    assert data_ref() is None
    assert x.grad is None  # nothing ran


def test_accumulate_grad_node_does_not_keep_a_graph_alive(no_gc):
    x = distgrad.ones(3, requires_grad=True)
    y = (x * 3).sum()
    acc_ref = weakref.ref(y.grad_fn.next_functions[0][0].next_functions[0][0])
    y.backward()
    del y
    assert acc_ref() is None  # the leaf does not hold its AccumulateGrad node strongly
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_leaf_is_not_kept_alive_by_its_graph_after_use(no_gc):
    x = distgrad.ones(3, requires_grad=True)
    y = (x * 3).sum()
    xref = weakref.ref(x)
    del x
    assert xref() is not None  # the graph holds the leaf while it may still backprop into it
    del y
    assert xref() is None


def test_hook_closures_are_released_with_the_graph(no_gc):
    class Big:
        pass
    payload = Big()
    pref = weakref.ref(payload)
    x = distgrad.ones(2, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g, p=payload: g)
    del payload
    (y * 1).sum().backward()
    assert pref() is not None
    del y
    assert pref() is None


def _traced_peak_and_final(step):
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    step()
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - base), (current - base)


def test_tracemalloc_returns_to_baseline_after_backward():
    x = distgrad.ones(250_000, dtype=distgrad.float64, requires_grad=True)  # 2 MB per array

    def step():
        h = x
        for _ in range(8):
            h = (h * 1.0001).tanh()
        h.sum().backward()
        del h

    peak, final = _traced_peak_and_final(step)
    assert peak > 16 * MB  # the graph did hold its intermediates
    assert final < 3 * MB  # ...and let go of all of them (x.grad, 2 MB, remains)
    assert x.grad is not None


def test_repeated_training_steps_do_not_grow_memory():
    w = distgrad.randn(200, 200, dtype=distgrad.float64, requires_grad=True)
    xs = distgrad.randn(64, 200, dtype=distgrad.float64)

    def train(steps):
        for _ in range(steps):
            loss = ((xs @ w).tanh() ** 2).mean()
            loss.backward()
            with distgrad.no_grad():
                w.sub_(0.01 * w.grad)
            w.grad = None

    train(2)  # warm up caches
    _, first = _traced_peak_and_final(lambda: train(3))
    _, second = _traced_peak_and_final(lambda: train(12))
    assert second < first + 256 * 1024


def test_no_grad_forward_keeps_nothing(no_gc):
    x = distgrad.ones(1000, requires_grad=True)
    with distgrad.no_grad():
        h = x.exp()
        y = h.sin()
    ref = weakref.ref(h._data)
    del h
    assert ref() is None and y.grad_fn is None


class _Doubled(distgrad.autograd.Function):
    """backward makes a fresh gradient and notes its array's id (an int: it keeps no reference)."""

    seen = []

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        out = g * 2
        _Doubled.seen.append(id(out.detach().numpy()))
        return out


def test_leaf_keeps_the_gradient_array_only_the_engine_holds():
    # a fresh gradient becomes .grad as it is, without a copy (the engine counts references to know)
    _Doubled.seen.clear()
    x = distgrad.ones(3, requires_grad=True)
    _Doubled.apply(x).sum().backward()
    assert id(x.grad.detach().numpy()) == _Doubled.seen[0]
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


class _SharedGrad(distgrad.autograd.Function):
    """backward hands one fresh array to both inputs (as AddBackward hands on its gradient)."""

    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, g):
        out = g * 1
        return out, out


def test_leaves_handed_one_gradient_array_get_their_own_copies():
    # each leaf's .grad must own its memory, or an in-place update of one changes the other
    x = distgrad.ones(3, requires_grad=True)
    y = distgrad.ones(3, requires_grad=True)
    _SharedGrad.apply(x, y).sum().backward()
    assert not np.shares_memory(x.grad.detach().numpy(), y.grad.detach().numpy())
    x.grad.add_(1)
    assert y.grad.tolist() == [1.0, 1.0, 1.0]


def test_a_gradient_a_hook_keeps_is_copied_into_grad():
    kept = []
    x = distgrad.ones(2, requires_grad=True)
    x.register_hook(lambda g: kept.append(g))
    (x * 3).sum().backward()
    x.grad.add_(1)
    assert kept[0].tolist() == [3.0, 3.0] and x.grad.tolist() == [4.0, 4.0]
