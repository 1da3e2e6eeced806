"""Shared benchmark helpers: single-threaded set-up, robust timing, optional PyTorch, tables.

Import this first (it pins BLAS and OpenMP to one thread before NumPy or torch load).
"""
import os
import statistics
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def torch_or_none():
    """PyTorch pinned to one thread, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def timeit(fn, repeat=7, number=None, min_time=0.2):
    """Median seconds per call of ``fn`` over ``repeat`` rounds of ``number`` calls (auto-sized)."""
    fn()  # warm up
    if number is None:
        number, t = 1, 0.0
        while True:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            t = time.perf_counter() - t0
            if t >= min_time / repeat or number >= 1 << 16:
                break
            number *= 2
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - t0) / number)
    return statistics.median(rounds)


def table(title, rows, columns):
    """Print rows (dicts) as an aligned table under ``title``."""
    print(f"\n{title}")
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)))
    sys.stdout.flush()


def fmt_us(seconds):
    return f"{seconds * 1e6:.1f}"


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"


def isolated(script, *args):
    """Seconds measured by ``python script --worker *args`` (which prints one float) in a fresh
    interpreter.  Each framework gets its own process because importing torch next to NumPy
    slows NumPy's BLAS in that process (measured here: a NumPy matmul floor of 33 ms alone,
    46 ms once torch was imported)."""
    import subprocess
    out = subprocess.run([sys.executable, script, "--worker", *map(str, args)], capture_output=True,
                         text=True, check=True, env=dict(os.environ))
    return float(out.stdout.strip().splitlines()[-1])


def interleaved(script, variants, rounds=3):
    """Median seconds per variant (a tuple of worker args), with the rounds interleaved so that
    load on this shared machine hits every variant alike."""
    times = {v: [] for v in variants}
    for _ in range(rounds):
        for v in variants:
            times[v].append(isolated(script, *v))
    return {v: statistics.median(t) for v, t in times.items()}


def has_torch():
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def step_benchmark(script, step_fn, title, model):
    """The command line of a one-model training-step benchmark (bench_lstm, bench_transformer).

    ``python script`` times ``step_fn(lib)()`` for distgrad and PyTorch, each in fresh processes,
    rounds interleaved, and prints the table; ``--worker NAME`` is one such process; ``--profile``
    prints a cProfile of five distgrad steps, top 25 by own time.
    """
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        if sys.argv[2] == "torch":
            fn = step_fn(torch_or_none())
        else:
            import distgrad
            fn = step_fn(distgrad)
        print(timeit(fn, repeat=5, min_time=1.0))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--profile":
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
        return
    kinds = ["distgrad"] + (["torch"] if has_torch() else [])
    measured = interleaved(script, [(k,) for k in kinds])
    times = {k: measured[(k,)] for k in kinds}
    row = {"model": model, "distgrad us": fmt_us(times["distgrad"])}
    if "torch" in times:
        row.update({"pytorch us": fmt_us(times["torch"]), "distgrad/pytorch": ratio(times["distgrad"], times["torch"])})
    table(title, [row], ["model", "distgrad us", "pytorch us", "distgrad/pytorch"])
