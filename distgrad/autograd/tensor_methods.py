"""Tensor methods and operators, bound one explicit line each.

Every math method of :class:`~distgrad.autograd.tensor.Tensor` is listed here,
so the whole op surface can be read in one place; the ops themselves live in
:mod:`distgrad.autograd.ops`.

Example::

    >>> import distgrad
    >>> (distgrad.ones(2) + 1).exp().sum().item() > 14
    True
"""
from distgrad.autograd.ops import arithmetic as ar
from distgrad.autograd.ops import compare as cmp
from distgrad.autograd.ops import composites as cps
from distgrad.autograd.ops import counting as cnt
from distgrad.autograd.ops import cast
from distgrad.autograd.ops import decompositions as dec
from distgrad.autograd.ops import determinants as dt
from distgrad.autograd.ops import elementwise as ew
from distgrad.autograd.ops import trigonometric as tr
from distgrad.autograd.ops import gather as ga
from distgrad.autograd.ops import index as ix
from distgrad.autograd.ops import index_put as ipt
from distgrad.autograd.ops import inplace as ip
from distgrad.autograd.ops import join as jn
from distgrad.autograd.ops import layout as lo
from distgrad.autograd.ops import least_squares as lsq
from distgrad.autograd.ops import linalg
from distgrad.autograd.ops import matrix_functions as mf
from distgrad.autograd.ops import misc
from distgrad.autograd.ops import order
from distgrad.autograd.ops import quantile as qn
from distgrad.autograd.ops import random_fill as rf
from distgrad.autograd.ops import products as pr
from distgrad.autograd.ops import reduce as rd
from distgrad.autograd.ops import rounding as rnd
from distgrad.autograd.ops import sampling as smp
from distgrad.autograd.ops import scan
from distgrad.autograd.ops import scatter_reduce as scr
from distgrad.autograd.ops import shape as sh
from distgrad.autograd.ops import softmax as sm
from distgrad.autograd.ops import splits as spl
from distgrad.autograd.ops import statistics as st
from distgrad.autograd.ops import special_functions as spf
from distgrad.autograd.ops import solvers as sv
from distgrad.autograd.ops import unary as un
from distgrad.autograd.tensor import Tensor
from distgrad import creation as cr


def _swap(fn):
    """``other OP self`` for the reflected operators."""
    return lambda self, other: fn(other, self)


# --- operators -------------------------------------------------------------------------------
Tensor.__add__ = ar.add
Tensor.__radd__ = _swap(ar.add)
Tensor.__sub__ = ar.sub
Tensor.__rsub__ = _swap(ar.sub)
Tensor.__mul__ = ar.mul
Tensor.__rmul__ = _swap(ar.mul)
Tensor.__truediv__ = ar.div
Tensor.__rtruediv__ = _swap(ar.div)
Tensor.__floordiv__ = ar.floor_divide
Tensor.__rfloordiv__ = _swap(ar.floor_divide)
Tensor.__mod__ = ar.remainder
Tensor.__rmod__ = _swap(ar.remainder)
Tensor.__pow__ = ar.pow
Tensor.__rpow__ = _swap(ar.pow)
Tensor.__matmul__ = linalg.matmul
Tensor.__rmatmul__ = _swap(linalg.matmul)
Tensor.__neg__ = un.neg
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = un.abs
Tensor.__eq__ = cmp.eq
Tensor.__ne__ = cmp.ne
Tensor.__lt__ = cmp.lt
Tensor.__le__ = cmp.le
Tensor.__gt__ = cmp.gt
Tensor.__ge__ = cmp.ge
Tensor.__and__ = cmp.bitwise_and
Tensor.__rand__ = _swap(cmp.bitwise_and)
Tensor.__or__ = cmp.bitwise_or
Tensor.__ror__ = _swap(cmp.bitwise_or)
Tensor.__xor__ = cmp.bitwise_xor
Tensor.__rxor__ = _swap(cmp.bitwise_xor)
Tensor.__invert__ = cmp.bitwise_not
Tensor.__iadd__ = ip.add_
Tensor.__isub__ = ip.sub_
Tensor.__imul__ = ip.mul_
Tensor.__itruediv__ = ip.div_

# --- arithmetic and comparison -----------------------------------------------------------------
Tensor.add = ar.add
Tensor.sub = ar.sub
Tensor.subtract = ar.sub
Tensor.mul = ar.mul
Tensor.multiply = ar.mul
Tensor.div = ar.div
Tensor.divide = ar.div
Tensor.true_divide = ar.true_divide
Tensor.floor_divide = ar.floor_divide
Tensor.remainder = ar.remainder
Tensor.pow = ar.pow
Tensor.maximum = ar.maximum
Tensor.minimum = ar.minimum
Tensor.where = lambda self, condition, other: ar.where(condition, self, other)
Tensor.eq = cmp.eq
Tensor.ne = cmp.ne
Tensor.lt = cmp.lt
Tensor.le = cmp.le
Tensor.gt = cmp.gt
Tensor.ge = cmp.ge
Tensor.logical_and = cmp.logical_and
Tensor.logical_or = cmp.logical_or
Tensor.logical_xor = cmp.logical_xor
Tensor.logical_not = cmp.logical_not
Tensor.bitwise_not = cmp.bitwise_not
Tensor.equal = cmp.equal
Tensor.allclose = cmp.allclose
Tensor.isclose = cmp.isclose

