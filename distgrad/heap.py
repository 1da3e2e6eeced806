"""Keep freed array memory in the process heap, so that a training step does not page-fault its way through.

A training step allocates and frees the same large arrays (activations,
gradients, temporaries of a few MB each) at every step.  With glibc's default
policy, a freed block at the top of the heap is returned to the kernel as soon
as more than twice the current mmap threshold is free there, and blocks above
the threshold are mmap'ed and unmapped one by one; either way the next step
gets fresh pages and pays a page fault per 4 KiB as it first writes them.
Measured on the small Transformer of ``benchmarks/bench_transformer.py`` (one
thread), that was about a fifth of distgrad's step; PyTorch, whose steps make
far fewer temporaries, gained a few percent.  PyTorch's CPU performance guide
recommends a caching allocator (jemalloc or tcmalloc) for the same reason.

:func:`keep_freed_blocks` sets two glibc ``mallopt`` parameters, once per
process at ``import distgrad``:

* ``M_MMAP_THRESHOLD`` = 32 MiB (glibc's maximum): arrays below it come from the
  heap, which reuses freed blocks, instead of each getting its own mapping;
* ``M_TRIM_THRESHOLD`` = 1 GiB: the heap gives memory back to the kernel only
  when more than that is free at its top.

The price is resident memory: up to about 1 GiB freed by distgrad stays mapped
in the process for reuse, as in a caching allocator.  Nothing changes where
the C library is not glibc (macOS, musl, Windows), where the user already
chose (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or a malloc
``GLIBC_TUNABLES`` in the environment), or with ``DISTGRAD_KEEP_FREED_MEMORY=0``.

Example::

    >>> from distgrad import heap
    >>> heap.policy() in ("kept", "default", "user")
    True
"""
import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc refuses more on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 1024 * 1024 * 1024
_USER_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")

_policy = "default"


def _glibc():
    """The process's C library when it is glibc, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") else None  # only glibc has it


def _user_chose(environ):
    if any(name in environ for name in _USER_VARIABLES):
        return True
    return "glibc.malloc" in environ.get("GLIBC_TUNABLES", "")


def keep_freed_blocks(environ=None):
    """Apply the policy of the module docstring once; return :func:`policy`'s answer.

    Example::

        >>> keep_freed_blocks() == policy()   # already applied at import: the same answer again
        True
    """
    global _policy
    environ = os.environ if environ is None else environ
    if _policy != "default":
        return _policy
    if environ.get("DISTGRAD_KEEP_FREED_MEMORY", "1").strip().lower() in ("0", "false", "no", "off"):
        return _policy
    if _user_chose(environ):
        _policy = "user"
        return _policy
    libc = _glibc()
    if libc is None:
        return _policy
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    if mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1:
        _policy = "kept"
    return _policy


def policy():
    """``"kept"`` once distgrad set the heap policy, ``"user"`` when the environment set one, else ``"default"``.

    Example::

        >>> policy() in ("kept", "user", "default")
        True
    """
    return _policy
