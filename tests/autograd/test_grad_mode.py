"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode and is_grad_enabled,
as context managers and decorators, nested, restored on errors, and per thread."""
import threading

import pytest

import distgrad


@pytest.fixture
def x():
    return distgrad.ones(2, requires_grad=True)


def test_is_grad_enabled_default():
    assert distgrad.is_grad_enabled()


def test_no_grad_context(x):
    with distgrad.no_grad():
        assert not distgrad.is_grad_enabled()
        y = x * 2
    assert distgrad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_enable_grad_inside_no_grad(x):
    with distgrad.no_grad():
        with distgrad.enable_grad():
            assert (x * 2).requires_grad
            with distgrad.no_grad():
                assert not distgrad.is_grad_enabled()
            assert distgrad.is_grad_enabled()
        assert not distgrad.is_grad_enabled()


def test_set_grad_enabled_as_function_and_context(x):
    try:
        distgrad.set_grad_enabled(False)  # takes effect at once, without a with
        assert not distgrad.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        distgrad.set_grad_enabled(True)
    with distgrad.set_grad_enabled(False):
        assert not distgrad.is_grad_enabled()
    assert distgrad.is_grad_enabled()
    with distgrad.no_grad():
        with distgrad.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not distgrad.is_grad_enabled()
    assert repr(distgrad.set_grad_enabled(True)) == "distgrad.autograd.grad_mode.set_grad_enabled(mode=True)"


def test_decorators_with_and_without_parentheses(x):
    @distgrad.no_grad
    def bare():
        return (x * 2).requires_grad, distgrad.is_grad_enabled()

    @distgrad.no_grad()
    def called():
        return (x * 2).requires_grad

    @distgrad.enable_grad
    def en_bare():
        return (x * 2).requires_grad

    @distgrad.enable_grad()
    def en_called():
        return (x * 2).requires_grad

    @distgrad.set_grad_enabled(False)
    def off():
        return (x * 2).requires_grad

    @distgrad.inference_mode
    def inf_bare():
        return (x * 2).requires_grad, distgrad.is_inference_mode_enabled()

    @distgrad.inference_mode()
    def inf_called():
        return (x * 2).requires_grad

    @distgrad.inference_mode(False)
    def inf_off():
        return (x * 2).requires_grad

    assert bare() == (False, False) and called() is False
    assert distgrad.is_grad_enabled()  # decorating did not change the mode
    with distgrad.no_grad():
        assert en_bare() and en_called()
    assert off() is False and distgrad.is_grad_enabled()
    assert inf_bare() == (False, True) and inf_called() is False and inf_off() is True
    assert bare.__name__ == "bare"  # functools.wraps


def test_decorated_function_called_twice_and_recursively(x):
    @distgrad.no_grad()
    def f(n):
        assert not distgrad.is_grad_enabled()
        return 0 if n == 0 else 1 + f(n - 1)
    assert f(3) == 3 and f(2) == 2
    assert distgrad.is_grad_enabled()


def test_decorated_generator_keeps_mode_per_resume():
    @distgrad.no_grad()
    def gen():
        for _ in range(3):
            yield distgrad.is_grad_enabled()
    it = gen()
    assert next(it) is False
    assert distgrad.is_grad_enabled()  # not leaked to the caller while suspended
    assert list(it) == [False, False]


def test_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with distgrad.no_grad():
            raise ValueError("boom")
    assert distgrad.is_grad_enabled()

    @distgrad.no_grad()
    def fails():
        raise KeyError

    with pytest.raises(KeyError):
        fails()
    assert distgrad.is_grad_enabled()


def test_grad_mode_is_per_thread(x):
    inside, outside = threading.Event(), threading.Event()
    result = {}

    def worker():
        with distgrad.no_grad():
            inside.set()
            outside.wait(5)
            result["worker"] = distgrad.is_grad_enabled()
            result["worker_rg"] = (x * 2).requires_grad

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    result["main"] = distgrad.is_grad_enabled()
    result["main_rg"] = (x * 2).requires_grad
    outside.set()
    t.join()
    assert result == {"main": True, "main_rg": True, "worker": False, "worker_rg": False}


def test_new_thread_starts_with_grad_enabled():
    seen = []
    with distgrad.no_grad():
        t = threading.Thread(target=lambda: seen.append(distgrad.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_inference_mode(x):
    with distgrad.inference_mode():
        assert distgrad.is_inference_mode_enabled() and not distgrad.is_grad_enabled()
        t = x * 2
        assert not t.requires_grad and t.is_inference()
    assert not distgrad.is_inference_mode_enabled()
    assert t.is_inference() and not distgrad.ones(1).is_inference()
    with distgrad.no_grad():
        assert not (x * 2).is_inference()


def test_inference_tensors_are_refused_by_autograd(x):
    with distgrad.inference_mode():
        t = distgrad.ones(2) * 3
    assert (x + t).requires_grad  # nothing saved: allowed
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        x * t
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside InferenceMode"):
        t.add_(1)
    with distgrad.no_grad():
        with pytest.raises(RuntimeError, match="Inplace update to inference tensor"):
            t.mul_(2)
    with pytest.raises(RuntimeError, match="requires_grad=True on inference tensor outside InferenceMode"):
        t.requires_grad_()
    c = t.clone()  # the documented way out
    assert not c.is_inference()
    c.add_(1)
    assert c.tolist() == [4.0, 4.0]


def test_inplace_on_inference_tensor_inside_inference_mode():
    with distgrad.inference_mode():
        t = distgrad.zeros(2)
        t.add_(1)
    assert t.tolist() == [1.0, 1.0]
