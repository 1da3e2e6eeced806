"""The cases the GPU-vs-CPU parity tests run, beyond those of ``tests/autograd/test_parity_torch.py``.

Case functions take the module as their first argument (``m``): distgrad, or
``torch`` for the CPU checks against PyTorch, or :class:`On` (distgrad making
new tensors on a given device) for the device parity runs.  Functional forms
are reached as ``m.nn.functional``, so one function serves all three.

* :data:`EXTRA` - differentiable ops not in the torch parity table (conv,
  pooling, the comparisons' float cousins, every ``nn.functional`` form):
  ``name -> (fn(m, *tensors), [(kind, shape), ...])``.
* :data:`EXTRA_NON_DIFF` - integer and bool results: ``name -> fn(m, a)``.
* :data:`LAYERS` - every ``nn`` layer: ``name -> (make(), [input spec, ...])``
  where an input spec is ``(kind, shape)`` or ``("index", high, shape)``.
"""
import numpy as np

import distgrad
from device_cases_tensor_ops import RANDOM_OPS, SHAPE_FUNCTIONS, TENSOR_OPS, TENSOR_OPS_NON_DIFF  # noqa: F401  (re-exported)

R, P, D, A, U = "randn", "pos", "distinct", "away", "unit"


def array(kind, shape, rng):
    """Input data of a kind: normal, positive, well-separated (no ties), away from kinks, or in (0.05, 0.95)."""
    if kind == P:
        return rng.uniform(0.5, 1.5, shape)
    if kind == U:
        return rng.uniform(0.05, 0.95, shape)
    if kind == D:
        n = int(np.prod(shape)) if shape else 1
        return (rng.permutation(n) * 0.37 - 1.0).reshape(shape)
    if kind == A:
        a = rng.standard_normal(shape)
        return a + np.sign(a) * 0.2
    return rng.standard_normal(shape)


class On:
    """The distgrad module, except that new tensors go to ``device`` unless a call says otherwise."""

    _CREATORS = frozenset({"tensor", "zeros", "ones", "full", "arange", "empty", "eye", "linspace", "rand",
                           "randn", "randint", "randperm", "as_tensor", "tril_indices", "triu_indices", "logspace"})

    def __init__(self, device):
        self.device = device

    def __getattr__(self, name):
        attr = getattr(distgrad, name)
        if name not in self._CREATORS:
            return attr

        def make(*args, **kwargs):
            kwargs.setdefault("device", self.device)
            return attr(*args, **kwargs)
        return make


def _F(m):
    return m.nn.functional


def _labels(m, n, classes, seed=0):
    return m.tensor(np.random.default_rng(seed).integers(0, classes, n).tolist())


