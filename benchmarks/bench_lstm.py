"""Training-step time of a 2-layer LSTM language model beside PyTorch CPU, single-threaded.

    python benchmarks/bench_lstm.py            # the table (3 fresh processes per library)
    python benchmarks/bench_lstm.py --profile  # cProfile of distgrad's step, top 25 by own time

The model: token embedding (vocab 128, 128 features), ``nn.LSTM(128, 128, num_layers=2)``
over batch 32 x sequence 64 (sequence-first, padded input), a linear head and
cross-entropy.  A step is zero_grad, forward, backward and an SGD update.  Target: at most
1.5x PyTorch.  Each number is the median of 3 fresh subprocesses (see ``_common.isolated``),
rounds interleaved.
"""
import numpy as np

import _common  # noqa: F401  (pins threads before numpy/torch load)
from _common import step_benchmark

BATCH, SEQ, HIDDEN, LAYERS, VOCAB = 32, 64, 128, 2, 128


def step_fn(lib):
    """A zero-argument training step of the model built with ``lib`` (distgrad or torch)."""
    nn = lib.nn
    lib.manual_seed(0)

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, HIDDEN)
            self.lstm = nn.LSTM(HIDDEN, HIDDEN, num_layers=LAYERS)
            self.head = nn.Linear(HIDDEN, VOCAB)

        def forward(self, tokens):
            out, _ = self.lstm(self.embed(tokens))
            return self.head(out)

    model = LM()
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    tokens = lib.tensor(rng.integers(0, VOCAB, (SEQ, BATCH)))
    targets = lib.tensor(rng.integers(0, VOCAB, (SEQ * BATCH,)))

    def step():
        opt.zero_grad()
        logits = model(tokens)
        loss = nn.functional.cross_entropy(logits.reshape(SEQ * BATCH, VOCAB), targets)
        loss.backward()
        opt.step()
    return step


if __name__ == "__main__":
    step_benchmark(__file__, step_fn, "LSTM training step, single thread (target: <= 1.5x PyTorch)",
                   f"LM embed + LSTM {LAYERS} layers hidden {HIDDEN} + head, batch {BATCH} x seq {SEQ}")
