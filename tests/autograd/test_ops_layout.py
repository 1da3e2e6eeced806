"""Rearranging ops: flip, roll, rot90, tril/triu, the diagonal family, trace, tile, repeat_interleave,
unfold, moveaxis, meshgrid, cartesian_prod, block_diag, atleast_nd and the splits: first and second
derivatives, parity with PyTorch (values, gradients, views), and error types."""

import numpy as np
import pytest

import distgrad
from distgrad.autograd import gradcheck, gradgradcheck
from error_parity import assert_raises_like_torch

F64 = distgrad.float64

# name -> (fn(m, x) for m in {distgrad, torch}, input shape); every op is written the same way for both
OPS = {
    "flip": (lambda m, x: m.flip(x, (0, 2)), (2, 3, 4)),
    "flip_neg": (lambda m, x: x.flip(-1), (2, 3)),
    "fliplr": (lambda m, x: m.fliplr(x), (2, 3)),
    "flipud": (lambda m, x: m.flipud(x), (3,)),
    "roll": (lambda m, x: m.roll(x, 1, 1), (2, 3)),
    "roll_multi": (lambda m, x: m.roll(x, (2, -1), (0, 2)), (3, 2, 4)),
    "roll_flat": (lambda m, x: m.roll(x, 4), (2, 3)),
    "rot90": (lambda m, x: m.rot90(x), (2, 3)),
    "rot90_k2": (lambda m, x: m.rot90(x, 2, (1, 2)), (2, 3, 4)),
    "rot90_k3": (lambda m, x: x.rot90(-1, (0, 1)), (2, 3)),
    "tril": (lambda m, x: m.tril(x), (3, 4)),
    "tril_k": (lambda m, x: m.tril(x, -1), (2, 3, 3)),
    "triu": (lambda m, x: m.triu(x), (3, 4)),
    "triu_k": (lambda m, x: x.triu(2), (2, 4, 3)),
    "diagonal": (lambda m, x: m.diagonal(x), (3, 4)),
    "diagonal_offset": (lambda m, x: m.diagonal(x, -1), (3, 4)),
    "diagonal_dims": (lambda m, x: x.diagonal(1, 2, 0), (3, 2, 4)),
    "diag_embed": (lambda m, x: m.diag_embed(x), (2, 3)),
    "diag_embed_dims": (lambda m, x: m.diag_embed(x, 1, 0, 2), (2, 3)),
    "diag_vector": (lambda m, x: m.diag(x, 1), (3,)),
    "diag_matrix": (lambda m, x: m.diag(x, -1), (3, 4)),
    "diagflat": (lambda m, x: m.diagflat(x), (2, 2)),
    "trace": (lambda m, x: m.trace(x), (3, 4)),
    "tile": (lambda m, x: m.tile(x, (2, 1, 2)), (2, 3)),
    "repeat_interleave": (lambda m, x: m.repeat_interleave(x, 2, dim=1), (2, 3)),
    "repeat_interleave_flat": (lambda m, x: x.repeat_interleave(3), (2, 2)),
    "repeat_interleave_tensor": (lambda m, x: x.repeat_interleave(m.tensor([1, 0, 2]), dim=0), (3, 2)),
    "unfold": (lambda m, x: x.unfold(1, 2, 1), (2, 4, 3)),
    "unfold_step": (lambda m, x: x.unfold(-1, 2, 3), (2, 7)),
    "moveaxis": (lambda m, x: m.moveaxis(x, 0, -1), (2, 3, 4)),
    "tensor_split": (lambda m, x: m.tensor_split(x, 3, dim=1)[1], (2, 5)),
    "tensor_split_idx": (lambda m, x: x.tensor_split([1, 3])[2], (5, 2)),
    "hsplit": (lambda m, x: m.hsplit(x, 2)[1], (3, 4)),
    "vsplit": (lambda m, x: m.vsplit(x, [1])[1], (3, 4)),
    "dsplit": (lambda m, x: m.dsplit(x, 2)[0], (1, 2, 4)),
    "block_diag": (lambda m, x: m.block_diag(x, x[0], x[0, 0]), (2, 3)),
    "cartesian_prod": (lambda m, x: m.cartesian_prod(x, x[:2]), (3,)),
    "meshgrid_xy": (lambda m, x: m.meshgrid(x, x[:2], indexing="xy")[0], (3,)),
    "meshgrid_ij": (lambda m, x: m.meshgrid(x, x[:2], x, indexing="ij")[1], (3,)),
    "atleast_3d": (lambda m, x: m.atleast_3d(x), (3,)),
    "atleast_2d": (lambda m, x: m.atleast_2d(x), ()),
}


