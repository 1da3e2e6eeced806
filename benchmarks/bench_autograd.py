"""Autograd overhead: microseconds per recorded op, and a small MLP training step, beside PyTorch.

    python benchmarks/bench_autograd.py

1. A chain of 1,000 small elementwise ops (mul, add, tanh on 16 floats), forward + backward,
   reported per op; target: at most 5 us per recorded op.
2. One training step (forward, cross-entropy, backward, SGD with momentum) of an MLP
   64-64-64-10 at batch 32, single-threaded; target: at most 2x PyTorch's step time.
Each number is the median of 3 fresh subprocesses (see ``_common.isolated``), rounds
interleaved; the chain also shows the NumPy floor (the same array math with no framework).
"""
import sys

import numpy as np

import _common  # noqa: F401  (pins threads before numpy/torch load)
from _common import fmt_us, has_torch, interleaved, ratio, table, timeit

CHAIN = 999  # 333 rounds of (mul, add, tanh)


def chain_step(x):
    y = x
    for _ in range(CHAIN // 3):
        y = (y * 1.0001 + 0.0001).tanh()
    y.sum().backward()
    x.grad = None


def numpy_chain_floor(a):
    ys, y = [], a
    for _ in range(CHAIN // 3):
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


def _lib(name):
    if name == "torch":
        from _common import torch_or_none
        return torch_or_none()
    import distgrad
    return distgrad


def worker(bench, which):
    if bench == "chain":
        if which == "floor":
            a = np.random.default_rng(0).standard_normal(16).astype(np.float32)
            print(timeit(lambda: numpy_chain_floor(a), repeat=5) / CHAIN)
            return
        lib = _lib(which)
        x = lib.randn(16, requires_grad=True)
        print(timeit(lambda: chain_step(x), repeat=5) / CHAIN)
    else:
        print(timeit(train_step_fn(_lib(which), (64, 64, 64, 10), 32)))


def main():
    others = ["torch"] if has_torch() else []
    t = interleaved(__file__, [("chain", k) for k in ["distgrad", "floor"] + others]
                    + [("mlp", k) for k in ["distgrad"] + others])
    rows = []
    for bench, name in [("chain", f"chain of {CHAIN} elementwise ops (per op)"),
                        ("mlp", "MLP 64-64-64-10 train step, batch 32")]:
        row = {"benchmark": name, "distgrad us": fmt_us(t[(bench, "distgrad")])}
        if (bench, "floor") in t:
            row["numpy floor us"] = fmt_us(t[(bench, "floor")])
        if others:
            row["pytorch us"] = fmt_us(t[(bench, "torch")])
            row["distgrad/pytorch"] = ratio(t[(bench, "distgrad")], t[(bench, "torch")])
        rows.append(row)
    table("autograd overhead (single thread; targets: chain <= 5 us/op, MLP step <= 2x PyTorch)", rows,
          ["benchmark", "distgrad us", "pytorch us", "numpy floor us", "distgrad/pytorch"])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:])
    else:
        main()
