"""Training-step time of a 2-layer LSTM language model beside PyTorch CPU, single-threaded.

    python benchmarks/bench_lstm.py            # the table (3 fresh processes per library)
    python benchmarks/bench_lstm.py --profile  # cProfile of distgrad's step, top 25 by own time

The model: token embedding (vocab 128, 128 features), ``nn.LSTM(128, 128, num_layers=2)``
over batch 32 x sequence 64 (sequence-first, padded input), a linear head and
cross-entropy.  A step is zero_grad, forward, backward and an SGD update.  Target: at most
1.5x PyTorch.  Each number is the median of 3 fresh subprocesses (see ``_common.isolated``),
rounds interleaved.
"""
import sys

import numpy as np

import _common  # noqa: F401  (pins threads before numpy/torch load)
from _common import fmt_us, has_torch, interleaved, ratio, table, timeit

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


def worker(which):
    if which == "torch":
        from _common import torch_or_none
        fn = step_fn(torch_or_none())
    else:
        import distgrad
        fn = step_fn(distgrad)
    print(timeit(fn, repeat=5, min_time=1.0))


def profile():
    import cProfile
    import pstats

    import distgrad
    fn = step_fn(distgrad)
    fn()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(5):
        fn()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def main():
    kinds = ["distgrad"] + (["torch"] if has_torch() else [])
    measured = interleaved(__file__, [(k,) for k in kinds])
    times = {k: measured[(k,)] for k in kinds}
    row = {"model": f"LM embed + LSTM {LAYERS} layers hidden {HIDDEN} + head, batch {BATCH} x seq {SEQ}",
           "distgrad us": fmt_us(times["distgrad"])}
    if "torch" in times:
        row.update({"pytorch us": fmt_us(times["torch"]), "distgrad/pytorch": ratio(times["distgrad"], times["torch"])})
    table("LSTM training step, single thread (target: <= 1.5x PyTorch)", [row],
          ["model", "distgrad us", "pytorch us", "distgrad/pytorch"])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--profile":
        profile()
    else:
        main()