# name -> (fn(m, *tensors), [(kind, shape) per input])
EXTRA = {
    # arithmetic aliases and shape aliases
    "divide": (lambda m, a, b: m.divide(a, b), [(R, (2, 3)), (P, (3,))]),
    "true_divide": (lambda m, a, b: m.true_divide(a, b), [(R, (2, 3)), (P, (2, 3))]),
    "multiply": (lambda m, a, b: m.multiply(a, b), [(R, (2, 3)), (R, (3,))]),
    "subtract": (lambda m, a, b: m.subtract(a, b, alpha=2.0), [(R, (2, 3)), (R, (2, 3))]),
    "negative": (lambda m, a: m.negative(a), [(R, (2, 3))]),
    "clip": (lambda m, a: m.clip(a, -0.5, 0.5), [(A, (2, 3))]),
    "broadcast_to": (lambda m, a: m.broadcast_to(a, (2, 3, 4)), [(R, (3, 1))]),
    "swapaxes": (lambda m, a: m.swapaxes(a, 0, 2), [(R, (2, 3, 4))]),
    "swapdims": (lambda m, a: m.swapdims(a, 1, 0), [(R, (2, 3))]),
    "concat": (lambda m, a, b: m.concat([a, b], 0), [(R, (2, 3)), (R, (1, 3))]),
    "concatenate": (lambda m, a, b: m.concatenate([a, b], -1), [(R, (2, 3)), (R, (2, 2))]),
    "exp_float32": (lambda m, a: (a.float().exp() * 2).double(), [(R, (4, 5))]),
    # convolutions (padding, stride, dilation, groups; stride 2 takes the col2im path)
    "conv1d": (lambda m, x, w, b: m.conv1d(x, w, b, stride=2, padding=1), [(R, (2, 3, 9)), (R, (4, 3, 3)), (R, (4,))]),
    "conv2d": (lambda m, x, w, b: m.conv2d(x, w, b, padding=1, groups=2), [(R, (2, 4, 6, 5)), (R, (6, 2, 3, 3)),
                                                                           (R, (6,))]),
    "conv2d_stride_dilation": (lambda m, x, w: m.conv2d(x, w, stride=(2, 1), dilation=2), [(R, (1, 2, 9, 8)),
                                                                                          (R, (3, 2, 3, 2))]),
    "conv_transpose1d": (lambda m, x, w: m.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1),
                         [(R, (2, 3, 5)), (R, (3, 2, 3))]),
    "conv_transpose2d": (lambda m, x, w, b: m.conv_transpose2d(x, w, b, stride=2, padding=1),
                         [(R, (2, 4, 3, 4)), (R, (4, 3, 3, 3)), (R, (3,))]),
    "conv_transpose2d_stride1": (lambda m, x, w: m.conv_transpose2d(x, w), [(R, (1, 2, 4, 4)), (R, (2, 3, 2, 2))]),
    "unfold": (lambda m, x: _F(m).unfold(x, (2, 3), padding=1, stride=(1, 2)), [(R, (2, 3, 5, 6))]),
    "fold": (lambda m, x: _F(m).fold(x, (4, 5), (2, 2)), [(R, (2, 12, 12))]),
    # pooling
    "max_pool1d": (lambda m, x: m.max_pool1d(x, 3, stride=2, padding=1), [(D, (2, 3, 8))]),
    "max_pool2d": (lambda m, x: m.max_pool2d(x, 2), [(D, (2, 3, 6, 4))]),
    "max_pool2d_strided": (lambda m, x: _F(m).max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
                           [(D, (1, 2, 7, 7))]),
    "avg_pool1d": (lambda m, x: m.avg_pool1d(x, 2), [(R, (2, 3, 8))]),
    "avg_pool2d": (lambda m, x: _F(m).avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
                   [(R, (2, 3, 7, 6))]),
    "adaptive_avg_pool1d": (lambda m, x: m.adaptive_avg_pool1d(x, 3), [(R, (2, 3, 8))]),
    "adaptive_avg_pool2d": (lambda m, x: _F(m).adaptive_avg_pool2d(x, (2, 3)), [(R, (2, 3, 5, 7))]),
    # activations
    "F.relu": (lambda m, x: _F(m).relu(x), [(A, (3, 4))]),
    "F.relu_": (lambda m, x: _F(m).relu_(x * 1.0), [(A, (3, 4))]),
    "F.gelu": (lambda m, x: _F(m).gelu(x), [(R, (3, 4))]),
    "F.gelu_tanh": (lambda m, x: _F(m).gelu(x, approximate="tanh"), [(R, (3, 4))]),
    "F.elu": (lambda m, x: _F(m).elu(x, alpha=0.7), [(A, (3, 4))]),
    "F.leaky_relu": (lambda m, x: _F(m).leaky_relu(x, 0.1), [(A, (3, 4))]),
    "F.silu": (lambda m, x: _F(m).silu(x), [(R, (3, 4))]),
    "F.softplus": (lambda m, x: _F(m).softplus(x, beta=2.0, threshold=1.0), [(R, (3, 4))]),
    "F.sigmoid": (lambda m, x: _F(m).sigmoid(x), [(R, (3, 4))]),
    "F.tanh": (lambda m, x: _F(m).tanh(x), [(R, (3, 4))]),
    "F.softmax": (lambda m, x: _F(m).softmax(x, dim=0), [(R, (3, 4))]),
    "F.log_softmax": (lambda m, x: _F(m).log_softmax(x, dim=-1), [(R, (3, 4))]),
    "F.dropout_p0": (lambda m, x: _F(m).dropout(x, 0.0), [(R, (3, 4))]),
    # normalization
    "F.batch_norm": (lambda m, x, w, b: _F(m).batch_norm(x, m.zeros(3, dtype=m.float64), m.ones(3, dtype=m.float64),
                                                         w, b, training=True), [(R, (4, 3, 5)), (P, (3,)), (R, (3,))]),
    "F.batch_norm_eval": (lambda m, x: _F(m).batch_norm(x, m.tensor([0.1, -0.2, 0.3], dtype=m.float64),
                                                        m.tensor([1.5, 0.5, 2.0], dtype=m.float64)), [(R, (4, 3))]),
    "F.layer_norm": (lambda m, x, w, b: _F(m).layer_norm(x, (4,), w, b), [(R, (2, 3, 4)), (P, (4,)), (R, (4,))]),
    "F.group_norm": (lambda m, x, w, b: _F(m).group_norm(x, 2, w, b), [(R, (2, 4, 3, 2)), (P, (4,)), (R, (4,))]),
    "F.normalize": (lambda m, x: _F(m).normalize(x, p=3.0, dim=0), [(A, (3, 4))]),
    # linear maps, embedding, padding, attention
    "F.linear": (lambda m, x, w, b: _F(m).linear(x, w, b), [(R, (2, 3, 4)), (R, (5, 4)), (R, (5,))]),
    "F.bilinear": (lambda m, x, y, w, b: _F(m).bilinear(x, y, w, b), [(R, (3, 2)), (R, (3, 4)), (R, (5, 2, 4)),
                                                                       (R, (5,))]),
    "F.embedding": (lambda m, w: _F(m).embedding(m.tensor([[0, 2, 2], [4, 1, 0]]), w, padding_idx=1), [(R, (5, 3))]),
    "F.pad_constant": (lambda m, x: _F(m).pad(x, (1, 2, 0, 1), value=0.5), [(R, (2, 3, 4))]),
    "F.pad_reflect": (lambda m, x: _F(m).pad(x, (2, 1), mode="reflect"), [(R, (2, 3, 4))]),
    "F.pad_replicate": (lambda m, x: _F(m).pad(x, (1, 1, 2, 0), mode="replicate"), [(R, (1, 2, 3, 4))]),
    "F.scaled_dot_product_attention": (lambda m, q, k, v: _F(m).scaled_dot_product_attention(q, k, v),
                                       [(R, (2, 3, 4)), (R, (2, 5, 4)), (R, (2, 5, 6))]),
    "F.sdpa_causal_mask": (lambda m, q, k, v: _F(m).scaled_dot_product_attention(q, k, v, is_causal=True),
                           [(R, (1, 2, 4, 3)), (R, (1, 2, 4, 3)), (R, (1, 2, 4, 3))]),
    # losses
    "F.mse_loss": (lambda m, x, y: _F(m).mse_loss(x, y), [(R, (3, 4)), (R, (3, 4))]),
    "F.l1_loss": (lambda m, x, y: _F(m).l1_loss(x, y, reduction="sum"), [(R, (3, 4)), (R, (3, 4))]),
    "F.smooth_l1_loss": (lambda m, x, y: _F(m).smooth_l1_loss(x, y, beta=0.5), [(R, (3, 4)), (R, (3, 4))]),
    "F.huber_loss": (lambda m, x, y: _F(m).huber_loss(x, y, delta=0.7), [(R, (3, 4)), (R, (3, 4))]),
    "F.kl_div": (lambda m, x, y: _F(m).kl_div(x.log_softmax(-1), y.softmax(-1), reduction="batchmean"),
                 [(R, (3, 4)), (R, (3, 4))]),
    "F.binary_cross_entropy": (lambda m, x, y: _F(m).binary_cross_entropy(x, y), [(U, (3, 4)), (U, (3, 4))]),
    "F.binary_cross_entropy_with_logits": (
        lambda m, x, y: _F(m).binary_cross_entropy_with_logits(x, y, pos_weight=m.tensor([0.5, 1.0, 2.0, 1.5],
                                                                                           dtype=m.float64)),
        [(R, (3, 4)), (U, (3, 4))]),
    "F.cross_entropy": (lambda m, x: _F(m).cross_entropy(x, _labels(m, 5, 4)), [(R, (5, 4))]),
    "F.cross_entropy_smoothing": (lambda m, x: _F(m).cross_entropy(
        x, _labels(m, 5, 4, 1), weight=m.tensor([0.5, 1.0, 2.0, 1.5], dtype=m.float64), label_smoothing=0.1),
        [(R, (5, 4))]),
    "F.cross_entropy_2d": (lambda m, x: _F(m).cross_entropy(x, m.tensor([[[0, 2], [1, 1]], [[2, 0], [0, 1]]])),
                           [(R, (2, 3, 2, 2))]),
    "F.nll_loss": (lambda m, x: _F(m).nll_loss(x.log_softmax(1), _labels(m, 5, 4, 2), ignore_index=1),
                   [(R, (5, 4))]),
}

