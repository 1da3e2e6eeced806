"""DistributedDataParallel benchmark: gradient-sync bandwidth, weak scaling, overlap, PyTorch DDP.

    OMP_NUM_THREADS=1 distgrad-launch -n 2 benchmarks/bench_ddp.py
    OMP_NUM_THREADS=1 mpiexec -n 2 python benchmarks/bench_ddp.py      (as root: --allow-run-as-root)

The model is the MLP 784-1024-1024-10 (1.86 M float32 parameters, 7.1 MiB of
gradients in DDP's 2 buckets), batch 256 per rank, cross-entropy, SGD with
momentum, everything single-threaded.

(a) Gradient-sync bandwidth: the same gradient bytes reduced by one raw mpi4py
    ``Allreduce`` (the floor) and by DDP: its bucket allreduces as DDP issues
    them (through the communication thread, in bucket order), and DDP's whole
    synchronisation (copy into the buckets with the 1/N scaling, allreduces,
    copy back).  Ratio = raw time / DDP time (target >= 0.90).
(b) Weak scaling: the step time of one rank alone (the other ranks sleep,
    they do not spin in MPI) against every rank training its own batch of 256
    with DDP at once; efficiency = t1 / tN (target >= 0.85 on 2 ranks).  On a
    2-core machine two ranks also compete for memory bandwidth, so the table
    shows the same plain (non-DDP) step run on all ranks at once: the
    difference DDP - plain is what communication costs beyond that.
(c) Overlap: DDP's step against DDP with the reduction deferred to after
    backward (``no_sync`` + ``reduce_gradients``): the exposed communication
    time with and without overlapping backward.
(d) PyTorch: the same steps with ``torch.nn.parallel.DistributedDataParallel``
    over gloo (``env://`` rendezvous on 127.0.0.1), when torch is installed, in
    fresh processes started by rank 0 after distgrad's measurements (importing
    torch beside NumPy slows NumPy); ratio = distgrad's step / PyTorch's step.

Configurations are measured in interleaved rounds (this machine is shared and
noisy); each number is the median step over all rounds, the slowest rank's.
"""
import argparse
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import time

import numpy as np

import _common  # noqa: F401  (pins BLAS/OpenMP threads before numpy/torch load)
from _common import table, torch_or_none

import distgrad
import distgrad.distributed as dist
from distgrad.comm import env
from distgrad.nn.parallel import DistributedDataParallel as DDP

SIZES = (784, 1024, 1024, 10)
BATCH = 256


def mlp(lib):
    a, b, c, d = SIZES
    return lib.nn.Sequential(lib.nn.Linear(a, b), lib.nn.ReLU(), lib.nn.Linear(b, c), lib.nn.ReLU(),
                             lib.nn.Linear(c, d))


def data(lib, rank):
    g = np.random.default_rng(1000 + rank)
    x = lib.tensor(g.standard_normal((BATCH, SIZES[0])).astype(np.float32))
    y = lib.tensor(g.integers(0, SIZES[-1], BATCH).astype(np.int64))
    return x, y


def step_fn(lib, model, rank, after_backward=None, context=None):
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = lib.nn.CrossEntropyLoss()
    x, y = data(lib, rank)

    def step():
        opt.zero_grad()
        if context is not None:
            with context():
                loss_fn(model(x), y).backward()
        else:
            loss_fn(model(x), y).backward()
        if after_backward is not None:
            after_backward()
        opt.step()
    return step


def time_steps(step, n, warmup=2):
    for _ in range(warmup):
        step()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        out.append(time.perf_counter() - t0)
    return out


def idle_barrier(MPI):
    """A barrier that sleeps while it waits, so idle ranks leave the cores to the measured one."""
    if MPI is None:
        return
    req = MPI.COMM_WORLD.Ibarrier()
    pause = 1e-4
    while not req.Test():
        time.sleep(pause)
        pause = min(pause * 2, 2e-3)


