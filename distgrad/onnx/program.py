"""``torch.onnx.ONNXProgram``: what :func:`distgrad.onnx.export` returns, an exported model you can save and run.

It holds the ONNX ``ModelProto`` (:attr:`model_proto`), writes it with
:meth:`save` and runs it with onnxruntime when called, returning distgrad
tensors, as PyTorch's ONNXProgram does.  distgrad has no ``torch.export``, so
``exported_program`` is None and the ``onnx_ir`` model PyTorch offers as
``model`` is not provided.

Example::

    >>> import distgrad
    >>> lin = distgrad.nn.Linear(3, 2).eval()
    >>> program = distgrad.onnx.export(lin, (distgrad.ones(1, 3),))  # doctest: +SKIP
    >>> program(distgrad.ones(1, 3))[0].shape  # doctest: +SKIP
    distgrad.Size([1, 2])
"""
import os

import numpy as np

from distgrad.autograd.tensor import Tensor


class ONNXProgram:
    """An exported model: its ONNX ``ModelProto``, saved with :meth:`save`, run by calling it."""

    def __init__(self, model_proto, exported_program=None):
        self._proto = model_proto
        self.exported_program = exported_program
        self._session = None

    @property
    def model_proto(self):
        """The ``onnx.ModelProto``."""
        return self._proto

    def save(self, destination, *, include_initializers=True, keep_initializers_as_inputs=False, external_data=None):
        """Write the model to the path ``destination`` (one file; weights inside it)."""
        if not include_initializers or keep_initializers_as_inputs or external_data:
            raise NotImplementedError("ONNXProgram.save: distgrad writes one file with its initializers inside "
                                      "(include_initializers=True, keep_initializers_as_inputs=False, "
                                      "external_data off)")
        with open(os.fspath(destination), "wb") as f:
            f.write(self._proto.SerializeToString())

    def initialize_inference_session(self, initializer=None):
        """Start the onnxruntime session that calls run in (``initializer(model_bytes)`` makes it if given)."""
        data = self._proto.SerializeToString()
        if initializer is not None:
            self._session = initializer(data)
            return
        try:
            import onnxruntime  # deferred: optional, only running the program needs it
        except ImportError:
            raise ImportError("running an ONNXProgram needs onnxruntime: pip install onnxruntime") from None
        self._session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])

    def release(self):
        """Drop the inference session (it is made again on the next call)."""
        self._session = None

    def __call__(self, *args, **kwargs):
        """Run the model in onnxruntime on tensors ``args`` (in graph-input order); a list of tensors."""
        if kwargs:
            raise NotImplementedError("ONNXProgram: pass the inputs positionally")
        if self._session is None:
            self.initialize_inference_session()
        names = [i.name for i in self._session.get_inputs()]
        if len(args) != len(names):
            raise ValueError(f"ONNXProgram: the model takes {len(names)} inputs {names}, got {len(args)}")
        feeds = {n: (a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)) for n, a in zip(names, args)}
        return [Tensor._make(np.asarray(o)) for o in self._session.run(None, feeds)]

    def __repr__(self):
        g = self._proto.graph
        return (f"ONNXProgram(inputs={[i.name for i in g.input]}, outputs={[o.name for o in g.output]}, "
                f"nodes={len(g.node)})")
