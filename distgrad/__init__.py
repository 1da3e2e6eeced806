"""distgrad: an autograd engine, nn, optim and MPI data parallelism in plain Python over NumPy/CuPy.

The API follows PyTorch, so a script runs after ``import distgrad as torch``.

Example::

    >>> import distgrad as torch
    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> (x ** 2).sum().backward()
    >>> x.grad
    tensor([2., 4.])
"""
from distgrad import torch_alias
from distgrad import heap

heap.keep_freed_blocks()  # before any array is made: freed arrays stay in the heap (see distgrad/heap.py)

from distgrad import autograd  # noqa: F401  (binds every op to Tensor)
from distgrad import accelerator, backends  # noqa: F401,E402  (torch.accelerator, torch.backends)
from distgrad.settings import (are_deterministic_algorithms_enabled, compile,  # noqa: F401,E402,A004
                               get_float32_matmul_precision, get_num_interop_threads, get_num_threads,
                               is_deterministic_algorithms_warn_only_enabled, set_float32_matmul_precision,
                               set_num_interop_threads, set_num_threads, use_deterministic_algorithms)
from distgrad.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,  # noqa: F401
                                         is_inference_mode_enabled, no_grad, set_grad_enabled)
from distgrad.autograd.ops.arithmetic import (add, div, divide, floor_divide, maximum, minimum, mul,  # noqa: F401
                                              multiply, pow, remainder, rsub, sub, subtract, true_divide,
                                              where)
from distgrad.autograd.ops.compare import (allclose, bitwise_and, bitwise_not, bitwise_or,  # noqa: F401
                                           bitwise_xor, eq, equal, ge, gt, isclose, le, logical_and,
                                           logical_not, logical_or, logical_xor, lt, ne)
from distgrad.autograd.ops.cast import clone  # noqa: F401
from distgrad.autograd.ops.counting import bincount, histc, histogram, unique, unique_consecutive  # noqa: F401
from distgrad.autograd.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: F401
from distgrad.autograd.ops.gather import (gather, index_add, index_select, scatter, scatter_add,  # noqa: F401
                                          take_along_dim)
from distgrad.autograd.ops.index import masked_fill  # noqa: F401
from distgrad.autograd.ops.join import cat, chunk, concat, concatenate, narrow, select, split, stack, unbind  # noqa: F401,E501
from distgrad.autograd.ops.softmax import log_softmax, softmax  # noqa: F401
from distgrad.autograd.ops.misc import (all, any, argsort, argwhere, count_nonzero, cumsum, flip,  # noqa: F401
                                        isfinite, isinf, isnan, nonzero, sort, topk, tril, triu)
from distgrad.autograd.ops.order import bucketize, kthvalue, median, msort, nanmedian, searchsorted  # noqa: F401
from distgrad.autograd.ops.linalg import bmm, dot, matmul, mm, mv, outer  # noqa: F401
from distgrad.autograd.ops.distance import cdist, cosine_similarity, pairwise_distance, pdist  # noqa: F401
from distgrad.autograd.ops.einsum import einsum  # noqa: F401
from distgrad.autograd.ops.composites import (addcdiv, addcmul, broadcast_shapes, broadcast_tensors,  # noqa: F401
                                              cumulative_trapezoid, diff, dist, float_power, fmax, fmin, gcd,
                                              heaviside, lcm, ldexp, logspace, ravel, trapezoid)
from distgrad.autograd.ops.composites import angle, gradient, vander  # noqa: F401
from distgrad.autograd.ops.index_put import index_copy, index_fill, index_put, masked_scatter, put  # noqa: F401
from distgrad.autograd.ops.quantile import nanquantile, quantile  # noqa: F401
from distgrad.autograd.ops.elementwise import (copysign, exp2, fmod, frac, isneginf, isposinf, logaddexp,  # noqa: F401
                                               logaddexp2, nan_to_num, sgn, signbit)
from distgrad.autograd.ops.trigonometric import (acos, acosh, asin, asinh, atan, atan2, atanh, cosh,  # noqa: F401
                                                 deg2rad, hypot, rad2deg, sinh)
from distgrad.autograd.ops.trigonometric import acos as arccos, acosh as arccosh, asin as arcsin  # noqa: F401
from distgrad.autograd.ops.trigonometric import asinh as arcsinh, atan as arctan, atan2 as arctan2  # noqa: F401
from distgrad.autograd.ops.trigonometric import atanh as arctanh  # noqa: F401
from distgrad.autograd.ops.assemble import atleast_1d, atleast_2d, atleast_3d, block_diag, cartesian_prod, meshgrid  # noqa: F401,E501
from distgrad.autograd.ops.assemble import column_stack, dstack, hstack, row_stack, vstack  # noqa: F401
from distgrad.autograd.ops.statistics import (aminmax, combinations, cov, isin, masked_select, mode,  # noqa: F401
                                              nanmean, nansum, std_mean, take, tril_indices, triu_indices,
                                              var_mean)
from distgrad.autograd.ops.layout import (diag, diag_embed, diagflat, diagonal, fliplr, flipud,  # noqa: F401
                                          repeat_interleave, roll, rot90, tile)
