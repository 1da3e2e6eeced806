"""Loading a ``state_dict`` into a Module: validate everything, then copy.

A checkpoint that does not fit (missing or unexpected keys, a wrong shape, a
value that is not a tensor) must leave the model exactly as it was, so every
key is checked before the first tensor is written, and all problems are
reported together in PyTorch's "Error(s) in loading state_dict for ..." format.

Example::

    >>> import distgrad
    >>> a, b = distgrad.nn.Linear(2, 3), distgrad.nn.Linear(2, 3)
    >>> b.load_state_dict(a.state_dict())
    <All keys matched successfully>
    >>> bool((a.weight == b.weight).all())
    True
"""
import collections
import collections.abc

from distgrad.autograd.grad_mode import no_grad
from distgrad.autograd.ops import cast
from distgrad.autograd.tensor import Tensor
from distgrad.nn.parameter import Parameter


class _IncompatibleKeys(collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` could not match (returned; raised about only when ``strict``)."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _size(shape):
    return f"distgrad.Size({list(shape)})"


def state_dict(module, destination, prefix, keep_vars):
    """Fill ``destination`` with ``prefix + dotted name -> tensor`` for parameters and persistent buffers."""
    if destination is None:
        destination = collections.OrderedDict()
    for mod_prefix, mod in module._tree(prefix):
        for name, t, _ in mod._local_state():
            destination[mod_prefix + name] = t if keep_vars else t.detach()
    return destination


def _plan(module, state_dict):
    """Match every expected key against ``state_dict``: (copies to do, missing, errors, expected keys)."""
    missing, errors, plan, expected = [], [], [], set()
    for mod_prefix, mod in module._tree():
        for name, current, is_param in mod._local_state():
            key = mod_prefix + name
            expected.add(key)
            if key not in state_dict:
                missing.append(key)
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                errors.append(f'While copying the parameter named "{key}", expected Tensor or Tensor-like '
                              f"object from checkpoint but received {type(value)}")
            elif value.shape != current.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {_size(value.shape)} "
                              f"from checkpoint, the shape in current model is {_size(current.shape)}.")
            else:
                plan.append((mod, name, current, value, is_param))
    return plan, missing, errors, expected


def load_state_dict(module, state_dict, strict, assign):
    """``Module.load_state_dict``: all-or-nothing; returns ``_IncompatibleKeys``."""
    if not isinstance(state_dict, collections.abc.Mapping):
        raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
    plan, missing, errors, expected = _plan(module, state_dict)
    unexpected = [k for k in state_dict if k not in expected]
    if strict:
        if unexpected:
            errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in unexpected)))
        if missing:
            errors.insert(0, "Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing)))
    if errors:
        raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
            module._get_name(), "\n\t".join(errors)))
    with no_grad():
        for mod, name, current, value, is_param in plan:
            if not assign:
                current.copy_(value)
            elif is_param:
                value = cast.to(value, device=current.device)
                mod._parameters[name] = Parameter(value, current.requires_grad)
            else:
                mod._buffers[name] = cast.to(value, device=current.device)
    return _IncompatibleKeys(missing, unexpected)