EXTRA.update(TENSOR_OPS)

# name -> fn(m, a) with a float (3, 4) tensor; integer or bool results
EXTRA_NON_DIFF = {
    "eq": lambda m, a: m.eq(a, a.flip(0)),
    "ne": lambda m, a: m.ne(a > 0, a < 1),
    "gt": lambda m, a: m.gt(a, 0.1),
    "ge": lambda m, a: m.ge(a, a.mean()),
    "lt": lambda m, a: m.lt(a, a[0]),
    "le": lambda m, a: m.le(a, 0),
    "logical_and": lambda m, a: m.logical_and(a > 0, a < 1),
    "logical_or": lambda m, a: m.logical_or(a > 1, a < -1),
    "logical_xor": lambda m, a: m.logical_xor(a > 0, a > 0.5),
    "logical_not": lambda m, a: m.logical_not(a > 0),
    "bitwise_and": lambda m, a: m.bitwise_and((a * 10).long(), 7),
    "bitwise_or": lambda m, a: m.bitwise_or((a * 10).int(), (a * 3).int()),
    "bitwise_xor": lambda m, a: m.bitwise_xor(a > 0, a > 1),
    "bitwise_not": lambda m, a: m.bitwise_not((a * 10).long()),
    "isinf": lambda m, a: m.isinf(m.where(a > 0, a, m.tensor(float("-inf"), dtype=a.dtype))),
    "isclose": lambda m, a: m.isclose(a, a + 1e-9),
    "allclose": lambda m, a: m.tensor(m.allclose(a, a * (1 + 1e-7))),
    "equal": lambda m, a: m.tensor(m.equal(a, a.clone())),
    "argwhere": lambda m, a: m.argwhere(a > 0),
    "one_hot": lambda m, a: m.nn.functional.one_hot((a > 0).long() + (a > 1).long(), 3),
    "int_matmul": lambda m, a: (a * 10).long() @ (a * 10).long().t(),
    "max_pool_indices": lambda m, a: m.nn.functional.max_pool1d(a[None], 2, return_indices=True)[1],
}
EXTRA_NON_DIFF.update(TENSOR_OPS_NON_DIFF)


