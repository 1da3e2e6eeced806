"""Optimizer checkpoints: ``state_dict()`` packing and ``load_state_dict()`` checking and casting.

PyTorch's layout, so checkpoints line up with ``torch.optim``'s::

    {"state": {0: {"step": tensor(3.), "exp_avg": tensor([...]), ...}, ...},
     "param_groups": [{"lr": 0.001, ..., "params": [0, 1]}, ...]}

Parameters are replaced by their position across all groups (first seen,
first numbered), so a dict saved from one copy of a model loads into an
optimizer built over another.  Loading checks everything first (group count
and sizes, the shapes of parameter-shaped state) and only then replaces the
optimizer's state and groups, so a failed load changes nothing.  Loaded
tensors are copied onto their parameter's device and dtype; ``step`` counters
keep their own dtype (float32 on the device under ``capturable`` / ``fused``).

The :class:`~distgrad.optim.Optimizer` methods ``state_dict`` and
``load_state_dict`` run their hooks around :func:`pack` and :func:`load`.

Example::

    >>> import distgrad
    >>> from distgrad.optim import optimizer_state
    >>> w = distgrad.zeros(2, requires_grad=True)
    >>> optimizer_state.pack(distgrad.optim.SGD([w], lr=0.1))["param_groups"][0]["params"]
    [0]
"""
import copy
from collections import defaultdict

from distgrad import backend
from distgrad import dtypes
from distgrad.autograd.raw import array_of
from distgrad.autograd.tensor import Tensor


def scalar_dtype():
    """The dtype of ``state['step']``: float64 when that is the default dtype, else float32."""
    return dtypes.float64 if dtypes.get_default_dtype() is dtypes.float64 else dtypes.float32


def pack(optimizer):
    """``optimizer``'s state and groups in PyTorch's layout (parameters as positions)."""
    index = {}
    groups = []
    for group in optimizer.param_groups:
        packed = {k: v for k, v in group.items() if k != "params"}
        for p in group["params"]:
            index.setdefault(id(p), len(index))
        packed["params"] = [index[id(p)] for p in group["params"]]
        groups.append(packed)
    state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in optimizer.state.items()}
    return {"state": state, "param_groups": groups}


def load(optimizer, state_dict):
    """Check ``state_dict`` against ``optimizer``, then make it the optimizer's state and groups.

    Raises (changing nothing) on a missing entry, a different group count or
    size, or parameter-shaped state of the wrong shape.
    """
    if "state" not in state_dict or "param_groups" not in state_dict:
        raise KeyError("optimizer state dict must have 'state' and 'param_groups' entries, "
                       f"got {sorted(map(str, state_dict))}")
    groups = optimizer.param_groups
    saved_groups = copy.deepcopy(state_dict["param_groups"])
    if len(groups) != len(saved_groups):
        raise ValueError("loaded state dict has a different number of parameter groups")
    if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
        raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                         "optimizer's group")
    id_map = {}
    options = {}
    for group, saved in zip(groups, saved_groups):
        for saved_id, p in zip(saved["params"], group["params"]):
            id_map[saved_id] = p
            options[saved_id] = saved
    state = defaultdict(dict)
    for key, value in state_dict["state"].items():
        if key in id_map:
            p = id_map[key]
            _check_loaded_state(optimizer, key, p, value)
            state[p] = _cast_state(p, value, options[key])
        else:
            state[key] = value
    new_groups = []
    for group, saved in zip(groups, saved_groups):
        saved["params"] = group["params"]
        if "param_names" in group and "param_names" not in saved:
            saved["param_names"] = group["param_names"]
        optimizer._fill_group_defaults(saved)
        new_groups.append(saved)
    for p, s in state.items():
        if isinstance(p, Tensor) and "step" in s and not isinstance(s["step"], Tensor):
            s["step"] = Tensor._make(backend.as_array(float(s["step"]), scalar_dtype().np))
    optimizer.state = state
    optimizer.param_groups = new_groups


def _check_loaded_state(optimizer, key, p, value):
    """A parameter's loaded state must be a dict whose parameter-shaped tensors have ``p``'s shape."""
    name = type(optimizer).__name__
    if not isinstance(value, dict):
        raise ValueError(f"{name}.load_state_dict: the state of parameter {key} must be a "
                         f"dict, got {type(value).__name__}")
    for entry in optimizer._param_shaped_state:
        t = value.get(entry)
        if isinstance(t, Tensor) and array_of(t).shape != array_of(p).shape:
            raise ValueError(f"{name}.load_state_dict: state '{entry}' of parameter {key} has "
                             f"shape {list(t.shape)} but the parameter has shape {list(p.shape)}")


def _cast_state(p, value, group, key=None):
    """Copy a loaded state value, moving tensors to ``p``'s device (and dtype, except ``step``)."""
    if isinstance(value, Tensor):
        arr = array_of(value)
        if key == "step":
            if group.get("capturable") or group.get("fused"):
                arr = backend.to_device(arr, p.device).astype(dtypes.float32.np)
            else:
                arr = arr.copy()
        else:
            arr = backend.to_device(arr, p.device)
            p_dtype = array_of(p).dtype
            if p_dtype.kind == "f":
                arr = arr.astype(p_dtype)
            else:
                arr = arr.copy()
        return Tensor._make(arr)
    if isinstance(value, dict):
        return {k: _cast_state(p, v, group, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(p, v, group) for v in value)
    return copy.deepcopy(value)


__all__ = ["pack", "load", "scalar_dtype"]
