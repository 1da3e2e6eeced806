"""Matrix products: matmul (with batching, broadcasting and 1-D operands), mm, bmm, dot.

Example::

    >>> import distgrad
    >>> a, b = distgrad.ones(5, 2, 3), distgrad.ones(3, 4)
    >>> (a @ b).shape
    distgrad.Size([5, 2, 4])
"""
from distgrad import backend
from distgrad.autograd.function import ArrayFunction
from distgrad.autograd.ops.arithmetic import promote
from distgrad.autograd.ops.tensor_xp import sum_to, xp_of


class Matmul(ArrayFunction):
    """Matrix product with NumPy's ``matmul`` broadcasting (``torch.matmul``; ``MmBackward0``)."""

    node_name = "MmBackward0"
    array_backward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        ctx.save_for_backward(a, b)
        return backend.get_array_module(a).matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xp = xp_of(g)
        a_shape, b_shape = ctx.a_shape, ctx.b_shape
        # a 1-D operand acts as a matrix: a as a row (1, k), b as a column (k, 1)
        a_mat = (1,) + a_shape if len(a_shape) == 1 else a_shape
        b_mat = b_shape + (1,) if len(b_shape) == 1 else b_shape
        if len(a_shape) == 1:
            g = xp.expand_dims(g, -2 if len(b_shape) > 1 else 0)
        if len(b_shape) == 1:
            g = xp.expand_dims(g, -1)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = sum_to(xp.matmul(g, xp.swapaxes(b.reshape(b_mat), -1, -2)), a_mat).reshape(a_shape)
        if ctx.needs_input_grad[1]:
            gb = sum_to(xp.matmul(xp.swapaxes(a.reshape(a_mat), -1, -2), g), b_mat).reshape(b_shape)
        return ga, gb


class Bmm(Matmul):
    """Batched matrix product of two 3-D tensors (``torch.bmm``)."""

    node_name = "BmmBackward0"


class Dot(Matmul):
    """Inner product of two 1-D tensors (``torch.dot``)."""

    node_name = "DotBackward0"


class Mv(Matmul):
    """Matrix-vector product (``torch.mv``)."""

    node_name = "MvBackward0"


def _check(op, a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"{op}: both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k_a != k_b:
        sa = "x".join(map(str, a.shape))
        sb = "x".join(map(str, b.shape))
        raise RuntimeError(f"{op}: mat1 and mat2 shapes cannot be multiplied ({sa} and {sb})")
    # batch dims must broadcast (NumPy would raise a ValueError; PyTorch raises RuntimeError)
    ba, bb = tuple(a.shape[:-2]), tuple(b.shape[:-2])
    n = max(len(ba), len(bb))
    ba, bb = (1,) * (n - len(ba)) + ba, (1,) * (n - len(bb)) + bb
    for i, (x, y) in enumerate(zip(ba, bb)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"{op}: The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                               f"non-singleton dimension {i}")


def _product(node, input, other):
    """Promote, check and multiply; ``node`` only decides the grad_fn name."""
    input, other = promote("matmul", input, other)
    _check("matmul", input, other)
    if node is Matmul and other.ndim == 1 and input.ndim <= 2:
        node = Dot if input.ndim == 1 else Mv  # the kernels (and names) PyTorch's matmul dispatches to
    return node.apply(input, other)


def matmul(input, other):
    """Matrix product with NumPy/PyTorch semantics for 1-D, 2-D and batched operands."""
    return _product(Matmul, input, other)


def mm(input, mat2):
    """Product of two 2-D matrices."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2D tensors, got {input.ndim}D and {mat2.ndim}D")
    return matmul(input, mat2)


def bmm(input, mat2):
    """Batched product of two 3-D tensors with equal batch sizes."""
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: expected 3D tensors, got {input.ndim}D and {mat2.ndim}D")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {input.shape[0]} and {mat2.shape[0]}")
    return _product(Bmm, input, mat2)


def dot(input, other):
    """Inner product of two 1-D tensors of the same length."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                           f"[{other.shape[0]}] to have the same number of elements, but got "
                           f"{input.shape[0]} and {other.shape[0]} elements respectively")
    return _product(Dot, input, other)


def mv(input, vec):
    """Product of a 2-D ``input`` and a 1-D ``vec`` (``torch.mv``)."""
    return _product(Mv, input, vec)


def outer(input, vec2):
    """Outer product ``input[:, None] * vec2[None, :]`` of two 1-D tensors (``torch.outer``)."""
    for name, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    return input.reshape(-1, 1) * vec2.reshape(1, -1)