from distgrad.autograd.ops.products import (addbmm, addmm, addmv, addr, baddbmm, chain_matmul, cross,  # noqa: F401
                                            ger, inner, kron, lerp, tensordot, trace, vdot)
from distgrad.autograd.ops.scan import cummax, cummin, cumprod, logcumsumexp  # noqa: F401
from distgrad.autograd.ops.sampling import bernoulli, multinomial, normal, poisson  # noqa: F401
from distgrad.autograd.ops.scatter_reduce import index_reduce, scatter_reduce  # noqa: F401
from distgrad.autograd.ops.shape import movedim as moveaxis  # noqa: F401
from distgrad.autograd.ops.special_functions import (digamma, erfc, erfinv, i0, lgamma, logit, mvlgamma,  # noqa: F401
                                                     polygamma, sinc, xlogy)
from distgrad.autograd.ops.splits import dsplit, hsplit, tensor_split, vsplit  # noqa: F401
from distgrad.autograd.ops.decompositions import cholesky_legacy as cholesky  # noqa: F401
from distgrad.autograd.ops.decompositions import svd_legacy as svd  # noqa: F401
from distgrad.autograd.ops.matrix_functions import matrix_exp, matrix_power  # noqa: F401
from distgrad.autograd.ops.determinants import det, logdet, slogdet  # noqa: F401
from distgrad.autograd.ops.least_squares import pinverse  # noqa: F401
from distgrad.autograd.ops.lu import lu_unpack  # noqa: F401
from distgrad.autograd.ops.solvers import cholesky_solve, inverse, triangular_solve  # noqa: F401
from distgrad.autograd.ops.adaptive_pooling import adaptive_avg_pool1d  # noqa: F401
from distgrad.autograd.ops.pooling import avg_pool1d, max_pool1d, max_pool2d  # noqa: F401
from distgrad.autograd.ops.reduce import (amax, amin, argmax, argmin, logsumexp, max, mean, min,  # noqa: F401
                                          norm, prod, return_types, std, sum, var)
from distgrad.autograd.ops.shape import (broadcast_to, flatten, movedim, permute, reshape,  # noqa: F401
                                         squeeze, swapaxes, swapdims, t, transpose, unflatten,
                                         unsqueeze)
from distgrad.autograd.ops.rounding import ceil, floor, round, sign, trunc  # noqa: F401
from distgrad.autograd.ops.unary import (abs, clamp, clip, cos, erf, exp, expm1, log, log1p, log2,  # noqa: F401
                                         log10, neg, negative, reciprocal, relu, rsqrt, sigmoid, sin, sqrt,
                                         square, tan, tanh)
from distgrad.autograd.tensor import Size, Tensor  # noqa: F401
from distgrad.backend import device  # noqa: F401
from distgrad.creation import (arange, as_tensor, asarray, empty, empty_like, eye, from_numpy, full,  # noqa: F401
                               full_like, linspace, ones, ones_like, rand, rand_like, randint,
                               randint_like, randn, randn_like, randperm, tensor, zeros, zeros_like)
from distgrad.dtypes import (bfloat16, bool_ as bool, dtype, float16, float32, float64, get_default_dtype,  # noqa: F401
                             int8, int16, int32, int64, promote_types, result_type as _result_type,
                             set_default_dtype, uint8)
from distgrad.random import (Generator, default_generator, get_rng_state, initial_seed,  # noqa: F401
                             manual_seed, seed, set_rng_state)
from distgrad.serialization import load, save  # noqa: F401
from distgrad import special  # noqa: F401,E402  (torch.special: built on the ops above)
from distgrad import linalg  # noqa: F401,E402  (torch.linalg: built on the ops above)
from distgrad import utils  # noqa: F401,E402  (after the ops: the loaders stack and index tensors)
from distgrad import optim  # noqa: F401,E402  (after the tensor API it builds on)
from distgrad import nn  # noqa: F401,E402  (after the tensor API it builds on)
from distgrad import distributed  # noqa: F401,E402  (torch.distributed; never initialises MPI on import)
from distgrad import cuda  # noqa: F401,E402  (torch.cuda: devices, seeds; answers "no GPU" without CuPy)
from distgrad import backend  # noqa: E402
from distgrad.dtypes import from_np as _from_np  # noqa: E402

half, float, double = float16, float32, float64  # noqa: A001  (PyTorch's aliases)
short, int, long = int16, int32, int64  # noqa: A001

__version__ = "0.1.0"


def is_tensor(obj):
    """True for distgrad tensors (and Parameters)."""
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def from_dlpack(ext_tensor):
    """A tensor sharing memory with a DLPack-capable array or tensor (NumPy, CuPy, PyTorch), on its device.

    Example::

        >>> import numpy as np, distgrad
        >>> a = np.arange(3.0)
        >>> t = distgrad.from_dlpack(a); a[0] = 7.0; t
        tensor([7., 1., 2.], dtype=distgrad.float64)
    """
    arr = backend.from_dlpack(ext_tensor)
    _from_np(arr.dtype)  # a dtype distgrad has, or TypeError
    return Tensor._make(arr)


def result_type(tensor1, tensor2):
    """The dtype PyTorch's promotion gives an op on these two operands."""
    return _result_type(tensor1, tensor2)

__getattr__ = torch_alias.missing_attribute(__name__)  # a missing name says so, with PyTorch's name
