"""PyTorch's module paths for distgrad's layers: ``torch.nn.modules.<file>.<Class>``, as the same classes.

Programs name layers by the file PyTorch defines them in: an ``isinstance``
check against ``torch.nn.modules.linear.Linear``, a ``safe_globals`` list of
``torch.nn.modules.container.Sequential``, a pickle that stores
``torch.nn.modules.sparse.Embedding``.  distgrad groups its layers by family,
not by PyTorch's files, so this module builds one small module per PyTorch
file (``distgrad.nn.modules.linear``, ``.container``, ``.rnn``...), each
holding distgrad's own classes (never copies) under PyTorch's names, from the
table :data:`FILES`.  A name PyTorch's file has and distgrad lacks raises an
AttributeError saying so.

Example::

    >>> import distgrad
    >>> from distgrad.nn.modules.linear import Linear
    >>> Linear is distgrad.nn.Linear
    True
    >>> distgrad.nn.modules.activation.MultiheadAttention is distgrad.nn.MultiheadAttention
    True
"""
import sys

from distgrad import torch_alias
from distgrad.comm.ddp.sync_batchnorm import SyncBatchNorm
from distgrad.nn import activation as _activation, attention as _attention, containers as _containers
from distgrad.nn import conv as _conv, distance as _distance, dropout as _dropout, flatten as _flatten
from distgrad.nn import linear as _linear, loss as _loss, module as _module, normalization as _normalization
from distgrad.nn import pooling as _pooling, rnn as _rnn, rnn_cells as _rnn_cells, sparse as _sparse
from distgrad.nn import transformer as _transformer, transformer_layers as _transformer_layers

# PyTorch's file -> (distgrad modules holding the classes, the class names PyTorch's file defines that distgrad has)
FILES = {
    "module": ((_module,), ("Module",)),
    "linear": ((_linear, _attention), ("Identity", "Linear", "Bilinear", "NonDynamicallyQuantizableLinear")),
    "container": ((_containers,), ("Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict")),
    "sparse": ((_sparse,), ("Embedding",)),
    "dropout": ((_dropout,), ("_DropoutNd", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d")),
    "normalization": ((_normalization,), ("LayerNorm", "GroupNorm")),
    "batchnorm": ((_normalization, sys.modules[SyncBatchNorm.__module__]),
                  ("_BatchNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm")),
    "activation": ((_activation, _attention), ("ELU", "GELU", "LeakyReLU", "LogSoftmax", "MultiheadAttention",
                                               "ReLU", "SiLU", "Sigmoid", "Softmax", "Softplus", "Tanh")),
    "rnn": ((_rnn, _rnn_cells), ("RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell")),
    "transformer": ((_transformer, _transformer_layers), ("Transformer", "TransformerEncoder",
                                                          "TransformerDecoder", "TransformerEncoderLayer",
                                                          "TransformerDecoderLayer")),
    "loss": ((_loss,), ("_Loss", "_WeightedLoss", "L1Loss", "MSELoss", "NLLLoss", "CrossEntropyLoss", "BCELoss",
                        "BCEWithLogitsLoss", "KLDivLoss", "SmoothL1Loss", "HuberLoss")),
    "conv": ((_conv,), ("_ConvNd", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d")),
    "pooling": ((_pooling,), ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
                              "AdaptiveAvgPool2d")),
    "flatten": ((_flatten,), ("Flatten", "Unflatten")),
    "distance": ((_distance,), ("PairwiseDistance", "CosineSimilarity")),
    "fold": ((_conv,), ("Fold", "Unfold")),
}


def _find(sources, name):
    for source in sources:
        if hasattr(source, name):
            return getattr(source, name)
    raise ImportError(f"distgrad.nn.modules: {name} is listed but no module of {[s.__name__ for s in sources]} has it")


def _file_module(file, sources, names):
    mod = torch_alias.standalone_module(f"{__name__}.{file}", f"PyTorch's torch.nn.modules.{file}: distgrad's "
                                        "classes under their PyTorch names.",
                                        {name: _find(sources, name) for name in names})
    mod.__all__ = [n for n in names if not n.startswith("_")]
    return mod


__path__ = []  # a package: ``import distgrad.nn.modules.linear`` finds the file modules in sys.modules
for _file, (_sources, _names) in FILES.items():
    _mod = _file_module(_file, _sources, _names)
    globals()[_file] = _mod
    for _name in _names:
        globals()[_name] = getattr(_mod, _name)  # torch.nn.modules.Linear, as in PyTorch

__getattr__ = torch_alias.missing_attribute(__name__)
