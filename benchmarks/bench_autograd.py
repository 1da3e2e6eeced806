"""Autograd overhead: microseconds per recorded op, and a small MLP training step, beside PyTorch.

    python benchmarks/bench_autograd.py

1. A chain of 1,000 small elementwise ops (mul, add, tanh on 16 floats), forward + backward,
   reported per op; target: at most 5 us per recorded op.
2. One training step (forward, cross-entropy, backward, SGD) of an MLP 64-64-64-10 at batch 32,
   single-threaded; target: at most 2x PyTorch's step time.
Both print the ratio to PyTorch measured in the same run (and the NumPy floor for the chain).
"""
import numpy as np

import _common  # noqa: F401  (pins threads before numpy/torch load)
from _common import fmt_us, ratio, table, timeit, torch_or_none

import distgrad

CHAIN = 1000


def chain_step(lib, x):
    y = x
    for i in range(CHAIN // 3):
        y = (y * 1.0001 + 0.0001).tanh()
    y.sum().backward()
    x.grad = None


def numpy_chain_floor(a):
    ys, y = [], a
    for i in range(CHAIN // 3):
        y = np.tanh(y * 1.0001 + 0.0001)
        ys.append(y)
    g = np.ones_like(a)
    for y in reversed(ys):
        g = g * (1 - y * y) * 1.0001
    return g


def mlp(lib, sizes, seed=0):
    lib.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(lib.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(lib.nn.ReLU())
    return lib.nn.Sequential(*layers)


def train_step_fn(lib, sizes, batch, make_optimizer=None):
    """A closure running one training step (zero_grad, forward, cross-entropy, backward, step)."""
    model = mlp(lib, sizes)
    make_optimizer = make_optimizer or (lambda params: lib.optim.SGD(params, lr=0.01, momentum=0.9))
    opt = make_optimizer(model.parameters())
    loss_fn = lib.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32))
    y = lib.tensor(rng.integers(0, sizes[-1], batch))

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return step


def main():
    torch = torch_or_none()
    rows = []
    x = distgrad.randn(16, requires_grad=True)
    ours = timeit(lambda: chain_step(distgrad, x), repeat=5) / CHAIN
    floor = timeit(lambda: numpy_chain_floor(x._data), repeat=5) / CHAIN
    row = {"benchmark": f"chain of {CHAIN} elementwise ops (per op)", "distgrad us": fmt_us(ours),
           "numpy floor us": fmt_us(floor)}
    if torch is not None:
        tx = torch.randn(16, requires_grad=True)
        theirs = timeit(lambda: chain_step(torch, tx), repeat=5) / CHAIN
        row.update({"pytorch us": fmt_us(theirs), "distgrad/pytorch": ratio(ours, theirs)})
    rows.append(row)

    sizes, batch = (64, 64, 64, 10), 32
    ours = timeit(train_step_fn(distgrad, sizes, batch))
    row = {"benchmark": "MLP 64-64-64-10 train step, batch 32", "distgrad us": fmt_us(ours)}
    if torch is not None:
        theirs = timeit(train_step_fn(torch, sizes, batch))
        row.update({"pytorch us": fmt_us(theirs), "distgrad/pytorch": ratio(ours, theirs)})
    rows.append(row)
    table("autograd overhead (single thread; targets: chain <= 5 us/op, MLP step <= 2x PyTorch)", rows,
          ["benchmark", "distgrad us", "pytorch us", "numpy floor us", "distgrad/pytorch"])


if __name__ == "__main__":
    main()
