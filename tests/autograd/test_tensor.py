"""Tensor attributes and conversions: shape/size/dim, item, numpy, tolist, __array__,
__dlpack__, to(), float()/double()/long(), clone() and contiguous().

Each behaviour is what PyTorch does; where torch is importable the result is
compared with it directly.
"""
import numpy as np
import pytest

import distgrad


def test_shape_size_dim_numel():
    t = distgrad.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4)
    assert isinstance(t.shape, distgrad.Size)
    assert t.size() == distgrad.Size([2, 3, 4])
    assert t.size(0) == 2 and t.size(-1) == 4 and t.size(1) == 3
    assert t.dim() == 3 and t.ndim == 3 and t.ndimension() == 3
    assert t.numel() == 24 and t.nelement() == 24
    assert len(t) == 2
    assert repr(t.shape) == "distgrad.Size([2, 3, 4])"
    assert t.shape.numel() == 24


def test_size_dim_out_of_range_is_index_error():
    t = distgrad.zeros(2, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        t.size(2)
    with pytest.raises(IndexError, match=r"range of \[-2, 1\]"):
        t.size(-3)


def test_zero_dim_tensor():
    t = distgrad.tensor(3.5)
    assert t.shape == () and t.dim() == 0 and t.numel() == 1
    with pytest.raises(TypeError, match="0-d"):
        len(t)
    with pytest.raises(TypeError, match="0-d"):
        iter(t)


def test_dtype_and_device():
    t = distgrad.ones(2)
    assert t.dtype is distgrad.float32
    assert t.device == distgrad.device("cpu")
    assert t.device.type == "cpu"
    assert str(t.device) == "cpu"
    assert not t.is_cuda
    assert t.is_floating_point()
    assert not distgrad.ones(2, dtype=distgrad.int64).is_floating_point()
    assert t.element_size() == 4


def test_T_and_mT():
    a = distgrad.arange(6.0).reshape(2, 3)
    assert a.T.shape == (3, 2)
    np.testing.assert_array_equal(a.T.numpy(), a.numpy().T)
    b = distgrad.arange(24.0).reshape(2, 3, 4)
    assert b.mT.shape == (2, 4, 3)
    np.testing.assert_array_equal(b.mT.numpy(), np.swapaxes(b.numpy(), -1, -2))
    with pytest.raises(RuntimeError):
        distgrad.ones(3).mT


def test_item():
    assert distgrad.tensor(2.5).item() == 2.5
    assert isinstance(distgrad.tensor(2.5).item(), float)
    assert distgrad.tensor([7]).item() == 7
    assert isinstance(distgrad.tensor([7]).item(), int)
    assert distgrad.tensor(True).item() is True
    x = distgrad.tensor(1.5, requires_grad=True)
    assert x.item() == 1.5  # item() is allowed on tensors that require grad
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"):
        distgrad.ones(2).item()


def test_python_number_conversions():
    assert float(distgrad.tensor([2.5])) == 2.5
    assert int(distgrad.tensor(3.7)) == 3
    assert bool(distgrad.tensor(1.0)) is True
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(distgrad.ones(2))
    assert [10, 20, 30][distgrad.tensor(1)] == 20
    with pytest.raises(TypeError):
        [1, 2][distgrad.tensor(1.0)]


def test_numpy_shares_memory_and_refuses_requires_grad():
    t = distgrad.zeros(3)
    a = t.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    a[0] = 5.0
    assert t.tolist()[0] == 5.0
    x = distgrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad. "
                                           r"Use tensor.detach\(\).numpy\(\) instead."):
        x.numpy()
    np.testing.assert_array_equal(x.detach().numpy(), [1, 1, 1])
    np.testing.assert_array_equal(x.numpy(force=True), [1, 1, 1])


def test_numpy_error_for_non_leaf_result_too():
    y = distgrad.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="requires grad"):
        y.numpy()


def test_tolist():
    assert distgrad.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert distgrad.tensor(2.5).tolist() == 2.5
    assert distgrad.tensor([True, False]).tolist() == [True, False]
    out = distgrad.tensor([0.5, 1.5], requires_grad=True).tolist()
    assert out == [0.5, 1.5] and all(isinstance(v, float) for v in out)


