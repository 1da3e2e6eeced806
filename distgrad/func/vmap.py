"""``torch.func.vmap``: map a function over a batch dimension of its arguments.

distgrad has no batching rules, so :func:`vmap` runs ``func`` once per batch
element (the arguments sliced along their ``in_dims``) and stacks the results
along ``out_dims``: the same values as PyTorch's vmap, for any function of
distgrad ops, at a loop's speed.  ``randomness`` is honoured: ``"error"``
refuses a function that draws random numbers (the default generator's state
moved during a call), ``"same"`` gives every element the same draws,
``"different"`` independent ones.

Example::

    >>> import distgrad
    >>> vmap(lambda row: row.dot(row))(distgrad.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([ 5., 25.])
"""
from distgrad import random as _random
from distgrad.autograd.ops.join import stack
from distgrad.autograd.tensor import Tensor
from distgrad.func import pytree


def _dims_per_leaf(in_dims, args):
    """One in_dim per argument leaf: an int or None given per argument (or per leaf, in the argument's shape)."""
    if not isinstance(in_dims, tuple):
        in_dims = (in_dims,) * len(args)
    if len(in_dims) != len(args):
        raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the structure "
                         f"of `inputs`. in_dims has structure with {len(in_dims)} leaves but inputs has {len(args)}.")
    out = []
    for dims, arg in zip(in_dims, args):
        leaves, spec = pytree.flatten(arg)
        dim_leaves = pytree.flatten(dims)[0] if isinstance(dims, (tuple, list, dict)) else [dims] * len(leaves)
        if len(dim_leaves) != len(leaves):
            raise ValueError("vmap: in_dims must match the structure of its argument")
        for d, leaf in zip(dim_leaves, leaves):
            if d is not None and not isinstance(d, int):
                raise ValueError(f"vmap(f, in_dims={in_dims}, ...): expected in_dims to be int or a (potentially "
                                 f"nested) tuple matching the structure of inputs, got: {type(d)}.")
            if d is not None and not isinstance(leaf, Tensor):
                raise ValueError(f"vmap: Got in_dim={d} for an input but the input is of type {type(leaf)}. We cannot "
                                 "vmap over non-Tensor arguments, please use None as the respective in_dim")
            if d is not None and not -leaf.ndim <= d < leaf.ndim:
                raise ValueError(f"vmap: Got in_dim={d} for some input, but that input is a Tensor of dimensionality "
                                 f"{leaf.ndim} so expected in_dim to satisfy -{leaf.ndim} <= in_dim < {leaf.ndim}.")
        out.append((leaves, spec, [None if d is None else d % leaf.ndim for d, leaf in zip(dim_leaves, leaves)]))
    return out


def _batch_size(per_arg):
    sizes = [leaf.shape[d] for leaves, _, dims in per_arg for leaf, d in zip(leaves, dims) if d is not None]
    if not sizes:
        raise ValueError("vmap(f, in_dims=..., ...)(<inputs>): at least one input must be batched: got no Tensor "
                         "with an in_dim that is not None")
    if len(set(sizes)) != 1:
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    return sizes[0]


def _slice(per_arg, i):
    args = []
    for leaves, spec, dims in per_arg:
        args.append(pytree.unflatten(spec, [leaf if d is None else leaf.select(d, i) for leaf, d in zip(leaves, dims)]))
    return args


def _stack_results(results, out_dims):
    first_leaves, spec = pytree.flatten(results[0])
    dims = pytree.flatten(out_dims)[0] if isinstance(out_dims, (tuple, list)) else [out_dims] * len(first_leaves)
    if len(dims) != len(first_leaves):
        raise ValueError(f"vmap(f, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with the structure "
                         f"of `outputs`. out_dims has structure with {len(dims)} leaves but outputs has "
                         f"{len(first_leaves)}.")
    per_call = [pytree.flatten(r)[0] for r in results]
    stacked = []
    for k, (leaf, d) in enumerate(zip(first_leaves, dims)):
        if not isinstance(leaf, Tensor):
            raise ValueError(f"vmap: `{type(leaf)}` is not a Tensor: a vmapped function must return Tensors, "
                             "or tuples, lists or dicts of them")
        column = [call[k] for call in per_call]
        if d is None:
            stacked.append(leaf)
        else:
            stacked.append(stack(column, d % (leaf.ndim + 1)))
    return pytree.unflatten(spec, stacked)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` mapped over dimension ``in_dims`` of its arguments, results stacked along ``out_dims`` (a loop)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    def wrapper(*args, **kwargs):
        per_arg = _dims_per_leaf(in_dims, args)
        n = _batch_size(per_arg)
        start = _random.get_rng_state()
        results = []
        for i in range(n):
            if randomness == "same":
                _random.set_rng_state(start)
            before = _random.get_rng_state() if randomness == "error" else None
            results.append(func(*_slice(per_arg, i), **kwargs))
            if before is not None and _random.get_rng_state().numpy().tobytes() != before.numpy().tobytes():
                raise RuntimeError("vmap: called random operation while in randomness error mode. Please either use "
                                   "the 'same' or 'different' randomness flags on vmap or perform the randomness "
                                   "operation out of vmap")
        return _stack_results(results, out_dims)
    return wrapper
