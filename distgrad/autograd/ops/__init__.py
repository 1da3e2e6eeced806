"""Built-in ops: one :class:`~distgrad.autograd.function.ArrayFunction` per op, grouped by family.

Each op's forward works on raw arrays through ``xp`` (NumPy or CuPy), its
backward on Tensors, so backward is itself differentiable.  Ops composed of
other ops are plain functions with no backward of their own.
"""
