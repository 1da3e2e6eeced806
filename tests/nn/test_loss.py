"""Losses: values and gradients against PyTorch for every reduction and option; gradcheck; errors."""
import numpy as np
import pytest

import distgrad
from distgrad import nn
from distgrad.autograd import gradcheck, gradgradcheck
import distgrad.nn.functional as F
from nn_helpers import close, same_repr

REDUCTIONS = ["none", "mean", "sum"]
rng = np.random.default_rng(0)


def _both(torch, fn_name, arrays, grad_mask, kwargs, module_kwargs=None, atol=1e-5):
    """Run the loss (module and functional) on both libraries; compare values and input gradients."""
    results = []
    for lib in (distgrad, torch):
        ins = [lib.tensor(a, requires_grad=bool(m)) for a, m in zip(arrays, grad_mask)]
        kw = {k: (lib.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
        out = getattr(lib.nn.functional, fn_name)(*ins, **kw)
        g = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(arrays[0].dtype)
        out.backward(lib.tensor(g))
        results.append((out, [i.grad for i in ins if i.requires_grad]))
    (dout, dgrads), (tout, tgrads) = results
    close(dout, tout, atol=atol, rtol=atol)
    for a, b in zip(dgrads, tgrads):
        close(a, b, atol=atol, rtol=atol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn,kwargs", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}),
                                       ("smooth_l1_loss", {"beta": 0.5}), ("smooth_l1_loss", {"beta": 0.0}),
                                       ("huber_loss", {}), ("huber_loss", {"delta": 0.3})])
def test_regression_losses(fn, kwargs, reduction):
    torch = pytest.importorskip("torch")
    x, y = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    _both(torch, fn, [x, y], [1, 1], dict(kwargs, reduction=reduction))


@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss", "huber_loss"])
def test_regression_losses_with_weight(fn):
    torch = pytest.importorskip("torch")
    x, y, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0, 2, (3, 4))
    for reduction in REDUCTIONS:
        _both(torch, fn, [x, y], [1, 1], {"weight": w, "reduction": reduction})


