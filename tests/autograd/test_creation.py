"""Creation functions: tensor, as_tensor, from_numpy, zeros/ones/empty/full/eye/arange/
linspace/rand/randn/randint/randperm and their ``*_like``, and seeding.

Shapes, dtypes, memory sharing and errors follow PyTorch.
"""
import numpy as np
import pytest

import distgrad


# --- tensor() -----------------------------------------------------------------------------------
def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = distgrad.tensor(a)
    a[0] = 9.0
    assert t.tolist() == [1.0, 2.0]
    src = distgrad.ones(2, requires_grad=True)
    c = distgrad.tensor(src.detach())
    assert not c.requires_grad and c.is_leaf


def test_tensor_arguments():
    t = distgrad.tensor([1, 2], dtype=distgrad.float64, device="cpu", requires_grad=True)
    assert t.dtype is distgrad.float64 and t.device.type == "cpu"
    assert t.requires_grad and t.is_leaf and t.grad_fn is None and t.grad is None
    assert distgrad.tensor([1.0], device=distgrad.device("cpu")).device == "cpu"


def test_tensor_int_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        distgrad.tensor([1, 2], requires_grad=True)


def test_tensor_bad_data():
    with pytest.raises(ValueError, match="expected sequence of length 2 at dim 1 \\(got 1\\)"):
        distgrad.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError):
        distgrad.tensor([[1, 2], 3])
    with pytest.raises(TypeError, match="str"):
        distgrad.tensor("a")
    with pytest.raises(RuntimeError, match="Could not infer dtype of NoneType"):
        distgrad.tensor([1, None])


def test_tensor_nested_shapes():
    assert distgrad.tensor([]).shape == (0,)
    assert distgrad.tensor([[]]).shape == (1, 0)
    assert distgrad.tensor([[1, 2, 3]]).shape == (1, 3)
    assert distgrad.tensor([distgrad.tensor(1.0), distgrad.tensor(2.0)]).tolist() == [1.0, 2.0]


# --- as_tensor / from_numpy -----------------------------------------------------------------------
def test_as_tensor_shares_memory_with_numpy():
    a = np.array([1.0, 2.0, 3.0])
    t = distgrad.as_tensor(a)
    assert t.dtype is distgrad.float64  # numpy arrays keep their dtype
    a[0] = 7.0
    assert t.tolist()[0] == 7.0
    t.add_(1)
    assert a[1] == 3.0


def test_as_tensor_copies_when_it_must():
    a = np.array([1.0, 2.0])
    t = distgrad.as_tensor(a, dtype=distgrad.float32)
    a[0] = 5.0
    assert t.tolist() == [1.0, 2.0] and t.dtype is distgrad.float32
    assert distgrad.as_tensor([1, 2]).dtype is distgrad.int64
    assert distgrad.asarray([1.5]).dtype is distgrad.float32


def test_as_tensor_of_tensor_is_the_same_tensor():
    x = distgrad.ones(2)
    assert distgrad.as_tensor(x) is x
    assert distgrad.as_tensor(x, dtype=distgrad.float64).dtype is distgrad.float64


def test_from_numpy_shares_memory():
    a = np.arange(4, dtype=np.int32)
    t = distgrad.from_numpy(a)
    assert t.dtype is distgrad.int32 and t.shape == (4,)
    a[2] = 40
    assert t.tolist() == [0, 1, 40, 3]
    t.mul_(2)
    assert a.tolist() == [0, 2, 80, 6]


def test_from_numpy_errors():
    with pytest.raises(TypeError, match="expected np.ndarray \\(got list\\)"):
        distgrad.from_numpy([1, 2])
    with pytest.raises(TypeError):
        distgrad.from_numpy(np.array(["a", "b"], dtype=object))


# --- filled tensors -------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,value", [(distgrad.zeros, 0), (distgrad.ones, 1)])
def test_zeros_ones_size_forms(fn, value):
    for args in [(2, 3), ((2, 3),), ([2, 3],)]:
        t = fn(*args)
        assert t.shape == (2, 3) and t.dtype is distgrad.float32
        assert (t.numpy() == value).all()
    assert fn(()).shape == ()
    assert fn(0).shape == (0,)
    assert fn(2, dtype=distgrad.int32).dtype is distgrad.int32
    assert fn(2, requires_grad=True).requires_grad


def test_size_errors():
    with pytest.raises(RuntimeError, match="negative dimension"):
        distgrad.zeros(-1)
    with pytest.raises(TypeError):
        distgrad.zeros(2.5)
    with pytest.raises(TypeError):
        distgrad.ones((2,), (3,))
    with pytest.raises(RuntimeError, match="floating point"):
        distgrad.zeros(2, dtype=distgrad.int64, requires_grad=True)


