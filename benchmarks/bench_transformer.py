"""Training-step time of a small decoder-only Transformer beside PyTorch CPU, single-threaded.

    python benchmarks/bench_transformer.py            # the table (3 fresh processes per library)
    python benchmarks/bench_transformer.py --profile  # cProfile of distgrad's step, top 25 by own time

The model is a GPT-style language model: token embedding (vocab 256), two
``nn.TransformerEncoderLayer`` (d_model 128, nhead 4, dim_feedforward 512, dropout 0,
batch_first) under the causal mask (``generate_square_subsequent_mask``; the encoder
detects it and the attention applies it as ``is_causal``), a linear head and
cross-entropy, on batch 32 x sequence 64.  A step is zero_grad, forward, backward and an
SGD update.  Target: at most 1.2x PyTorch.  Each number is the median of 3 fresh
subprocesses (see ``_common.isolated``), rounds interleaved.
"""
import numpy as np

import _common  # noqa: F401  (pins threads before numpy/torch load)
from _common import step_benchmark

BATCH, SEQ, D_MODEL, HEADS, FF, LAYERS, VOCAB = 32, 64, 128, 4, 512, 2, 256


def step_fn(lib):
    """A zero-argument training step of the model built with ``lib`` (distgrad or torch)."""
    nn = lib.nn
    lib.manual_seed(0)

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, D_MODEL)
            layer = nn.TransformerEncoderLayer(D_MODEL, HEADS, FF, dropout=0.0, batch_first=True)
            self.blocks = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
            self.head = nn.Linear(D_MODEL, VOCAB)

        def forward(self, tokens, mask):
            return self.head(self.blocks(self.embed(tokens), mask=mask))

    model = LM()
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    tokens = lib.tensor(rng.integers(0, VOCAB, (BATCH, SEQ)))
    targets = lib.tensor(rng.integers(0, VOCAB, (BATCH * SEQ,)))
    mask = nn.Transformer.generate_square_subsequent_mask(SEQ)

    def step():
        opt.zero_grad()
        logits = model(tokens, mask)
        loss = nn.functional.cross_entropy(logits.reshape(BATCH * SEQ, VOCAB), targets)
        loss.backward()
        opt.step()
    return step


if __name__ == "__main__":
    step_benchmark(__file__, step_fn, "Transformer training step, single thread (target: <= 1.2x PyTorch)",
                   f"LM {LAYERS}x encoder layer d{D_MODEL} h{HEADS} ff{FF}, batch {BATCH} x seq {SEQ}, causal")
