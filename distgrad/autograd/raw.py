"""The array behind a Tensor, for the layers above autograd (nn, optim, comm).

A Tensor wraps one NumPy or CuPy array.  The layers above autograd sometimes
need that array itself: an optimizer updates parameters in place with ``out=``,
a collective hands its buffer to MPI, an initialiser fills it.  They go
through these three named functions instead of reaching into ``Tensor``'s
private fields, so the one place that knows how a Tensor stores its data is
``distgrad/autograd``.

Writing into the array does not tell autograd.  Code that changes values in
place that a backward pass may have saved calls :func:`bump_version`, which is
what lets the engine catch a stale saved tensor (PyTorch's version counter).

Example::

    >>> import distgrad
    >>> from distgrad.autograd.raw import array_of, bump_version
    >>> t = distgrad.zeros(3)
    >>> array_of(t)[...] = 1.0
    >>> bump_version(t)
    >>> t, t._version
    (tensor([1., 1., 1.]), 1)
"""


def array_of(tensor):
    """The NumPy or CuPy array that holds ``tensor``'s values (shared, not a copy)."""
    return tensor._data


def set_array(tensor, array):
    """Make ``tensor`` hold ``array`` from now on (``Module.to``, ``vector_to_parameters``).

    The tensor keeps its identity, ``requires_grad`` and version counter; the
    new array must already have the dtype and device the caller wants.
    """
    tensor._data = array


def bump_version(tensor):
    """Record an in-place change of ``tensor``'s values (PyTorch's ``_version`` goes up by one)."""
    tensor._bump_version()
