"""``einsum``: sums of products named by subscript letters, as ``torch.einsum``.

The equation is parsed once into plain letters: each ellipsis becomes fresh
letters (right-aligned, so ellipsis dims broadcast), a letter repeated within
one operand takes that operand's diagonal, and a size-1 dim whose letter is
larger elsewhere is squeezed out (it broadcasts).  What is left, one
``Einsum`` node, sees operands with distinct letters of agreeing sizes.

The contraction runs two operands at a time, each pair as one batched matmul
(batch letters, free letters of each side, contracted letters), as PyTorch
does; with three or more operands the next pair is the cheapest one (a greedy
order, like opt_einsum's "greedy"); so the common two-operand cases ("bhqd,bhkd->bhqk") run on
BLAS / cuBLAS rather than on a generic einsum loop.  The gradient for one
operand is the einsum of the output gradient with the other operands, written
against ``xp``: the same code gives raw-array backward and, through
``tensor_xp``, double backward.

Example::

    >>> import distgrad
    >>> a, b = distgrad.ones(2, 3), distgrad.ones(3, 4)
    >>> distgrad.einsum("ij,jk->ik", a, b).shape
    distgrad.Size([2, 4])
    >>> distgrad.einsum("ii", distgrad.eye(3))
    tensor(3.)
"""
import math
import string

from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.layout import diagonal
from distgrad.autograd.ops.tensor_xp import xp_of
from distgrad.autograd.tensor import Tensor

# sublist integers 0..51 name these letters, in this order (so sorted ints give sorted letters)
_LETTERS = string.ascii_uppercase + string.ascii_lowercase
_ELLIPSIS = "."  # stands for "..." while parsing


def _permute(xp, a, subs, order):
    """``a`` (subscripts ``subs``) with its dims in the letter order ``order``."""
    perm = [subs.index(c) for c in order]
    return a if perm == list(range(len(perm))) else xp.transpose(a, perm)


def _sum_out(xp, a, subs, letters):
    """Sum ``a`` over the dims named by ``letters``."""
    if not letters:
        return a, subs
    axes = tuple(subs.index(c) for c in letters)
    return xp.sum(a, axis=axes), "".join(c for c in subs if c not in letters)


def _pair(xp, sa, a, sb, b, keep):
    """Contract two operands as one batched matmul; ``keep`` are the letters still needed afterwards."""
    a, sa = _sum_out(xp, a, sa, [c for c in sa if c not in sb and c not in keep])
    b, sb = _sum_out(xp, b, sb, [c for c in sb if c not in sa and c not in keep])
    size = dict(zip(sa, a.shape))
    size.update(zip(sb, b.shape))
    batch = [c for c in sa if c in sb and c in keep]
    contracted = [c for c in sa if c in sb and c not in keep]
    left = [c for c in sa if c not in sb]
    right = [c for c in sb if c not in sa]

    def n(letters):
        return math.prod(size[c] for c in letters)

    a2 = _permute(xp, a, sa, batch + left + contracted).reshape((n(batch), n(left), n(contracted)))
    b2 = _permute(xp, b, sb, batch + contracted + right).reshape((n(batch), n(contracted), n(right)))
    out = xp.matmul(a2, b2).reshape(tuple(size[c] for c in batch + left + right))
    return "".join(batch + left + right), out


def contract(xp, terms, out):
    """The einsum of ``terms`` (pairs of distinct-letter subscripts and arrays) with output letters ``out``.

    Every letter of ``out`` must occur in some term; works on arrays and (through
    ``tensor_xp``) on Tensors.
    """
    terms = list(terms)
    while len(terms) > 1:
        i, j = _cheapest_pair(terms, out) if len(terms) > 2 else (0, 1)
        keep = set(out).union(*(t[0] for k, t in enumerate(terms) if k not in (i, j)))
        pair = _pair(xp, terms[i][0], terms[i][1], terms[j][0], terms[j][1], keep)
        terms = [t for k, t in enumerate(terms) if k not in (i, j)] + [pair]
    s, a = terms[0]
    a, s = _sum_out(xp, a, s, [c for c in s if c not in out])
    return _permute(xp, a, s, out)


def _cheapest_pair(terms, out):
    """The two terms to contract first: fewest multiply-adds, then the smallest result (a greedy order).

    Contracting three or more operands left to right can build a huge
    intermediate ("ij,jk,k->i" makes the i x k matrix first); the greedy choice
    of the cheapest pair avoids most such cases at the cost of O(n^3) bookkeeping.
    """
    size = {}
    for s, a in terms:
        size.update(zip(s, a.shape))
    best = None
    for i in range(len(terms)):
        for j in range(i + 1, len(terms)):
            si, sj = terms[i][0], terms[j][0]
            keep = set(out).union(*(t[0] for k, t in enumerate(terms) if k not in (i, j)))
            # letters of one side only and not kept are summed out before the product
            used = [c for c in set(si) | set(sj) if c in keep or (c in si and c in sj)]
            result = [c for c in used if c in keep]
            key = (math.prod(size[c] for c in used), math.prod(size[c] for c in result), i, j)
            best = key if best is None or key < best else best
    return best[2], best[3]


