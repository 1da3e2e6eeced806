"""Gradient buckets: which parameters share one flat buffer, and that buffer.

DistributedDataParallel does not allreduce every gradient on its own (one
collective per tensor pays the per-call latency hundreds of times) nor all of
them in one buffer at the end (nothing would overlap backward).  It groups
parameters into *buckets* of about ``bucket_cap_mb`` megabytes and reduces a
bucket as soon as all of its gradients are ready:

* parameters are bucketed in **reverse registration order**, the order in
  which backward usually produces their gradients (the last layer first);
* the **first bucket is small** (1 MiB, like PyTorch's first bucket), so the
  first allreduce starts early in backward instead of after a quarter of the
  model;
* every bucket holds **one dtype on one device** (a collective moves one dtype),
  and owns one flat contiguous array whose slices are the parameters'
  gradient slots: the allreduce of a bucket is one collective on memory that
  needs no packing or staging.

A bucket closes once it reaches its size limit, so it may exceed the limit by
its last parameter (a 4 MB weight still fits in "1 MiB" bucket 0); buckets
are numbered by their first parameter, which is also the order DDP launches
them in.

Example::

    >>> import distgrad
    >>> from distgrad.comm.ddp.bucket import assign_buckets, Bucket
    >>> ps = [distgrad.zeros(300_000), distgrad.zeros(10), distgrad.zeros(300_000)]
    >>> assign_buckets(ps, cap_bytes=2 << 20, first_cap_bytes=1 << 20)
    [[0], [1, 2]]
    >>> b = Bucket(0, ps[1:], [1, 2])
    >>> b.flat.shape, b.views[0].shape
    ((300010,), (10,))
"""
from distgrad import backend
from distgrad.autograd.raw import array_of

DEFAULT_FIRST_BUCKET_BYTES = 1 << 20   # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES
DEFAULT_BUCKET_CAP_MB = 25


def _key(t):
    data = array_of(t)
    return (data.dtype.str, str(backend.device_of(data)))


def _nbytes(t):
    data = array_of(t)
    return int(data.size) * data.dtype.itemsize


def assign_buckets(tensors, cap_bytes, first_cap_bytes=DEFAULT_FIRST_BUCKET_BYTES):
    """Split ``tensors`` (in bucketing order) into buckets; return lists of their positions.

    Each (dtype, device) has its own open bucket; the first bucket of each
    closes at ``min(first_cap_bytes, cap_bytes)``, the later ones at
    ``cap_bytes``.  The result is sorted by each bucket's first position.
    """
    if cap_bytes <= 0:
        raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got a cap of {cap_bytes} bytes")
    limits = (min(first_cap_bytes, cap_bytes), cap_bytes)
    open_ = {}      # key -> [positions, bytes, how many buckets of this key closed so far]
    closed = []
    for pos, t in enumerate(tensors):
        k = _key(t)
        entry = open_.get(k)
        if entry is None:
            entry = open_[k] = [[], 0, 0]
        entry[0].append(pos)
        entry[1] += _nbytes(t)
        if entry[1] >= limits[min(entry[2], 1)]:
            closed.append(entry[0])
            open_[k] = [[], 0, entry[2] + 1]
    closed.extend(entry[0] for entry in open_.values() if entry[0])
    closed.sort(key=lambda positions: positions[0])
    return closed


class Bucket:
    """One flat gradient buffer and the slots of the parameters it serves.

    ``params`` are the parameters in slot order and ``indices`` their indices
    in the reducer's parameter list.  ``flat`` has one element per parameter
    element plus ``extra`` trailing elements (the reducer's bookkeeping that
    travels with the last bucket's allreduce); ``views[j]`` is the slice of
    ``flat`` shaped like ``params[j]``, ``offsets[j]`` where it starts.
    """

    def __init__(self, index, params, indices, extra=0):
        if not params:
            raise ValueError("Bucket: a bucket needs at least one parameter")
        first = array_of(params[0])
        keys = {_key(p) for p in params}
        if len(keys) != 1:
            raise ValueError(f"Bucket {index}: parameters of different dtypes or devices cannot share a bucket: "
                             f"{sorted(keys)}")
        xp = backend.get_array_module(first)
        self.index = index
        self.params = list(params)
        self.indices = list(indices)
        self.offsets = []
        total = 0
        for p in self.params:
            self.offsets.append(total)
            total += int(array_of(p).size)
        self.numel = total
        self.extra = int(extra)
        # zeros, not empty: the padding and slots of parameters that never get a gradient are reduced too
        self.flat = xp.zeros(total + self.extra, dtype=first.dtype)
        self.views = [self.flat[o:o + int(array_of(p).size)].reshape(array_of(p).shape)
                      for o, p in zip(self.offsets, self.params)]
        self.pending = len(self.params)   # gradients still missing in this iteration
        self.work = None                  # the in-flight allreduce (a Work), once launched
        self.buffer_tensor = None         # the Tensor over ``grads`` that communication hooks see
        self.allreduce = None             # the PreparedAllreduce of ``flat`` (set by the reducer)

    @property
    def nbytes(self):
        return int(self.flat.size) * self.flat.dtype.itemsize

    @property
    def grads(self):
        """The gradient part of the flat buffer (without the trailing bookkeeping)."""
        return self.flat[:self.numel]

    @property
    def meta(self):
        """The trailing bookkeeping elements (empty unless ``extra``)."""
        return self.flat[self.numel:]

    def reset(self):
        """Start a new iteration: every gradient missing again, nothing in flight."""
        self.pending = len(self.params)
        self.work = None

    def __repr__(self):
        return (f"Bucket({self.index}, {len(self.params)} params, {self.numel} elements of "
                f"{self.flat.dtype}, {self.nbytes / 2 ** 20:.2f} MiB)")
