"""Helpers shared by the nn tests: move data between distgrad and torch, and compare layers."""
import numpy as np

import distgrad


def np_of(t):
    """A NumPy copy of a distgrad or torch tensor."""
    return np.array(t.detach().cpu().numpy())


def dg(a, requires_grad=False, dtype=None):
    """A distgrad tensor from an array (copied)."""
    a = np.array(a, dtype=dtype)
    return distgrad.tensor(a, requires_grad=requires_grad)


def th(torch, a, requires_grad=False, dtype=None):
    """A torch tensor from an array (copied)."""
    return torch.tensor(np.array(a, dtype=dtype), requires_grad=requires_grad)


def copy_state(dmod, tmod, torch):
    """Load distgrad module ``dmod``'s state into its torch twin ``tmod`` (keys must match exactly)."""
    sd = {k: torch.from_numpy(np_of(v)) for k, v in dmod.state_dict().items()}
    assert list(sd) == list(tmod.state_dict())
    tmod.load_state_dict(sd)


def close(a, b, atol=1e-5, rtol=1e-5):
    np.testing.assert_allclose(np_of(a) if not isinstance(a, np.ndarray) else a,
                               np_of(b) if not isinstance(b, np.ndarray) else b, atol=atol, rtol=rtol)


def same_repr(dmod, tmod):
    assert repr(dmod) == repr(tmod).replace("torch.", "distgrad.")


def compare_layer(torch, dmod, tmod, x, atol=1e-5, extra_inputs=(), seed=0):
    """Same weights, same input: outputs, input gradients and parameter gradients must agree."""
    copy_state(dmod, tmod, torch)
    xs = (x,) + tuple(extra_inputs)
    dxs = [dg(a, requires_grad=np.asarray(a).dtype.kind == "f") for a in xs]
    txs = [th(torch, a, requires_grad=np.asarray(a).dtype.kind == "f") for a in xs]
    dout, tout = dmod(*dxs), tmod(*txs)
    close(dout, tout, atol=atol, rtol=atol)
    g = np.random.default_rng(seed).standard_normal(tuple(tout.shape)).astype(np_of(tout).dtype)
    dout.backward(dg(g))
    tout.backward(th(torch, g))
    for d, t in zip(dxs, txs):
        if t.requires_grad:
            close(d.grad, t.grad, atol=atol, rtol=atol)
    tparams = dict(tmod.named_parameters())
    for name, p in dmod.named_parameters():
        if tparams[name].grad is None:
            assert p.grad is None, name
        else:
            close(p.grad, tparams[name].grad, atol=atol, rtol=atol)
    for name, b in dmod.named_buffers():
        close(b, dict(tmod.named_buffers())[name], atol=atol, rtol=atol)
    return dout, tout


def assert_same_error_as_torch(cases, name):
    """``cases(m)`` maps names to zero-argument misuses of module ``m``: distgrad must raise the type
    PyTorch raises for ``cases(torch)[name]``, with the same message (``distgrad.`` read as ``torch.``)."""
    import warnings

    import pytest
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as ref:
            cases(torch)[name]()
        with pytest.raises(ref.type) as ours:
            cases(distgrad)[name]()
    assert str(ours.value).replace("distgrad.", "torch.") == str(ref.value), name
