"""Convolutions: gradcheck/gradgradcheck, parity with PyTorch, errors, and the Conv layers."""
import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.autograd.ops import conv as C


def _d(shape, rng, requires_grad=True):
    return distgrad.tensor(rng.standard_normal(shape), dtype=distgrad.float64, requires_grad=requires_grad)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# --- finite differences (float64) -------------------------------------------------------------------
@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, "same", 2, 1), ((2, 1), (0, 1), (1, 2), 2), (1, "valid", 1, 2)])
def test_conv2d_gradcheck_and_gradgradcheck(rng, stride, padding, dilation, groups):
    x = _d((2, 2, 5, 4), rng)
    w = _d((2, 2 // groups, 2, 2), rng)
    b = _d((2,), rng)
    fn = lambda x, w, b: C.conv2d(x, w, b, stride, padding, dilation, groups)  # noqa: E731
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_conv1d_gradcheck_and_gradgradcheck(rng):
    x, w, b = _d((2, 2, 7), rng), _d((2, 1, 3), rng), _d((2,), rng)
    fn = lambda x, w, b: C.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2)  # noqa: E731
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("stride,padding,output_padding,groups,dilation", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), ((2, 1), (1, 0), (0, 0), 2, (1, 2)), (1, 0, 1, 1, 2)])
def test_conv_transpose2d_gradcheck_and_gradgradcheck(rng, stride, padding, output_padding, groups, dilation):
    x = _d((1, 2, 3, 3), rng)
    w = _d((2, 4 // groups, 2, 3), rng)
    b = _d((4,), rng)
    fn = lambda x, w, b: C.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)  # noqa
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_unfold_fold_gradcheck(rng):
    x = _d((1, 2, 4, 5), rng)
    assert gradcheck(lambda x: C.unfold(x, (2, 3), dilation=1, padding=1, stride=(2, 1)), (x,))
    assert gradgradcheck(lambda x: C.unfold(x, 2, stride=2), (x,))
    cols = _d((1, 4, 6), rng)
    assert gradcheck(lambda c: C.fold(c, (3, 4), 2), (cols,))
    assert gradgradcheck(lambda c: C.fold(c, (3, 4), 2), (cols,))


# --- parity with PyTorch --------------------------------------------------------------------------------
def _parity(torch, f_torch, f_ours, arrays, rng, atol=1e-10):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ds = [distgrad.tensor(a, requires_grad=True) for a in arrays]
    yt, yd = f_torch(*ts), f_ours(*ds)
    assert tuple(yt.shape) == tuple(yd.shape)
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), atol=atol, rtol=1e-7)
    go = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(go))
    yd.backward(distgrad.tensor(go))
    for a, b in zip(ts, ds):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), atol=atol, rtol=1e-7)


CONV2D_CASES = [
    # N, C, H, W, O, kernel, stride, padding, dilation, groups
    (2, 3, 8, 8, 4, 3, 1, 0, 1, 1),
    (2, 3, 8, 7, 4, 3, 1, 1, 1, 1),
    (1, 4, 9, 9, 6, (3, 2), 2, (1, 0), (2, 1), 2),
    (3, 2, 6, 6, 4, 2, 1, "same", 1, 1),
    (3, 2, 6, 7, 4, 4, 1, "same", 3, 1),
    (2, 6, 5, 5, 6, 3, 1, "same", 1, 6),
    (2, 4, 7, 5, 2, (1, 3), (3, 2), "valid", 1, 2),
    (1, 1, 4, 4, 1, 4, 1, 0, 1, 1),
    (4, 2, 5, 6, 3, 3, 2, 2, 1, 1),
]


