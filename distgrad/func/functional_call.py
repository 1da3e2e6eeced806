"""``torch.func.functional_call``: run a module with some of its parameters and buffers replaced, for one call.

The given tensors stand in for the module's own under their ``state_dict``
names while ``module(*args, **kwargs)`` runs, and the module gets its own
back afterwards, even if the call raises.  With ``tie_weights`` (the
default), a replacement for one name of a tied tensor (a weight shared by two
layers) replaces it under every name, as PyTorch does; ``strict`` requires a
replacement for every parameter and buffer and nothing else.

Example::

    >>> import distgrad
    >>> lin = distgrad.nn.Linear(2, 1, bias=False)
    >>> functional_call(lin, {"weight": distgrad.tensor([[1.0, 2.0]])}, (distgrad.tensor([3.0, 4.0]),))
    tensor([11.])
"""
from distgrad.autograd.tensor import Tensor


def _owner(module, name):
    parts = name.split(".")
    for p in parts[:-1]:
        module = getattr(module, p)
    return module, parts[-1]


def _named_tensors(module):
    """Every parameter and buffer by every name it has (tied tensors appear under each)."""
    named = list(module.named_parameters(remove_duplicate=False))
    named += list(module.named_buffers(remove_duplicate=False))
    return named


def _merged(dicts):
    if isinstance(dicts, dict):
        return dict(dicts)
    out = {}
    for d in dicts:
        for k, v in d.items():
            if k in out:
                raise ValueError(f"{k} appeared in multiple dictionaries; behavior of functional call is ambiguous")
            out[k] = v
    return out


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the tensors in ``parameter_and_buffer_dicts`` in place of its own."""
    replace = _merged(parameter_and_buffer_dicts)
    named = _named_tensors(module)
    names = {n for n, _ in named}
    if tie_weights:
        by_tensor = {}
        for n, t in named:
            by_tensor.setdefault(id(t), []).append(n)
        for group in by_tensor.values():
            given = [n for n in group if n in replace]
            if given:
                first = replace[given[0]]
                for n in given[1:]:
                    if replace[n] is not first:
                        raise ValueError(f"functional_call got multiple values for keys {given}, which are tied. "
                                         "Consider using tie_weights=False")
                for n in group:
                    replace.setdefault(n, first)
    if strict:
        missing = sorted(names - set(replace))
        unexpected = sorted(set(replace) - names)
        if missing or unexpected:
            parts = ([f"Unexpected key(s): {', '.join(map(repr, unexpected))}."] if unexpected else []) + \
                    ([f"Missing key(s): {', '.join(map(repr, missing))}."] if missing else [])
            raise RuntimeError("Error(s) in reparametrizing for " + type(module).__name__ + ":\n\t" + "\n\t".join(parts))
    saved = []
    try:
        for name, value in replace.items():
            owner, leaf = _owner(module, name)
            registry = owner._parameters if leaf in owner._parameters else owner._buffers \
                if leaf in owner._buffers else None
            if registry is None:
                old = owner.__dict__.get(leaf, _MISSING)
                saved.append((owner.__dict__, leaf, old))
                owner.__dict__[leaf] = value
                continue
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"functional_call: {name} must be a Tensor, got {type(value).__name__}")
            saved.append((registry, leaf, registry[leaf]))
            registry[leaf] = value
        if args is None:
            args = ()
        elif not isinstance(args, tuple):
            args = (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for store, leaf, old in reversed(saved):
            if old is _MISSING:
                del store[leaf]
            else:
                store[leaf] = old


_MISSING = object()
