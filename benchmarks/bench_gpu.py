"""GPU training-step time beside PyTorch CUDA, in the same run: an MLP and a CNN.

    python benchmarks/bench_gpu.py [--steps 10] [--repeat 5] [--only mlp|cnn]

* MLP: batch 1024, 4096-4096-4096-10 (three Linear layers, ReLU between);
* CNN: batch 128, 3x32x32 input, conv(64)-BN-ReLU-conv(128)-BN-ReLU-pool-conv(256)-ReLU-pool-Linear(10).

A step is zero_grad, forward, cross-entropy, backward and an SGD (momentum 0.9)
update, float32.  Both models start from the same weights (distgrad's initial
ones, written to a temporary .npz and loaded by each side), and the first
step's losses are printed side by side, so the two frameworks time the same
computation.  Each framework runs in its own fresh process (as the other
benchmarks do: importing one framework next to the other perturbs it), rounds
interleaved; in a process, each timed round runs ``--steps`` steps and ends
with a device synchronize, and the median round is its time per step.  TF32
is off on both sides (CuPy does not use it unless CUPY_TF32=1; PyTorch's cuDNN
would by default), so both do full float32 math.
Target: distgrad at most 1.2x PyTorch's step time.

Without a GPU (no CuPy, or no device) it prints "no GPU: skipped" and exits 0.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import _common  # noqa: F401  (pins host threads before numpy/torch load)
from _common import table, torch_or_none

import distgrad

TARGET = 1.2


def mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 10))


def cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(256 * 8 * 8, 10))


CASES = {
    "mlp": ("MLP 4096-4096-4096-10, batch 1024", mlp, (1024, 4096)),
    "cnn": ("CNN 3x32x32 conv64-bn-conv128-bn-pool-conv256-pool-fc, batch 128", cnn, (128, 3, 32, 32)),
}


def _data(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, shape[0])


def distgrad_step(make, shape):
    distgrad.manual_seed(0)
    model = make(distgrad).cuda()
    opt = distgrad.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x_np, y_np = _data(shape)
    x, y = distgrad.tensor(x_np, device="cuda"), distgrad.tensor(y_np, device="cuda")
    F = distgrad.nn.functional

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, step, distgrad.cuda.synchronize


def torch_step(torch, make, shape, weights):
    model = make(torch)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    model = model.cuda()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x_np, y_np = _data(shape)
    x, y = torch.from_numpy(x_np).cuda(), torch.from_numpy(y_np).cuda()
    F = torch.nn.functional

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step, torch.cuda.synchronize


def time_steps(step, sync, steps, repeat):
    """Median seconds per step over ``repeat`` rounds of ``steps`` steps, each round ending with a sync."""
    for _ in range(3):
        step()
    sync()
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        rounds.append((time.perf_counter() - t0) / steps)
    return statistics.median(rounds)


def torch_cuda_or_none():
    torch = torch_or_none()
    if torch is None or not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


def initial_weights(key, path):
    """Write distgrad's initial weights for model ``key`` (seed 0, built on the CPU) to ``path``."""
    distgrad.manual_seed(0)
    model = CASES[key][1](distgrad)
    np.savez(path, **{k: v.numpy() for k, v in model.state_dict().items()})


def worker(framework, key, steps, repeat, weights_path):
    """Time one framework on one model in this (fresh) process; print ``seconds first_loss``."""
    _, make, shape = CASES[key]
    weights = dict(np.load(weights_path))
    if framework == "torch":
        torch = torch_cuda_or_none()
        step, sync = torch_step(torch, make, shape, weights)
    else:
        model, step, sync = distgrad_step(make, shape)
        model.load_state_dict({k: distgrad.tensor(v, device="cuda") for k, v in weights.items()})
    first = float(step().item())
    seconds = time_steps(step, sync, steps, repeat)
    extra = f" {distgrad.cuda.memory_allocated() / 2 ** 20:.0f}" if framework == "distgrad" else ""
    print(f"{seconds!r} {first!r}{extra}")


def _run_worker(*args):
    out = subprocess.run([sys.executable, __file__, "--worker", *map(str, args)], capture_output=True, text=True,
                         env=dict(os.environ))
    if out.returncode != 0:
        raise RuntimeError(f"bench_gpu worker {args[:2]} failed:\n{out.stderr}")
    return [float(v) for v in out.stdout.strip().splitlines()[-1].split()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10, help="steps per timed round")
    ap.add_argument("--repeat", type=int, default=5, help="timed rounds per process (their median is kept)")
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per framework, interleaved")
    ap.add_argument("--only", choices=sorted(CASES), help="run one model only")
    ap.add_argument("--worker", nargs=5, metavar=("FRAMEWORK", "MODEL", "STEPS", "REPEAT", "WEIGHTS"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        fw, key, steps, repeat, path = args.worker
        worker(fw, key, int(steps), int(repeat), path)
        return 0
    if not distgrad.cuda.is_available():
        why = "CuPy is not installed" if distgrad.backend.cupy_module() is None else "CuPy sees no CUDA device"
        print(f"bench_gpu: no GPU: skipped ({why}; pip install distgrad[cuda] on a machine with an NVIDIA GPU)")
        return 0
    torch = torch_cuda_or_none()
    cp = distgrad.backend.cupy_module()
    print(f"GPU: {distgrad.cuda.get_device_name()} (compute capability {distgrad.cuda.get_device_capability()}), "
          f"CuPy {cp.__version__}" + (f", PyTorch {torch.__version__}" if torch is not None
                                      else ", PyTorch CUDA: not available"))
    frameworks = ["distgrad"] + (["torch"] if torch is not None else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in ([args.only] if args.only else sorted(CASES)):
            path = os.path.join(tmp, f"{key}.npz")
            initial_weights(key, path)
            runs = {fw: [] for fw in frameworks}
            for _ in range(args.rounds):
                for fw in frameworks:
                    runs[fw].append(_run_worker(fw, key, args.steps, args.repeat, path))
            ours = statistics.median(r[0] for r in runs["distgrad"])
            row = {"model": CASES[key][0], "distgrad ms": f"{ours * 1e3:.2f}",
                   "memory MB": f"{runs['distgrad'][0][2]:.0f}"}
            if torch is not None:
                theirs = statistics.median(r[0] for r in runs["torch"])
                row.update({"pytorch ms": f"{theirs * 1e3:.2f}", "distgrad/pytorch": f"{ours / theirs:.2f}x",
                            f"<= {TARGET}x": "yes" if ours / theirs <= TARGET else "NO",
                            "first loss distgrad/pytorch":
                                f"{runs['distgrad'][0][1]:.5f} / {runs['torch'][0][1]:.5f}"})
            rows.append(row)
    table(f"GPU training step, float32, SGD momentum (target: distgrad <= {TARGET}x PyTorch CUDA)", rows,
          ["model", "distgrad ms", "pytorch ms", "distgrad/pytorch", f"<= {TARGET}x", "first loss distgrad/pytorch",
           "memory MB"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
