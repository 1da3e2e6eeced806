"""Training-step time of two MLPs beside PyTorch CPU and the NumPy floor, single-threaded.

    python benchmarks/bench_train.py

* batch 256, 784-1024-1024-10 (matmul-bound): target at most 1.05x PyTorch;
* batch 32, 64-64-64-10 (overhead-bound): target at most 2x PyTorch.
A step is zero_grad, forward, cross-entropy, backward and an Adam update.  The NumPy floor is
the same matmuls alone (forward and the two backward matmuls per layer), with no framework.
"""
import numpy as np

import _common  # noqa: F401  (pins threads before numpy/torch load)
from _common import fmt_us, ratio, table, timeit, torch_or_none
from bench_autograd import train_step_fn

import distgrad

CASES = [((784, 1024, 1024, 10), 256), ((64, 64, 64, 10), 32)]


def step_fn(lib, sizes, batch):
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


def main():
    torch = torch_or_none()
    rows = []
    for sizes, batch in CASES:
        name = f"MLP {'-'.join(map(str, sizes))}, batch {batch}"
        ours = timeit(step_fn(distgrad, sizes, batch))
        floor = timeit(numpy_floor_fn(sizes, batch))
        row = {"model": name, "distgrad us": fmt_us(ours), "numpy floor us": fmt_us(floor),
               "distgrad/floor": ratio(ours, floor)}
        if torch is not None:
            theirs = timeit(step_fn(torch, sizes, batch))
            row.update({"pytorch us": fmt_us(theirs), "distgrad/pytorch": ratio(ours, theirs)})
        rows.append(row)
    table("training step, single thread (targets: big MLP <= 1.05x PyTorch, small MLP <= 2x)", rows,
          ["model", "distgrad us", "pytorch us", "numpy floor us", "distgrad/pytorch", "distgrad/floor"])


if __name__ == "__main__":
    main()
