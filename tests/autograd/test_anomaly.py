"""Anomaly detection: a NaN produced in backward raises a RuntimeError naming the
backward node and showing the forward call (file and line) that created it; errors
raised inside a backward get that forward traceback attached."""
import inspect
import warnings

import numpy as np
import pytest

import distgrad
from distgrad.autograd import Function


def here():
    """The line number of the caller."""
    return inspect.currentframe().f_back.f_lineno


class NanBackward(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * float("nan")


class FailingBackward(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        raise ValueError("broken backward")


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Anomaly Detection has been enabled")
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        yield
    distgrad.autograd.set_detect_anomaly(False)


def test_nan_from_sqrt_at_zero_names_node_and_forward_line():
    x = distgrad.tensor([0.0, 1.0], requires_grad=True)
    with distgrad.autograd.detect_anomaly():
        y = distgrad.sqrt(x) * distgrad.tensor([0.0, 1.0]); line = here()  # noqa: E702
        with pytest.raises(RuntimeError) as err:
            y.sum().backward()
    msg = str(err.value)
    assert "Function 'SqrtBackward0' returned nan values in its 0th output." in msg
    assert f'File "{__file__}", line {line}' in msg
    assert "distgrad.sqrt(x)" in msg


def test_nan_from_custom_function():
    x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    with distgrad.autograd.detect_anomaly():
        out = NanBackward.apply(x); line = here()  # noqa: E702
        with pytest.raises(RuntimeError, match="Function 'NanBackwardBackward' returned nan values in its 0th output"):
            out.sum().backward()
    with distgrad.autograd.detect_anomaly():
        out = NanBackward.apply(x)
        with pytest.raises(RuntimeError) as err:
            out.sum().backward()
    assert "Traceback of forward call" in str(err.value) and "NanBackward.apply(x)" in str(err.value)
    assert line > 0


def test_without_anomaly_mode_nan_passes_silently():
    x = distgrad.tensor([1.0], requires_grad=True)
    NanBackward.apply(x).sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_check_nan_false_only_records_traces():
    x = distgrad.tensor([1.0], requires_grad=True)
    with distgrad.autograd.detect_anomaly(check_nan=False):
        NanBackward.apply(x).sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_set_detect_anomaly_function_and_context():
    assert not distgrad.autograd.is_anomaly_enabled()
    distgrad.autograd.set_detect_anomaly(True)
    assert distgrad.autograd.is_anomaly_enabled()
    x = distgrad.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="returned nan values"):
        NanBackward.apply(x).sum().backward()
    distgrad.autograd.set_detect_anomaly(False)
    assert not distgrad.autograd.is_anomaly_enabled()
    with distgrad.autograd.set_detect_anomaly(True):
        assert distgrad.autograd.is_anomaly_enabled()
    assert not distgrad.autograd.is_anomaly_enabled()


def test_detect_anomaly_warns_and_restores():
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        with distgrad.autograd.detect_anomaly():
            assert distgrad.autograd.is_anomaly_enabled()
    assert not distgrad.autograd.is_anomaly_enabled()
    with pytest.raises(KeyError):
        with distgrad.autograd.detect_anomaly():
            raise KeyError
    assert not distgrad.autograd.is_anomaly_enabled()


def test_detect_anomaly_as_decorator():
    @distgrad.autograd.detect_anomaly()
    def run():
        x = distgrad.tensor([1.0], requires_grad=True)
        NanBackward.apply(x).sum().backward()

    with pytest.raises(RuntimeError, match="returned nan values"):
        run()
    assert not distgrad.autograd.is_anomaly_enabled()


def test_node_made_before_anomaly_mode_says_no_trace():
    x = distgrad.tensor([1.0], requires_grad=True)
    out = NanBackward.apply(x)
    with distgrad.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="returned nan values") as err:
            out.sum().backward()
    assert "No forward traceback was recorded" in str(err.value)


def test_error_in_backward_gets_the_forward_traceback():
    x = distgrad.tensor([1.0], requires_grad=True)
    with distgrad.autograd.detect_anomaly():
        out = FailingBackward.apply(x); line = here()  # noqa: E702
        with pytest.raises(ValueError, match="broken backward") as err:
            out.sum().backward()
    notes = "\n".join(getattr(err.value, "__notes__", []))
    assert "FailingBackwardBackward" in notes
    assert f"line {line}" in notes


def test_finite_gradients_pass_under_anomaly_mode():
    x = distgrad.tensor([1.0, 4.0], requires_grad=True)
    with distgrad.autograd.detect_anomaly():
        (distgrad.sqrt(x) * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.5 * np.sqrt([1.0, 4.0]))