@pytest.mark.parametrize("case", CONV2D_CASES)
def test_conv2d_matches_torch(rng, case):
    torch = pytest.importorskip("torch")
    n, c, h, w_, o, k, s, p, d, g = case
    k2 = k if isinstance(k, tuple) else (k, k)
    arrays = [rng.standard_normal((n, c, h, w_)), rng.standard_normal((o, c // g) + k2), rng.standard_normal(o)]
    _parity(torch, lambda x, w, b: torch.nn.functional.conv2d(x, w, b, s, p, d, g),
            lambda x, w, b: C.conv2d(x, w, b, s, p, d, g), arrays, rng)


CONVT_CASES = [
    # C_in, C_out, groups, kernel, stride, padding, output_padding, dilation
    (3, 4, 1, 3, 1, 0, 0, 1),
    (4, 6, 2, 3, 2, 1, 1, 1),
    (3, 2, 1, (3, 2), (2, 3), (1, 0), (1, 2), 1),
    (2, 4, 1, 3, 1, 0, 1, 2),
    (3, 3, 3, 2, 3, 1, 0, 2),
]


@pytest.mark.parametrize("case", CONVT_CASES)
def test_conv_transpose2d_matches_torch(rng, case):
    torch = pytest.importorskip("torch")
    ci, co, g, k, s, p, op, d = case
    k2 = k if isinstance(k, tuple) else (k, k)
    arrays = [rng.standard_normal((2, ci, 4, 5)), rng.standard_normal((ci, co // g) + k2), rng.standard_normal(co)]
    _parity(torch, lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, s, p, op, g, d),
            lambda x, w, b: C.conv_transpose2d(x, w, b, s, p, op, g, d), arrays, rng)


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 2, 3), (1, "same", 1, 1),
                                                            (1, "same", 2, 3)])
def test_conv1d_matches_torch(rng, stride, padding, dilation, groups):
    torch = pytest.importorskip("torch")
    arrays = [rng.standard_normal((2, 6, 11)), rng.standard_normal((3, 6 // groups, 4)), rng.standard_normal(3)]
    _parity(torch, lambda x, w, b: torch.nn.functional.conv1d(x, w, b, stride, padding, dilation, groups),
            lambda x, w, b: C.conv1d(x, w, b, stride, padding, dilation, groups), arrays, rng)


def test_conv_transpose1d_matches_torch(rng):
    torch = pytest.importorskip("torch")
    arrays = [rng.standard_normal((2, 4, 6)), rng.standard_normal((4, 3, 3)), rng.standard_normal(3)]
    _parity(torch, lambda x, w, b: torch.nn.functional.conv_transpose1d(x, w, b, 2, 1, 1),
            lambda x, w, b: C.conv_transpose1d(x, w, b, 2, 1, 1), arrays, rng)


def test_unbatched_input_matches_torch(rng):
    torch = pytest.importorskip("torch")
    arrays = [rng.standard_normal((3, 6, 5)), rng.standard_normal((2, 3, 3, 3))]
    _parity(torch, lambda x, w: torch.nn.functional.conv2d(x, w, padding=1),
            lambda x, w: C.conv2d(x, w, padding=1), arrays, rng)


def test_unfold_fold_match_torch(rng):
    torch = pytest.importorskip("torch")
    _parity(torch, lambda x: torch.nn.functional.unfold(x, (2, 3), 2, 1, (2, 1)),
            lambda x: C.unfold(x, (2, 3), 2, 1, (2, 1)), [rng.standard_normal((2, 3, 7, 8))], rng)
    _parity(torch, lambda x: torch.nn.functional.fold(x, (5, 6), (2, 3), 1, 1, (2, 1)),
            lambda x: C.fold(x, (5, 6), (2, 3), 1, 1, (2, 1)), [rng.standard_normal((2, 12, 18))], rng)


def test_second_derivative_matches_torch(rng):
    torch = pytest.importorskip("torch")
    xa, wa = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    res = []
    for lib, conv in ((torch, torch.nn.functional.conv2d), (distgrad, C.conv2d)):
        x, w = lib.tensor(xa, requires_grad=True), lib.tensor(wa, requires_grad=True)
        y = conv(x, w, stride=2, padding=1)
        gx, = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        (gx * gx).sum().backward()
        res.append((x.grad.detach().numpy().copy(), w.grad.detach().numpy().copy()))
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9)


def test_float32_and_grad_fn(rng):
    x = distgrad.randn(4, 3, 8, 8)
    w = distgrad.randn(5, 3, 3, 3, requires_grad=True)
    y = C.conv2d(x, w, padding=1)
    assert y.dtype == distgrad.float32 and y.shape == (4, 5, 8, 8)
    assert y.grad_fn.name() == "ConvolutionBackward0"
    assert y.is_contiguous()
    y.sum().backward()
    assert w.grad.dtype == distgrad.float32
    assert x.grad is None


def test_retain_graph_backward_twice_gives_same_grads(rng):
    x, w = _d((2, 2, 5, 5), rng), _d((3, 2, 3, 3), rng)
    y = C.conv2d(x, w).sum()
    y.backward(retain_graph=True)
    first = w.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * first)


def test_inplace_change_of_input_is_caught(rng):
    x, w = _d((1, 2, 5, 5), rng, requires_grad=False), _d((3, 2, 3, 3), rng)
    y = C.conv2d(x, w)
    x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_no_grad_records_nothing(rng):
    x, w = _d((1, 2, 5, 5), rng), _d((3, 2, 3, 3), rng)
    with distgrad.no_grad():
        y = C.conv2d(x, w)
    assert not y.requires_grad and y.grad_fn is None


# --- errors -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,x_shape,w_shape,match", [
    ({}, (8, 1, 28, 28), (16, 3, 3, 3),
     r"Given groups=1, weight of size \[16, 3, 3, 3\], expected input\[8, 1, 28, 28\] to have 3 channels"),
    ({}, (2, 3), (16, 3, 3, 3), r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d"),
    ({}, (1, 3, 2, 2), (16, 3, 3, 3), r"padded input size per channel: \(2 x 2\). Kernel size: \(3 x 3\)"),
    ({"dilation": 2}, (1, 3, 4, 4), (16, 3, 3, 3), r"Kernel size: \(5 x 5\)"),
    ({"groups": 2}, (1, 6, 5, 5), (3, 3, 3, 3), r"expected weight to be divisible by 2 at dimension 0"),
    ({"groups": 2}, (1, 3, 5, 5), (16, 3, 3, 3), r"expected input\[1, 3, 5, 5\] to have 6 channels"),
    ({"stride": 0}, (1, 3, 5, 5), (16, 3, 3, 3), "non-positive stride"),
    ({"padding": -1}, (1, 3, 5, 5), (16, 3, 3, 3), "negative padding"),
    ({"padding": "foo"}, (1, 3, 5, 5), (16, 3, 3, 3), "Invalid padding string: 'foo'"),
    ({"padding": "same", "stride": 2}, (1, 3, 5, 5), (16, 3, 3, 3), "not supported for strided"),
    ({"stride": (1, 2, 3)}, (1, 3, 5, 5), (16, 3, 3, 3), "expected stride to be a single integer value or a list"),
    ({}, (1, 3, 5, 5), (16, 3, 3), "expected weight to be 4-dimensional"),
])
def test_conv2d_errors(kwargs, x_shape, w_shape, match):
    with pytest.raises(RuntimeError, match=match):
        C.conv2d(distgrad.randn(*x_shape), distgrad.randn(*w_shape), **kwargs)


def test_conv_bias_and_dtype_errors():
    x, w = distgrad.randn(1, 3, 5, 5), distgrad.randn(4, 3, 3, 3)
    with pytest.raises(RuntimeError, match=r"expected bias to be 1-dimensional with 4 elements, but got bias of "
                                           r"size \[3\]"):
        C.conv2d(x, w, distgrad.randn(3))
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
        C.conv2d(x.double(), w)
    with pytest.raises(RuntimeError, match=r"Input type \(Float\) and bias type \(Double\)"):
        C.conv2d(x, w, distgrad.randn(4).double())
    with pytest.raises(TypeError, match="argument 'weight' must be Tensor"):
        C.conv2d(x, np.zeros((4, 3, 3, 3)))


def test_conv_transpose_errors():
    with pytest.raises(RuntimeError, match=r"Given transposed=1, weight of size \[3, 8, 3, 3\], expected "
                                           r"input\[1, 4, 5, 5\] to have 3 channels"):
        C.conv_transpose2d(distgrad.randn(1, 4, 5, 5), distgrad.randn(3, 8, 3, 3))
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        C.conv_transpose2d(distgrad.randn(1, 3, 5, 5), distgrad.randn(3, 8, 3, 3), stride=2, output_padding=2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        C.conv_transpose2d(distgrad.randn(1, 3, 1, 1), distgrad.randn(3, 8, 3, 3), padding=3)


def test_fold_unfold_errors():
    with pytest.raises(RuntimeError, match="calculated shape of the array of sliding blocks as"):
        C.unfold(distgrad.randn(1, 3, 2, 2), 3)
    with pytest.raises(RuntimeError, match=r"divisible by the product of kernel_size, but got input.size\(1\)=5"):
        C.fold(distgrad.randn(1, 5, 9), (4, 4), 2)
    with pytest.raises(RuntimeError, match=r"calculated number of sliding blocks 3 \* 3 = 9, but got "
                                           r"input.size\(2\)=8"):
        C.fold(distgrad.randn(1, 4, 8), (4, 4), 2)


# --- layers ---------------------------------------------------------------------------------------------------
LAYERS = [
    ("Conv2d", (3, 16, 3), {}),
    ("Conv2d", (3, 16, (3, 2), 2, 1, 2, 1, False, "reflect"), {}),
    ("Conv2d", (4, 8, 3), dict(padding="same", groups=2)),
    ("Conv2d", (4, 8, 4), dict(padding="same", dilation=3, padding_mode="circular")),
    ("Conv2d", (2, 4, 3), dict(padding=(2, 1), padding_mode="replicate", stride=(1, 2))),
    ("Conv1d", (2, 4, 3), dict(padding="valid")),
    ("Conv1d", (2, 4, 5), dict(padding=2, padding_mode="reflect", dilation=2)),
    ("ConvTranspose2d", (4, 2, 3, 2, 1, 1), {}),
    ("ConvTranspose2d", (4, 2, 3), dict(dilation=2, groups=2, bias=False)),
    ("ConvTranspose1d", (4, 2, 3), dict(stride=3, output_padding=1)),
]


@pytest.mark.parametrize("name,args,kwargs", LAYERS)
def test_layer_repr_state_dict_and_forward_match_torch(rng, name, args, kwargs):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, name)(*args, dtype=torch.float64, **kwargs)
    ours = getattr(distgrad.nn, name)(*args, dtype=distgrad.float64, **kwargs)
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    ours.load_state_dict({k: distgrad.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    dim = 1 if name.endswith("1d") else 2
    a = rng.standard_normal((2, args[0]) + (7,) * dim)
    xt, xd = torch.tensor(a, requires_grad=True), distgrad.tensor(a, requires_grad=True)
    yt, yd = theirs(xt), ours(xd)
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    yt.square().sum().backward()
    yd.square().sum().backward()
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-9)
    grads = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[n].grad.numpy(), rtol=1e-9, atol=1e-9)


def test_default_init_bounds():
    conv = distgrad.nn.Conv2d(6, 8, (3, 2), groups=2)
    bound = 1 / np.sqrt(3 * 3 * 2)  # fan_in = in_channels / groups * kh * kw
    for p in (conv.weight, conv.bias):
        a = p.detach().numpy()
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.5 * bound
    up = distgrad.nn.ConvTranspose2d(4, 6, 3)
    bound = 1 / np.sqrt(6 * 9)  # transposed weight (in, out/groups, k, k): fan_in uses dim 1
    assert np.abs(up.weight.detach().numpy()).max() <= bound
    assert conv.weight.dtype == distgrad.float32 and conv.weight.requires_grad


def test_conv_transpose_output_size():
    up = distgrad.nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1)
    x = distgrad.randn(1, 8, 5, 5)
    assert up(x).shape == (1, 4, 9, 9)
    assert up(x, output_size=(10, 10)).shape == (1, 4, 10, 10)
    assert up(x, output_size=[1, 4, 10, 9]).shape == (1, 4, 10, 9)
    with pytest.raises(ValueError, match=r"requested an output size of \[12, 12\], but valid sizes range from "
                                         r"\[9, 9\] to \[10, 10\]"):
        up(x, output_size=(12, 12))


def test_layer_errors_name_the_layer():
    conv = distgrad.nn.Conv2d(3, 16, kernel_size=3)
    with pytest.raises(RuntimeError, match=r"^Conv2d\(3, 16, kernel_size=\(3, 3\), stride=\(1, 1\)\) expected "
                                           r"input with 3 channels, got input of shape \(8, 1, 28, 28\)$"):
        conv(distgrad.randn(8, 1, 28, 28))
    with pytest.raises(RuntimeError, match=r"Conv2d\(3, 16.*expected a 3-D \(unbatched\) or 4-D"):
        conv(distgrad.randn(3, 28))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        conv(distgrad.randn(1, 3, 2, 2))
    with pytest.raises(RuntimeError, match="float32 parameters but got a .*float64 input"):
        conv(distgrad.randn(1, 3, 5, 5, dtype=distgrad.float64))
    for kwargs, match in ((dict(groups=2), "in_channels must be divisible by groups"),
                          (dict(groups=3, in_ch=3, out_ch=16), "out_channels must be divisible by groups"),
                          (dict(groups=0), "groups must be a positive integer"),
                          (dict(padding="foo"), "Invalid padding string 'foo'"),
                          (dict(padding="same", stride=2), "padding='same' is not supported for strided"),
                          (dict(padding_mode="x"), "padding_mode must be one of")):
        in_ch, out_ch = kwargs.pop("in_ch", 3), kwargs.pop("out_ch", 16)
        with pytest.raises(ValueError, match=match):
            distgrad.nn.Conv2d(in_ch, out_ch, 3, **kwargs)
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        distgrad.nn.ConvTranspose2d(4, 2, 3, padding_mode="reflect")


def test_functional_exports():
    import distgrad.nn.functional as F
    assert F.conv2d is C.conv2d and F.conv1d is C.conv1d and F.conv_transpose2d is C.conv_transpose2d
    assert F.unfold is C.unfold and F.fold is C.fold and F.conv_transpose1d is C.conv_transpose1d


def test_fold_unfold_layers_match_torch(rng):
    torch = pytest.importorskip("torch")
    for args in ((2,), ((2, 3), 2, 1, (2, 1))):
        theirs, ours = torch.nn.Unfold(*args), distgrad.nn.Unfold(*args)
        assert repr(ours) == repr(theirs)
        _parity(torch, theirs, ours, [rng.standard_normal((2, 3, 7, 8))], rng)
    theirs, ours = torch.nn.Fold((5, 6), (2, 3), 1, 1, (2, 1)), distgrad.nn.Fold((5, 6), (2, 3), 1, 1, (2, 1))
    assert repr(ours) == repr(theirs)
    _parity(torch, theirs, ours, [rng.standard_normal((2, 12, 18))], rng)
