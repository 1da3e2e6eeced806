"""Collectives on small picklable Python objects (configs, metrics, file lists).

These pickle: use them only among trusted ranks of your own job, since
unpickling can run code.  Each call is two array collectives on the group
(the byte counts, then the bytes), so they take part in the same ordering and
timeout machinery as tensor collectives.  distgrad tensors refuse to be
pickled; send tensors with the tensor collectives.

Example::

    >>> import distgrad.comm as dist
    >>> dist.init_process_group()
    >>> everyone = [None] * dist.get_world_size()
    >>> dist.all_gather_object(everyone, {"rank": dist.get_rank()})
    >>> everyone
    [{'rank': 0}]
    >>> dist.broadcast_object({"lr": 0.1}, src=0)
    {'lr': 0.1}
"""
import pickle

import numpy as np

from distgrad.comm.collectives import _group_rank
from distgrad.comm.world import resolve


def _dumps(obj, where):
    try:
        return np.frombuffer(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), dtype=np.uint8)
    except Exception as e:
        raise TypeError(f"{where}: the object cannot be pickled: {e}") from e


def _loads(buf):
    return pickle.loads(buf.tobytes())


def all_gather_object(object_list, obj, group=None):
    """Fill ``object_list`` (one slot per rank) with every rank's ``obj``, in rank order."""
    where = "all_gather_object"
    pg = resolve(group, where)
    if pg is None:
        return None
    if not isinstance(object_list, list) or len(object_list) != pg.size():
        raise ValueError(f"{where}: object_list must be a list with one entry per rank ({pg.size()}), got "
                         f"{object_list!r:.80}")
    data = _dumps(obj, where)
    sizes = [np.zeros(1, dtype=np.int64) for _ in range(pg.size())]
    pg.allgather(sizes, np.array([data.size], dtype=np.int64), name=where)
    counts = [int(s[0]) for s in sizes]
    parts = [np.empty(c, dtype=np.uint8) for c in counts]
    pg.allgather(parts, data, name=where)
    object_list[:] = [_loads(p) for p in parts]


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Replace ``object_list``'s entries on every rank with rank ``src``'s (same length everywhere)."""
    where = "broadcast_object_list"
    pg = resolve(group, where)
    if pg is None:
        return None
    if not isinstance(object_list, list):
        raise TypeError(f"{where}: object_list must be a list, got {type(object_list).__name__}")
    root = _group_rank(pg, 0 if src is None and group_src is None else src, group_src, "src", where)
    is_root = pg.rank() == root
    data = _dumps(list(object_list), where) if is_root else None
    size = np.array([data.size if is_root else 0], dtype=np.int64)
    pg.broadcast(size, root, name=where)
    buf = data.copy() if is_root else np.empty(int(size[0]), dtype=np.uint8)
    pg.broadcast(buf, root, name=where)
    if not is_root:
        objs = _loads(buf)
        if len(objs) != len(object_list):
            raise ValueError(f"{where} (rank {pg.ranks[pg.rank()]}): object_list has {len(object_list)} entries "
                             f"but the source rank broadcast {len(objs)}")
        object_list[:] = objs


def broadcast_object(obj=None, src=0, group=None):
    """Return rank ``src``'s ``obj`` on every rank (other ranks' ``obj`` is ignored)."""
    box = [obj]
    broadcast_object_list(box, src=src, group=group)
    return box[0]


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """Collect every rank's ``obj`` into ``object_gather_list`` on rank ``dst``."""
    where = "gather_object"
    pg = resolve(group, where)
    if pg is None:
        return None
    root = _group_rank(pg, 0 if dst is None and group_dst is None else dst, group_dst, "dst", where)
    is_root = pg.rank() == root
    if is_root and (not isinstance(object_gather_list, list) or len(object_gather_list) != pg.size()):
        raise ValueError(f"{where}: the destination rank needs object_gather_list with one entry per rank "
                         f"({pg.size()})")
    if not is_root and object_gather_list:
        raise ValueError(f"{where}: Argument ``object_gather_list`` must NOT be specified on non-destination "
                         "ranks.")
    data = _dumps(obj, where)
    sizes = [np.zeros(1, dtype=np.int64) for _ in range(pg.size())] if is_root else None
    pg.gather(np.array([data.size], dtype=np.int64), sizes, root, name=where)
    parts = [np.empty(int(s[0]), dtype=np.uint8) for s in sizes] if is_root else None
    pg.gather(data, parts, root, name=where)
    if is_root:
        object_gather_list[:] = [_loads(p) for p in parts]


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    """Rank ``src`` sends ``scatter_object_input_list[i]`` to rank ``i``, stored in ``output_list[0]``."""
    where = "scatter_object_list"
    pg = resolve(group, where)
    if pg is None:
        return None
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError(f"{where}: Expected argument scatter_object_output_list to be a list of size at "
                         "least 1.")
    root = _group_rank(pg, 0 if src is None and group_src is None else src, group_src, "src", where)
    is_root = pg.rank() == root
    if is_root:
        if not isinstance(scatter_object_input_list, list) or len(scatter_object_input_list) != pg.size():
            raise ValueError(f"{where}: the source rank needs scatter_object_input_list with one entry per "
                             f"rank ({pg.size()})")
        datas = [_dumps(o, where) for o in scatter_object_input_list]
        sizes = [np.array([d.size], dtype=np.int64) for d in datas]
    count = np.zeros(1, dtype=np.int64)
    pg.scatter(count, sizes if is_root else None, root, name=where)
    buf = np.empty(int(count[0]), dtype=np.uint8)
    pg.scatter(buf, datas if is_root else None, root, name=where)
    scatter_object_output_list[0] = _loads(buf)
