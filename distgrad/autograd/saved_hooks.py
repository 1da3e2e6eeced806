"""Saved-tensor hooks: ``torch.autograd.graph.saved_tensors_hooks``, ``save_on_cpu``, ``disable_saved_tensors_hooks``.

Inside ``with saved_tensors_hooks(pack, unpack):`` every tensor an op saves for
backward is handed to ``pack`` when it is saved, and what ``pack`` returned is
kept instead; backward calls ``unpack`` on it to get the tensor back.  This is
how a program offloads activations (:class:`save_on_cpu`), compresses them, or
counts them.  The innermost active pair applies; the hooks are per thread.  The
graph (:mod:`distgrad.autograd.graph`) gives the unpacked tensor the original's
place in the graph, so double backward behaves as without hooks.  As in
PyTorch, a value kept by a pack hook is not version-checked: an in-place change
to the original after saving is the hook's to guard against (copy in ``pack``).

Example::

    >>> import distgrad
    >>> packed = []
    >>> x = distgrad.tensor([1.0, 2.0], requires_grad=True)
    >>> with saved_tensors_hooks(lambda t: packed.append(t) or len(packed) - 1, lambda i: packed[i]):
    ...     y = (x * x).sum()
    >>> y.backward(); x.grad
    tensor([2., 4.])
"""
import threading

_local = threading.local()
_lock = threading.Lock()
ACTIVE = 0  # hook pairs active in any thread: the graph reads this one global before asking its own thread


def _stack():
    s = getattr(_local, "stack", None)
    if s is None:
        s = _local.stack = []
    return s


def current():
    """The innermost active ``(pack, unpack)`` pair of this thread, or None (the graph asks on every save)."""
    s = getattr(_local, "stack", None)
    return s[-1] if s else None


class saved_tensors_hooks:
    """Apply ``pack_hook(tensor) -> anything`` and ``unpack_hook(anything) -> tensor`` to saved tensors in the block.

    ``unpack_hook`` must return a tensor with the content ``pack_hook`` saw.
    """

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self):
        disabled = getattr(_local, "disabled", None)
        if disabled:
            raise RuntimeError(disabled[-1])
        global ACTIVE
        _stack().append((self.pack_hook, self.unpack_hook))
        with _lock:
            ACTIVE += 1
        return self

    def __exit__(self, *exc):
        global ACTIVE
        _stack().pop()
        with _lock:
            ACTIVE -= 1
        return False


class save_on_cpu(saved_tensors_hooks):
    """Keep saved tensors on the CPU and move each back to its device when backward needs it.

    A saved CPU tensor is kept as it is (no copy), as in PyTorch; ``pin_memory``
    pins the host copies of GPU tensors where CuPy can.

    Example::

        >>> import distgrad
        >>> x = distgrad.ones(2, requires_grad=True)
        >>> with save_on_cpu():
        ...     y = x.exp().sum()
        >>> y.backward(); x.grad
        tensor([2.7183, 2.7183])
    """

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack(tensor):
            return tensor.device, tensor.cpu() if not pin_memory else tensor.cpu().pin_memory()

        def unpack(packed):
            device, host = packed
            return host.to(device, non_blocking=pin_memory)
        super().__init__(pack, unpack)


class disable_saved_tensors_hooks:
    """Refuse saved-tensor hooks in the block: entering ``saved_tensors_hooks`` raises RuntimeError(error_message).

    Example::

        >>> with disable_saved_tensors_hooks("not with this feature"):
        ...     try:
        ...         with saved_tensors_hooks(lambda t: t, lambda t: t):
        ...             pass
        ...     except RuntimeError as e:
        ...         print(e)
        not with this feature
    """

    def __init__(self, error_message):
        self.error_message = error_message

    def __enter__(self):
        d = getattr(_local, "disabled", None)
        if d is None:
            d = _local.disabled = []
        d.append(self.error_message)
        return self

    def __exit__(self, *exc):
        _local.disabled.pop()
        return False