class Results:
    """Per-configuration sample lists; merged over ranks at the end (the slowest rank's median)."""

    def __init__(self):
        self.samples = {}

    def add(self, name, values):
        self.samples.setdefault(name, []).extend(values)

    def summary(self, stat=statistics.median):
        """{configuration: the slowest rank's ``stat`` of its samples}."""
        mine = {k: stat(v) for k, v in self.samples.items()}
        everyone = [None] * dist.get_world_size()
        dist.all_gather_object(everyone, mine)
        keys = set().union(*everyone)
        return {k: max(e[k] for e in everyone if k in e) for k in keys}


def measure_bandwidth(res, ddp, MPI, reps, block=10):
    """Time the same bytes reduced three ways, in alternating blocks of ``block`` runs.

    Each run starts with its input freshly written (the state training leaves
    gradients in).  Blocks, with their first run dropped, because the first
    large collective on a buffer other than the previous one costs ~0.5 ms
    more here (MPI's shared-memory transport sets up the new buffer), which
    training, reusing its buckets every step, never pays.
    """
    r = ddp.reducer
    grads = []
    for p in ddp.parameters():
        p.grad = distgrad.randn(p.shape)
        grads.append(p.grad._data)
    n = sum(b.numel for b in r.buckets)
    raw = np.ones(n, dtype=np.float32)
    comm = MPI.COMM_WORLD if MPI is not None else None

    def barrier():
        if comm is not None:
            comm.Barrier()

    def run_raw():
        raw.fill(1.0)
        barrier()
        t0 = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, [raw, MPI.FLOAT])
        return time.perf_counter() - t0

    def run_buckets():
        for b in r.buckets:
            b.grads.fill(1.0)
        barrier()
        t0 = time.perf_counter()
        for b in r.buckets:   # every bucket ready: launched as at the end of backward
            b.pending = 0
        r._launch_ready(final=True)
        for b in r.buckets:
            b.work.wait()
        t = time.perf_counter() - t0
        r._reset()
        return t

    def run_sync():
        for g in grads:
            g.fill(1.0)
        barrier()
        t0 = time.perf_counter()
        r.reduce_gradients()
        return time.perf_counter() - t0

    variants = [("DDP bucket allreduces", run_buckets), ("DDP full sync", run_sync)]
    if comm is not None:
        variants.insert(0, ("raw Allreduce", run_raw))
    for _ in range(max(1, reps // block)):
        for name, fn in variants:
            times = [fn() for _ in range(block + 1)]
            res.add(name, times[1:])
    return n * 4


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=10, help="timed steps per configuration and round")
    p.add_argument("--rounds", type=int, default=4, help="interleaved rounds over the configurations")
    p.add_argument("--reps", type=int, default=100, help="repetitions of each bandwidth measurement")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--torch-worker", nargs=3, type=int, metavar=("RANK", "WORLD", "PORT"), help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    if opts.torch_worker:
        return torch_worker(*opts.torch_worker, opts.steps, opts.rounds)

    dist.init_process_group()
    MPI = env.loaded_mpi()
    rank, size = dist.get_rank(), dist.get_world_size()
    alone = dist.new_group([0])
    distgrad.manual_seed(0)
    res = Results()

    # (a) bandwidth
    nbytes = measure_bandwidth(res, DDP(mlp(distgrad)), MPI, opts.reps)

    # (b, c) steps
    ddp = DDP(mlp(distgrad))
    deferred = DDP(mlp(distgrad))
    syncs = []
    configs_all = [
        ("DDP, all ranks", step_fn(distgrad, ddp, rank, lambda: syncs.append(ddp.reducer.last_sync))),
        ("DDP gradient_as_bucket_view, all ranks", step_fn(distgrad, DDP(mlp(distgrad), gradient_as_bucket_view=True),
                                                           rank)),
        ("plain, all ranks at once", step_fn(distgrad, mlp(distgrad), rank)),
        ("DDP without overlap, all ranks", step_fn(distgrad, deferred, rank, deferred.reducer.reduce_gradients,
                                                   deferred.no_sync)),
    ]
    # every rank walks the same list (the idle barriers pair up); only rank 0 runs these steps
    configs_one = [("plain, one rank alone", step_fn(distgrad, mlp(distgrad), rank)),
                   ("DDP on a group of one, alone",
                    step_fn(distgrad, DDP(mlp(distgrad), process_group=alone), rank) if rank == 0 else None)]
    for _ in range(opts.rounds):
        for name, step in configs_one:
            idle_barrier(MPI)
            if rank == 0:
                res.add(name, time_steps(step, opts.steps))
            idle_barrier(MPI)
        for name, step in configs_all:
            dist.barrier()
            res.add(name, time_steps(step, opts.steps))
    res.add("DDP wait after backward", [s["wait_s"] for s in syncs])
    res.add("buckets reduced before backward ended", [s["done_before_backward_end"] for s in syncs])
    med = res.summary()
    best = res.summary(min)
    med["buckets"] = len(ddp.reducer.buckets) - 1

    # (d) PyTorch, in fresh processes (importing torch beside NumPy slows NumPy here); these ranks sleep meanwhile
    with_torch = not opts.no_torch and size > 1 and importlib.util.find_spec("torch") is not None
    if with_torch:
        if rank == 0:
            med.update(run_torch_workers(size, opts.steps, opts.rounds))
        idle_barrier(MPI)
    if rank == 0:
        report(med, best, nbytes, size, with_torch)


def run_torch_workers(size, steps, rounds):
    """Start ``size`` PyTorch gloo processes on 127.0.0.1 and return rank 0's medians."""
    port = _free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "PRTE_", "PMI_"))}
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--steps", str(steps), "--rounds",
                               str(rounds), "--torch-worker", str(r), str(size), str(port)], env=environ,
                              stdout=subprocess.PIPE, text=True) for r in range(size)]
    outs = [proc.communicate()[0] for proc in procs]
    if any(proc.returncode for proc in procs):
        raise RuntimeError(f"bench_ddp: a PyTorch worker failed (exit codes {[p.returncode for p in procs]})")
    return json.loads(outs[0].strip().splitlines()[-1])