def _rand(shape, seed=0):
    g = distgrad.Generator().manual_seed(seed)
    return distgrad.randn(*shape, dtype=F64, generator=g).requires_grad_()


@pytest.mark.parametrize("name", sorted(OPS))
def test_layout_gradcheck_and_gradgradcheck(name):
    fn, shape = OPS[name]
    x = _rand(shape)
    assert gradcheck(lambda t: fn(distgrad, t), (x,))
    assert gradgradcheck(lambda t: fn(distgrad, t), (x,))


@pytest.mark.parametrize("name", sorted(OPS))
def test_layout_matches_torch_values_and_gradients(name):
    torch = pytest.importorskip("torch")
    fn, shape = OPS[name]
    x = _rand(shape, seed=3)
    t = torch.tensor(x.detach().numpy(), requires_grad=True)
    out, ref = fn(distgrad, x), fn(torch, t)
    assert tuple(out.shape) == tuple(ref.shape) and out.dtype == F64
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    w = np.random.default_rng(4).standard_normal(tuple(ref.shape))
    (out * distgrad.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_layout_ops_keep_integer_dtypes_and_match_torch():
    torch = pytest.importorskip("torch")
    for name, (fn, shape) in OPS.items():
        if name in ("trace",):
            continue
        x = np.arange(int(np.prod(shape))).reshape(shape)
        out, ref = fn(distgrad, distgrad.tensor(x)), fn(torch, torch.tensor(x))
        assert out.dtype == distgrad.int64, name
        np.testing.assert_array_equal(out.numpy(), ref.numpy(), err_msg=name)
    assert distgrad.trace(distgrad.arange(9).reshape(3, 3)).item() == 12


def test_diagonal_is_a_writable_view_and_flip_roll_are_copies():
    x = distgrad.zeros(3, 3)
    d = x.diagonal()
    d[1] = 5.0
    assert x[1, 1].item() == 5.0
    f = x.flip(0)
    f[0, 0] = 7.0
    assert x[2, 0].item() == 0.0
    r = x.roll(1, 0)
    r[0, 0] = 7.0
    assert x[2, 0].item() == 0.0


def test_inplace_write_into_a_diagonal_view_rewrites_the_base_history():
    # as PyTorch: the base becomes CopySlices of its old self and the tripled diagonal
    a = distgrad.ones(3, 3, dtype=F64, requires_grad=True)
    b = a * 2
    b.diagonal().mul_(3)
    assert type(b.grad_fn).__name__ == "torch::autograd::CopySlices"
    (b * distgrad.arange(9.0, dtype=F64).reshape(3, 3)).sum().backward()
    want = 2 * np.arange(9.0).reshape(3, 3) * np.where(np.eye(3) > 0, 3.0, 1.0)
    np.testing.assert_array_equal(a.grad.numpy(), want)


def test_inplace_triangles():
    x = distgrad.ones(3, 3, dtype=F64, requires_grad=True)
    y = x * 2
    assert y.tril_(-1) is y
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.tril(np.full((3, 3), 2.0), -1))
    assert distgrad.ones(2, 2).triu_().tolist() == [[1.0, 1.0], [0.0, 1.0]]


