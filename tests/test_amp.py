"""torch.amp.GradScaler / torch.cuda.amp.GradScaler as PyTorch has them without CUDA: the disabled pass-through."""
import inspect
import warnings

import numpy as np
import pytest

import distgrad


def test_disabled_scaler_passes_everything_through():
    w = distgrad.nn.Parameter(distgrad.tensor([1.0, 2.0]))
    opt = distgrad.optim.SGD([w], lr=0.5)
    scaler = distgrad.amp.GradScaler("cpu", enabled=False)
    loss = (w * w).sum()
    assert scaler.scale(loss) is loss and scaler.scale([loss]) == [loss]
    scaler.scale(loss).backward()
    assert scaler.unscale_(opt) is None
    scaler.step(opt)
    assert scaler.update() is None and scaler.update(4.0) is None
    np.testing.assert_allclose(w.detach().numpy(), [0.0, 0.0])  # w - 0.5 * 2w: exactly opt.step()
    assert (scaler.get_scale(), scaler.state_dict(), scaler.is_enabled()) == (1.0, {}, False)
    scaler.load_state_dict({})
    with pytest.raises(RuntimeError, match="disabled and cannot take the state"):
        scaler.load_state_dict({"scale": 1024.0})
    scaler.set_growth_factor(3.0)
    assert scaler.get_growth_factor() == 3.0 and scaler.get_backoff_factor() == 0.5
    assert scaler.get_growth_interval() == 2000


def test_step_returns_the_optimizers_result_and_forwards_the_closure():
    w = distgrad.nn.Parameter(distgrad.tensor([1.0]))
    opt = distgrad.optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * 3).sum()
        loss.backward()
        return loss
    out = distgrad.amp.GradScaler(enabled=False).step(opt, closure)
    assert float(out) == 3.0 and abs(float(w.detach()[0]) - 0.7) < 1e-6


def test_cuda_scaler_without_cuda_warns_and_disables_itself_like_pytorch():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available() or distgrad.cuda.is_available():
        pytest.skip("checks a machine without CUDA")
    for lib in (torch, distgrad):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scaler = lib.cuda.amp.GradScaler(enabled=True)
        kinds = [(w.category, str(w.message)) for w in caught]
        assert (FutureWarning, "`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use "
                "`torch.amp.GradScaler('cuda', args...)` instead.") in kinds
        assert (UserWarning, "torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.") in kinds
        assert not scaler.is_enabled() and scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    for ours, theirs in ((distgrad.amp.GradScaler, torch.amp.GradScaler),
                         (distgrad.cuda.amp.GradScaler, torch.cuda.amp.GradScaler)):
        a, b = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
        assert [(n, p.default) for n, p in a.items()] == [(n, p.default) for n, p in b.items()]


def test_an_enabled_scaler_on_a_real_device_says_distgrad_has_no_low_precision_training():
    with pytest.raises(NotImplementedError, match="no low-precision"):
        distgrad.amp.GradScaler("cpu")
