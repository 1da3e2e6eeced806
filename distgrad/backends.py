"""``torch.backends`` on a machine where distgrad computes: the flags programs set in passing, with PyTorch's meaning.

Scripts written for PyTorch set these before any math (nanoGPT's first lines
set ``torch.backends.cuda.matmul.allow_tf32 = True``).  distgrad reads none of
them: its matrix products run in NumPy/CuPy at the arrays' own precision (no
TF32) and it has no cuDNN autotuner.  Each flag exists with PyTorch's default,
keeps what a program assigns, and refuses an unknown name as PyTorch does;
the availability queries answer as a CPU build of PyTorch does.

* ``backends.cuda.matmul``: ``allow_tf32`` (False),
  ``allow_fp16_reduced_precision_reduction`` and
  ``allow_bf16_reduced_precision_reduction`` (True); ``backends.cuda.is_built()``.
* ``backends.cudnn``: ``enabled`` (True), ``benchmark`` and ``deterministic``
  (False), ``allow_tf32`` (True), ``is_available()`` (False), ``version()`` (None).
* ``backends.mps``: ``is_available()`` and ``is_built()`` (False).
* ``backends.cpu.get_cpu_capability()``: NumPy's widest SIMD set (``"AVX2"``...).

Example::

    >>> import distgrad
    >>> distgrad.backends.cuda.matmul.allow_tf32 = True
    >>> distgrad.backends.cudnn.benchmark, distgrad.backends.mps.is_available()
    (False, False)
    >>> distgrad.backends.cuda.matmul.tf32
    Traceback (most recent call last):
    ...
    AttributeError: Unknown attribute tf32
"""
from distgrad import backend, torch_alias


class _Flags:
    """A fixed set of settable flags; any other name is refused, as PyTorch's flag objects refuse it."""

    def __init__(self, kind, **defaults):
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_values", dict(defaults))

    def __getattr__(self, name):
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"Unknown attribute {name}")

    def __setattr__(self, name, value):
        if name not in self._values:
            raise AttributeError(f"Unknown attribute {name}")
        self._values[name] = value

    def __repr__(self):
        return f"<distgrad.backends {self._kind}: {self._values}>"


def _submodule(name, doc, **attrs):
    return torch_alias.standalone_module(f"{__name__}.{name}", doc, attrs)


def _false():
    return False


def _no_version():
    return None


__path__ = []  # a package: ``import torch.backends.cudnn`` finds the submodules in sys.modules

cuda = _submodule("cuda", "torch.backends.cuda: CUDA matmul flags (read by nothing: no TF32 in distgrad).",
                  matmul=_Flags("cuda.matmul", allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                                allow_bf16_reduced_precision_reduction=True),
                  is_built=_false)
cudnn = _submodule("cudnn", "torch.backends.cudnn: flags a program sets; distgrad has no cuDNN.",
                   enabled=True, benchmark=False, deterministic=False, allow_tf32=True,
                   is_available=_false, version=_no_version)
mps = _submodule("mps", "torch.backends.mps: no Metal device in distgrad.", is_available=_false, is_built=_false)
cpu = _submodule("cpu", "torch.backends.cpu: the SIMD capability of NumPy's kernels.",
                 get_cpu_capability=backend.cpu_capability)

__getattr__ = torch_alias.missing_attribute(__name__)