def _index(high, shape):
    return ("index", high, shape)


# name -> (make(), [input spec, ...]); built in float64 by the tests
LAYERS = {
    "Linear": (lambda: distgrad.nn.Linear(4, 3), [(R, (2, 4))]),
    "Bilinear": (lambda: distgrad.nn.Bilinear(3, 2, 4), [(R, (5, 3)), (R, (5, 2))]),
    "Identity": (lambda: distgrad.nn.Identity(), [(R, (2, 3))]),
    "Flatten": (lambda: distgrad.nn.Flatten(), [(R, (2, 3, 4))]),
    "Unflatten": (lambda: distgrad.nn.Unflatten(1, (2, 3)), [(R, (4, 6))]),
    "Conv1d": (lambda: distgrad.nn.Conv1d(3, 4, 3, stride=2, padding=1), [(R, (2, 3, 9))]),
    "Conv2d": (lambda: distgrad.nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False), [(R, (2, 4, 5, 5))]),
    "ConvTranspose1d": (lambda: distgrad.nn.ConvTranspose1d(3, 2, 3, stride=2), [(R, (2, 3, 5))]),
    "ConvTranspose2d": (lambda: distgrad.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
                        [(R, (2, 4, 3, 3))]),
    "Unfold": (lambda: distgrad.nn.Unfold(2, stride=2), [(R, (2, 3, 4, 6))]),
    "Fold": (lambda: distgrad.nn.Fold((4, 6), 2, stride=2), [(R, (2, 12, 6))]),
    "MaxPool1d": (lambda: distgrad.nn.MaxPool1d(2), [(D, (2, 3, 8))]),
    "MaxPool2d": (lambda: distgrad.nn.MaxPool2d(3, stride=2, padding=1), [(D, (2, 3, 7, 6))]),
    "AvgPool1d": (lambda: distgrad.nn.AvgPool1d(3, stride=2, padding=1), [(R, (2, 3, 8))]),
    "AvgPool2d": (lambda: distgrad.nn.AvgPool2d(2), [(R, (2, 3, 6, 4))]),
    "AdaptiveAvgPool1d": (lambda: distgrad.nn.AdaptiveAvgPool1d(3), [(R, (2, 3, 8))]),
    "AdaptiveAvgPool2d": (lambda: distgrad.nn.AdaptiveAvgPool2d(1), [(R, (2, 3, 5, 4))]),
    "BatchNorm1d": (lambda: distgrad.nn.BatchNorm1d(3), [(R, (6, 3))]),
    "BatchNorm2d": (lambda: distgrad.nn.BatchNorm2d(3), [(R, (2, 3, 4, 4))]),
    "BatchNorm3d": (lambda: distgrad.nn.BatchNorm3d(2), [(R, (2, 2, 3, 2, 2))]),
    "SyncBatchNorm": (lambda: distgrad.nn.SyncBatchNorm(3), [(R, (4, 3, 2))]),
    "LayerNorm": (lambda: distgrad.nn.LayerNorm((3, 4)), [(R, (2, 3, 4))]),
    "GroupNorm": (lambda: distgrad.nn.GroupNorm(2, 4), [(R, (3, 4, 5))]),
    "Embedding": (lambda: distgrad.nn.Embedding(7, 3, padding_idx=0), [_index(7, (2, 5))]),
    "MultiheadAttention": (lambda: distgrad.nn.MultiheadAttention(6, 2, batch_first=True),
                           [(R, (2, 4, 6)), (R, (2, 5, 6)), (R, (2, 5, 6))]),
    "TransformerEncoderLayer": (lambda: distgrad.nn.TransformerEncoderLayer(6, 2, 8, dropout=0.0, batch_first=True),
                                [(R, (2, 4, 6))]),
    "TransformerDecoderLayer": (lambda: distgrad.nn.TransformerDecoderLayer(6, 2, 8, dropout=0.0, norm_first=True,
                                                                            activation="gelu"),
                                [(R, (4, 2, 6)), (R, (3, 2, 6))]),
    "TransformerEncoder": (lambda: distgrad.nn.TransformerEncoder(
        distgrad.nn.TransformerEncoderLayer(6, 2, 8, dropout=0.0), 2, norm=distgrad.nn.LayerNorm(6)), [(R, (4, 2, 6))]),
    "TransformerDecoder": (lambda: distgrad.nn.TransformerDecoder(
        distgrad.nn.TransformerDecoderLayer(6, 2, 8, dropout=0.0, batch_first=True), 2), [(R, (2, 4, 6)), (R, (2, 3, 6))]),
    "Transformer": (lambda: distgrad.nn.Transformer(6, 2, 1, 1, 8, dropout=0.0), [(R, (3, 2, 6)), (R, (4, 2, 6))]),
    "RNN": (lambda: distgrad.nn.RNN(3, 4, 2, "relu", bidirectional=True), [(R, (5, 2, 3))]),
    "RNNBase": (lambda: distgrad.nn.RNNBase("RNN_TANH", 3, 4, batch_first=True), [(R, (2, 5, 3))]),
    "LSTM": (lambda: distgrad.nn.LSTM(3, 4, num_layers=2, proj_size=2, batch_first=True), [(R, (2, 5, 3))]),
    "GRU": (lambda: distgrad.nn.GRU(3, 4, bidirectional=True), [(R, (5, 2, 3)), (R, (2, 2, 4))]),
    "RNNCell": (lambda: distgrad.nn.RNNCell(3, 4), [(R, (2, 3)), (R, (2, 4))]),
    "LSTMCell": (lambda: distgrad.nn.LSTMCell(3, 4), [(R, (2, 3))]),
    "GRUCell": (lambda: distgrad.nn.GRUCell(3, 4, bias=False), [(R, (3,))]),
    "PairwiseDistance": (lambda: distgrad.nn.PairwiseDistance(p=1.5), [(R, (3, 4)), (R, (3, 4))]),
    "CosineSimilarity": (lambda: distgrad.nn.CosineSimilarity(dim=0), [(R, (3, 4)), (R, (3, 4))]),
    "ReLU": (lambda: distgrad.nn.ReLU(), [(A, (3, 4))]),
    "LeakyReLU": (lambda: distgrad.nn.LeakyReLU(0.2), [(A, (3, 4))]),
    "ELU": (lambda: distgrad.nn.ELU(), [(A, (3, 4))]),
    "GELU": (lambda: distgrad.nn.GELU(), [(R, (3, 4))]),
    "SiLU": (lambda: distgrad.nn.SiLU(), [(R, (3, 4))]),
    "Sigmoid": (lambda: distgrad.nn.Sigmoid(), [(R, (3, 4))]),
    "Tanh": (lambda: distgrad.nn.Tanh(), [(R, (3, 4))]),
    "Softplus": (lambda: distgrad.nn.Softplus(), [(R, (3, 4))]),
    "Softmax": (lambda: distgrad.nn.Softmax(dim=1), [(R, (3, 4))]),
    "LogSoftmax": (lambda: distgrad.nn.LogSoftmax(dim=1), [(R, (3, 4))]),
    "MSELoss": (lambda: distgrad.nn.MSELoss(), [(R, (3, 4)), (R, (3, 4))]),
    "L1Loss": (lambda: distgrad.nn.L1Loss(), [(R, (3, 4)), (R, (3, 4))]),
    "SmoothL1Loss": (lambda: distgrad.nn.SmoothL1Loss(), [(R, (3, 4)), (R, (3, 4))]),
    "HuberLoss": (lambda: distgrad.nn.HuberLoss(delta=0.5), [(R, (3, 4)), (R, (3, 4))]),
    "KLDivLoss": (lambda: distgrad.nn.KLDivLoss(reduction="batchmean", log_target=True), [(R, (3, 4)), (R, (3, 4))]),
    "BCELoss": (lambda: distgrad.nn.BCELoss(), [(U, (3, 4)), (U, (3, 4))]),
    "BCEWithLogitsLoss": (lambda: distgrad.nn.BCEWithLogitsLoss(), [(R, (3, 4)), (U, (3, 4))]),
    "CrossEntropyLoss": (lambda: distgrad.nn.CrossEntropyLoss(label_smoothing=0.05), [(R, (5, 4)), _index(4, (5,))]),
    "NLLLoss": (lambda: distgrad.nn.NLLLoss(), [(R, (5, 4)), _index(4, (5,))]),
    "Sequential": (lambda: distgrad.nn.Sequential(distgrad.nn.Conv2d(2, 4, 3, padding=1), distgrad.nn.BatchNorm2d(4),
                                                  distgrad.nn.ReLU(), distgrad.nn.MaxPool2d(2), distgrad.nn.Flatten(),
                                                  distgrad.nn.Linear(16, 3)), [(R, (3, 2, 4, 4))]),
}

# random layers: compared by their statistics on the device, not value by value
RANDOM_LAYERS = {"Dropout", "Dropout1d", "Dropout2d", "Dropout3d"}
# hold other modules or tensors, have no forward of their own (moved by Module.to: see the tests)
CONTAINERS = {"Module", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"}
# base classes with no forward of their own (their subclasses have cases)
BASES = {"RNNCellBase"}