def torch_worker(rank, size, port, steps, rounds):
    """One PyTorch process: rank 0 alone (the others wait in a gloo barrier, sleeping), then DDP on all."""
    torch = torch_or_none()
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))   # loopback only
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    tdist = torch.distributed
    tdist.init_process_group("gloo", init_method="env://", rank=rank, world_size=size)
    torch.manual_seed(0)
    plain = step_fn(torch, mlp(torch), rank)
    ddp = step_fn(torch, torch.nn.parallel.DistributedDataParallel(mlp(torch)), rank)
    samples = {"PyTorch plain, one rank alone": [], "PyTorch DDP (gloo), all ranks": []}
    for _ in range(rounds):
        tdist.barrier()
        if rank == 0:
            samples["PyTorch plain, one rank alone"] += time_steps(plain, steps)
        tdist.barrier()
        samples["PyTorch DDP (gloo), all ranks"] += time_steps(ddp, steps)
    mine = {k: statistics.median(v) for k, v in samples.items() if v}
    everyone = [None] * size
    tdist.all_gather_object(everyone, mine)
    tdist.destroy_process_group()
    if rank == 0:
        print(json.dumps({k: max(e[k] for e in everyone if k in e) for k in mine}))


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ms(seconds):
    return f"{seconds * 1e3:.2f}"