class Einsum(ArrayFunction):
    """The contraction of operands whose subscripts are distinct letters of agreeing sizes (``torch.einsum``)."""

    array_backward = True

    @staticmethod
    def forward(ctx, spec, *arrays):
        subs, out = spec
        ctx.spec = spec
        ctx.save_for_backward(*arrays)
        res = contract(xp_of(arrays[0]), list(zip(subs, arrays)), out)
        if res is arrays[0] or (len(arrays) == 1 and getattr(res, "base", None) is not None):
            res = res.copy()  # a permutation of the one input: a new tensor, not an unmarked alias
        return res

    @staticmethod
    def backward(ctx, g):
        subs, out = ctx.spec
        arrays = ctx.saved_tensors
        xp = xp_of(g)
        grads = [None]
        for k, sk in enumerate(subs):
            if not ctx.needs_input_grad[k + 1]:
                grads.append(None)
                continue
            others = [(out, g)] + [(s, a) for j, (s, a) in enumerate(zip(subs, arrays)) if j != k]
            seen = set().union(*(s for s, _ in others))
            target = "".join(c for c in sk if c in seen)
            gk = contract(xp, others, target)
            if len(target) < len(sk):  # letters of this operand only: it was summed over them
                kept = tuple(arrays[k].shape[i] if c in seen else 1 for i, c in enumerate(sk))
                gk = xp.broadcast_to(gk.reshape(kept), tuple(arrays[k].shape))
            grads.append(gk)
        return tuple(grads)


# --- parsing -------------------------------------------------------------------------------------
def _parse_term(term, i, where, start):
    """A subscript string as a list of letters and ``_ELLIPSIS``; ``start`` is its index in the equation."""
    out, pos = [], 0
    while pos < len(term):
        c = term[pos]
        if c == ".":
            if term[pos:pos + 3] != "...":
                raise RuntimeError(f"einsum(): found '.' for {where} that is not part of any ellipsis")
            if _ELLIPSIS in out:
                raise RuntimeError(f"einsum(): found '.' for {where} for which an ellipsis was already found")
            out.append(_ELLIPSIS)
            pos += 3
            continue
        if c not in _LETTERS:
            raise RuntimeError(f"einsum(): invalid subscript given at index {start + pos} in the equation string, "
                               "subscripts must be in [a-zA-Z]")
        out.append(c)
        pos += 1
    return out


def _sublist_term(sub, where):
    out = []
    for v in sub:
        if v is Ellipsis:
            if _ELLIPSIS in out:
                raise RuntimeError(f"einsum(): found '.' for {where} for which an ellipsis was already found")
            out.append(_ELLIPSIS)
        elif isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(_LETTERS):
            out.append(_LETTERS[v])
        else:
            raise RuntimeError(f"einsum(): subscript in subscript list is not within the valid range [0, 52), got {v}")
    return out


def _from_arguments(args):
    """``(terms, output or None, operands)`` from the string form or the sublist form."""
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand, or at least one "
                        "operand and its subscripts list")
    if isinstance(args[0], str):
        equation = args[0]
        operands = args[1:]
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = tuple(operands[0])
        eq = equation.replace(" ", "")
        lhs, arrow, rhs = eq.partition("->")
        pieces, start = [], 0
        for i, term in enumerate(lhs.split(",")):
            pieces.append(_parse_term(term, i, f"operand {i}", start))
            start += len(term) + 1
        output = _parse_term(rhs, 0, "output", len(lhs) + 2) if arrow else None
        if len(pieces) > len(operands):
            raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
        if len(pieces) < len(operands):
            raise RuntimeError("einsum(): more operands were provided than specified in the equation")
        return pieces, output, operands
    operands, pieces = list(args[0::2]), []
    output = None
    if len(args) % 2:  # a trailing sublist names the output
        output = _sublist_term(args[-1], "output")
        operands = operands[:-1]
    for i, sub in enumerate(args[1::2][:len(operands)]):
        pieces.append(_sublist_term(sub, f"operand {i}"))
    return pieces, output, operands


