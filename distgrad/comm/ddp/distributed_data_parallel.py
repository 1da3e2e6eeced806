"""``DistributedDataParallel``: data-parallel training with PyTorch's API.

Every rank holds a full replica of the model and trains on its own shard of
each batch; DDP keeps the replicas identical:

* **construction** checks that every rank built the same model (the same
  parameter and buffer names, shapes and dtypes; a mismatch raises the same
  RuntimeError on every rank, naming the first difference and the ranks) and
  copies rank 0's parameters and buffers to every rank;
* **forward** runs the wrapped module, first broadcasting rank 0's buffers
  (BatchNorm running statistics) when ``broadcast_buffers``;
* **backward** averages the gradients over the ranks while it runs: see
  :mod:`distgrad.comm.ddp.reducer` (the hooks and the overlap) and
  :mod:`distgrad.comm.ddp.bucket` (how gradients are grouped into flat buffers).
  When ``loss.backward()`` returns, every rank holds the same averaged
  ``.grad`` and the optimizer step keeps the replicas equal.

``no_sync()`` skips the reduction for gradient accumulation; the first
backward after it averages the accumulated gradients.  The model is
``ddp.module``; ``ddp.state_dict()`` has the ``module.`` prefix.

Example::

    >>> import distgrad, distgrad.distributed as dist
    >>> from distgrad import nn
    >>> from distgrad.nn.parallel import DistributedDataParallel as DDP
    >>> dist.init_process_group()
    >>> model = DDP(nn.Linear(4, 2))
    >>> model(distgrad.randn(8, 4)).sum().backward()
    >>> model.module.weight.grad.shape
    distgrad.Size([2, 4])
    >>> list(model.state_dict())
    ['module.weight', 'module.bias']
"""
import contextlib
import hashlib
import numbers

from distgrad import backend
from distgrad.autograd import grad_mode
from distgrad.autograd.raw import array_of, bump_version
from distgrad.comm import timeline
from distgrad.comm.ddp.bucket import DEFAULT_BUCKET_CAP_MB, DEFAULT_FIRST_BUCKET_BYTES
from distgrad.comm.ddp.reducer import WHERE, Reducer
from distgrad.comm.objects import all_gather_object
from distgrad.comm.world import resolve
from distgrad.dtypes import from_np
from distgrad.nn.module import Module


def _describe(entry):
    kind, name, shape, dtype = entry[:4]
    return f"{kind} '{name}' with shape {list(shape)} and dtype {dtype}"


def _first_difference(ref, other):
    """A phrase naming the first entry where the signature ``other`` differs from ``ref``."""
    for a, b in zip(ref, other):
        if a != b:
            if a[:2] == b[:2]:
                return (f"{a[0]} '{a[1]}' has shape {list(a[2])} and dtype {a[3]} on rank 0, but shape "
                        f"{list(b[2])} and dtype {b[3]}", a[1])
            return f"rank 0 has {_describe(a)} where this rank has {_describe(b)}", a[1]
    if len(other) > len(ref):
        return (f"it has {len(other)} parameters and buffers, rank 0 has {len(ref)}; the first extra one is "
                f"{_describe(other[len(ref)])}", other[len(ref)][1])
    return (f"it has {len(other)} parameters and buffers, rank 0 has {len(ref)}; the first one it lacks is "
            f"{_describe(ref[len(other)])}", ref[len(other)][1])


def _signature(module):
    sig = []
    for name, p in module.named_parameters():
        sig.append(("parameter", name, tuple(p.shape), str(from_np(array_of(p).dtype)).replace("distgrad.", ""),
                    bool(p.requires_grad)))
    for name, b in module.named_buffers():
        sig.append(("buffer", name, tuple(b.shape), str(from_np(array_of(b).dtype)).replace("distgrad.", ""), False))
    return sig


def broadcast_coalesced(group, tensors, root=0, name="broadcast"):
    """Copy group rank ``root``'s ``tensors`` into every rank's, with one broadcast of their bytes."""
    if not tensors or group.size() == 1:
        return
    xp = backend.get_array_module(array_of(tensors[0]))
    parts = [xp.ascontiguousarray(array_of(t)).reshape(-1).view(xp.uint8) for t in tensors]
    flat = xp.concatenate(parts)
    group.broadcast(flat, root, name=name)
    if group.rank() == root:
        return
    offset = 0
    for t, part in zip(tensors, parts):
        n = int(part.size)
        data = array_of(t)
        data[...] = flat[offset:offset + n].view(data.dtype).reshape(data.shape)
        bump_version(t)
        offset += n