def test_empty():
    t = distgrad.empty(2, 3)
    assert t.shape == (2, 3) and t.dtype is distgrad.float32
    assert distgrad.empty((4,), dtype=distgrad.int64).dtype is distgrad.int64


def test_full_dtype_follows_fill_value():
    assert distgrad.full((2, 2), 3.0).dtype is distgrad.float32
    assert distgrad.full((2, 2), 3).dtype is distgrad.int64
    assert distgrad.full((2,), True).dtype is distgrad.bool
    assert distgrad.full((2,), 1.5, dtype=distgrad.int64).tolist() == [1, 1]
    assert distgrad.full([3], 7.0).tolist() == [7.0, 7.0, 7.0]


def test_eye():
    np.testing.assert_array_equal(distgrad.eye(3).numpy(), np.eye(3))
    assert distgrad.eye(2, 3).shape == (2, 3)
    assert distgrad.eye(2, dtype=distgrad.int64).dtype is distgrad.int64
    with pytest.raises(RuntimeError, match="greater or equal to 0"):
        distgrad.eye(-1)


def test_arange():
    t = distgrad.arange(5)
    assert t.dtype is distgrad.int64 and t.tolist() == [0, 1, 2, 3, 4]
    assert distgrad.arange(2, 8, 2).tolist() == [2, 4, 6]
    f = distgrad.arange(0, 1, 0.25)
    assert f.dtype is distgrad.float32 and f.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert distgrad.arange(0, 1, 0.1).shape == (10,)
    assert distgrad.arange(1, 4, dtype=distgrad.float64).dtype is distgrad.float64
    assert distgrad.arange(5, 0, -2).tolist() == [5, 3, 1]
    assert distgrad.arange(3, 3).shape == (0,)
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        distgrad.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        distgrad.arange(5, 0)


def test_linspace():
    t = distgrad.linspace(0, 1, 5)
    assert t.dtype is distgrad.float32
    np.testing.assert_allclose(t.numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    assert distgrad.linspace(2, 2, 1).tolist() == [2.0]
    assert distgrad.linspace(0, 1, 0).shape == (0,)
    assert distgrad.linspace(0, 1, 3, dtype=distgrad.float64).dtype is distgrad.float64
    with pytest.raises(RuntimeError, match="number of steps must be non-negative"):
        distgrad.linspace(0, 1, -1)


# --- random ---------------------------------------------------------------------------------------
def test_rand_randn():
    r = distgrad.rand(1000)
    assert r.dtype is distgrad.float32 and r.shape == (1000,)
    assert 0.0 <= r.numpy().min() and r.numpy().max() < 1.0
    n = distgrad.randn(2000, dtype=distgrad.float64)
    assert n.dtype is distgrad.float64
    assert abs(float(n.numpy().mean())) < 0.1 and abs(float(n.numpy().std()) - 1) < 0.1
    assert distgrad.randn((2, 3)).shape == (2, 3)
    assert distgrad.rand(2, requires_grad=True).requires_grad


def test_random_float_only():
    with pytest.raises(NotImplementedError, match="int64"):
        distgrad.rand(2, dtype=distgrad.int64)
    with pytest.raises(NotImplementedError):
        distgrad.randn(2, dtype=distgrad.int32)


def test_randint():
    t = distgrad.randint(3, 7, (500,))
    assert t.dtype is distgrad.int64 and t.shape == (500,)
    assert set(t.tolist()) == {3, 4, 5, 6}
    u = distgrad.randint(4, (2, 3))
    assert u.shape == (2, 3) and 0 <= u.numpy().min() and u.numpy().max() < 4
    assert distgrad.randint(0, 10, (2,), dtype=distgrad.float32).dtype is distgrad.float32
    with pytest.raises(RuntimeError, match="'from' to be less than 'to'"):
        distgrad.randint(5, 2, (3,))
    with pytest.raises(RuntimeError, match="floating point"):
        distgrad.randint(10, (2,), requires_grad=True)


def test_randperm():
    p = distgrad.randperm(10)
    assert p.dtype is distgrad.int64 and sorted(p.tolist()) == list(range(10))
    assert distgrad.randperm(0).shape == (0,)


def test_manual_seed_repeats_every_draw():
    def draw():
        return (distgrad.rand(3).tolist(), distgrad.randn(2, 2).tolist(),
                distgrad.randint(0, 100, (4,)).tolist(), distgrad.randperm(5).tolist())
    distgrad.manual_seed(123)
    first = draw()
    distgrad.manual_seed(123)
    assert draw() == first
    distgrad.manual_seed(124)
    assert draw() != first


def test_manual_seed_returns_generator_and_initial_seed():
    g = distgrad.manual_seed(7)
    assert isinstance(g, distgrad.Generator)
    assert distgrad.initial_seed() == 7


def test_generator_argument_is_independent_of_global_state():
    g1 = distgrad.Generator().manual_seed(5)
    a = distgrad.rand(4, generator=g1).tolist()
    distgrad.rand(10)  # global draws do not disturb g
    g2 = distgrad.Generator().manual_seed(5)
    assert distgrad.rand(4, generator=g2).tolist() == a


def test_rng_state_roundtrip():
    state = distgrad.get_rng_state()
    a = distgrad.randn(3).tolist()
    distgrad.set_rng_state(state)
    assert distgrad.randn(3).tolist() == a


# --- *_like ---------------------------------------------------------------------------------------
def test_like_functions_keep_shape_dtype_device():
    x = distgrad.ones(2, 3, dtype=distgrad.float64, requires_grad=True)
    for fn in (distgrad.zeros_like, distgrad.ones_like, distgrad.empty_like, distgrad.rand_like,
               distgrad.randn_like):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype is distgrad.float64 and y.device == x.device
        assert not y.requires_grad and y.is_leaf
    assert distgrad.zeros_like(x).numpy().sum() == 0
    assert distgrad.ones_like(x).numpy().sum() == 6
    assert distgrad.full_like(x, 7).tolist() == [[7.0] * 3] * 2
    assert distgrad.zeros_like(x, dtype=distgrad.int32).dtype is distgrad.int32
    assert distgrad.ones_like(x, requires_grad=True).requires_grad


def test_randint_like():
    x = distgrad.zeros(50, dtype=distgrad.int32)
    r = distgrad.randint_like(x, 10)
    assert r.dtype is distgrad.int32 and r.shape == (50,)
    assert 0 <= r.numpy().min() and r.numpy().max() < 10
    r2 = distgrad.randint_like(x, 5, 8)
    assert set(r2.tolist()) <= {5, 6, 7}


def test_rand_like_of_int_tensor_fails():
    with pytest.raises(NotImplementedError):
        distgrad.rand_like(distgrad.ones(2, dtype=distgrad.int64))


def test_creation_matches_torch():
    torch = pytest.importorskip("torch")
    for expr in ["T.arange(0, 1, 0.1)", "T.arange(1, 2.5, 0.5)", "T.linspace(-3, 7, 11)",
                 "T.linspace(0, 1, 5, dtype=T.int64)", "T.eye(3, 2)", "T.full((2, 3), 2.5)",
                 "T.arange(10, 0, -3)", "T.arange(0.5, 3)"]:
        t = eval(expr, {"T": torch})
        d = eval(expr, {"T": distgrad})
        assert str(d.dtype).split(".")[1] == str(t.dtype).split(".")[1], expr
        np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-6, err_msg=expr)


