"""Custom ``autograd.Function``: static forward/backward and apply, the ctx API
(save_for_backward, saved_tensors, needs_input_grad, mark_dirty,
mark_non_differentiable, set_materialize_grads), once_differentiable, and the
engine's errors for a backward that returns the wrong number or shape of gradients."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import Function, once_differentiable
from distgrad.autograd.function import ArrayFunction


def leaf(values, dtype=None):
    return distgrad.tensor(values, dtype=dtype, requires_grad=True)


class Scale(Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        ctx.log = [("forward", distgrad.is_grad_enabled(), ctx.needs_input_grad)]
        return x * x * k

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        ctx.log.append(("backward", ctx.needs_input_grad))
        return 2 * x * g * ctx.k, None


def test_apply_forward_backward_and_ctx():
    x = leaf([1.0, 2.0])
    y = Scale.apply(x, 3.0)
    assert y.requires_grad and y.grad_fn.name() == "ScaleBackward"
    assert type(y.grad_fn).__name__ == "ScaleBackward"
    assert y.grad_fn.next_functions[0][0].variable is x
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 12.0]
    assert y.grad_fn.log == [("forward", False, (True, False)), ("backward", (True, False))]


def test_apply_without_grad_records_nothing():
    z = Scale.apply(distgrad.tensor([1.0]), 2.0)
    assert not z.requires_grad and z.grad_fn is None
    with distgrad.no_grad():
        assert Scale.apply(leaf([1.0]), 2.0).grad_fn is None


def test_needs_input_grad_when_not_recording_has_one_entry_per_argument():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b, c):
            seen.append(tuple(ctx.needs_input_grad))
            return a * 1

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    Probe.apply(distgrad.ones(1), distgrad.ones(1), 3)
    Probe.apply(distgrad.ones(1), leaf([1.0]), 3)
    assert seen == [(False, False, False), (False, True, False)]


def test_built_in_ops_get_a_fresh_ctx_per_unrecorded_call():
    seen = []

    class Keeps(ArrayFunction):
        @staticmethod
        def forward(ctx, x):
            seen.append(getattr(ctx, "kept", None))
            ctx.kept = x  # what a built-in forward sets for its backward (an activation, a denominator)
            return x * 2

    out = [Keeps.apply(distgrad.ones(2)) for _ in range(2)]
    assert seen == [None, None]  # nothing set by the first call reaches the second (or another thread)
    assert out[1].tolist() == [2.0, 2.0]


def test_apply_forwards_keyword_arguments():
    class Kw(Function):
        @staticmethod
        def forward(ctx, x, scale=2.0):
            return x * scale

        @staticmethod
        def backward(ctx, g):
            return g * 2, None

    assert Kw.apply(leaf([1.0]), scale=3.0).tolist() == [3.0]


def test_functions_are_not_instantiated():
    with pytest.raises(RuntimeError, match="apply"):
        Scale()


def test_backward_may_return_none_for_inputs():
    class NoneBack(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g * 2, None

    a, b = leaf([1.0, 1.0]), leaf([1.0, 1.0])
    NoneBack.apply(a, b).sum().backward()
    assert a.grad.tolist() == [2.0, 2.0] and b.grad is None


def test_wrong_number_of_gradients():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g

    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    class ExtraNones(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    a, b = leaf([1.0]), leaf([1.0])
    with pytest.raises(RuntimeError, match=r"function TooFewBackward returned an incorrect number of gradients "
                                           r"\(expected 2, got 1\)"):
        TooFew.apply(a, b).sum().backward()
    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 1, got 2\)"):
        TooMany.apply(a).sum().backward()
    ExtraNones.apply(a).sum().backward()  # trailing Nones are tolerated, as in PyTorch
    assert a.grad.tolist() == [1.0]


def test_wrong_gradient_shape():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return distgrad.ones(3)

    class Broadcastable(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return distgrad.ones(3, 2)  # summed down to the input's shape

    a = leaf([1.0, 1.0])
    with pytest.raises(RuntimeError, match=r"Function BadShapeBackward returned an invalid gradient.* got \[3\] "
                                           r"but expected shape compatible with \[2\]"):
        BadShape.apply(a).sum().backward()
    Broadcastable.apply(a).sum().backward()
    assert a.grad.tolist() == [3.0, 3.0]


def test_backward_returning_a_non_tensor():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return 1.0

    with pytest.raises(RuntimeError, match=r"expected Variable or None \(got float\)"):
        Bad.apply(leaf([1.0])).sum().backward()


def test_saved_tensors_freed_after_backward():
    x = leaf([1.0, 2.0])
    y = Scale.apply(x, 1.0)
    assert y.grad_fn.saved_tensors[0] is x
    y.sum().backward()
    with pytest.raises(RuntimeError, match="saved tensors after they have already been freed"):
        y.grad_fn.saved_tensors


def test_save_for_backward_accepts_none_and_refuses_other_objects():
    class SaveNone(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, None)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            x, n = ctx.saved_tensors
            assert n is None
            return g * 2

    class SaveInt(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(3)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g

    SaveNone.apply(leaf([1.0])).sum().backward()
    with pytest.raises(TypeError, match="save_for_backward can only save variables, but argument 0 is of type int"):
        SaveInt.apply(leaf([1.0]))


def test_saved_input_modified_in_place_is_detected():
    x = leaf([1.0, 2.0])
    h = x * 1
    y = Scale.apply(h, 1.0)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_mark_dirty():
    class DoubleInPlace(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    p = leaf([1.0, 2.0])
    q = p * 1
    r = DoubleInPlace.apply(q)
    assert r is q and q.grad_fn.name() == "DoubleInPlaceBackward"
    assert q.tolist() == [2.0, 4.0] and q._version == 2  # the write, then mark_dirty's bump
    r.sum().backward()
    assert p.grad.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        DoubleInPlace.apply(leaf([1.0]))


def test_mark_non_differentiable():
    seen = []

    class WithMask(Function):
        @staticmethod
        def forward(ctx, x):
            mask = (x > 0).float()
            ctx.mark_non_differentiable(mask)
            return x * 2, mask

        @staticmethod
        def backward(ctx, g, g_mask):
            seen.append(g_mask.tolist())
            return g * 2

    a = leaf([1.0, -1.0])
    out, mask = WithMask.apply(a)
    assert out.requires_grad and not mask.requires_grad and mask.grad_fn is None
    out.sum().backward()
    assert seen == [[0.0, 0.0]]  # materialized zeros for the output without a gradient
    assert a.grad.tolist() == [2.0, 2.0]


def test_integer_outputs_do_not_require_grad():
    class ArgAndValue(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1, x.argmax()

        @staticmethod
        def backward(ctx, g, gi):
            return g

    v, i = ArgAndValue.apply(leaf([1.0, 3.0]))
    assert v.requires_grad and not i.requires_grad


@pytest.mark.parametrize("materialize", [True, False])
def test_set_materialize_grads(materialize):
    seen = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append((None if g1 is None else g1.tolist(), None if g2 is None else g2.tolist()))
            total = 0
            if g1 is not None:
                total = total + g1 * 2
            if g2 is not None:
                total = total + g2 * 3
            return total

    a = leaf([1.0, 1.0])
    u, _ = Two.apply(a)
    u.sum().backward()
    assert seen == [([1.0, 1.0], [0.0, 0.0] if materialize else None)]
    assert a.grad.tolist() == [2.0, 2.0]


def test_returning_an_input_unchanged_gives_a_new_tensor():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    s = leaf([1.0])
    r = Identity.apply(s)
    assert r is not s and r.grad_fn.name() == "IdentityBackward"
    assert s.is_leaf and s.grad_fn is None
    r.sum().backward()
    assert s.grad.tolist() == [5.0]


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        assert not distgrad.is_grad_enabled()
        return 3 * x * x * g


def test_once_differentiable_first_derivative_works():
    w = leaf([2.0])
    Cube.apply(w).sum().backward()
    assert w.grad.tolist() == [12.0]
    (g,) = distgrad.autograd.grad(Cube.apply(w).sum(), w, create_graph=True)
    assert g.tolist() == [12.0]


def test_once_differentiable_double_backward_raises():
    w = leaf([2.0])
    y = Cube.apply(w)
    (g,) = distgrad.autograd.grad((y * y).sum(), w, create_graph=True)
    assert g.requires_grad
    with pytest.raises(RuntimeError, match="trying to differentiate twice a function that was marked with "
                                           "@once_differentiable"):
        g.sum().backward()


def test_differentiable_custom_backward_supports_double_backward():
    class Sin(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.cos()  # built from ops, so itself differentiable

    x = leaf([0.5, 1.0], dtype=distgrad.float64)
    (g,) = distgrad.autograd.grad(Sin.apply(x).sum(), x, create_graph=True)
    (h,) = distgrad.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), -np.sin([0.5, 1.0]))
    assert distgrad.autograd.gradgradcheck(Sin.apply, (x,))


def test_function_matches_torch_semantics():
    torch = pytest.importorskip("torch")
    results = []
    for mod in (torch, distgrad):
        class Clip(mod.autograd.Function):
            @staticmethod
            def forward(ctx, x, lo, hi):
                ctx.save_for_backward(x)
                ctx.lo, ctx.hi = lo, hi
                return x.clamp(lo, hi)

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                inside = ((x >= ctx.lo) & (x <= ctx.hi)).to(g.dtype)
                return g * inside, None, None

        x = mod.tensor([-2.0, 0.5, 3.0], requires_grad=True)
        (Clip.apply(x, -1.0, 1.0) * mod.tensor([1.0, 2.0, 3.0])).sum().backward()
        results.append(x.grad.tolist())
    assert results[0] == results[1]
