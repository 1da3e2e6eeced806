"""Casts and copies (to/double/float/clone/contiguous) and the in-place ops: gradients
through in-place updates of non-leaf tensors, version counters, and the autograd errors
PyTorch raises (leaf in-place, saved tensor modified, result type can't be cast)."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64


def rnd(*shape):
    return distgrad.randn(*shape, dtype=F64).requires_grad_()


def pos(*shape):
    return (distgrad.rand(*shape, dtype=F64) + 0.5).requires_grad_()


# --- casts and copies ---------------------------------------------------------------------------
CASTS = {
    "clone": lambda x: x.clone() * 2,
    "contiguous_of_transpose": lambda x: x.t().contiguous() * 2,
    "to_float32_and_back": lambda x: x.to(distgrad.float32).to(F64) * 2,
    "float_double": lambda x: x.float().double(),
    "to_same_dtype": lambda x: x.to(F64) * x,
    "type_as": lambda x: x.type_as(distgrad.zeros(1, dtype=F64)) ** 2,
    "to_copy": lambda x: x.to(F64, copy=True) ** 2,
}


@pytest.mark.parametrize("name", sorted(CASTS))
def test_cast_gradients(name):
    x = rnd(2, 3)
    if "float32" in name or "float_" in name:  # a float32 round trip: finite differences need a big step
        assert gradcheck(CASTS[name], (x,), eps=1e-3, atol=1e-3)
    else:
        assert gradcheck(CASTS[name], (x,))
        assert gradgradcheck(CASTS[name], (x,))


def test_cast_gradient_dtype_follows_the_input():
    x = distgrad.ones(3, requires_grad=True)
    x.double().sum().backward()
    assert x.grad.dtype == distgrad.float32


def test_to_returns_self_when_nothing_changes():
    x = distgrad.ones(2)
    assert x.to(distgrad.float32) is x and x.to("cpu") is x
    assert x.to(distgrad.float32, copy=True) is not x
    assert x.to(distgrad.zeros(1, dtype=distgrad.int64)).dtype == distgrad.int64
    assert x.long().dtype == distgrad.int64 and x.int().dtype == distgrad.int32
    assert x.half().dtype == distgrad.float16 and x.bool().dtype == distgrad.bool


def test_float_to_int_truncates_and_stops_the_gradient():
    x = distgrad.tensor([1.7, -1.7], requires_grad=True)
    y = x.long()
    assert y.tolist() == [1, -1] and not y.requires_grad


def test_clone_has_its_own_storage():
    x = distgrad.zeros(3)
    y = x.clone()
    y.add_(1)
    assert x.tolist() == [0.0, 0.0, 0.0]
    assert y.grad_fn is None


def test_contiguous():
    x = distgrad.arange(6.0).reshape(2, 3)
    assert x.is_contiguous() and x.contiguous() is x
    t = x.t()
    assert not t.is_contiguous() and t.contiguous().is_contiguous()
    assert t.contiguous().tolist() == t.tolist()


# --- in-place ops -------------------------------------------------------------------------------
INPLACE = {
    "add_": (lambda y, o: y.add_(o), rnd, True),
    "add_alpha": (lambda y, o: y.add_(o, alpha=0.5), rnd, True),
    "sub_": (lambda y, o: y.sub_(o), rnd, True),
    "mul_": (lambda y, o: y.mul_(o), rnd, True),
    "div_": (lambda y, o: y.div_(o), pos, True),
    "iadd": (lambda y, o: y.__iadd__(o), rnd, True),
    "isub": (lambda y, o: y.__isub__(o), rnd, True),
    "imul": (lambda y, o: y.__imul__(o), rnd, True),
    "itruediv": (lambda y, o: y.__itruediv__(o), pos, True),
    "copy_": (lambda y, o: y.copy_(o), rnd, True),
}


@pytest.mark.parametrize("other_shape", [(2, 3), (3,), ()], ids=str)
@pytest.mark.parametrize("name", sorted(INPLACE))
def test_binary_inplace_gradients(name, other_shape):
    fn, make, smooth = INPLACE[name]

    def f(x, o):
        y = x * 1.0  # a non-leaf that may be modified in place
        return fn(y, o) * x

    x, o = rnd(2, 3), make(*other_shape)
    assert gradcheck(f, (x, o))
    if smooth:
        assert gradgradcheck(f, (x, o))


UNARY_INPLACE = {
    "pow_": (lambda y: y.pow_(2), rnd),
    "clamp_": (lambda y: y.clamp_(-0.5, 0.5), rnd),
    "clip_": (lambda y: y.clip_(min=0.1), rnd),
    "sigmoid_": (lambda y: y.sigmoid_(), rnd),
    "relu_": (lambda y: y.relu_(), rnd),
    "tanh_": (lambda y: y.tanh_(), rnd),
    "exp_": (lambda y: y.exp_(), rnd),
    "neg_": (lambda y: y.neg_(), rnd),
    "fill_": (lambda y: y.fill_(2.0), rnd),
    "zero_": (lambda y: y.zero_(), rnd),
}


@pytest.mark.parametrize("name", sorted(UNARY_INPLACE))
def test_unary_inplace_gradients(name):
    fn, make = UNARY_INPLACE[name]

    def f(x):
        y = x * 1.0
        out = fn(y)
        assert out is y
        return y + x * 0.5

    assert gradcheck(f, (make(2, 3),))


@pytest.mark.parametrize("name", sorted(UNARY_INPLACE))
def test_unary_inplace_values_match_out_of_place(name):
    fn, _ = UNARY_INPLACE[name]
    x = distgrad.randn(2, 3, dtype=F64)
    expected = {"pow_": x ** 2, "clamp_": x.clamp(-0.5, 0.5), "clip_": x.clamp(min=0.1), "sigmoid_": x.sigmoid(),
                "relu_": x.relu(), "tanh_": x.tanh(), "exp_": x.exp(), "neg_": -x,
                "fill_": distgrad.full((2, 3), 2.0, dtype=F64), "zero_": distgrad.zeros(2, 3, dtype=F64)}[name]
    y = x.clone()
    v = y._version
    fn(y)
    assert y._version > v
    np.testing.assert_allclose(y.numpy(), expected.numpy())


def test_fill_with_a_tensor_value_passes_the_gradient():
    v = distgrad.tensor(3.0, dtype=F64, requires_grad=True)
    y = distgrad.zeros(4, dtype=F64)
    y.fill_(v)
    y.sum().backward()
    assert v.grad.item() == 4.0


def test_copy_broadcasts_casts_and_passes_the_gradient():
    src = rnd(3)
    y = distgrad.zeros(2, 3, dtype=distgrad.float32)
    y.copy_(src)
    assert y.dtype == distgrad.float32 and y.requires_grad
    y.sum().backward()
    assert src.grad.tolist() == [2.0, 2.0, 2.0]


def test_inplace_on_a_leaf_that_requires_grad_is_an_error():
    x = distgrad.ones(3, requires_grad=True)
    for op in (lambda: x.add_(1), lambda: x.mul_(2), lambda: x.zero_(), lambda: x.exp_(), lambda: x.copy_(x)):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            op()
    with distgrad.no_grad():
        x.add_(1)  # allowed under no_grad, as in PyTorch
    assert x.tolist() == [2.0, 2.0, 2.0] and x._version == 1


def test_modifying_a_saved_tensor_is_detected():
    x = distgrad.randn(3, requires_grad=True)
    y = x.exp()
    y.add_(1)  # exp saved its output
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    z = distgrad.randn(3, requires_grad=True)
    w = z * 1
    p = w * w
    w.mul_(2)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        p.sum().backward()


def test_inplace_update_keeps_a_correct_graph():
    x = distgrad.randn(3, requires_grad=True)
    y = x + 1
    y.mul_(3)
    assert y.grad_fn.name() == "MulBackward0"
    y.exp().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp(3 * (x.detach().numpy() + 1)), rtol=1e-6)


def test_inplace_type_and_shape_errors():
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        distgrad.tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        distgrad.ones(3).add_(distgrad.ones(2, 3))
    with pytest.raises(RuntimeError, match="0-dimension"):
        distgrad.ones(3).fill_(distgrad.ones(2))


def test_inplace_through_a_view_updates_the_base():
    a = distgrad.ones(3)
    v = a.view(3)
    v.add_(1)
    assert a.tolist() == [2.0, 2.0, 2.0] and a._version == v._version == 1


def test_random_fills_are_seeded():
    distgrad.manual_seed(3)
    a = distgrad.empty(4).uniform_(-1, 1)
    b = distgrad.empty(4).normal_(2.0, 0.5)
    distgrad.manual_seed(3)
    assert distgrad.empty(4).uniform_(-1, 1).tolist() == a.tolist()
    assert distgrad.empty(4).normal_(2.0, 0.5).tolist() == b.tolist()
    assert (a.abs() <= 1).all().item()


def test_apply_and_map_match_torch():
    torch = pytest.importorskip("torch")
    for lib in (distgrad, torch):
        a = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
        assert a.apply_(lambda v: v * v - 1) is a
        a.map_(lib.tensor([10.0, 20.0]), lambda x, y: x + y)
        i = lib.tensor([1, 2, 3]).apply_(lambda v: v / 2)  # truncated to the integer dtype
        if lib is distgrad:
            ours = (a.tolist(), i.tolist())
    assert ours == (a.tolist(), i.tolist())
    for op in ("apply_", "map_"):
        args = (lambda v: v,) if op == "apply_" else (distgrad.ones(2), lambda x, y: x)
        with pytest.raises(RuntimeError, match=f"Can't call {op}\\(\\) on Variable that requires grad"):
            getattr(distgrad.ones(2, requires_grad=True), op)(*args)
