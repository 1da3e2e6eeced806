"""nn.PairwiseDistance and nn.CosineSimilarity: options, repr, no parameters, gradients, and
parity with PyTorch's layers."""
import numpy as np
import pytest

import distgrad
from distgrad import nn
from distgrad.autograd import gradcheck, gradgradcheck

F64 = distgrad.float64

LAYERS = {
    "PairwiseDistance": (lambda m: m.nn.PairwiseDistance(), [(3, 4), (3, 4)]),
    "PairwiseDistance_p1_keepdim": (lambda m: m.nn.PairwiseDistance(1.0, 1e-3, True), [(3, 4), (3, 4)]),
    "PairwiseDistance_broadcast": (lambda m: m.nn.PairwiseDistance(p=2.5), [(3, 4), (4,)]),
    "CosineSimilarity": (lambda m: m.nn.CosineSimilarity(), [(3, 4), (3, 4)]),
    "CosineSimilarity_dim": (lambda m: m.nn.CosineSimilarity(dim=0, eps=1e-6), [(3, 4), (3, 1)]),
}


def _inputs(shapes, seed=0):
    g = distgrad.Generator().manual_seed(seed)
    return [distgrad.randn(*s, dtype=F64, generator=g).requires_grad_() for s in shapes]


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_distance_layers_gradcheck_and_match_torch(name):
    make, shapes = LAYERS[name]
    layer = make(distgrad)
    xs = _inputs(shapes)
    assert gradcheck(layer, xs)
    assert gradgradcheck(layer, xs)
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(x.detach().numpy(), requires_grad=True) for x in xs]
    out, ref = layer(*xs), make(torch)(*ts)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_distance_layers_hold_options_and_no_parameters():
    assert repr(nn.PairwiseDistance()) == "PairwiseDistance()"
    assert repr(nn.CosineSimilarity()) == "CosineSimilarity()"
    layer = nn.PairwiseDistance(p=1.0, eps=0.0, keepdim=True)
    assert (layer.norm, layer.eps, layer.keepdim) == (1.0, 0.0, True)
    assert list(layer.parameters()) == [] and layer.state_dict() == {}
    assert layer(distgrad.ones(2, 3), distgrad.zeros(2, 3)).tolist() == [[3.0], [3.0]]
    cos = nn.CosineSimilarity(dim=-1, eps=1e-4)
    assert (cos.dim, cos.eps) == (-1, 1e-4)


def test_distance_layers_reject_mismatched_shapes():
    with pytest.raises(RuntimeError):
        nn.PairwiseDistance()(distgrad.ones(2, 3), distgrad.ones(2, 4))
    with pytest.raises(RuntimeError):
        nn.CosineSimilarity()(distgrad.ones(2, 3), distgrad.ones(2, 4))
