"""Measure whether an asynchronous allreduce progresses while the caller computes.

Run it on several ranks::

    $ distgrad-launch -n 2 benchmarks/bench_progress.py [--mb 8] [--compute-ms 50] [--reps 5]

It times, for one float32 buffer of ``--mb`` megabytes (median over
``--reps``, on rank 0):

1. a blocking ``MPI_Allreduce`` on its own, and distgrad's blocking
   ``all_reduce`` (plus the per-call latency of a one-element all_reduce,
   blocking and through the communication thread);
2. ``MPI_Iallreduce``, ``--compute-ms`` of NumPy matrix products, then
   ``Wait``: if MPI made no progress during the compute, the wait costs as
   much as the whole allreduce;
3. ``distgrad.comm.all_reduce(async_op=True)`` (the communication thread), the
   same compute, then ``work.wait()``: the wait should be close to zero;
4. the same with pure-Python compute that holds the GIL.

The numbers measured while building distgrad are in BENCHMARKS.md
("Communication progress"); they are why :mod:`distgrad.comm.executor` runs
collectives on a communication thread.
"""
import argparse
import statistics
import time

import numpy as np

import _common  # noqa: F401  (pins BLAS/OpenMP threads before numpy/torch load)

import distgrad
import distgrad.comm as dist
from distgrad.comm import env


def _compute_numpy(seconds, a):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ a


def _compute_python(seconds):
    t0 = time.perf_counter()
    x = 0
    while time.perf_counter() - t0 < seconds:
        for i in range(1000):
            x += i
    return x


def measure(mb=8.0, compute_ms=50.0, reps=5):
    """Run the four measurements; return {name: median milliseconds} (meaningful on every rank)."""
    dist.init_process_group()
    MPI = env.loaded_mpi()
    n = int(mb * 2 ** 20 / 4)
    buf = np.ones(n, dtype=np.float32)
    t = distgrad.from_numpy(buf)
    mat = np.random.default_rng(0).random((200, 200))
    sec = compute_ms / 1000.0
    times = {}

    def record(name, value):
        times.setdefault(name, []).append(value * 1000.0)

    for _ in range(reps):
        if MPI is not None:
            comm = MPI.COMM_WORLD
            comm.Barrier()
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, [buf, MPI.FLOAT])
            record("blocking MPI Allreduce", time.perf_counter() - t0)
            comm.Barrier()
            t0 = time.perf_counter()
            req = comm.Iallreduce(MPI.IN_PLACE, [buf, MPI.FLOAT])
            _compute_numpy(sec, mat)
            t1 = time.perf_counter()
            req.Wait()
            record("Iallreduce: Wait after compute", time.perf_counter() - t1)
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(t)
        record("distgrad blocking all_reduce (same buffer)", time.perf_counter() - t0)
        small = distgrad.ones(1)
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(100):
            dist.all_reduce(small)
        record("distgrad blocking all_reduce of 1 float, per call", (time.perf_counter() - t0) / 100)
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(100):
            dist.all_reduce(small, async_op=True).wait()
        record("distgrad async all_reduce of 1 float + wait, per call", (time.perf_counter() - t0) / 100)
        for label, work_fn in (("numpy", lambda: _compute_numpy(sec, mat)), ("python", lambda: _compute_python(sec))):
            dist.barrier()
            work = dist.all_reduce(t, async_op=True)
            work_fn()
            t1 = time.perf_counter()
            work.wait()
            record(f"distgrad async all_reduce: wait after {label} compute", time.perf_counter() - t1)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mb", type=float, default=8.0)
    p.add_argument("--compute-ms", type=float, default=50.0)
    p.add_argument("--reps", type=int, default=5)
    opts = p.parse_args(argv)
    res = measure(opts.mb, opts.compute_ms, opts.reps)
    if dist.get_rank() == 0:
        print(f"{dist.get_world_size()} ranks, {opts.mb:g} MB float32, {opts.compute_ms:g} ms compute, "
              f"median of {opts.reps}:")
        for k, v in res.items():
            print(f"  {k:55s} {v:8.2f} ms")


if __name__ == "__main__":
    main()
