"""Parity with PyTorch: every op runs the same code on distgrad and on torch (the case
functions take the module, so they are also a check that distgrad's API is PyTorch's), on
the same float64 inputs, and must give the same values, the same first derivatives and
the same second derivatives (through ``create_graph=True``), and the same grad_fn names."""
import numpy as np
import pytest

import distgrad

torch = pytest.importorskip("torch")

RNG_SEED = 1234


def _array(kind, shape, rng):
    if kind == "pos":
        return rng.uniform(0.5, 1.5, shape)
    if kind == "distinct":  # well separated values: no ties for max/sort/topk
        n = int(np.prod(shape)) if shape else 1
        return (rng.permutation(n) * 0.37 - 1.0).reshape(shape)
    if kind == "away":  # |x| >= 0.2: away from the kinks of abs/relu/sign/clamp
        a = rng.standard_normal(shape)
        return a + np.sign(a) * 0.2
    return rng.standard_normal(shape)


def _setitem(m, x, v):
    y = x * 1.0
    y[1:, [0, 2]] = v
    return y


def _setitem_mask(m, x):
    y = x * 2.0
    y[y > 0] = 0.5
    return y


def _inplace_chain(m, x, o):
    y = x * 1.0
    y.mul_(o).add_(x, alpha=0.5).div_(2.0)
    y.clamp_(-1.0, 1.0)
    return y


R, P, D, A = "randn", "pos", "distinct", "away"

