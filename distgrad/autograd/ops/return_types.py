"""Named result tuples of the ops that return several tensors, as PyTorch's ``torch.return_types``.

Every op module makes its types with :func:`return_type`, which also registers them on
:class:`return_types` (exported as ``distgrad.return_types``), so ``max``, ``sort``,
``linalg_slogdet`` and the rest are built, printed and found one way.

Example::

    >>> from distgrad.autograd.ops.return_types import return_type
    >>> pair = return_type("example_pair", ["left", "right"])
    >>> pair(1, 2)
    distgrad.return_types.example_pair(
    left=1,
    right=2)
"""
import collections


class return_types:  # noqa: N801  (PyTorch's name: torch.return_types)
    """The namespace of every named result type (``distgrad.return_types.max`` ...)."""


def return_type(name, fields):
    """A namedtuple printing as ``distgrad.return_types.<name>(...)``, as PyTorch's structseqs print,
    registered on :class:`return_types` under ``name``."""
    cls = collections.namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={getattr(self, f)!r}" for f in fields)
        return f"distgrad.return_types.{name}(\n{body})"
    cls.__repr__ = __repr__
    setattr(return_types, name, cls)
    return cls
