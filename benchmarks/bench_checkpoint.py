"""Activation checkpointing: peak memory and time of one training step, with and without it.

A 48-block MLP (Linear(128, 128) + Tanh, batch 1024, float32), forward and backward, measured with
tracemalloc (NumPy reports its array allocations to it) and wall time, plain and under
``checkpoint_sequential`` with 4 and 7 segments, both variants. Ratios are against the plain step
measured in the same run; PyTorch's checkpoint on the same model is timed alongside when installed
(its memory is not visible to tracemalloc, so only its time ratio is shown).

    python benchmarks/bench_checkpoint.py
"""
import time
import tracemalloc

import distgrad
from distgrad.utils import checkpoint as C

BLOCKS, WIDTH, BATCH = 48, 128, 1024


def _model(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(*[m for _ in range(BLOCKS) for m in (lib.nn.Linear(WIDTH, WIDTH), lib.nn.Tanh())])


def _step(lib, run, measure_memory):
    net = _model(lib)
    x = lib.randn(BATCH, WIDTH, requires_grad=True)
    if measure_memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    run(net, x).sum().backward()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if measure_memory else None
    if measure_memory:
        tracemalloc.stop()
    return peak, seconds


def _best(lib, run, rounds=5):
    peak = _step(lib, run, True)[0]
    return peak, min(_step(lib, run, False)[1] for _ in range(rounds))


def main():
    cases = [("plain", lambda net, x: net(x))]
    for seg in (4, 7):
        for reentrant in (True, False):
            cases.append((f"checkpoint_sequential({seg}), use_reentrant={reentrant}",
                          lambda net, x, s=seg, r=reentrant: C.checkpoint_sequential(net, s, x, use_reentrant=r)))
    base_peak, base_time = _best(distgrad, cases[0][1])
    print(f"{'distgrad':<48} {'peak MB':>8} {'ratio':>6} {'step ms':>8} {'ratio':>6}")
    for name, run in cases:
        peak, secs = _best(distgrad, run)
        print(f"{name:<48} {peak / 1e6:>8.1f} {peak / base_peak:>6.2f} {secs * 1e3:>8.1f} {secs / base_time:>6.2f}")
    try:
        import torch
        import torch.utils.checkpoint as TC
    except ImportError:
        return
    torch.set_num_threads(1)
    plain = _best(torch, cases[0][1])[1]
    ckpt = _best(torch, lambda net, x: TC.checkpoint_sequential(net, 4, x, use_reentrant=False))[1]
    print(f"PyTorch: plain {plain * 1e3:.1f} ms, checkpoint_sequential(4) {ckpt * 1e3:.1f} ms, "
          f"ratio {ckpt / plain:.2f}")


if __name__ == "__main__":
    main()