# name -> (fn(module, *tensors), [(kind, shape) per input])
CASES = {
    # arithmetic
    "add": (lambda m, a, b: m.add(a, b), [(R, (2, 3)), (R, (3,))]),
    "add_alpha": (lambda m, a, b: a.add(b, alpha=2.5), [(R, (2, 3)), (R, (2, 1))]),
    "sub": (lambda m, a, b: a - b, [(R, (2, 3)), (R, (2, 3))]),
    "rsub_scalar": (lambda m, a: 2.5 - a, [(R, (3,))]),
    "mul": (lambda m, a, b: a * b, [(R, (4, 1, 3)), (R, (2, 3))]),
    "div": (lambda m, a, b: m.div(a, b), [(R, (2, 3)), (P, (3,))]),
    "rdiv_scalar": (lambda m, a: 3.0 / a, [(P, (3,))]),
    "pow": (lambda m, a, b: a ** b, [(P, (2, 3)), (R, (2, 3))]),
    "pow_scalar": (lambda m, a: m.pow(a, 3), [(R, (2, 3))]),
    "pow_float": (lambda m, a: a ** 2.5, [(P, (2, 3))]),
    "rpow": (lambda m, a: 2.0 ** a, [(R, (2, 3))]),
    "maximum": (lambda m, a, b: m.maximum(a, b), [(R, (2, 3)), (R, (3,))]),
    "minimum": (lambda m, a, b: m.minimum(a, b), [(R, (2, 3)), (R, (2, 3))]),
    "where": (lambda m, a, b: m.where(a > 0, a, b), [(R, (2, 3)), (R, (2, 3))]),
    "remainder": (lambda m, a, b: m.remainder(a, b), [(P, (2, 3)), (P, (2, 3))]),
    "neg": (lambda m, a: -a, [(R, (2, 3))]),
    # elementwise
    "exp": (lambda m, a: m.exp(a), [(R, (2, 3))]),
    "expm1": (lambda m, a: a.expm1(), [(R, (2, 3))]),
    "log": (lambda m, a: m.log(a), [(P, (2, 3))]),
    "log1p": (lambda m, a: a.log1p(), [(P, (2, 3))]),
    "log2": (lambda m, a: m.log2(a), [(P, (2, 3))]),
    "log10": (lambda m, a: a.log10(), [(P, (2, 3))]),
    "sqrt": (lambda m, a: m.sqrt(a), [(P, (2, 3))]),
    "rsqrt": (lambda m, a: a.rsqrt(), [(P, (2, 3))]),
    "square": (lambda m, a: m.square(a), [(R, (2, 3))]),
    "reciprocal": (lambda m, a: a.reciprocal(), [(P, (2, 3))]),
    "sin": (lambda m, a: m.sin(a), [(R, (2, 3))]),
    "cos": (lambda m, a: a.cos(), [(R, (2, 3))]),
    "tan": (lambda m, a: m.tan(a), [(R, (2, 3))]),
    "tanh": (lambda m, a: a.tanh(), [(R, (2, 3))]),
    "sigmoid": (lambda m, a: m.sigmoid(a), [(R, (2, 3))]),
    "erf": (lambda m, a: m.erf(a), [(R, (2, 3))]),
    "relu": (lambda m, a: m.relu(a), [(A, (2, 3))]),
    "abs": (lambda m, a: a.abs(), [(A, (2, 3))]),
    "sign": (lambda m, a: m.sign(a), [(A, (2, 3))]),
    "floor": (lambda m, a: a.floor(), [(R, (2, 3))]),
    "ceil": (lambda m, a: m.ceil(a), [(R, (2, 3))]),
    "round": (lambda m, a: a.round(), [(R, (2, 3))]),
    "trunc": (lambda m, a: m.trunc(a), [(R, (2, 3))]),
    "clamp": (lambda m, a: m.clamp(a, -0.5, 0.5), [(A, (2, 3))]),
    "clamp_min": (lambda m, a: a.clamp(min=0.1), [(A, (2, 3))]),
    # reductions
    "sum": (lambda m, a: a.sum(), [(R, (2, 3))]),
    "sum_dim": (lambda m, a: m.sum(a, 1), [(R, (2, 3))]),
    "sum_dims_keepdim": (lambda m, a: a.sum((0, 2), keepdim=True), [(R, (2, 3, 2))]),
    "mean": (lambda m, a: a.mean(), [(R, (2, 3))]),
    "mean_dim": (lambda m, a: m.mean(a, -1, keepdim=True), [(R, (2, 3))]),
    "var": (lambda m, a: a.var(), [(R, (2, 3))]),
    "var_dim": (lambda m, a: m.var(a, 0, correction=0), [(R, (3, 2))]),
    "std": (lambda m, a: a.std(1), [(R, (2, 3))]),
    "prod": (lambda m, a: a.prod(), [(R, (2, 3))]),
    "prod_dim": (lambda m, a: m.prod(a, 1), [(R, (2, 3))]),
    "amax": (lambda m, a: m.amax(a, 1), [(D, (2, 3))]),
    "amin": (lambda m, a: a.amin((0, 1)), [(D, (2, 3))]),
    "max": (lambda m, a: a.max(), [(D, (2, 3))]),
    "max_dim": (lambda m, a: m.max(a, 1).values, [(D, (2, 3))]),
    "min_dim": (lambda m, a: a.min(0, keepdim=True)[0], [(D, (2, 3))]),
    "logsumexp": (lambda m, a: m.logsumexp(a, 1), [(R, (2, 3))]),
    "norm": (lambda m, a: a.norm(), [(R, (2, 3))]),
    "norm_p1_dim": (lambda m, a: m.norm(a, 1, dim=1), [(A, (2, 3))]),
    "norm_p3": (lambda m, a: a.norm(3), [(A, (2, 3))]),
    # shape
    "reshape": (lambda m, a: a.reshape(3, 2) * 2, [(R, (2, 3))]),
    "view": (lambda m, a: a.view(-1), [(R, (2, 3))]),
    "permute": (lambda m, a: a.permute(2, 0, 1), [(R, (2, 3, 2))]),
    "transpose": (lambda m, a: m.transpose(a, 0, 1), [(R, (2, 3))]),
    "t": (lambda m, a: a.t(), [(R, (2, 3))]),
    "mT": (lambda m, a: a.mT, [(R, (2, 2, 3))]),
    "expand": (lambda m, a: a.expand(2, 3, 2), [(R, (3, 1))]),
    "repeat": (lambda m, a: a.repeat(2, 1, 2), [(R, (2, 3))]),
    "squeeze": (lambda m, a: a.squeeze(), [(R, (1, 3, 1))]),
    "squeeze_dim": (lambda m, a: m.squeeze(a, 0), [(R, (1, 3, 1))]),
    "unsqueeze": (lambda m, a: a.unsqueeze(1), [(R, (2, 3))]),
    "flatten": (lambda m, a: m.flatten(a), [(R, (2, 3, 2))]),
    "unflatten": (lambda m, a: a.unflatten(1, (2, 2)), [(R, (3, 4))]),
    "movedim": (lambda m, a: m.movedim(a, 0, -1), [(R, (2, 3, 2))]),
    # matrix products
    "matmul": (lambda m, a, b: a @ b, [(R, (2, 3)), (R, (3, 4))]),
    "matmul_batched": (lambda m, a, b: m.matmul(a, b), [(R, (2, 1, 2, 3)), (R, (3, 3, 2))]),
    "matmul_vec": (lambda m, a, b: a @ b, [(R, (3,)), (R, (2, 3, 4))]),
    "mm": (lambda m, a, b: m.mm(a, b), [(R, (2, 3)), (R, (3, 2))]),
    "bmm": (lambda m, a, b: a.bmm(b), [(R, (2, 2, 3)), (R, (2, 3, 2))]),
    "dot": (lambda m, a, b: m.dot(a, b), [(R, (4,)), (R, (4,))]),
    "mv": (lambda m, a, b: a.mv(b), [(R, (2, 3)), (R, (3,))]),
    "outer": (lambda m, a, b: m.outer(a, b), [(R, (2,)), (R, (3,))]),
    # copies
    "clone": (lambda m, a: a.clone(), [(R, (2, 3))]),
    "contiguous": (lambda m, a: a.t().contiguous(), [(R, (2, 3))]),
    # indexing
    "getitem_select": (lambda m, a: a[1], [(R, (3, 4))]),
    "getitem_slice": (lambda m, a: a[:, 1:3], [(R, (3, 4))]),
    "getitem_step": (lambda m, a: a[::2, 1::2], [(R, (3, 4))]),
    "getitem_none_ellipsis": (lambda m, a: a[None, ..., 0], [(R, (3, 4))]),
    "getitem_advanced": (lambda m, a: a[[0, 2, 2]], [(R, (3, 4))]),
    "getitem_mixed": (lambda m, a: a[1:, m.tensor([3, 0, 3])], [(R, (3, 4))]),
    "getitem_pairs": (lambda m, a: a[m.tensor([0, 2]), m.tensor([1, 1])], [(R, (3, 4))]),
    "getitem_mask": (lambda m, a: a[a > 0], [(R, (3, 4))]),
    "setitem": (_setitem, [(R, (3, 4)), (R, (2,))]),
    "setitem_mask": (_setitem_mask, [(R, (3, 4))]),
    "gather": (lambda m, a: a.gather(1, m.tensor([[0, 2], [1, 1], [3, 0]])), [(R, (3, 4))]),
    "scatter": (lambda m, a, s: a.scatter(1, m.tensor([[0, 2], [1, 3], [3, 0]]), s), [(R, (3, 4)), (R, (3, 2))]),
    "scatter_value": (lambda m, a: m.scatter(a, 0, m.tensor([[2, 0]]), 1.5), [(R, (3, 4))]),
    # src as large as index: torch's own double backward rejects a larger src
    "scatter_add": (lambda m, a, s: m.scatter_add(a, 1, m.tensor([[0, 0], [1, 3], [3, 3]]), s),
                    [(R, (3, 4)), (R, (3, 2))]),
    "index_select": (lambda m, a: m.index_select(a, 1, m.tensor([3, 0, 3])), [(R, (3, 4))]),
    "index_add": (lambda m, a, s: a.index_add(0, m.tensor([2, 2]), s, alpha=2.0), [(R, (3, 4)), (R, (2, 4))]),
    "masked_fill": (lambda m, a: a.masked_fill(m.tensor([True, False, True, False]), 0.5), [(R, (3, 4))]),
    "masked_fill_tensor": (lambda m, a, v: m.masked_fill(a, a > 0, v), [(R, (3, 4)), (R, ())]),
    "take_along_dim": (lambda m, a: m.take_along_dim(a, m.tensor([[1], [0], [3]]), 1), [(R, (3, 4))]),
    # joining and splitting
    "cat": (lambda m, a, b: m.cat([a, b], 1), [(R, (2, 3)), (R, (2, 1))]),
    "stack": (lambda m, a, b: m.stack((a, b), -1), [(R, (2, 3)), (R, (2, 3))]),
    "split": (lambda m, a: a.split(2)[1], [(R, (5, 2))]),
    "split_sizes": (lambda m, a: m.split(a, [1, 3], 1)[1], [(R, (2, 4))]),
    "chunk": (lambda m, a: a.chunk(3)[0], [(R, (5, 2))]),
    "unbind": (lambda m, a: m.unbind(a, 1)[2], [(R, (2, 3))]),
    "narrow": (lambda m, a: a.narrow(1, 1, 2), [(R, (2, 4))]),
    "select": (lambda m, a: m.select(a, 1, -1), [(R, (2, 4))]),
    # softmax
    "softmax": (lambda m, a: m.softmax(a, 1), [(R, (2, 3))]),
    "log_softmax": (lambda m, a: a.log_softmax(0), [(R, (2, 3))]),
    # misc
    "cumsum": (lambda m, a: m.cumsum(a, 1), [(R, (2, 3))]),
    "flip": (lambda m, a: a.flip((0, 1)), [(R, (2, 3))]),
    "tril": (lambda m, a: m.tril(a, -1), [(R, (3, 3))]),
    "triu": (lambda m, a: a.triu(1), [(R, (2, 3, 3))]),
    "sort": (lambda m, a: m.sort(a, 1, descending=True).values, [(D, (2, 4))]),
    "topk": (lambda m, a: a.topk(2, dim=0).values, [(D, (4, 3))]),
    # in place
    "inplace_chain": (_inplace_chain, [(R, (2, 3)), (R, (3,))]),
}