def test_repeat_interleave_of_counts_and_output_size():
    torch = pytest.importorskip("torch")
    c = [2, 0, 3]
    np.testing.assert_array_equal(distgrad.repeat_interleave(distgrad.tensor(c)).numpy(),
                                  torch.repeat_interleave(torch.tensor(c)).numpy())
    x = distgrad.tensor([1, 2, 3])
    assert x.repeat_interleave(distgrad.tensor(c), output_size=5).tolist() == [1, 1, 3, 3, 3]
    with pytest.raises(RuntimeError):
        x.repeat_interleave(distgrad.tensor(c), output_size=4)


def test_tensor_split_and_block_diag_edge_cases_match_torch():
    torch = pytest.importorskip("torch")
    for m_args in [(3,), (7,), ([2, 2, 9],), (1,)]:
        a = [p.tolist() for p in distgrad.arange(7).tensor_split(*m_args)]
        b = [p.tolist() for p in torch.arange(7).tensor_split(*m_args)]
        assert a == b
    assert distgrad.block_diag().shape == torch.block_diag().shape
    mixed = distgrad.block_diag(distgrad.tensor([[1]]), distgrad.tensor([2.5]))
    assert mixed.dtype == distgrad.float32 and mixed.tolist() == [[1.0, 0.0], [0.0, 2.5]]


ERRORS = {
    "roll_align": lambda m: m.roll(m.ones(2, 2), (1, 2), (0,)),
    "rot90_same_dims": lambda m: m.rot90(m.ones(2, 2), 1, (0, 0)),
    "rot90_1d": lambda m: m.rot90(m.ones(2), 1, (0, 1)),
    "diagonal_1d": lambda m: m.diagonal(m.ones(2)),
    "diagonal_same_dims": lambda m: m.diagonal(m.ones(2, 2), 0, 1, 1),
    "diagonal_out_of_range": lambda m: m.diagonal(m.ones(2, 2), 0, 0, 2),
    "diag_3d": lambda m: m.diag(m.ones(2, 2, 2)),
    "diag_embed_0d": lambda m: m.diag_embed(m.tensor(1.0)),
    "tril_1d": lambda m: m.tril(m.ones(2)),
    "triu_1d": lambda m: m.triu(m.ones(2)),
    "flip_repeated_dim": lambda m: m.flip(m.ones(2, 2), (0, 0)),
    "flip_out_of_range": lambda m: m.flip(m.ones(2, 2), (2,)),
    "fliplr_1d": lambda m: m.fliplr(m.ones(2)),
    "flipud_0d": lambda m: m.flipud(m.tensor(1.0)),
    "unfold_too_big": lambda m: m.ones(3).unfold(0, 4, 1),
    "unfold_step_0": lambda m: m.ones(3).unfold(0, 2, 0),
    "unfold_dim": lambda m: m.ones(3).unfold(1, 2, 1),
    "repeat_negative": lambda m: m.repeat_interleave(m.ones(3), m.tensor([1, -1, 1])),
    "repeat_size": lambda m: m.repeat_interleave(m.ones(3), m.tensor([1, 1]), dim=0),
    "meshgrid_2d": lambda m: m.meshgrid(m.ones(2, 2), indexing="ij"),
    "meshgrid_indexing": lambda m: m.meshgrid(m.ones(2), indexing="ab"),
    "block_diag_3d": lambda m: m.block_diag(m.ones(1, 1, 1)),
    "tile_float": lambda m: m.tile(m.ones(2), (1.5,)),
    "moveaxis_out_of_range": lambda m: m.moveaxis(m.ones(2, 2), 0, 2),
    "tensor_split_0": lambda m: m.tensor_split(m.ones(4), 0),
    "hsplit_uneven": lambda m: m.hsplit(m.ones(2, 3), 2),
    "trace_3d": lambda m: m.trace(m.ones(2, 2, 2)),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_layout_errors_match_torch_types(name):
    assert_raises_like_torch(ERRORS[name])