class DistributedDataParallel(Module):
    """Average gradients over the ranks of ``process_group`` during backward.

    Args follow ``torch.nn.parallel.DistributedDataParallel``: ``device_ids``
    (None for CPU models, ``[i]`` for a model on ``cuda:i``), ``output_device``,
    ``dim`` (only meaningful for multi-device modules, which distgrad does not
    split), ``broadcast_buffers`` (sync rank 0's buffers before each forward),
    ``init_sync`` (broadcast rank 0's parameters and buffers at construction),
    ``process_group`` (default: the world), ``bucket_cap_mb`` (bucket size,
    default 25), ``find_unused_parameters`` (reduce parameters the forward did
    not use as zeros instead of raising), ``check_reduction`` (deprecated,
    ignored), ``gradient_as_bucket_view`` (``.grad`` tensors are views of the
    flat buckets: no copy back and less memory) and ``static_graph`` (the set
    of used parameters is the same every iteration: found once).

    Example::

        >>> import distgrad, distgrad.distributed as dist
        >>> dist.init_process_group()
        >>> ddp = DistributedDataParallel(distgrad.nn.Linear(3, 1), bucket_cap_mb=1)
        >>> with ddp.no_sync():
        ...     ddp(distgrad.randn(2, 3)).sum().backward()   # accumulates locally
        >>> ddp(distgrad.randn(2, 3)).sum().backward()       # averages the sum of both
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True, init_sync=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"{WHERE}: module must be a distgrad.nn.Module, got {type(module).__name__}")
        pg = resolve(process_group, WHERE)
        if pg is None:
            raise RuntimeError(f"{WHERE}: this rank is not a member of the given process_group")
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self._check_devices(named, device_ids, output_device)
        if bucket_cap_mb is None:
            bucket_cap_mb = DEFAULT_BUCKET_CAP_MB
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, numbers.Real) or not bucket_cap_mb > 0:
            raise ValueError(f"{WHERE}: bucket_cap_mb must be a positive number of megabytes, got {bucket_cap_mb!r}")
        self.module = module
        self.process_group = pg
        self.device_ids = None if device_ids is None else list(device_ids)
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.static_graph = bool(static_graph)
        self.bucket_bytes_cap = int(bucket_cap_mb * 1024 * 1024)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._check_same_model(pg, module)
        if init_sync:
            with grad_mode.no_grad():
                broadcast_coalesced(pg, [p for _, p in module.named_parameters()] + self._module_buffers(),
                                    name="DDP broadcast of parameters and buffers")
        self.reducer = Reducer([p for _, p in named], [n for n, _ in named], pg, self.bucket_bytes_cap,
                               min(DEFAULT_FIRST_BUCKET_BYTES, self.bucket_bytes_cap), self.find_unused_parameters,
                               self.gradient_as_bucket_view, self.static_graph)
        timeline.maybe_start(pg)

    # --- construction checks -------------------------------------------------------------------
    @staticmethod
    def _check_devices(named, device_ids, output_device):
        devices = {backend.device_of(array_of(p)) for _, p in named}
        if len(devices) > 1:
            raise ValueError(f"{WHERE}: the module's parameters are on several devices "
                             f"({sorted(str(d) for d in devices)}); DDP replicates a module that lives on one "
                             "device per process")
        dev = next(iter(devices))
        ids = None if device_ids is None else list(device_ids)
        if dev.type == "cpu":
            if ids or output_device is not None:
                raise ValueError("DistributedDataParallel device_ids and output_device arguments only work with "
                                 f"single-device GPU modules, but got device_ids {ids}, output_device "
                                 f"{output_device}, and module parameters {{{dev}}}.")
            return
        if ids is not None:
            if len(ids) != 1:
                raise ValueError(f"{WHERE}: device_ids must list exactly one device (the module's, {dev}), got "
                                 f"{ids}")
            want = backend.normalize_device(ids[0] if not isinstance(ids[0], int) else f"cuda:{ids[0]}")
            if want != dev:
                raise ValueError(f"{WHERE}: device_ids {ids} names {want}, but the module's parameters are on "
                                 f"{dev}; move the module first (module.to({str(want)!r}))")

    def _check_same_model(self, pg, module):
        if pg.size() == 1:
            return
        mine = _signature(module)
        # compare digests first (a few bytes per rank); exchange the signatures only to describe a mismatch
        digests = [None] * pg.size()
        all_gather_object(digests, hashlib.sha1(repr(mine).encode()).hexdigest(), group=pg)
        if len(set(digests)) == 1:
            return
        everyone = [None] * pg.size()
        all_gather_object(everyone, mine, group=pg)
        ref = everyone[0]
        found = {}
        for r, sig in enumerate(everyone):
            if sig != ref:
                found.setdefault(_first_difference(ref, sig), []).append(pg.ranks[r])
        if found:
            lines = [f"  rank(s) {ranks}: {text}" for (text, _), ranks in found.items()]
            first = next(iter(found))[1]
            raise RuntimeError(
                f"{WHERE}: the model is not the same on every rank (first differing entry: '{first}'); DDP needs "
                "identical parameter and buffer names, shapes and dtypes on every rank. Compared with rank 0:\n"
                + "\n".join(lines))

    # --- forward -------------------------------------------------------------------------------
    def will_sync_module_buffers(self):
        """True when the next forward broadcasts rank 0's buffers."""
        return self.require_forward_param_sync and self.broadcast_buffers and len(self._module_buffers()) > 0

    def _module_buffers(self):
        return [b for _, b in self.module.named_buffers()]

    def _sync_buffers(self, buffers):
        with grad_mode.no_grad():
            broadcast_coalesced(self.process_group, buffers, name="DDP broadcast of buffers")

    def forward(self, *inputs, **kwargs):
        tl = timeline._current
        t0 = tl.now() if tl is not None else 0.0
        reducing = grad_mode.is_grad_enabled() and self.require_backward_grad_sync
        self.require_forward_param_sync = reducing
        if reducing and self.broadcast_buffers and self.process_group.size() > 1:
            buffers = self._module_buffers()
            if buffers and tl is not None:
                with tl.span("broadcast buffers"):
                    self._sync_buffers(buffers)
            elif buffers:
                self._sync_buffers(buffers)
        output = self.module(*inputs, **kwargs)
        if reducing:
            self.reducer.prepare_for_backward(output)
        elif grad_mode.is_grad_enabled():
            # a forward inside no_sync(): its backward accumulates locally
            self.reducer.expect = False
        if tl is not None:
            tl.add("forward", timeline.COMPUTE, t0, tl.now())
        return output

    def register_comm_hook(self, state, hook):
        """Reduce each gradient bucket with ``hook(state, bucket)`` instead of DDP's own allreduce.

        ``bucket`` is a :class:`distgrad.comm.ddp.comm_hooks.GradBucket`; the hook
        returns a Future of the reduced flat tensor and does the averaging
        itself.  Register it once, before training.

        Example::

            >>> import distgrad, distgrad.distributed as dist
            >>> from distgrad.comm.ddp.comm_hooks import fp16_compress_hook
            >>> dist.init_process_group()
            >>> ddp = DistributedDataParallel(distgrad.nn.Linear(3, 1))
            >>> ddp.register_comm_hook(None, fp16_compress_hook)
            >>> ddp(distgrad.randn(2, 3)).sum().backward()
        """
        self.reducer.register_comm_hook(state, hook)

    @contextlib.contextmanager
    def no_sync(self):
        """Within this context backward accumulates gradients locally, without communication.

        The first forward and backward outside it average the accumulated
        gradients over the ranks.

        Example::

            >>> import distgrad, distgrad.distributed as dist
            >>> dist.init_process_group()
            >>> ddp = DistributedDataParallel(distgrad.nn.Linear(3, 1))
            >>> chunks = distgrad.randn(4, 2, 3).unbind(0)
            >>> with ddp.no_sync():
            ...     for chunk in chunks[:-1]:
            ...         ddp(chunk).sum().backward()
            >>> ddp(chunks[-1]).sum().backward()          # one allreduce for all chunks
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old
