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


@pytest.mark.parametrize("name,shape,lead", [("Dropout1d", (4, 6, 5), 2), ("Dropout1d", (6, 5), 1),
                                             ("Dropout2d", (4, 6, 3, 3), 2), ("Dropout2d", (4, 6, 5), 2),
                                             ("Dropout3d", (2, 6, 2, 2, 2), 2), ("Dropout3d", (6, 2, 2, 2), 1)])
def test_channel_dropout_drops_whole_channels(name, shape, lead):
    import warnings
    drop = getattr(nn, name)(0.5)
    x = distgrad.ones(*shape, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = drop(x)
    per_channel = y.detach().numpy().reshape(int(np.prod(shape[:lead])), -1)
    assert all(len(set(row.tolist())) == 1 for row in per_channel)  # all kept (2.0) or all dropped
    assert set(per_channel[:, 0].tolist()) <= {0.0, 2.0}
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    assert drop.eval()(x) is x


def test_channel_dropout_errors_and_repr():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="dropout1d"):
        F.dropout1d(distgrad.ones(2, 3, 4, 5))
    with pytest.warns(UserWarning, match="dropout2d"):
        F.dropout2d(distgrad.ones(2, 3))
    with pytest.raises(ValueError):
        nn.Dropout2d(2.0)
    for name in ("Dropout1d", "Dropout2d", "Dropout3d"):
        same_repr(getattr(nn, name)(0.3, inplace=True), getattr(torch.nn, name)(0.3, inplace=True))