def _resolve(pieces, output, operands):
    """Replace ellipses by fresh letters and check dims; returns letter strings and the output string."""
    used = set(c for p in pieces for c in p if c != _ELLIPSIS) | set(c for c in output or () if c != _ELLIPSIS)
    ell_dims = []
    for i, (p, t) in enumerate(zip(pieces, operands)):
        n = len(p) - (1 if _ELLIPSIS in p else 0)
        if _ELLIPSIS in p:
            if n > t.ndim:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) is more than the "
                                   f"number of dimensions ({t.ndim}) for operand {i}")
            ell_dims.append(t.ndim - n)
        elif n != t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) does not match the number "
                               f"of dimensions ({t.ndim}) for operand {i} and no ellipsis was given")
        else:
            ell_dims.append(0)
    n_ell = max(ell_dims, default=0)
    fresh = [c for c in _LETTERS if c not in used]
    if n_ell > len(fresh):
        raise RuntimeError("einsum(): too many dimensions: more than 52 subscripts in all")
    ell = "".join(fresh[:n_ell])
    subs = []
    for p, k in zip(pieces, ell_dims):
        subs.append("".join(ell[n_ell - k:] if c == _ELLIPSIS else c for c in p))
    if output is None:
        counts = {}
        for p in pieces:
            for c in p:
                if c != _ELLIPSIS:
                    counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, m in counts.items() if m == 1))
    else:
        letters = set("".join(subs))
        seen = []
        for c in output:
            if c != _ELLIPSIS:
                if c not in letters:
                    raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any "
                                       "input operand")
                if c in seen:
                    raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
                seen.append(c)
        out = "".join(ell if c == _ELLIPSIS else c for c in output)
    return subs, out, ell


def _sizes(subs, operands, ell):
    """Each letter's size, broadcasting 1 against anything, with PyTorch's errors."""
    size = {}
    for i, (s, t) in enumerate(zip(subs, operands)):
        mine = {}
        for c, n in zip(s, t.shape):
            if c in mine and mine[c] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but the sizes don't match, "
                                   f"{n} != {mine[c]}")
            mine[c] = n
        for c, n in mine.items():
            prev = size.get(c, 1)
            if n != prev and n != 1 and prev != 1:
                if c in ell:
                    raise RuntimeError(f"einsum(): dimension {ell.index(c)} covered by ellipsis in operand {i} has "
                                       f"size {n} which does not broadcast with previously seen ellipsis with size "
                                       f"{prev} for the respective dimension")
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which does not broadcast "
                                   f"with previously seen size {prev}")
            size[c] = max(prev, n) if prev == 1 or n == 1 else n
    return size


def _prepare(t, s, size):
    """Take diagonals for repeated letters and squeeze out broadcast size-1 dims: distinct, agreeing letters."""
    while len(set(s)) < len(s):
        c = next(c for c in s if s.count(c) > 1)
        i = s.index(c)
        j = s.index(c, i + 1)
        t = diagonal(t, 0, i, j)
        s = s[:i] + s[i + 1:j] + s[j + 1:] + c
    drop = [i for i, c in enumerate(s) if t.shape[i] == 1 and size[c] != 1]
    if drop:
        t = t.reshape(tuple(n for i, n in enumerate(t.shape) if i not in drop))
        s = "".join(c for i, c in enumerate(s) if i not in drop)
    return t, s


def einsum(*args):
    """Sum of products over the letters of an equation such as ``"bij,bjk->bik"``.

    Supports an implicit output (the letters that occur once, in alphabetical
    order, after the ellipsis dims), ``...`` for broadcast leading dims, a letter
    repeated in one operand (its diagonal), size-1 dims that broadcast, operands
    given as one list, and the sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``.
    All operands must have one dtype.

    Example::

        >>> import distgrad
        >>> a = distgrad.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> distgrad.einsum("ij->j", a)
        tensor([4., 6.])
        >>> distgrad.einsum(a, [0, 1], [1, 0]).tolist()
        [[1.0, 3.0], [2.0, 4.0]]
    """
    pieces, output, operands = _from_arguments(args)
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): expected Tensor as element {i} in argument 1, but got {type(t).__name__}")
        if t.dtype != operands[0].dtype:
            raise RuntimeError(f"einsum(): expected scalar type {operands[0].dtype} but found {t.dtype} for "
                               f"operand {i}")
        if t.device != operands[0].device:
            raise RuntimeError(f"einsum(): Expected all tensors to be on the same device, but found at least two "
                               f"devices, {operands[0].device} and {t.device}!")
    subs, out, ell = _resolve(pieces, output, operands)
    size = _sizes(subs, operands, ell)
    ready = [_prepare(t, s, size) for t, s in zip(operands, subs)]
    return Einsum.apply((tuple(s for _, s in ready), out), *[t for t, _ in ready])
