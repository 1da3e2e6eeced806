"""The nested containers ``torch.func`` transforms accept: tensors inside tuples, lists and dicts, to any depth.

:func:`flatten` lists a structure's tensors (its leaves) in order with a spec
that :func:`unflatten` fills with new leaves, so a transform can compute on
the flat list and answer in the caller's structure.

Example::

    >>> leaves, spec = flatten({"w": 1, "b": (2, 3)})
    >>> leaves, unflatten(spec, [10, 20, 30])
    ([1, 2, 3], {'w': 10, 'b': (20, 30)})
"""


def flatten(tree):
    """``(leaves, spec)``: the non-container values of ``tree`` in order, and its shape."""
    if isinstance(tree, (tuple, list)):
        parts = [flatten(t) for t in tree]
        return [leaf for p in parts for leaf in p[0]], (type(tree), [p[1] for p in parts])
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [flatten(tree[k]) for k in keys]
        return [leaf for p in parts for leaf in p[0]], (dict, list(zip(keys, [p[1] for p in parts])))
    return [tree], None


def unflatten(spec, leaves):
    """The structure ``spec`` describes, with ``leaves`` in place of the old ones."""
    leaves = list(leaves)
    out, used = _build(spec, leaves, 0)
    if used != len(leaves):
        raise ValueError(f"unflatten: the structure holds {used} leaves, got {len(leaves)}")
    return out


def _build(spec, leaves, at):
    if spec is None:
        return leaves[at], at + 1
    kind, children = spec
    if kind is dict:
        out = {}
        for key, child in children:
            out[key], at = _build(child, leaves, at)
        return out, at
    items = []
    for child in children:
        item, at = _build(child, leaves, at)
        items.append(item)
    if kind is tuple or kind is list:
        return kind(items), at
    return (kind(*items) if hasattr(kind, "_fields") else kind(items)), at  # a namedtuple takes fields