CE_CASES = [
    ((6, 5), (6,), {}), ((6, 5), (6,), {"weight": True}), ((6, 5), (6,), {"ignore_index": 2}),
    ((6, 5), (6,), {"weight": True, "ignore_index": 1, "label_smoothing": 0.2}),
    ((6, 5), (6,), {"label_smoothing": 0.3}), ((3, 4, 2, 3), (3, 2, 3), {"weight": True}),
    ((3, 4, 5), (3, 5), {"label_smoothing": 0.1, "ignore_index": 0}), ((5,), (), {}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("xshape,tshape,opts", CE_CASES)
def test_cross_entropy_indices(xshape, tshape, opts, reduction):
    torch = pytest.importorskip("torch")
    c = xshape[1] if len(xshape) > 1 else xshape[0]
    x = rng.standard_normal(xshape) * 3
    t = np.random.default_rng(2).integers(0, c, tshape)
    kw = {"reduction": reduction}
    if opts.get("weight"):
        kw["weight"] = np.random.default_rng(3).uniform(0.2, 2.0, c)
    kw.update({k: v for k, v in opts.items() if k != "weight"})
    _both(torch, "cross_entropy", [x, t], [1, 0], kw)
    kw32 = {k: (v.astype(np.float32) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    _both(torch, "cross_entropy", [x.astype(np.float32), t], [1, 0], kw32, atol=1e-4)
    if "label_smoothing" not in opts:
        lsm = x - np.log(np.exp(x).sum(axis=1 if x.ndim > 1 else 0, keepdims=True))
        _both(torch, "nll_loss", [lsm, t], [1, 0], {k: v for k, v in kw.items()})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing,weight", [(0.0, False), (0.25, True)])
def test_cross_entropy_probabilities(reduction, smoothing, weight):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 3, 2))
    p = np.random.default_rng(4).dirichlet(np.ones(3), size=(4, 2)).transpose(0, 2, 1).copy()
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    if weight:
        kw["weight"] = np.array([0.5, 1.0, 2.0])
    _both(torch, "cross_entropy", [x, p], [1, 1], kw)


def test_cross_entropy_all_ignored_is_nan_like_torch():
    torch = pytest.importorskip("torch")
    for lib in (distgrad, torch):
        out = lib.nn.functional.cross_entropy(lib.zeros(2, 3), lib.tensor([-100, -100]))
        assert np.isnan(float(out))


def test_cross_entropy_is_stable_for_huge_logits():
    x = distgrad.tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    loss = F.cross_entropy(x, distgrad.tensor([1]))
    loss.backward()
    assert abs(float(loss) - 2000.0) < 1e-3 and np.all(np.isfinite(x.grad.numpy()))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    torch = pytest.importorskip("torch")
    x = rng.uniform(0.01, 0.99, (4, 3))
    x[0, 0], x[0, 1] = 0.0, 1.0  # logs clamped at -100 like PyTorch
    y = rng.uniform(0, 1, (4, 3))
    _both(torch, "binary_cross_entropy", [x, y], [1, 1], {"reduction": reduction})
    _both(torch, "binary_cross_entropy", [x, y], [1, 0], {"reduction": reduction, "weight": rng.uniform(0, 2, 3)})


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((5, 3)) * 4
    x[0, :2] = [0.0, 200.0]
    y = rng.uniform(0, 1, (5, 3))
    kw = {"reduction": reduction}
    _both(torch, "binary_cross_entropy_with_logits", [x, y], [1, 1], kw)
    kw.update(weight=rng.uniform(0, 2, (5, 3)), pos_weight=rng.uniform(0.5, 3, 3))
    _both(torch, "binary_cross_entropy_with_logits", [x, y], [1, 1], kw)


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    torch = pytest.importorskip("torch")
    x = np.log(np.random.default_rng(5).dirichlet(np.ones(4), size=3))
    t = np.random.default_rng(6).dirichlet(np.ones(4), size=3)
    t[0, 0] = 0.0  # 0 * log 0 counts as 0
    if log_target:
        t = np.log(t + 1e-3)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _both(torch, "kl_div", [x, t], [1, 0], {"reduction": reduction, "log_target": log_target})


def test_loss_modules_match_functional_and_torch():
    torch = pytest.importorskip("torch")
    w = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    pairs = [(nn.MSELoss(), torch.nn.MSELoss()), (nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum")),
             (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5)),
             (nn.HuberLoss(delta=2.0), torch.nn.HuberLoss(delta=2.0)),
             (nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean")),
             (nn.BCEWithLogitsLoss(pos_weight=distgrad.tensor(w)), torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)))]
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = rng.uniform(0, 1, (4, 3)).astype(np.float32)
    for d, t in pairs:
        close(d(distgrad.tensor(x), distgrad.tensor(y)), t(torch.tensor(x), torch.tensor(y)))
        same_repr(d, t)
        assert list(d.state_dict()) == list(t.state_dict())
    d, t = nn.CrossEntropyLoss(weight=distgrad.tensor(w), ignore_index=0), \
        torch.nn.CrossEntropyLoss(weight=torch.tensor(w), ignore_index=0)
    idx = np.array([0, 1, 2, 1])
    close(d(distgrad.tensor(x), distgrad.tensor(idx)), t(torch.tensor(x), torch.tensor(idx)))
    assert list(d.state_dict()) == ["weight"]
    d, t = nn.NLLLoss(), torch.nn.NLLLoss()
    close(d(distgrad.tensor(x), distgrad.tensor(idx)), t(torch.tensor(x), torch.tensor(idx)))
    d, t = nn.BCELoss(), torch.nn.BCELoss()
    close(d(distgrad.tensor(y), distgrad.tensor(y)), t(torch.tensor(y), torch.tensor(y)))


def test_legacy_size_average_reduce():
    x, y = distgrad.ones(2, 2), distgrad.zeros(2, 2)
    with pytest.warns(UserWarning):
        assert float(F.mse_loss(x, y, size_average=False)) == 4.0
    with pytest.warns(UserWarning):
        assert F.mse_loss(x, y, reduce=False).shape == (2, 2)


def test_loss_ops_gradcheck():
    r = np.random.default_rng(7)
    x = distgrad.tensor(r.standard_normal((5, 4)), requires_grad=True)
    t = distgrad.tensor([0, 3, 1, 1, 2])
    w = distgrad.tensor(r.uniform(0.5, 2.0, 4))
    for red in REDUCTIONS:
        def ce(x):
            return F.cross_entropy(x, t, weight=w, ignore_index=1, label_smoothing=0.1, reduction=red)

        def nll(x):
            return F.nll_loss(x, t, weight=w, reduction=red)
        assert gradcheck(ce, (x,)) and gradgradcheck(ce, (x,))
        assert gradcheck(nll, (x,)) and gradgradcheck(nll, (x,))
    p = distgrad.tensor(r.uniform(0.05, 0.95, (3, 2)), requires_grad=True)
    q = distgrad.tensor(r.uniform(0, 1, (3, 2)), requires_grad=True)
    assert gradcheck(F.binary_cross_entropy, (p, q), atol=1e-4)
    assert gradgradcheck(F.binary_cross_entropy, (p, q), atol=1e-4)
    z = distgrad.tensor(r.standard_normal((3, 2)) * 3, requires_grad=True)
    assert gradcheck(F.binary_cross_entropy_with_logits, (z, q))
    assert gradgradcheck(F.binary_cross_entropy_with_logits, (z, q))


def test_loss_errors():
    x = distgrad.zeros(4, 3)
    with pytest.raises(IndexError, match="Target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, distgrad.tensor([0, 1, 3, 0]))
    with pytest.raises(IndexError, match="out of bounds"):
        F.nll_loss(x, distgrad.tensor([0, -1, 0, 0]))
    with pytest.raises(ValueError, match=r"batch_size \(4\) to match target batch_size \(3\)"):
        F.cross_entropy(x, distgrad.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[4, 2\], got \[4, 3\]"):
        F.cross_entropy(distgrad.zeros(4, 3, 2), distgrad.zeros(4, 3, dtype=distgrad.int64))
    with pytest.raises(RuntimeError, match="weight tensor should be defined"):
        F.cross_entropy(x, distgrad.tensor([0, 1, 2, 0]), weight=distgrad.ones(4))
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="different to the input size"):
        F.binary_cross_entropy(distgrad.zeros(3), distgrad.zeros(3, 1))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(distgrad.tensor([1.5]), distgrad.tensor([1.0]))
    with pytest.raises(RuntimeError, match=r"size of input \(2, 3\) and target \(2, 4\)"):
        with pytest.warns(UserWarning):
            F.mse_loss(distgrad.zeros(2, 3), distgrad.zeros(2, 4))
    with pytest.warns(UserWarning, match="target size"):
        F.l1_loss(distgrad.zeros(2, 3), distgrad.zeros(3))


def test_bce_weight_must_broadcast():
    with pytest.raises(RuntimeError, match=r"weight of shape \(4,\) does not broadcast to the input shape \(2, 3\)"):
        F.binary_cross_entropy(distgrad.full((2, 3), 0.5), distgrad.ones(2, 3), weight=distgrad.ones(4))
