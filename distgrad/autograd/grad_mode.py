"""Grad mode: whether ops record a graph, per thread.

``no_grad``, ``enable_grad``, ``set_grad_enabled`` and ``inference_mode`` are
context managers and decorators, as in PyTorch.

Example::

    >>> import distgrad
    >>> x = distgrad.ones(2, requires_grad=True)
    >>> with distgrad.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
"""
import functools
import inspect
import threading


class _State(threading.local):
    def __init__(self):
        self.enabled = True
        self.inference = False


state = _State()


def is_grad_enabled():
    """True when ops record the graph in this thread."""
    return state.enabled


# How many inference_mode blocks are open in any thread: lets tensor creation skip the
# thread-local lookup in the common case where none is.
inference_active = [0]


def is_inference_mode_enabled():
    """True inside ``inference_mode()`` in this thread."""
    return state.inference


class _DecoratorContext:
    """A context manager that also decorates functions (with or without parentheses)."""

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and callable(args[0]) and cls._bare_decorator:
            return cls()(args[0])
        return super().__new__(cls)

    _bare_decorator = True

    def __call__(self, func):
        if inspect.isgeneratorfunction(func):
            return _wrap_generator(self.clone, func)

        @functools.wraps(func)
        def wrapper(*a, **kw):
            with self.clone():
                return func(*a, **kw)
        return wrapper

    def clone(self):
        return type(self)()


def _wrap_generator(make_ctx, func):
    """Decorate a generator function: the mode holds each time the generator runs, and
    not while it is suspended at a ``yield`` (the caller's mode applies there)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        gen = func(*args, **kwargs)
        try:
            with make_ctx():
                value = gen.send(None)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    with make_ctx():
                        gen.close()
                    raise
                except BaseException as exc:
                    with make_ctx():
                        value = gen.throw(exc)
                else:
                    with make_ctx():
                        value = gen.send(sent)
        except StopIteration as stop:
            return stop.value
    return wrapper


class no_grad(_DecoratorContext):
    """Turn graph recording off in this thread, as ``torch.no_grad``."""

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = False
        return self

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False


class enable_grad(_DecoratorContext):
    """Turn graph recording on in this thread, even inside ``no_grad``."""

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = True
        return self

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False


class set_grad_enabled(_DecoratorContext):
    """Set grad mode to ``mode`` at once; as a context manager, restore it on exit.

    Example::

        >>> with set_grad_enabled(False):
        ...     pass
    """

    _bare_decorator = False

    def __init__(self, mode):
        self.prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False

    def __call__(self, func):
        # Used as a decorator, construction must not leave the mode changed.
        state.enabled = self.prev
        return super().__call__(func)

    def clone(self):
        return _SetGrad(self.mode)

    def __repr__(self):
        return f"distgrad.autograd.grad_mode.set_grad_enabled(mode={self.mode})"


class _SetGrad:
    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = self.mode

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False


class inference_mode(_DecoratorContext):
    """Like ``no_grad`` (nothing is recorded); tensors made inside report ``is_inference()``."""

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = (state.enabled, state.inference)
        if self.mode:
            state.enabled = False
            state.inference = True
        inference_active[0] += 1
        return self

    def __exit__(self, *exc):
        state.enabled, state.inference = self.prev
        inference_active[0] -= 1
        return False

    def clone(self):
        return type(self)(self.mode)