def _inputs(specs, seed):
    rng = np.random.default_rng(seed)
    arrays = [_array(kind, shape, rng) for kind, shape in specs]
    ours = [distgrad.tensor(a, dtype=distgrad.float64, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    return ours, theirs


def _np(t):
    if t is None:
        return None
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)  # force: torch may hand back a ZeroTensor
    return t.detach().numpy()


def _close(ours, theirs, what):
    if theirs is None or ours is None:
        assert ours is None or not np.any(ours), f"{what}: torch has no gradient here but distgrad has {ours}"
        assert theirs is None or not np.any(theirs), f"{what}: distgrad has no gradient here but torch has {theirs}"
        return
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_derivatives_match_torch(name):
    fn, specs = CASES[name]
    ours, theirs = _inputs(specs, RNG_SEED)
    out_d, out_t = fn(distgrad, *ours), fn(torch, *theirs)
    assert tuple(out_d.shape) == tuple(out_t.shape)
    assert str(out_d.dtype).split(".")[-1] == str(out_t.dtype).split(".")[-1]
    _close(_np(out_d), _np(out_t), f"{name}: forward values")

    # first derivatives, with a random output gradient that itself requires grad
    rng = np.random.default_rng(RNG_SEED + 1)
    g = rng.standard_normal(tuple(out_t.shape))
    g_d = distgrad.tensor(g, dtype=distgrad.float64, requires_grad=True)
    g_t = torch.tensor(g, dtype=torch.float64, requires_grad=True)
    grads_d = distgrad.autograd.grad(out_d, ours, g_d, create_graph=True, allow_unused=True)
    grads_t = torch.autograd.grad(out_t, theirs, g_t, create_graph=True, allow_unused=True)
    for i, (a, b) in enumerate(zip(grads_d, grads_t)):
        _close(_np(a), _np(b), f"{name}: d out / d input {i}")

    # second derivatives: differentiate <grads, v> w.r.t. the inputs and the output gradient
    vs = [rng.standard_normal(tuple(t.shape)) for t in theirs]
    s_d = sum((gd * distgrad.tensor(v)).sum() for gd, v in zip(grads_d, vs) if gd is not None)
    s_t = sum((gt * torch.tensor(v)).sum() for gt, v in zip(grads_t, vs) if gt is not None)
    if not isinstance(s_t, torch.Tensor) or not s_t.requires_grad:
        return
    second_d = distgrad.autograd.grad(s_d, ours + [g_d], allow_unused=True)
    second_t = torch.autograd.grad(s_t, theirs + [g_t], allow_unused=True)
    for i, (a, b) in enumerate(zip(second_d, second_t)):
        _close(_np(a), _np(b), f"{name}: second derivative w.r.t. input {i}")


# ops whose distgrad node is named differently from torch's, because distgrad composes them of
# other ops (the values and derivatives above still match)
COMPOSED = {
    "log2", "log10", "tan", "reciprocal", "square", "rsub_scalar", "rdiv_scalar",  # elementwise compositions
    "mean", "mean_dim", "var", "var_dim", "std", "logsumexp", "norm", "norm_p1_dim", "norm_p3",  # reductions
    "matmul_batched", "matmul_vec",  # torch reshapes around mm here (UnsafeViewBackward0)
}


@pytest.mark.parametrize("name", sorted(set(CASES) - COMPOSED))
def test_grad_fn_names_match_torch(name):
    fn, specs = CASES[name]
    ours, theirs = _inputs(specs, RNG_SEED)
    assert fn(distgrad, *ours).grad_fn.name() == fn(torch, *theirs).grad_fn.name()


# ops with integer or bool results: values and dtypes only
NON_DIFF = {
    "argmax": lambda m, a: a.argmax(1),
    "argmin": lambda m, a: m.argmin(a),
    "argsort": lambda m, a: m.argsort(a, 0, descending=True),
    "sort_indices": lambda m, a: a.sort().indices,
    "topk_indices": lambda m, a: m.topk(a, 2, largest=False).indices,
    "max_indices": lambda m, a: a.max(0).indices,
    "nonzero": lambda m, a: m.nonzero(a > 0),
    "count_nonzero": lambda m, a: m.count_nonzero(a > 0, dim=1),
    "all": lambda m, a: (a > -1).all(1),
    "any": lambda m, a: m.any(a > 1),
    "isnan": lambda m, a: m.isnan(a.log()),
    "isfinite": lambda m, a: a.log().isfinite(),
    "compare": lambda m, a: (a > 0) & (a < 1) | (a == a[0]),
    "floor_divide": lambda m, a: a // 0.3,
    "int_mul_float": lambda m, a: (a > 0).long() * 2.5,
    "int_div": lambda m, a: m.tensor([1, 2, 3]) / m.tensor([2, 2, 2]),
    "int_sum": lambda m, a: (a > 0).sum(),
    "int_cumsum": lambda m, a: m.cumsum((a > 0).int(), 0),
    "bool_add": lambda m, a: (a > 0) + m.tensor([1], dtype=m.int8),
    "zero_dim_no_upcast": lambda m, a: a.float() + m.tensor(1.0, dtype=m.float64),
}


@pytest.mark.parametrize("name", sorted(NON_DIFF))
def test_non_differentiable_results_match_torch(name):
    fn = NON_DIFF[name]
    a = np.random.default_rng(RNG_SEED).standard_normal((3, 4))
    out_d = fn(distgrad, distgrad.tensor(a))
    out_t = fn(torch, torch.tensor(a))
    assert str(out_d.dtype).split(".")[-1] == str(out_t.dtype).split(".")[-1]
    np.testing.assert_array_equal(out_d.numpy(), out_t.numpy())
