"""Device parity cases for the tensor library beyond arithmetic (issue #25): products, layout, scans,
order statistics, counting, distances, special functions and linear algebra.

Same form as :mod:`device_cases` (which merges these into its tables): a case takes the module
first (distgrad, ``torch``, or ``On(device)``), so the CPU run against PyTorch checks a case before a
GPU ever runs it.  Tuple results are reduced to the one differentiable tensor (``.values``,
``.logabsdet``, one piece of a split).  Square matrices that must be invertible or positive
definite are built from the random input (``a @ a.mT + 3 I``), so every case is well conditioned.
"""
R, P, D, U = "randn", "pos", "distinct", "unit"


def _spd(m, a):
    """A well-conditioned symmetric positive definite matrix from any square ``a``."""
    return a @ a.mT + 3 * m.eye(a.shape[-1], dtype=m.float64)


def _shifted(m, a):
    """``a + 3 I``: invertible for the small standard-normal matrices used here."""
    return a + 3 * m.eye(a.shape[-1], dtype=m.float64)


# name -> (fn(m, *tensors), [(kind, shape) per input])
TENSOR_OPS = {
    # products
    "addmm": (lambda m, c, a, b: m.addmm(c, a, b, beta=0.5, alpha=2.0), [(R, (5,)), (R, (3, 4)), (R, (4, 5))]),
    "addmv": (lambda m, c, a, v: m.addmv(c, a, v, alpha=-1.5), [(R, (3,)), (R, (3, 4)), (R, (4,))]),
    "addr": (lambda m, c, u, v: m.addr(c, u, v, beta=2.0), [(R, (3, 4)), (R, (3,)), (R, (4,))]),
    "addbmm": (lambda m, c, x, y: m.addbmm(c, x, y, beta=0.5, alpha=2.0),
               [(R, (3, 5)), (R, (2, 3, 4)), (R, (2, 4, 5))]),
    "baddbmm": (lambda m, c, x, y: m.baddbmm(c, x, y, alpha=0.5), [(R, (2, 3, 5)), (R, (2, 3, 4)), (R, (2, 4, 5))]),
    "chain_matmul": (lambda m, a, b, c: m.linalg.multi_dot([a, b, c]) + m.chain_matmul(a, b, c),
                     [(R, (2, 3)), (R, (3, 4)), (R, (4, 2))]),
    "einsum": (lambda m, a, b: m.einsum("bij,bjk->bik", a, b), [(R, (2, 3, 4)), (R, (2, 4, 5))]),
    "einsum_ellipsis_diagonal": (lambda m, a: m.einsum("...ii->...i", a), [(R, (2, 3, 3))]),
    "tensordot": (lambda m, a, b: m.tensordot(a, b, dims=([1, 2], [0, 1])), [(R, (2, 3, 4)), (R, (3, 4, 5))]),
    "inner": (lambda m, a, b: m.inner(a, b), [(R, (2, 3)), (R, (4, 3))]),
    "vdot": (lambda m, a, b: m.vdot(a, b), [(R, (4,)), (R, (4,))]),
    "ger": (lambda m, u, v: m.ger(u, v), [(R, (3,)), (R, (4,))]),
    "kron": (lambda m, a, b: m.kron(a, b), [(R, (2, 3)), (R, (2, 2))]),
    "trace": (lambda m, a: m.trace(a), [(R, (3, 4))]),
    "lerp": (lambda m, a, b, w: m.lerp(a, b, w), [(R, (3, 4)), (R, (3, 4)), (U, (4,))]),
    # layout: flips, rolls, diagonals, tiles, splits
    "fliplr": (lambda m, a: m.fliplr(a), [(R, (3, 4))]),
    "flipud": (lambda m, a: m.flipud(a), [(R, (3, 4, 2))]),
    "roll": (lambda m, a: m.roll(a, (1, -2), (0, 1)), [(R, (3, 4))]),
    "rot90": (lambda m, a: m.rot90(a, 3, (1, 2)), [(R, (2, 3, 4))]),
    "diag": (lambda m, a: m.diag(a, 1), [(R, (3, 4))]),
    "diag_vector": (lambda m, v: m.diag(v, -1), [(R, (3,))]),
    "diag_embed": (lambda m, a: m.diag_embed(a, offset=1, dim1=0, dim2=2), [(R, (2, 3))]),
    "diagflat": (lambda m, a: m.diagflat(a, -1), [(R, (2, 2))]),
    "diagonal": (lambda m, a: m.diagonal(a, 1, 1, 2), [(R, (2, 3, 4))]),
    "moveaxis": (lambda m, a: m.moveaxis(a, (0, 1), (2, 0)), [(R, (2, 3, 4))]),
    "tile": (lambda m, a: m.tile(a, (2, 1, 2)), [(R, (2, 3))]),
    "repeat_interleave": (lambda m, a: m.repeat_interleave(a, 2, dim=0), [(R, (2, 3))]),
    "repeat_interleave_tensor": (lambda m, a: m.repeat_interleave(a, m.tensor([1, 0, 2]), dim=1), [(R, (2, 3))]),
    "tensor_split": (lambda m, a: m.tensor_split(a, (1, 3), dim=1)[1], [(R, (3, 4))]),
    "hsplit": (lambda m, a: m.hsplit(a, 2)[0], [(R, (3, 4))]),
    "vsplit": (lambda m, a: m.vsplit(a, [1])[1], [(R, (3, 4))]),
    "dsplit": (lambda m, a: m.dsplit(a, 2)[1], [(R, (2, 2, 4))]),
    "atleast_1d": (lambda m, a: m.atleast_1d(a), [(R, ())]),
    "atleast_2d": (lambda m, a: m.atleast_2d(a), [(R, (3,))]),
    "atleast_3d": (lambda m, a: m.atleast_3d(a), [(R, (2, 3))]),
    "block_diag": (lambda m, a, b: m.block_diag(a, b), [(R, (2, 3)), (R, (1, 2))]),
    "cartesian_prod": (lambda m, a, b: m.cartesian_prod(a, b), [(R, (3,)), (R, (2,))]),
    "meshgrid": (lambda m, a, b: m.meshgrid(a, b, indexing="ij")[1] * m.meshgrid(a, b, indexing="xy")[0].mT,
                 [(R, (3,)), (R, (2,))]),
    # scans
    "cumprod": (lambda m, a: m.cumprod(a, 1), [(R, (3, 4))]),
    "cummax": (lambda m, a: m.cummax(a, 1).values, [(D, (3, 4))]),
    "cummin": (lambda m, a: m.cummin(a, 0).values, [(D, (3, 4))]),
    "logcumsumexp": (lambda m, a: m.logcumsumexp(a, 0), [(R, (3, 4))]),
    # order statistics
    "kthvalue": (lambda m, a: m.kthvalue(a, 2, 1).values, [(D, (3, 4))]),
    "median": (lambda m, a: m.median(a, 1).values + m.median(a), [(D, (3, 4))]),
    "nanmedian": (lambda m, a: m.nanmedian(a, 0, keepdim=True).values, [(D, (3, 4))]),
    "msort": (lambda m, a: m.msort(a), [(D, (3, 4))]),
    # scatter / index reductions
    "scatter_reduce": (lambda m, a, s: m.scatter_reduce(a, 1, m.tensor([[0, 1, 0], [2, 2, 1], [3, 0, 0]]), s, "sum"),
                       [(R, (3, 4)), (R, (3, 3))]),
    "scatter_reduce_mean_exclude_self": (
        lambda m, a, s: m.scatter_reduce(a, 0, m.tensor([[0, 1, 0, 2], [0, 0, 1, 2]]), s, "mean", include_self=False),
        [(R, (3, 4)), (R, (2, 4))]),
    "scatter_reduce_prod": (lambda m, a, s: m.scatter_reduce(a, 1, m.tensor([[0, 0], [1, 3], [2, 2]]), s, "prod"),
                            [(R, (3, 4)), (R, (3, 2))]),
    "index_reduce": (lambda m, a, s: m.index_reduce(a, 0, m.tensor([0, 2, 0]), s, "prod"), [(R, (3, 4)), (R, (3, 4))]),
    "index_reduce_mean": (lambda m, a, s: m.index_reduce(a, 1, m.tensor([1, 1]), s, "mean", include_self=False),
                          [(R, (3, 4)), (R, (3, 2))]),
    # distances
    "cdist": (lambda m, a, b: m.cdist(a, b), [(R, (2, 3, 4)), (R, (2, 5, 4))]),
    "cdist_p1": (lambda m, a, b: m.cdist(a, b, p=1.0), [(R, (3, 4)), (R, (5, 4))]),
    "pdist": (lambda m, a: m.pdist(a), [(R, (4, 3))]),
    "pairwise_distance": (lambda m, a, b: m.pairwise_distance(a, b, p=3.0), [(R, (3, 4)), (R, (3, 4))]),
    "cosine_similarity": (lambda m, a, b: m.cosine_similarity(a, b, dim=1), [(R, (3, 4)), (R, (3, 4))]),
    # special functions
    "erfc": (lambda m, a: m.erfc(a), [(R, (3, 4))]),
    "erfinv": (lambda m, a: m.erfinv(a * 2 - 1), [(U, (3, 4))]),
    "lgamma": (lambda m, a: m.lgamma(a * 3 - 2), [(U, (3, 4))]),
    "digamma": (lambda m, a: m.digamma(a), [(P, (3, 4))]),
    "polygamma": (lambda m, a: m.polygamma(2, a), [(P, (3, 4))]),
    "mvlgamma": (lambda m, a: m.mvlgamma(a + 1, p=3), [(P, (3, 4))]),
    "i0": (lambda m, a: m.i0(a), [(R, (3, 4))]),
    "sinc": (lambda m, a: m.sinc(a), [(R, (3, 4))]),
    "logit": (lambda m, a: m.logit(a), [(U, (3, 4))]),
    "logit_eps": (lambda m, a: m.logit(a, eps=0.2), [(U, (3, 4))]),
    "xlogy": (lambda m, a, b: m.xlogy(a, b), [(R, (3, 4)), (P, (4,))]),
    # elementwise: hyperbolic functions, atan2, hypot, copysign, fmod, frac, sgn, nan_to_num, angles
    "asin": (lambda m, a: m.asin(a * 1.8 - 0.9), [(U, (3, 4))]),
    "arcsin": (lambda m, a: m.arcsin(a - 0.5), [(U, (3, 4))]),
    "acos": (lambda m, a: m.acos(a * 1.8 - 0.9), [(U, (3, 4))]),
    "arccos": (lambda m, a: m.arccos(a - 0.5), [(U, (3, 4))]),
    "atan": (lambda m, a: m.atan(a), [(R, (3, 4))]),
    "arctan": (lambda m, a: m.arctan(a * 3), [(R, (3, 4))]),
    "exp2": (lambda m, a: m.exp2(a), [(R, (3, 4))]),
    "logaddexp": (lambda m, a, b: m.logaddexp(a * 5, b), [(R, (3, 4)), (R, (4,))]),
    "logaddexp2": (lambda m, a, b: m.logaddexp2(a, b * 5), [(R, (3, 4)), (R, (3, 4))]),
    "sinh": (lambda m, a: m.sinh(a), [(R, (3, 4))]),
    "cosh": (lambda m, a: m.cosh(a), [(R, (3, 4))]),
    "asinh": (lambda m, a: m.asinh(a), [(R, (3, 4))]),
    "arcsinh": (lambda m, a: m.arcsinh(a), [(R, (3, 4))]),
    "acosh": (lambda m, a: m.acosh(a + 1.2), [(P, (3, 4))]),
    "arccosh": (lambda m, a: m.arccosh(a * 2), [(P, (3, 4))]),
    "atanh": (lambda m, a: m.atanh(a * 1.8 - 0.9), [(U, (3, 4))]),
    "arctanh": (lambda m, a: m.arctanh(a - 0.5), [(U, (3, 4))]),
    "atan2": (lambda m, a, b: m.atan2(a, b), [(R, (3, 4)), (R, (4,))]),
    "arctan2": (lambda m, a, b: m.arctan2(a, b), [(R, (3, 4)), (R, (3, 4))]),
    "hypot": (lambda m, a, b: m.hypot(a, b), [(R, (3, 4)), (R, (4,))]),
    "copysign": (lambda m, a, b: m.copysign(a, b), [(R, (3, 4)), (R, (3, 4))]),
    "fmod": (lambda m, a, b: m.fmod(a * 3, b + 1.5), [(R, (3, 4)), (P, (4,))]),
    "frac": (lambda m, a: m.frac(a * 3), [(R, (3, 4))]),
    "sgn": (lambda m, a: m.sgn(a) * a, [(R, (3, 4))]),
    "nan_to_num": (lambda m, a: m.nan_to_num(m.log(a), neginf=-3.0), [(R, (3, 4))]),
    "deg2rad": (lambda m, a: m.deg2rad(a), [(R, (3, 4))]),
    "rad2deg": (lambda m, a: m.rad2deg(a), [(R, (3, 4))]),
    # NaN-skipping and paired reductions, selections, stacking
    "nansum": (lambda m, a: m.nansum(m.where(a > 1.0, float("nan"), a), 1), [(R, (3, 4))]),
    "nanmean": (lambda m, a: m.nanmean(m.where(a < -1.0, float("nan"), a), 0), [(R, (3, 4))]),
    "aminmax": (lambda m, a: m.aminmax(a, dim=1).min + m.aminmax(a).max, [(D, (3, 4))]),
    "std_mean": (lambda m, a: m.std_mean(a, 1)[0] * m.std_mean(a, 1)[1], [(R, (3, 4))]),
    "var_mean": (lambda m, a: m.var_mean(a, 0, correction=0)[0] + m.var_mean(a)[1], [(R, (3, 4))]),
    "masked_select": (lambda m, a: m.masked_select(a, a > 0), [(R, (3, 4))]),
    "take": (lambda m, a: m.take(a, m.tensor([[0, 7], [-1, 3]])), [(R, (3, 4))]),
    "hstack": (lambda m, a, b: m.hstack([a, b]), [(R, (3, 2)), (R, (3, 4))]),
    "vstack": (lambda m, a, b: m.vstack([a, b]), [(R, (4,)), (R, (2, 4))]),
    "row_stack": (lambda m, a, b: m.row_stack([a, b]), [(R, (2, 4)), (R, (1, 4))]),
    "dstack": (lambda m, a, b: m.dstack([a, b]), [(R, (3, 4)), (R, (3, 4))]),
    "column_stack": (lambda m, a, b: m.column_stack([a, b]), [(R, (3,)), (R, (3, 2))]),
    "quantile": (lambda m, a: m.quantile(a, m.tensor([0.2, 0.9], dtype=m.float64), dim=1), [(D, (3, 4))]),
    "nanquantile": (lambda m, a: m.nanquantile(m.where(a > 1.5, float("nan"), a), 0.6, dim=0,
                                               interpolation="midpoint"), [(D, (3, 4))]),
    # writes into positions
    "index_copy": (lambda m, a, s: m.index_copy(a, 1, m.tensor([3, 0]), s), [(R, (3, 4)), (R, (3, 2))]),
    "index_fill": (lambda m, a: m.index_fill(a, 0, m.tensor([2]), 0.5), [(R, (3, 4))]),
    "index_put": (lambda m, a, v: m.index_put(a, (m.tensor([0, 0, 2]), m.tensor([1, 1, 0])), v, accumulate=True),
                  [(R, (3, 4)), (R, (3,))]),
    "put": (lambda m, a, v: m.put(a, m.tensor([0, 11, -2]), v), [(R, (3, 4)), (R, (3,))]),
    "masked_scatter": (lambda m, a, s: m.masked_scatter(a, a > 0, s), [(R, (3, 4)), (R, (12,))]),
    "mode": (lambda m, a: m.mode((a * 2).round(), 1).values + a[:, 0], [(R, (3, 4))]),
    "cov": (lambda m, a, w: m.cov(a, aweights=w), [(R, (3, 5)), (P, (5,))]),
    "combinations": (lambda m, a: m.combinations(a, 2, with_replacement=True), [(R, (4,))]),
    "svd": (lambda m, a: m.svd(a).S, [(R, (2, 4, 3))]),
    "gradient": (lambda m, a: m.gradient(a, spacing=(0.5, 2.0), edge_order=2)[1] + m.gradient(a)[0],
                 [(R, (3, 4))]),
    # torch.vander's own backward fails in PyTorch 2.13 (an in-place write inside it), so the gradient
    # is compared through linalg.vander and torch.vander's values on a detached input
    "vander": (lambda m, a: m.linalg.vander(a, N=3).flip(-1) * m.vander(a.detach(), 3), [(R, (4,))]),
    "angle": (lambda m, a: m.angle(a) + a, [(R, (3, 4))]),
    # composed functions
    "addcmul": (lambda m, a, b, c: m.addcmul(a, b, c, value=0.5), [(R, (3, 4)), (R, (3, 4)), (R, (4,))]),
    "addcdiv": (lambda m, a, b, c: m.addcdiv(a, b, c, value=2.0), [(R, (3, 4)), (R, (3, 4)), (P, (3, 4))]),
    "fmax": (lambda m, a, b: m.fmax(m.where(a > 1, float("nan"), a), b), [(R, (3, 4)), (R, (3, 4))]),
    "fmin": (lambda m, a, b: m.fmin(a, m.where(b > 1, float("nan"), b)), [(R, (3, 4)), (R, (3, 4))]),
    "float_power": (lambda m, a: m.float_power(a, 2.5), [(P, (3, 4))]),
    "ldexp": (lambda m, a: m.ldexp(a, m.tensor([0, 1, 2, 3])), [(R, (3, 4))]),
    "diff": (lambda m, a, b: m.diff(a, n=2, dim=1, append=b), [(R, (3, 4)), (R, (3, 1))]),
    "trapezoid": (lambda m, a: m.trapezoid(a, dx=0.5), [(R, (3, 4))]),
    "cumulative_trapezoid": (lambda m, a, x: m.cumulative_trapezoid(a, x.cumsum(0)), [(R, (3, 4)), (P, (4,))]),
    "dist": (lambda m, a, b: m.dist(a, b, 3), [(R, (3, 4)), (R, (3, 4))]),
    "ravel": (lambda m, a: m.ravel(a.t()), [(R, (3, 4))]),
    "broadcast_tensors": (lambda m, a, b: m.broadcast_tensors(a, b)[1] * m.broadcast_tensors(a, b)[0],
                          [(R, (3, 1)), (R, (4,))]),
    # linear algebra bound at the top level
    "det": (lambda m, a: m.det(a), [(R, (2, 3, 3))]),
    "slogdet": (lambda m, a: m.slogdet(a).logabsdet, [(R, (2, 3, 3))]),
    "logdet": (lambda m, a: m.logdet(_spd(m, a)), [(R, (3, 3))]),
    "inverse": (lambda m, a: m.inverse(_shifted(m, a)), [(R, (2, 3, 3))]),
    "pinverse": (lambda m, a: m.pinverse(a), [(R, (3, 4))]),
    "cholesky": (lambda m, a: m.cholesky(_spd(m, a)) + m.cholesky(_spd(m, a), upper=True).mT, [(R, (2, 3, 3))]),
    "cholesky_solve": (lambda m, b, a: m.cholesky_solve(b, m.linalg.cholesky(_spd(m, a))), [(R, (3, 2)), (R, (3, 3))]),
    "matrix_exp": (lambda m, a: m.matrix_exp(a), [(R, (2, 3, 3))]),
    "triangular_solve": (lambda m, b, a: m.triangular_solve(b, _shifted(m, a).triu(), transpose=True).solution,
                         [(R, (3, 2)), (R, (3, 3))]),
    "matrix_power": (lambda m, a: m.matrix_power(a, 3), [(R, (3, 3))]),
    # P @ L + U: the permutation, and both factors' gradients through linalg.lu_factor's backward
    "lu_unpack": (lambda m, a: (lambda p, l, u: p @ l + u)(*m.lu_unpack(*m.linalg.lu_factor(a))), [(R, (2, 3, 3))]),
    "lu_solve": (lambda m, a, b: m.linalg.lu_solve(*m.linalg.lu_factor(_shifted(m, a)), b, adjoint=True),
                 [(R, (3, 3)), (R, (3, 2))]),
    "matrix_power_negative": (lambda m, a: m.matrix_power(_shifted(m, a), -2), [(R, (3, 3))]),
}

