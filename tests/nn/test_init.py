"""nn.init: gains, distributions, fans, seeding and generator=, errors."""
import math

import numpy as np
import pytest

import distgrad
from distgrad.nn import init
from nn_helpers import np_of


@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                                        ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                                        ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "x")


def test_fans_match_torch():
    torch = pytest.importorskip("torch")
    for shape in [(3, 5), (8, 4, 3, 3), (2, 6, 7)]:
        assert init._calculate_fan_in_and_fan_out(distgrad.empty(shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(distgrad.empty(3))


def _std(t):
    return float(np_of(t).std())


def test_distributions_have_the_documented_scale():
    w = distgrad.empty(400, 300)
    init.xavier_uniform_(w)
    assert np.abs(np_of(w)).max() <= math.sqrt(6 / 700) and abs(_std(w) - math.sqrt(2 / 700)) < 2e-3
    init.xavier_normal_(w, gain=2.0)
    assert abs(_std(w) - 2 * math.sqrt(2 / 700)) < 3e-3
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(_std(w) - math.sqrt(2 / 400)) < 2e-3
    init.kaiming_uniform_(w, a=math.sqrt(5))
    assert np.abs(np_of(w)).max() <= 1 / math.sqrt(300)
    init.uniform_(w, -2, 3)
    assert np_of(w).min() >= -2 and np_of(w).max() < 3
    init.normal_(w, 1.0, 0.5)
    assert abs(float(np_of(w).mean()) - 1) < 5e-3 and abs(_std(w) - 0.5) < 5e-3
    init.trunc_normal_(w, 0.0, 1.0, -0.5, 1.0)
    assert np_of(w).min() >= -0.5 and np_of(w).max() <= 1.0
    init.constant_(w, 0.3)
    assert np.all(np_of(w) == np.float32(0.3))
    init.ones_(w)
    init.zeros_(w)
    assert not np_of(w).any()


def test_eye_and_orthogonal():
    e = init.eye_(distgrad.empty(3, 5))
    np.testing.assert_array_equal(np_of(e), np.eye(3, 5))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        init.eye_(distgrad.empty(2, 2, 2))
    for shape in [(6, 4), (4, 6), (3, 2, 2)]:
        q = np_of(init.orthogonal_(distgrad.empty(shape), gain=2.0)).reshape(shape[0], -1)
        small = min(q.shape)
        gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
        np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(distgrad.empty(3))


def test_init_works_on_parameters_and_bumps_version():
    p = distgrad.nn.Parameter(distgrad.empty(3, 3))
    v = p._version
    out = init.kaiming_uniform_(p)
    assert out is p and p.requires_grad and p.grad_fn is None and p._version > v


def test_seeded_and_generator():
    distgrad.manual_seed(11)
    a = np_of(init.normal_(distgrad.empty(5)))
    distgrad.manual_seed(11)
    b = np_of(init.normal_(distgrad.empty(5)))
    np.testing.assert_array_equal(a, b)
    g1, g2 = distgrad.Generator().manual_seed(5), distgrad.Generator().manual_seed(5)
    c = np_of(init.xavier_uniform_(distgrad.empty(2, 3), generator=g1))
    d = np_of(init.xavier_uniform_(distgrad.empty(2, 3), generator=g2))
    np.testing.assert_array_equal(c, d)


def test_kaiming_zero_element_warns_and_bad_mode():
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(distgrad.empty(0, 3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(distgrad.empty(2, 2), mode="fan_avg")
