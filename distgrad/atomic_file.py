"""Write a file so that a crash never leaves it half-written: temp file beside it, fsync, rename.

Used by :func:`distgrad.save`; a reader sees either the previous file or the new
one, never a mix.

Example::

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.bin")
    >>> atomic_write(path, lambda fh: fh.write(b"data"))
    >>> open(path, "rb").read()
    b'data'
"""
import os
import secrets
import stat


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows, where directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, write):
    """Run ``write(fileobj)`` into a temp file beside ``path``, fsync it, then rename it over ``path``.

    A crash or an exception at any point leaves the previous file at ``path`` as it was;
    the temp file is removed on failure.  A symlink is written through, like ``open(path, "wb")``.
    """
    path = os.path.realpath(os.fspath(path))
    directory, base = os.path.split(path)
    if not os.path.isdir(directory):
        raise RuntimeError(f"Parent directory {directory} does not exist.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"distgrad.save: {path!r} is a directory")
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fd = None
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if os.path.exists(path):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(tmp, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)