# name -> fn(m, a) with a float (3, 4) tensor; integer results, compared exactly
TENSOR_OPS_NON_DIFF = {
    "unique": lambda m, a: m.unique((a * 2).long()),
    "unique_inverse": lambda m, a: m.unique((a * 2).long(), return_inverse=True)[1],
    "unique_counts_dim": lambda m, a: m.unique((a > 0).long(), dim=1, return_counts=True)[1],
    "unique_consecutive": lambda m, a: m.unique_consecutive((a > 0).long().flatten(), return_counts=True)[1],
    "bincount": lambda m, a: m.bincount((a.abs() * 3).long().flatten(), minlength=12),
    "histc": lambda m, a: m.histc(a, bins=5, min=-2, max=2),
    "histogram": lambda m, a: m.histogram(a, 4, range=(-2.0, 2.0)).hist,
    "searchsorted": lambda m, a: m.searchsorted(a.flatten().sort().values, a * 0.9, right=True),
    "bucketize": lambda m, a: m.bucketize(a, m.tensor([-1.0, 0.0, 1.0], dtype=a.dtype)),
    "isposinf": lambda m, a: m.isposinf(a / (a > 0).to(a.dtype)),
    "isneginf": lambda m, a: m.isneginf(m.log(a.abs() * (a > 0).to(a.dtype))),
    "gcd": lambda m, a: m.gcd((a * 10).long(), m.tensor([4, 6, 9, 0])),
    "lcm": lambda m, a: m.lcm((a * 10).long(), m.tensor([4, 6, 9, 1])),
    "heaviside": lambda m, a: m.heaviside(a * (a.abs() > 0.5).to(a.dtype), a[0]),
    "logspace": lambda m, a: m.logspace(-1, 1, 5, base=2.0, dtype=a.dtype),
    "isin": lambda m, a: m.isin((a * 2).long(), m.tensor([0, 1, -1])),
    "tril_indices": lambda m, a: m.tril_indices(3, 4, 1),
    "triu_indices": lambda m, a: m.triu_indices(4, 3, -1),
    "signbit": lambda m, a: m.signbit(a * m.tensor([1.0, -1.0, 0.0, -0.0], dtype=a.dtype)),
}

# random ops: their distributions are tested in tests/autograd/test_ops_sampling.py
RANDOM_OPS = {"bernoulli", "multinomial", "normal", "poisson"}
# functions of shapes, not of tensors
SHAPE_FUNCTIONS = {"broadcast_shapes"}