def test_new_methods_follow_the_source_tensor():
    torch = pytest.importorskip("torch")
    for lib in (distgrad, torch):
        src = lib.ones(2, dtype=lib.float64)
        outs = [src.new_zeros(2, 3), src.new_ones((1, 2)), src.new_empty(4), src.new_full((2,), 7),
                src.new_tensor([1, 2]), src.new_zeros(2, dtype=lib.int64), src.new_full((1,), 2, dtype=lib.float32)]
        got = [(tuple(o.shape), str(o.dtype).split(".")[-1]) for o in outs]
        if lib is distgrad:
            ours = got
        else:
            assert ours == got
    t = distgrad.ones(1).new_tensor([3.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_legacy_svd_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal((2, 4, 3))
    for some in (True, False):
        u, s, v = distgrad.svd(distgrad.tensor(a), some=some)
        tu, ts, tv = torch.svd(torch.tensor(a), some=some)
        assert (u.shape, v.shape) == (tu.shape, tv.shape)
        np.testing.assert_allclose(s.numpy(), ts.numpy(), rtol=1e-12)
        k = s.shape[-1]
        recon = (u[..., :k] * s.unsqueeze(-2)) @ v[..., :k].mT
        np.testing.assert_allclose(recon.numpy(), a, atol=1e-12)
    u, s, v = distgrad.svd(distgrad.tensor(a), compute_uv=False)
    tu, ts, tv = torch.svd(torch.tensor(a), compute_uv=False)
    assert u.shape == tu.shape and v.shape == tv.shape and not u.numpy().any()


def test_abs_addcmul_addcdiv_in_place():
    torch = pytest.importorskip("torch")
    for lib in (distgrad, torch):
        x = lib.tensor([-1.0, 2.0])
        x.abs_().addcmul_(lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0]), value=0.5)
        x.addcdiv_(lib.tensor([1.0, 1.0]), lib.tensor([2.0, 4.0]))
        if lib is distgrad:
            ours = x.tolist()
    assert ours == x.tolist()
