"""Shared helpers for the linear-algebra tests: well-conditioned inputs and a torch parity check
(values, first and second derivatives through ``create_graph=True``) of one case function that
takes the module (``distgrad`` or ``torch``) and the input tensors."""
import numpy as np
import pytest

import distgrad

F64 = distgrad.float64


def rng(seed=0):
    return np.random.default_rng(seed)


def well(*shape, seed=0):
    """Square matrices ``randn + 3 I``: invertible, condition number of order 10."""
    a = rng(seed).standard_normal(shape)
    return a + 3 * np.eye(shape[-1])


def spd(*shape, seed=0):
    """Symmetric positive-definite matrices ``M M^T + n I``."""
    m = rng(seed).standard_normal(shape)
    return m @ np.swapaxes(m, -1, -2) + shape[-1] * np.eye(shape[-1])


def sym(*shape, seed=0):
    """Symmetric matrices with well separated eigenvalues (for eigenvector gradients)."""
    q, _ = np.linalg.qr(rng(seed).standard_normal(shape))
    w = np.arange(1, shape[-1] + 1) * 1.5 - 2.0
    return (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)


def randn(*shape, seed=0):
    return rng(seed).standard_normal(shape)


def dg(*arrays):
    """float64 leaf tensors that require grad."""
    out = [distgrad.tensor(a, dtype=F64, requires_grad=True) for a in arrays]
    return out[0] if len(out) == 1 else out


def _flat(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _np(t):
    return t.detach().numpy()


def check_parity(case, *arrays, grad=True, gradgrad=True, atol=1e-6, rtol=1e-6, seed=1):
    """``case(m, *inputs)`` on distgrad and torch: equal values, gradients and second derivatives."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(seed)
    d_in = [distgrad.tensor(a, dtype=F64, requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    d_out, t_out = _flat(case(distgrad, *d_in)), _flat(case(torch, *t_in))
    assert len(d_out) == len(t_out)
    for d, t in zip(d_out, t_out):
        assert tuple(d.shape) == tuple(t.shape)
        np.testing.assert_allclose(_np(d), _np(t), atol=atol, rtol=rtol)
    if not grad:
        return
    pairs = [(d, t) for d, t in zip(d_out, t_out) if t.requires_grad]
    weights = [r.standard_normal(tuple(t.shape)) for _, t in pairs]
    d_loss = sum((d * distgrad.tensor(w, dtype=F64)).sum() for (d, _), w in zip(pairs, weights))
    t_loss = sum((t * torch.tensor(w)).sum() for (_, t), w in zip(pairs, weights))
    d_g = distgrad.autograd.grad(d_loss, d_in, create_graph=gradgrad, allow_unused=True)
    t_g = torch.autograd.grad(t_loss, t_in, create_graph=gradgrad, allow_unused=True)
    for d, t in zip(d_g, t_g):
        if t is None:
            assert d is None or np.allclose(_np(d), 0)
            continue
        np.testing.assert_allclose(_np(d), _np(t), atol=atol, rtol=rtol)
    if not gradgrad:
        return
    keep = [i for i, t in enumerate(t_g) if t is not None and t.requires_grad]
    if not keep:  # torch's first derivative is constant: nothing to differentiate again
        return
    vs = [r.standard_normal(tuple(t_in[i].shape)) for i in keep]
    d_s = sum((d_g[i] * distgrad.tensor(v, dtype=F64)).sum() for i, v in zip(keep, vs))
    t_s = sum((t_g[i] * torch.tensor(v)).sum() for i, v in zip(keep, vs))
    d_gg = distgrad.autograd.grad(d_s, d_in, allow_unused=True)
    t_gg = torch.autograd.grad(t_s, t_in, allow_unused=True)
    for d, t in zip(d_gg, t_gg):
        if t is None:
            assert d is None or np.allclose(_np(d), 0, atol=atol)
            continue
        assert d is not None
        np.testing.assert_allclose(_np(d), _np(t), atol=atol, rtol=rtol)
