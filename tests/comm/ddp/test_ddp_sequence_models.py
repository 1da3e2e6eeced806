"""DistributedDataParallel with sequence models: an LSTM fed packed sequences and a Transformer LM whose
output layer shares the embedding's weight.  N ranks on shards must equal one process on the whole batch,
and the tied weight is one parameter, reduced once.  Runs under ``mpiexec -n 2`` and ``-n 3``; the
world-of-one case also in the plain session."""
import numpy as np
import pytest

import distgrad
import distgrad.distributed as dist
from distgrad import nn
from distgrad.nn.parallel import DistributedDataParallel as DDP
from distgrad.nn.utils.rnn import pack_padded_sequence

SHARD, VOCAB, T = 2, 7, 5


@pytest.fixture(autouse=True, scope="module")
def _world():
    dist.init_process_group(timeout=60)
    yield


class PackedLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x, lengths):
        _, (h, _) = self.lstm(pack_padded_sequence(x, lengths, enforce_sorted=False))
        return self.head(distgrad.cat([h[-2], h[-1]], -1))


class TiedLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, 8)
        self.block = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        self.head = nn.Linear(8, VOCAB, bias=False)
        self.head.weight = self.tok.weight

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1], dtype=distgrad.float64)
        return self.head(self.block(self.tok(x), src_mask=mask, is_causal=True))


def _data(kind, size, step):
    g = np.random.default_rng(10 + step)
    if kind == "lstm":
        x = distgrad.tensor(g.standard_normal((T, SHARD * size, 3)))
        lengths = g.integers(1, T + 1, SHARD * size)
        return (x, lengths), distgrad.tensor(g.standard_normal((SHARD * size, 2)))
    tokens = distgrad.tensor(g.integers(0, VOCAB, (SHARD * size, T)))
    return (tokens,), distgrad.tensor(g.integers(0, VOCAB, (SHARD * size, T)))


def _loss(kind, out, y):
    if kind == "lstm":
        return ((out - y) ** 2).mean()
    return nn.functional.cross_entropy(out.reshape(-1, VOCAB), y.reshape(-1))


def _shard(inputs, y, kind, rank):
    sl = slice(rank * SHARD, (rank + 1) * SHARD)
    if kind == "lstm":
        x, lengths = inputs
        return (x[:, sl], lengths[sl]), y[sl]
    return (inputs[0][sl],), y[sl]


@pytest.mark.mpi(min_size=1)
@pytest.mark.parametrize("kind", ["lstm", "tied"])
def test_shards_on_n_ranks_equal_one_process_on_the_batch(kind):
    rank, size = dist.get_rank(), dist.get_world_size()
    make = PackedLSTM if kind == "lstm" else TiedLM
    distgrad.manual_seed(3)
    model = make().double()
    reference = make().double()
    reference.load_state_dict(model.state_dict())
    ddp = DDP(model)
    if kind == "tied":
        assert model.head.weight is model.tok.weight
        assert len(list(model.parameters())) == len({id(p) for p in model.parameters()})
        assert "head.weight" in model.state_dict() and "tok.weight" in model.state_dict()
    opt = distgrad.optim.SGD(ddp.parameters(), lr=0.1)
    ref_opt = distgrad.optim.SGD(reference.parameters(), lr=0.1)
    for step in range(3):
        inputs, y = _data(kind, size, step)
        mine, my_y = _shard(inputs, y, kind, rank)
        opt.zero_grad()
        _loss(kind, ddp(*mine), my_y).backward()
        opt.step()
        ref_opt.zero_grad()
        # the mean over ranks of the shard losses: each shard's loss is a mean of equal size
        sum(_loss(kind, reference(*_shard(inputs, y, kind, r)[0]), _shard(inputs, y, kind, r)[1])
            for r in range(size)).__truediv__(size).backward()
        ref_opt.step()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
