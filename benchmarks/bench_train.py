"""Training-step time of two MLPs beside PyTorch CPU and the NumPy floor, single-threaded.

    python benchmarks/bench_train.py

* batch 256, 784-1024-1024-10 (matmul-bound): target at most 1.05x PyTorch;
* batch 32, 64-64-64-10 (overhead-bound): target at most 2x PyTorch.
A step is zero_grad, forward, cross-entropy, backward and an Adam update.  The NumPy floor is
the same matmuls alone (forward and the two backward matmuls per layer), with no framework.
Each number is the median of 3 fresh subprocesses (see ``_common.isolated``), rounds interleaved.
"""
import sys

import numpy as np

import _common  # noqa: F401  (pins threads before numpy/torch load)
from _common import fmt_us, has_torch, interleaved, ratio, table, timeit

CASES = [((784, 1024, 1024, 10), 256), ((64, 64, 64, 10), 32)]


def step_fn(lib, sizes, batch):
    from bench_autograd import train_step_fn
    return train_step_fn(lib, sizes, batch, lambda params: lib.optim.Adam(params, lr=1e-3))


def numpy_floor_fn(sizes, batch):
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((a, b)).astype(np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)

    def step():
        acts = [x]
        for w in ws:
            acts.append(acts[-1] @ w)
        g = np.ones_like(acts[-1])
        for i in reversed(range(len(ws))):
            acts[i].T @ g            # weight gradient
            if i:
                g = g @ ws[i].T      # input gradient
    return step


def worker(which, case):
    sizes, batch = CASES[int(case)]
    if which == "floor":
        fn = numpy_floor_fn(sizes, batch)
    elif which == "torch":
        from _common import torch_or_none
        fn = step_fn(torch_or_none(), sizes, batch)
    else:
        import distgrad
        fn = step_fn(distgrad, sizes, batch)
    print(timeit(fn))


def main():
    torch = has_torch()
    rows = []
    for case, (sizes, batch) in enumerate(CASES):
        kinds = ["distgrad", "floor"] + (["torch"] if torch else [])
        measured = interleaved(__file__, [(k, case) for k in kinds])
        times = {k: measured[(k, case)] for k in kinds}
        row = {"model": f"MLP {'-'.join(map(str, sizes))}, batch {batch}", "distgrad us": fmt_us(times["distgrad"]),
               "numpy floor us": fmt_us(times["floor"]), "distgrad/floor": ratio(times["distgrad"], times["floor"])}
        if torch:
            row.update({"pytorch us": fmt_us(times["torch"]), "distgrad/pytorch": ratio(times["distgrad"], times["torch"])})
        rows.append(row)
    table("training step, single thread (targets: big MLP <= 1.05x PyTorch, small MLP <= 2x)", rows,
          ["model", "distgrad us", "pytorch us", "numpy floor us", "distgrad/pytorch", "distgrad/floor"])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:])
    else:
        main()
