"""distgrad.nn: modules, layers, losses and initialisation, with PyTorch's API.

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> model(distgrad.randn(3, 4)).shape
    distgrad.Size([3, 2])
"""
from distgrad import torch_alias
from distgrad.nn import functional  # noqa: F401
from distgrad.nn import init  # noqa: F401
from distgrad.nn import utils  # noqa: F401
from distgrad.nn.activation import (ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax,  # noqa: F401
                                    Softplus, Tanh)
from distgrad.nn.attention import MultiheadAttention  # noqa: F401
from distgrad.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential  # noqa: F401
from distgrad.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, Fold, Unfold  # noqa: F401
from distgrad.nn.dropout import Dropout, Dropout1d, Dropout2d, Dropout3d  # noqa: F401
from distgrad.nn.distance import CosineSimilarity, PairwiseDistance  # noqa: F401
from distgrad.nn.flatten import Flatten, Unflatten  # noqa: F401
from distgrad.nn.linear import Bilinear, Identity, Linear  # noqa: F401
from distgrad.nn.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss,  # noqa: F401
                              L1Loss, MSELoss, NLLLoss, SmoothL1Loss)
from distgrad.nn.module import Module  # noqa: F401
from distgrad.nn.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, LayerNorm  # noqa: F401
from distgrad.nn.parameter import Buffer, Parameter  # noqa: F401
from distgrad.nn.pooling import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d  # noqa: F401,E501
from distgrad.nn.rnn import GRU, LSTM, RNN, RNNBase  # noqa: F401
from distgrad.nn.rnn_cells import GRUCell, LSTMCell, RNNCell, RNNCellBase  # noqa: F401
from distgrad.nn.sparse import Embedding  # noqa: F401
from distgrad.nn.transformer import Transformer, TransformerDecoder, TransformerEncoder  # noqa: F401
from distgrad.nn.transformer_layers import TransformerDecoderLayer, TransformerEncoderLayer  # noqa: F401
_missing = torch_alias.missing_attribute(__name__)  # a missing name says so, with PyTorch's name


def __getattr__(name):
    # nn.SyncBatchNorm lives in comm.ddp, above nn; resolving it on first use keeps nn free of a module-level
    # import of comm (comm.ddp -> sync_batchnorm -> nn -> comm.ddp was a package-level cycle). nn.parallel is
    # a submodule, which _missing imports on first use.
    if name == "SyncBatchNorm":
        from distgrad.comm.ddp.sync_batchnorm import SyncBatchNorm  # deferred: comm sits above nn
        return SyncBatchNorm
    return _missing(name)


def __dir__():
    return sorted(set(globals()) | {"SyncBatchNorm", "parallel"})