# --- elementwise functions -------------------------------------------------------------------
Tensor.neg = un.neg
Tensor.negative = un.neg
Tensor.exp = un.exp
Tensor.expm1 = un.expm1
Tensor.log = un.log
Tensor.log1p = un.log1p
Tensor.log2 = un.log2
Tensor.log10 = un.log10
Tensor.sqrt = un.sqrt
Tensor.rsqrt = un.rsqrt
Tensor.square = un.square
Tensor.reciprocal = un.reciprocal
Tensor.sin = un.sin
Tensor.cos = un.cos
Tensor.tan = un.tan
Tensor.tanh = un.tanh
Tensor.sigmoid = un.sigmoid
Tensor.relu = un.relu
Tensor.abs = un.abs
Tensor.sign = rnd.sign
Tensor.floor = rnd.floor
Tensor.ceil = rnd.ceil
Tensor.round = rnd.round
Tensor.trunc = rnd.trunc
Tensor.erf = un.erf
Tensor.erfc = spf.erfc
Tensor.erfinv = spf.erfinv
Tensor.lgamma = spf.lgamma
Tensor.digamma = spf.digamma
Tensor.polygamma = lambda self, n: spf.polygamma(n, self)  # PyTorch's method takes n after self
Tensor.mvlgamma = spf.mvlgamma
Tensor.xlogy = spf.xlogy
Tensor.i0 = spf.i0
Tensor.sinc = spf.sinc
Tensor.logit = spf.logit
Tensor.sinh = tr.sinh
Tensor.sinh_ = tr.sinh_
Tensor.cosh = tr.cosh
Tensor.cosh_ = tr.cosh_
Tensor.asinh = tr.asinh
Tensor.asinh_ = tr.asinh_
Tensor.acosh = tr.acosh
Tensor.acosh_ = tr.acosh_
Tensor.atanh = tr.atanh
Tensor.atanh_ = tr.atanh_
Tensor.atan2 = tr.atan2
Tensor.atan2_ = tr.atan2_
Tensor.hypot = tr.hypot
Tensor.hypot_ = tr.hypot_
Tensor.copysign = ew.copysign
Tensor.copysign_ = ew.copysign_
Tensor.fmod = ew.fmod
Tensor.fmod_ = ew.fmod_
Tensor.frac = ew.frac
Tensor.frac_ = ew.frac_
Tensor.sgn = ew.sgn
Tensor.sgn_ = ew.sgn_
Tensor.nan_to_num = ew.nan_to_num
Tensor.nan_to_num_ = ew.nan_to_num_
Tensor.deg2rad = tr.deg2rad
Tensor.deg2rad_ = tr.deg2rad_
Tensor.rad2deg = tr.rad2deg
Tensor.rad2deg_ = tr.rad2deg_
Tensor.arcsinh = tr.asinh
Tensor.asin = tr.asin
Tensor.asin_ = tr.asin_
Tensor.arcsin = tr.asin
Tensor.acos = tr.acos
Tensor.acos_ = tr.acos_
Tensor.arccos = tr.acos
Tensor.atan = tr.atan
Tensor.atan_ = tr.atan_
Tensor.arctan = tr.atan
Tensor.exp2 = ew.exp2
Tensor.exp2_ = ew.exp2_
Tensor.logaddexp = ew.logaddexp
Tensor.logaddexp2 = ew.logaddexp2
Tensor.isposinf = ew.isposinf
Tensor.isneginf = ew.isneginf
Tensor.arccosh = tr.acosh
Tensor.arctanh = tr.atanh
Tensor.arctan2 = tr.atan2
Tensor.signbit = ew.signbit
Tensor.addcmul = cps.addcmul
Tensor.addcdiv = cps.addcdiv
Tensor.fmax = cps.fmax
Tensor.fmin = cps.fmin
Tensor.float_power = cps.float_power
Tensor.ldexp = cps.ldexp
Tensor.heaviside = cps.heaviside
Tensor.gcd = cps.gcd
Tensor.lcm = cps.lcm
Tensor.diff = cps.diff
Tensor.dist = cps.dist
Tensor.ravel = cps.ravel
Tensor.angle = cps.angle
Tensor.clamp = un.clamp
Tensor.clip = un.clamp

