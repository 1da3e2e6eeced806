"""``torch.func.functional_call``: replacements for one call, tied weights, buffers, strict, and restoring."""
import numpy as np
import pytest

import distgrad
import distgrad.func as DF

from error_parity import assert_raises_like_torch

torch = pytest.importorskip("torch")


def api(L):
    return DF if L is distgrad else torch.func


class _Tied:
    """Embedding and output layer sharing one weight, and a BatchNorm for buffers (built for either library)."""

    @staticmethod
    def build(L):
        L.manual_seed(0)
        emb, head, bn = L.nn.Embedding(5, 3), L.nn.Linear(3, 5, bias=False), L.nn.BatchNorm1d(3)
        head.weight = emb.weight
        model = L.nn.ModuleDict({"emb": emb, "head": head, "bn": bn}).double()
        with L.no_grad():  # the same numbers in both libraries
            emb.weight.copy_(L.tensor(np.linspace(-1, 1, 15).reshape(5, 3)))
            bn.weight.copy_(L.tensor([0.5, 1.5, 2.0]))
            bn.bias.copy_(L.tensor([0.1, 0.0, -0.1]))
            bn.running_var.copy_(L.tensor([1.0, 2.0, 0.5]))
        model.eval()
        return model

    @staticmethod
    def run(model, idx):
        return model["head"](model["bn"](model["emb"](idx)))


def _call(L, replace, **kw):
    model = _Tied.build(L)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}

    class Wrapper(L.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, idx):
            return _Tied.run(self.m, idx)
    wrapped = Wrapper()
    out = api(L).functional_call(wrapped, replace(L), (L.tensor([0, 3, 4]),), **kw)
    after = wrapped.m.state_dict()
    assert all(np.array_equal(before[k].numpy(), after[k].numpy()) for k in before)  # restored
    return out


def _weights(L):
    return {"m.emb.weight": L.tensor(np.arange(15.0).reshape(5, 3) / 10, dtype=L.float64)}


def _buffers(L):
    return ({"m.bn.running_mean": L.tensor([1.0, -1.0, 0.5], dtype=L.float64)},
            {"m.head.weight": L.ones(5, 3, dtype=L.float64)})


def test_tied_weights_and_buffers_are_replaced_as_in_pytorch():
    for replace, kw in [(_weights, {}), (_weights, {"tie_weights": False}), (_buffers, {})]:
        ours, theirs = _call(distgrad, replace, **kw), _call(torch, replace, **kw)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)


def test_strict_and_conflicting_tied_values_raise_like_pytorch():
    assert_raises_like_torch(lambda L: _call(L, _weights, strict=True))
    assert_raises_like_torch(lambda L: _call(L, lambda L: {"m.emb.weight": L.ones(5, 3, dtype=L.float64),
                                                           "m.head.weight": L.zeros(5, 3, dtype=L.float64)}))
    assert_raises_like_torch(lambda L: _call(L, lambda L: ({"m.bn.weight": L.ones(3)}, {"m.bn.weight": L.ones(3)})))


def test_the_module_gets_its_own_tensors_back_when_the_call_raises():
    lin = distgrad.nn.Linear(2, 2)
    own = lin.weight
    with pytest.raises(RuntimeError):
        DF.functional_call(lin, {"weight": distgrad.ones(3, 3)}, distgrad.ones(1, 2))
    assert lin.weight is own and list(dict(lin.named_parameters())) == ["weight", "bias"]


def test_gradients_flow_to_the_replacements_only():
    lin = distgrad.nn.Linear(2, 1)
    w = distgrad.tensor([[1.0, 2.0]], requires_grad=True)
    out = DF.functional_call(lin, {"weight": w}, (distgrad.tensor([[3.0, 4.0]]),), {})
    out.sum().backward()
    assert w.grad.tolist() == [[3.0, 4.0]] and lin.weight.grad is None and lin.bias.grad is not None
