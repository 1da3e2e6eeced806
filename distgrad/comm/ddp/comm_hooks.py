"""DDP communication hooks: replace how a gradient bucket is reduced.

``ddp.register_comm_hook(state, hook)`` makes DistributedDataParallel call
``hook(state, bucket)`` instead of its own allreduce each time a bucket is
ready (during backward, in bucket order).  ``bucket`` is a
:class:`GradBucket`; the hook returns a :class:`~distgrad.comm.work.Future`
whose value is the reduced flat tensor (any object with ``wait()`` returning a
Tensor, or a one-element list of one, works).  Averaging is the hook's job:
DDP copies the gradients into the bucket unscaled when a hook is registered.

The stock hooks mirror ``torch.distributed.algorithms.ddp_comm_hooks.default_hooks``:

* :func:`allreduce_hook`: what DDP does by itself (divide by the group size,
  sum over the group);
* :func:`fp16_compress_hook`: send the bucket as float16 (half the bytes),
  average, and decompress into the bucket.

Example::

    >>> from distgrad.comm.ddp.comm_hooks import fp16_compress_hook
    >>> ddp = DistributedDataParallel(model)                   # doctest: +SKIP
    >>> ddp.register_comm_hook(None, fp16_compress_hook)       # doctest: +SKIP
"""
from distgrad import dtypes
from distgrad.autograd import grad_mode
from distgrad.autograd.raw import array_of
from distgrad.autograd.tensor import Tensor
from distgrad.comm.collectives import all_reduce
from distgrad.comm.world import resolve


class GradBucket:
    """What a communication hook receives: one bucket of gradients.

    ``buffer()`` is the flat tensor holding every gradient of the bucket
    (already in place, unscaled); ``gradients()`` the per-parameter views of
    it and ``parameters()`` their parameters, in the same order.
    """

    def __init__(self, bucket, is_last):
        self._bucket = bucket
        self._is_last = is_last

    def index(self):
        """The bucket's position; bucket 0 holds the last layers and is ready first."""
        return self._bucket.index

    def buffer(self):
        """The bucket's flat gradient tensor (writes land in the bucket)."""
        b = self._bucket
        if b.buffer_tensor is None:
            b.buffer_tensor = Tensor._make(b.grads)
        return b.buffer_tensor

    def gradients(self):
        """One tensor per parameter, each a view of ``buffer()``."""
        return [Tensor._make(v) for v in self._bucket.views]

    def parameters(self):
        """The parameters whose gradients this bucket holds."""
        return list(self._bucket.params)

    def is_last(self):
        """True for the bucket reduced last in an iteration."""
        return self._is_last

    def set_buffer(self, tensor):
        """Replace the bucket's contents with ``tensor`` (same number of elements)."""
        b = self._bucket
        if not isinstance(tensor, Tensor) or tensor.numel() != b.numel:
            shape = list(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
            raise ValueError(f"GradBucket.set_buffer: expected a tensor of {b.numel} elements, got {shape}")
        b.grads[...] = array_of(tensor).reshape(-1)

    def __repr__(self):
        return f"GradBucket(index={self.index()}, {len(self._bucket.params)} parameters, {self._bucket.numel} elements)"


def allreduce_hook(process_group, bucket):
    """Average the bucket over ``process_group`` (None: the world) with one allreduce."""
    pg = resolve(process_group, "allreduce_hook")
    tensor = bucket.buffer()
    with grad_mode.no_grad():
        tensor.div_(pg.size())
    work = all_reduce(tensor, group=pg, async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


def fp16_compress_hook(process_group, bucket):
    """Average the bucket in float16 (half the bytes on the wire), then write it back in its dtype."""
    pg = resolve(process_group, "fp16_compress_hook")
    buffer = bucket.buffer()
    with grad_mode.no_grad():
        compressed = buffer.to(dtypes.float16).div_(pg.size())
    work = all_reduce(compressed, group=pg, async_op=True)

    def decompress(fut):
        with grad_mode.no_grad():
            buffer.copy_(fut.value()[0])
        return buffer
    return work.get_future().then(decompress)


class HookWork:
    """What the reducer waits on for a hooked bucket: the hook's future, its result put into the bucket."""

    def __init__(self, future, bucket):
        if not hasattr(future, "wait"):
            raise TypeError("DistributedDataParallel: the communication hook must return a Future (something "
                            f"with wait()), got {type(future).__name__}")
        self._future = future
        self._bucket = bucket

    def get_future(self):
        return self._future

    def is_completed(self):
        done = getattr(self._future, "done", None)
        return bool(done()) if callable(done) else False

    def wait(self):
        value = self._future.wait()
        if isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]
        b = self._bucket
        if not isinstance(value, Tensor) or value.numel() != b.numel:
            got = f"shape {list(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
            raise RuntimeError(f"DistributedDataParallel: the communication hook's future for bucket {b.index} "
                               f"must hold a tensor of the bucket's {b.numel} elements, got {got}")
        data = array_of(value)
        if data is not b.grads:
            b.grads[...] = data.reshape(-1)
        return True