# --- reductions --------------------------------------------------------------------------------
Tensor.sum = rd.sum
Tensor.mean = rd.mean
Tensor.var = rd.var
Tensor.std = rd.std
Tensor.max = rd.max
Tensor.min = rd.min
Tensor.amax = rd.amax
Tensor.amin = rd.amin
Tensor.argmax = rd.argmax
Tensor.argmin = rd.argmin
Tensor.logsumexp = rd.logsumexp
Tensor.prod = rd.prod
Tensor.norm = rd.norm

# --- shape -------------------------------------------------------------------------------------
Tensor.reshape = sh.reshape
Tensor.view = sh.view
Tensor.view_as = sh.view_as
Tensor.reshape_as = sh.reshape_as
Tensor.flatten = sh.flatten
Tensor.unflatten = sh.unflatten
Tensor.squeeze = sh.squeeze
Tensor.unsqueeze = sh.unsqueeze
Tensor.permute = sh.permute
Tensor.transpose = sh.transpose
Tensor.swapaxes = sh.swapaxes
Tensor.swapdims = sh.swapdims
Tensor.movedim = sh.movedim
Tensor.t = sh.t
Tensor.T = property(sh.T)
Tensor.mT = property(sh.mT)
Tensor.expand = sh.expand
Tensor.expand_as = sh.expand_as
Tensor.broadcast_to = sh.broadcast_to
Tensor.repeat = sh.repeat
Tensor.moveaxis = sh.movedim

# --- rearranging: rolls, flips, diagonals, windows, repeats, splits ------------------------------
Tensor.roll = lo.roll
Tensor.rot90 = lo.rot90
Tensor.fliplr = lo.fliplr
Tensor.flipud = lo.flipud
Tensor.unfold = lo.unfold
Tensor.diagonal = lo.diagonal
Tensor.diag_embed = lo.diag_embed
Tensor.diag = lo.diag
Tensor.diagflat = lo.diagflat
Tensor.tril_ = lo.tril_
Tensor.triu_ = lo.triu_
Tensor.tile = lo.tile
Tensor.repeat_interleave = lo.repeat_interleave
Tensor.tensor_split = spl.tensor_split
Tensor.hsplit = spl.hsplit
Tensor.vsplit = spl.vsplit
Tensor.dsplit = spl.dsplit

# --- matrix products ---------------------------------------------------------------------------
Tensor.matmul = linalg.matmul
Tensor.mm = linalg.mm
Tensor.bmm = linalg.bmm
Tensor.dot = linalg.dot
Tensor.mv = linalg.mv
Tensor.outer = linalg.outer
Tensor.inner = pr.inner
Tensor.vdot = pr.vdot
Tensor.kron = pr.kron
Tensor.cross = pr.cross
Tensor.ger = pr.ger
Tensor.trace = pr.trace
Tensor.addmm = pr.addmm
Tensor.addmm_ = pr.addmm_
Tensor.addmv = pr.addmv
Tensor.addmv_ = pr.addmv_
Tensor.addr = pr.addr
Tensor.addr_ = pr.addr_
Tensor.addbmm = pr.addbmm
Tensor.addbmm_ = pr.addbmm_
Tensor.baddbmm = pr.baddbmm
Tensor.baddbmm_ = pr.baddbmm_
Tensor.lerp = pr.lerp
Tensor.lerp_ = pr.lerp_

# --- linear algebra (torch.linalg's functions that PyTorch also binds to Tensor) -----------------
Tensor.det = dt.det
Tensor.logdet = dt.logdet
Tensor.slogdet = dt.slogdet
Tensor.inverse = sv.inverse
Tensor.pinverse = lsq.pinverse
Tensor.cholesky = dec.cholesky_legacy
Tensor.cholesky_solve = sv.cholesky_solve
Tensor.triangular_solve = sv.triangular_solve
Tensor.matrix_power = mf.matrix_power
Tensor.matrix_exp = mf.matrix_exp

# --- copies and conversions --------------------------------------------------------------------
Tensor.to = cast.tensor_to
Tensor.clone = cast.clone
Tensor.contiguous = cast.contiguous
Tensor.is_contiguous = cast.is_contiguous
Tensor.float = cast.float_
Tensor.double = cast.double
Tensor.half = cast.half
Tensor.long = cast.long
Tensor.int = cast.int_
Tensor.bool = cast.bool__
Tensor.cpu = cast.cpu
Tensor.cuda = cast.cuda
Tensor.type_as = cast.type_as