def report(med, best, nbytes, size, with_torch):
    cmd = " ".join([f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}", "mpiexec", "-n", str(size),
                    os.path.relpath(sys.executable), *sys.argv])
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"bench_ddp: {size} ranks, MLP {'-'.join(map(str, SIZES))}, batch {BATCH} per rank, float32, "
          f"single-threaded, {os.cpu_count()} CPUs, load average at the end {load}\ncommand: {cmd}")
    raw = med.get("raw Allreduce")
    rows = []
    for name in ("raw Allreduce", "DDP bucket allreduces", "DDP full sync"):
        if name in med:
            t = med[name]
            rows.append({"sync of the gradients": name, "MiB": f"{nbytes / 2 ** 20:.2f}", "median ms": ms(t),
                         "GB/s (bytes/time)": f"{nbytes / t / 1e9:.2f}",
                         "raw / this (medians)": f"{raw / t:.2f}" if raw else "-", "best ms": ms(best[name]),
                         "raw / this (best)": f"{best['raw Allreduce'] / best[name]:.2f}" if raw else "-"})
    table("(a) gradient-sync bandwidth (target: DDP bucket allreduces >= 0.90 of raw)", rows,
          ["sync of the gradients", "MiB", "median ms", "GB/s (bytes/time)", "raw / this (medians)", "best ms",
           "raw / this (best)"])
    t1 = med["plain, one rank alone"]
    rows = []
    for name in ("plain, one rank alone", "DDP on a group of one, alone", "plain, all ranks at once",
                 "DDP, all ranks", "DDP gradient_as_bucket_view, all ranks", "DDP without overlap, all ranks"):
        if name in med:
            rows.append({"step": name, "ms": ms(med[name]), "t1 / this": f"{t1 / med[name]:.3f}"})
    table(f"(b) weak scaling: efficiency t1 / t{size} (target >= 0.85 for DDP, all ranks)", rows,
          ["step", "ms", "t1 / this"])
    plain_all, ddp_all, noov = (med["plain, all ranks at once"], med["DDP, all ranks"],
                                med["DDP without overlap, all ranks"])
    sync = med.get("DDP full sync", 0.0)
    exposed, exposed_noov = ddp_all - plain_all, noov - plain_all
    rows = [{"measure": "buckets launched during backward whose allreduce finished before it ended",
             "ms": f"{med['buckets reduced before backward ended']:g} of {med['buckets']}"},
            {"measure": "DDP's wait for the allreduces after backward (median)",
             "ms": ms(med["DDP wait after backward"])},
            {"measure": "DDP step - plain step (communication left exposed)", "ms": ms(exposed)},
            {"measure": "same without overlap (reduce after backward)", "ms": ms(exposed_noov)},
            {"measure": "DDP full sync on its own (a)", "ms": ms(sync)},
            {"measure": "share of the sync hidden under backward",
             "ms": f"{min(max(0.0, 1 - exposed / sync), 1.0) * 100:.0f}%" if sync > 0 else "-"}]
    table("(c) overlap of communication with backward", rows, ["measure", "ms"])
    if plain_all > 1.25 * t1:
        print("note: the plain step ran much slower on all ranks at once than alone: other load on the machine "
              "(see the load average); (b) and (c) are unreliable in this run")
    if with_torch:
        rows = []
        for ours, theirs in (("plain, one rank alone", "PyTorch plain, one rank alone"),
                             ("DDP, all ranks", "PyTorch DDP (gloo), all ranks")):
            rows.append({"step": ours, "distgrad ms": ms(med[ours]), "PyTorch ms": ms(med[theirs]),
                         "distgrad / PyTorch": f"{med[ours] / med[theirs]:.3f}"})
        torch_eff = med["PyTorch plain, one rank alone"] / med["PyTorch DDP (gloo), all ranks"]
        rows.append({"step": "weak-scaling efficiency", "distgrad ms": f"{t1 / ddp_all:.3f}",
                     "PyTorch ms": f"{torch_eff:.3f}", "distgrad / PyTorch": ""})
        table("(d) beside PyTorch DDP over gloo (127.0.0.1)", rows,
              ["step", "distgrad ms", "PyTorch ms", "distgrad / PyTorch"])


if __name__ == "__main__":
    main()