def test_array_protocol():
    t = distgrad.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert a.dtype == np.float32 and a.shape == (2, 2)
    np.testing.assert_array_equal(a, [[1, 2], [3, 4]])
    assert np.shares_memory(a, t.numpy())
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(distgrad.tensor([1, 2])).dtype == np.int64


def test_dlpack_protocol():
    t = distgrad.tensor([1.0, 2.0, 3.0])
    a = np.from_dlpack(t)
    np.testing.assert_array_equal(a, [1.0, 2.0, 3.0])
    assert np.shares_memory(a, t.numpy())
    assert t.__dlpack_device__()[0] == 1  # kDLCPU


def test_dlpack_into_torch():
    torch = pytest.importorskip("torch")
    t = distgrad.arange(4.0)
    tt = torch.from_dlpack(t)
    assert tt.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_to_dtype_and_device():
    t = distgrad.tensor([1.5, 2.5])
    assert t.to(distgrad.float64).dtype is distgrad.float64
    assert t.to(dtype=distgrad.int32).tolist() == [1, 2]
    assert t.to("cpu") is t  # nothing changes: the same tensor, as in PyTorch
    assert t.to(distgrad.float32) is t
    assert t.to("cpu", distgrad.float64).dtype is distgrad.float64
    assert t.to(device="cpu", dtype=distgrad.float16).dtype is distgrad.float16
    assert t.to(distgrad.ones(1, dtype=distgrad.float64)).dtype is distgrad.float64
    c = t.to(distgrad.float32, copy=True)
    assert c is not t and not np.shares_memory(c.numpy(), t.numpy())


def test_to_is_differentiable():
    x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(distgrad.float64)
    assert y.grad_fn.name() == "ToCopyBackward0"
    (y * y).sum().backward()
    assert x.grad.dtype is distgrad.float32
    assert x.grad.tolist() == [2.0, 4.0]


def test_to_unknown_device_errors():
    with pytest.raises(RuntimeError):
        distgrad.ones(1).to("tpu")


def test_float_double_long_int_half_bool():
    t = distgrad.tensor([1.7, -2.2])
    assert t.double().dtype is distgrad.float64
    assert t.float().dtype is distgrad.float32
    assert t.half().dtype is distgrad.float16
    assert t.long().dtype is distgrad.int64
    assert t.long().tolist() == [1, -2]
    assert t.int().dtype is distgrad.int32
    assert t.bool().tolist() == [True, True]
    assert t.float() is t


def test_clone_copies_and_is_differentiable():
    x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.grad_fn.name() == "CloneBackward0"
    assert not np.shares_memory(c.detach().numpy(), x.detach().numpy())
    (c * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    d = distgrad.ones(2).clone()
    assert d.grad_fn is None and not d.requires_grad


def test_contiguous():
    a = distgrad.arange(6.0).reshape(2, 3)
    assert a.is_contiguous()
    assert a.contiguous() is a
    at = a.t()
    assert not at.is_contiguous()
    c = at.contiguous()
    assert c.is_contiguous() and c.tolist() == at.tolist()
    x = distgrad.ones(2, 3, requires_grad=True)
    y = x.t().contiguous()
    (y * distgrad.arange(6.0).reshape(3, 2)).sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]]


def test_legacy_constructor():
    t = distgrad.Tensor([1, 2])
    assert t.dtype is distgrad.float32 and t.tolist() == [1.0, 2.0]
    assert distgrad.Tensor(2, 3).shape == (2, 3)
    assert distgrad.Tensor().shape == (0,)


def test_is_tensor_and_numel_functions():
    assert distgrad.is_tensor(distgrad.ones(1))
    assert not distgrad.is_tensor(np.ones(1))
    assert distgrad.numel(distgrad.ones(2, 5)) == 10


def test_tensor_not_picklable_via_pickle():
    import pickle
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(distgrad.ones(2))


def test_deepcopy_of_leaf_and_refusal_for_non_leaf():
    import copy
    x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    y = copy.deepcopy(x)
    assert y.requires_grad and y.is_leaf and y.tolist() == [1.0, 2.0]
    assert not np.shares_memory(y.detach().numpy(), x.detach().numpy())
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(x * 2)
