"""``Work`` handles of asynchronous collectives, and the ``Future`` they hand out.

``all_reduce(t, async_op=True)`` returns a :class:`Work` at once; the
communication thread runs the collective and marks the Work completed once
the result is in ``t``.  ``wait()`` blocks until then (and returns True, as in
PyTorch); ``is_completed()`` asks without blocking.  ``get_future()`` gives a
:class:`Future` whose callbacks (``then``) run when the collective finishes,
which is how a gradient-bucket hook chains work onto an allreduce.

Example::

    >>> import distgrad, distgrad.comm as dist
    >>> dist.init_process_group()
    >>> t = distgrad.ones(3)
    >>> work = dist.all_reduce(t, async_op=True)
    >>> work.wait()
    True
    >>> work.is_completed()
    True
"""
import threading

# Thread ids of communication threads: a Work cannot be waited on from there (the thread would
# wait for itself), which happens when a Future callback issues a blocking collective.
COMM_THREADS = set()


class Future:
    """A value that becomes available later, like ``torch.futures.Future``.

    Example::

        >>> f = Future()
        >>> g = f.then(lambda fut: fut.value() + 1)
        >>> f.set_result(41); g.wait()
        42
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._done = False
        self._value = None
        self._exc = None
        self._callbacks = []

    def done(self):
        """True once a result or an exception is set."""
        return self._done

    def wait(self):
        """Block until done; return the value or raise the exception."""
        with self._cond:
            while not self._done:
                self._cond.wait()
        if self._exc is not None:
            raise self._exc
        return self._value

    def value(self):
        """The value of a completed future (raises its exception, or if it is not done yet)."""
        if not self._done:
            raise RuntimeError("Future.value(): the future is not completed yet; call wait()")
        if self._exc is not None:
            raise self._exc
        return self._value

    def set_result(self, result):
        self._finish(result, None)

    def set_exception(self, exc):
        self._finish(None, exc)

    def _finish(self, value, exc):
        with self._cond:
            if self._done:
                raise RuntimeError("Future: result was already set")
            self._value, self._exc, self._done = value, exc, True
            callbacks, self._callbacks = self._callbacks, []
            self._cond.notify_all()
        for cb in callbacks:
            cb(self)

    def add_done_callback(self, callback):
        """Call ``callback(self)`` once done (right away if it already is)."""
        with self._cond:
            if not self._done:
                self._callbacks.append(callback)
                return
        callback(self)

    def then(self, callback):
        """A new Future holding ``callback(self)``, run when this one completes."""
        nxt = Future()

        def run(fut):
            try:
                res = callback(fut)
            except BaseException as e:  # the error belongs to the chained future
                nxt.set_exception(e)
                return
            nxt.set_result(res)

        self.add_done_callback(run)
        return nxt


class Work:
    """The handle of one (possibly still running) communication operation.

    ``name`` describes the operation for error messages; ``result`` is what
    ``result()`` returns (the output tensors or arrays).
    """

    def __init__(self, name, result=None):
        self._name = name
        self._event = threading.Event()
        self._exc = None
        self._result = result
        self._future = None
        self._source = -1
        self._lock = threading.Lock()

    # --- completion, called by the executor ------------------------------------------------
    def _complete(self, exc=None):
        with self._lock:
            self._exc = exc
            self._event.set()
            fut = self._future
        if fut is not None:
            if exc is None:
                fut.set_result(self._result)
            else:
                fut.set_exception(exc)

    # --- the public API -------------------------------------------------------------------
    def wait(self, timeout=None):
        """Block until the operation completed; return True, or raise its error.

        ``timeout`` (seconds or a ``timedelta``) bounds this wait only; the
        job-wide watchdog (``DISTGRAD_TIMEOUT``) applies either way.
        """
        if not self._event.is_set() and threading.get_ident() in COMM_THREADS:
            raise RuntimeError(f"{self._name}: waiting for a communication operation inside a Future callback "
                               "would deadlock the communication thread; chain the work with then() or "
                               "issue it with async_op=True")
        if timeout is not None:
            seconds = timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout)
            if not self._event.wait(seconds):
                raise RuntimeError(f"{self._name}: Work.wait timed out after {seconds:g} s; the operation "
                                   "is still running")
        else:
            self._event.wait()
        if self._exc is not None:
            raise RuntimeError(f"{self._name} failed: {self._exc}") from self._exc
        return True

    def is_completed(self):
        """True once the operation finished (successfully or not); never blocks."""
        return self._event.is_set()

    def is_success(self):
        """True when the operation completed without error."""
        return self._event.is_set() and self._exc is None

    def exception(self):
        """The error the operation failed with, or None."""
        return self._exc

    def result(self):
        """The output tensors (arrays at the array level), after waiting for them."""
        self.wait()
        return self._result

    def synchronize(self):
        """Wait for completion (CPU and staged-GPU operations have no stream to order)."""
        self.wait()

    def source_rank(self):
        """For a receive: the rank (within its group) the message came from."""
        self.wait()
        return self._source

    def get_future(self):
        """A :class:`Future` completed with ``result()`` when this operation finishes."""
        with self._lock:
            if self._future is not None:
                return self._future
            fut = self._future = Future()
            finished = self._event.is_set()
        if finished:  # completed before anyone asked, so _complete did not see the future
            if self._exc is None:
                fut.set_result(self._result)
            else:
                fut.set_exception(self._exc)
        return fut

    def __repr__(self):
        state = "completed" if self.is_completed() else "pending"
        return f"<Work {self._name} ({state})>"


def completed_work(name, result=None, source=-1):
    """A Work that is already done (the world-of-one and synchronous fast paths)."""
    w = Work(name, result)
    w._source = source
    w._event.set()
    return w
