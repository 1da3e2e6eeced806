"""Dropout: training vs eval, scaling, p validation, seeding, gradient through the mask."""
import numpy as np
import pytest

import distgrad
from distgrad import nn
import distgrad.nn.functional as F
from nn_helpers import same_repr


def test_train_mode_zeroes_and_scales():
    drop = nn.Dropout(0.3)
    x = distgrad.ones(20000, requires_grad=True)
    y = drop(x)
    vals = np.unique(y.detach().numpy())
    np.testing.assert_allclose(vals, [0.0, 1 / 0.7], rtol=1e-6)
    assert abs(float((y == 0).float().mean()) - 0.3) < 0.02
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())  # the gradient is the same mask


def test_eval_mode_is_identity():
    drop = nn.Dropout(0.9).eval()
    x = distgrad.randn(5)
    assert drop(x) is x
    assert F.dropout(x, 0.5, training=False) is x


def test_extreme_p_and_validation():
    x = distgrad.randn(10)
    assert F.dropout(x, 0.0) is x
    assert float(F.dropout(x, 1.0).abs().sum()) == 0.0
    for p in (-0.1, 1.5, True):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            nn.Dropout(p)
        with pytest.raises(ValueError):
            F.dropout(x, p)


def test_seeded_masks_repeat():
    distgrad.manual_seed(3)
    a = F.dropout(distgrad.ones(100), 0.5).numpy().copy()
    distgrad.manual_seed(3)
    b = F.dropout(distgrad.ones(100), 0.5).numpy()
    np.testing.assert_array_equal(a, b)


def test_inplace_dropout():
    x = distgrad.ones(100)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and x._version == 1 and set(x.tolist()) <= {0.0, 2.0}


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    same_repr(nn.Dropout(), torch.nn.Dropout())
    same_repr(nn.Dropout(0.25, inplace=True), torch.nn.Dropout(0.25, inplace=True))