# --- in place ----------------------------------------------------------------------------------
Tensor.add_ = ip.add_
Tensor.sub_ = ip.sub_
Tensor.mul_ = ip.mul_
Tensor.div_ = ip.div_
Tensor.pow_ = ip.pow_
Tensor.clamp_ = ip.clamp_
Tensor.clip_ = ip.clamp_
Tensor.sigmoid_ = ip.sigmoid_
Tensor.relu_ = ip.relu_
Tensor.tanh_ = ip.tanh_
Tensor.exp_ = ip.exp_
Tensor.neg_ = ip.neg_
Tensor.fill_ = ip.fill_
Tensor.zero_ = ip.zero_
Tensor.copy_ = ip.copy_
Tensor.uniform_ = ip.uniform_
Tensor.normal_ = ip.normal_
Tensor.apply_ = ip.apply_
Tensor.map_ = ip.map_
Tensor.exponential_ = rf.exponential_
Tensor.geometric_ = rf.geometric_
Tensor.log_normal_ = rf.log_normal_
Tensor.cauchy_ = rf.cauchy_
Tensor.random_ = rf.random_
Tensor.bernoulli = smp.bernoulli
Tensor.multinomial = smp.multinomial

# --- indexing ----------------------------------------------------------------------------------
Tensor.__getitem__ = ix.getitem
Tensor.__setitem__ = ix.tensor_setitem
Tensor.gather = ga.gather
Tensor.scatter = ga.scatter
Tensor.scatter_ = ga.scatter_
Tensor.scatter_add = ga.scatter_add
Tensor.scatter_add_ = ga.scatter_add_
Tensor.scatter_reduce = scr.scatter_reduce
Tensor.scatter_reduce_ = scr.scatter_reduce_
Tensor.index_reduce = scr.index_reduce
Tensor.take_along_dim = ga.take_along_dim
Tensor.index_copy = ipt.index_copy
Tensor.index_copy_ = ipt.index_copy_
Tensor.index_fill = ipt.index_fill
Tensor.index_fill_ = ipt.index_fill_
Tensor.index_put = ipt.index_put
Tensor.index_put_ = ipt.index_put_
Tensor.put = ipt.put
Tensor.put_ = ipt.put_
Tensor.masked_scatter = ipt.masked_scatter
Tensor.masked_scatter_ = ipt.masked_scatter_
Tensor.index_select = ga.index_select
Tensor.index_add = ga.index_add
Tensor.index_add_ = ga.index_add_
Tensor.masked_fill = ix.masked_fill
Tensor.masked_fill_ = ix.masked_fill_

# --- joining and splitting ---------------------------------------------------------------------
Tensor.split = jn.split
Tensor.chunk = jn.chunk
Tensor.unbind = jn.unbind
Tensor.narrow = jn.narrow
Tensor.select = jn.select

# --- softmax -----------------------------------------------------------------------------------
Tensor.softmax = sm.softmax
Tensor.log_softmax = sm.log_softmax

# --- tests, searches, sorting, triangles -------------------------------------------------------
Tensor.all = misc.all
Tensor.any = misc.any
Tensor.isnan = misc.isnan
Tensor.isinf = misc.isinf
Tensor.isfinite = misc.isfinite
Tensor.nonzero = misc.nonzero
Tensor.argwhere = misc.argwhere
Tensor.count_nonzero = misc.count_nonzero
Tensor.cumsum = misc.cumsum
Tensor.cumsum_ = scan.cumsum_
Tensor.cumprod = scan.cumprod
Tensor.cumprod_ = scan.cumprod_
Tensor.cummax = scan.cummax
Tensor.cummin = scan.cummin
Tensor.logcumsumexp = scan.logcumsumexp
Tensor.flip = misc.flip
Tensor.tril = misc.tril
Tensor.triu = misc.triu
Tensor.sort = misc.sort
Tensor.argsort = misc.argsort
Tensor.topk = misc.topk
Tensor.kthvalue = order.kthvalue
Tensor.median = order.median
Tensor.nanmedian = order.nanmedian
Tensor.msort = order.msort
Tensor.unique = cnt.unique
Tensor.unique_consecutive = cnt.unique_consecutive
Tensor.bincount = cnt.bincount
Tensor.histc = cnt.histc
Tensor.histogram = cnt.histogram
Tensor.nansum = st.nansum
Tensor.mode = st.mode
Tensor.new_zeros = cr.new_zeros
Tensor.new_ones = cr.new_ones
Tensor.new_empty = cr.new_empty
Tensor.new_full = cr.new_full
Tensor.new_tensor = cr.new_tensor
Tensor.addcmul_ = cps.addcmul_
Tensor.addcdiv_ = cps.addcdiv_
Tensor.bernoulli_ = rf.bernoulli_
Tensor.fill_diagonal_ = ipt.fill_diagonal_
Tensor.abs_ = ip.inplace_variant(un.abs, "abs_")
Tensor.quantile = qn.quantile
Tensor.nanquantile = qn.nanquantile
Tensor.nanmean = st.nanmean
Tensor.aminmax = st.aminmax
Tensor.masked_select = st.masked_select
Tensor.take = st.take
