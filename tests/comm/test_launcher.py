"""``distgrad-launch``: rank variables, in-process mode, exit status, command line.

The end-to-end tests start the launcher (and mpiexec) as subprocesses from
the ordinary single-process pytest session.
"""
import argparse
import os
import subprocess
import sys
import textwrap

import pytest

from distgrad.comm import env
from launch import bootstrap, cli

pytestmark = pytest.mark.skipif(env.launched_by_mpi(), reason="starts its own mpiexec; run without mpiexec")


def launcher():
    """The installed console script when there is one, else ``python -m launch``."""
    script = os.path.join(os.path.dirname(sys.executable), "distgrad-launch")
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "launch"]


def run(args, cwd=None, extra_env=None, timeout=90):
    environ = dict(os.environ)
    for key in ("DISTGRAD_TIMEOUT", "OMP_NUM_THREADS", "RANK", "WORLD_SIZE", "LOCAL_RANK"):
        environ.pop(key, None)
    environ.update(extra_env or {})
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=environ)


def write(path, body):
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_two_ranks_get_rank_variables_arguments_and_settings(tmp_path):
    script = write(tmp_path / "show.py", """
        import os, sys
        import distgrad.comm, distgrad.distributed as dist
        dist.init_process_group()
        e = os.environ
        print(e["RANK"], e["WORLD_SIZE"], e["LOCAL_RANK"], e["LOCAL_WORLD_SIZE"], dist.get_rank(),
              dist.get_world_size(), dist.get_local_rank(), e["OMP_NUM_THREADS"], e["DISTGRAD_TIMEOUT"],
              distgrad.comm.default_group().timeout, __name__, sys.argv[1:], flush=True)
    """)
    out = run(launcher() + ["-n", "2", "--timeout", "42", "--", script, "-v", "--lr", "0.1"])
    assert out.returncode == 0, out.stderr
    lines = sorted(out.stdout.strip().splitlines())
    assert len(lines) == 2, out.stdout
    for rank, line in enumerate(lines):
        f = line.split(" ", 11)
        assert f[:2] == [str(rank), "2"] and f[3] == "2"
        assert f[4:6] == [str(rank), "2"] and f[2] == f[6]  # LOCAL_RANK agrees with get_local_rank()
        assert f[7:11] == ["1", "42.0", "42.0", "__main__"]
        assert f[11] == "['-v', '--lr', '0.1']"


TRAIN = """
    import sys
    import distgrad, distgrad.distributed as dist
    dist.init_process_group()
    distgrad.manual_seed(0)
    w = distgrad.randn(3, requires_grad=True)
    x = distgrad.randn(8, 3)
    for step in range(3):
        loss = ((x @ w) ** 2).mean()
        w.grad = None
        loss.backward()
        dist.all_reduce(w.grad, op=dist.ReduceOp.AVG)
        with distgrad.no_grad():
            w -= 0.1 * w.grad
        print(step, f"{loss.item():.10f}", dist.get_rank(), dist.get_world_size())
    objs = [None]
    dist.all_gather_object(objs, sys.argv[1:])
    print(objs, __name__, "mpi4py.MPI" in sys.modules)
"""


def test_one_rank_runs_in_process_like_plain_python(tmp_path):
    script = write(tmp_path / "train.py", TRAIN)
    plain = run([sys.executable, script, "a", "--b"])
    launched = run(launcher() + ["-n", "1", script, "a", "--b"])
    assert plain.returncode == 0 and launched.returncode == 0, launched.stderr
    assert launched.stdout == plain.stdout
    assert "['a', '--b']] __main__ False" in plain.stdout


def test_exit_status_and_tracebacks(tmp_path):
    fails = write(tmp_path / "fails.py", """
        def helper():
            raise RuntimeError("broken script")
        helper()
    """)
    out = run(launcher() + ["-n", "1", fails])
    assert out.returncode == 1
    assert "RuntimeError: broken script" in out.stderr and 'fails.py", line 4' in out.stderr
    assert "runpy" not in out.stderr and "launch" not in out.stderr  # only the script's frames
    exits = write(tmp_path / "exits.py", """
        import sys
        import distgrad.distributed as dist
        dist.init_process_group()
        sys.exit(3 if dist.get_rank() == 1 else 0)
    """)
    assert run(launcher() + ["-n", "1", exits]).returncode == 0
    assert run(launcher() + ["-n", "2", exits]).returncode != 0
    missing = run(launcher() + ["-n", "1", str(tmp_path / "nope.py")])
    assert missing.returncode == 2 and "can't open file" in missing.stderr


def test_module_mode(tmp_path):
    write(tmp_path / "mymod.py", """
        import sys
        if __name__ == "__main__":
            print("module", sys.argv[1:])
    """)
    out = run(launcher() + ["-n", "1", "-m", "mymod", "x"], cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "module ['x']"


def opts(**kw):
    base = dict(n=2, hostfile=None, timeout=None, mpiexec=None, mpi_args="", force_mpi=False, dry_run=True,
                module=False, script="train.py", args=["--x"])
    base.update(kw)
    return argparse.Namespace(**base)


def test_command_line():
    found = cli.find_mpiexec()
    assert found is not None and os.path.basename(found) in ("mpiexec", "mpirun")
    environ = {"OMP_NUM_THREADS": "1"}
    cmd = cli.build_command(opts(n=cli.physical_cores() + 1), environ)
    assert cmd[:3] == [found, "-n", str(cli.physical_cores() + 1)]
    assert cmd[-5:] == [sys.executable, "-m", "launch.bootstrap", "train.py", "--x"]
    if cli.is_open_mpi(found):
        assert "--oversubscribe" in cmd
        assert environ["OMPI_ALLOW_RUN_AS_ROOT"] == "1" and environ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] == "1"
        assert cmd[cmd.index("-x") + 1] == "OMP_NUM_THREADS"
        cmd = cli.build_command(opts(n=1, hostfile="hosts", mpi_args="--mca btl self,sm", module=True), {})
        assert "--oversubscribe" not in cmd and cmd[cmd.index("--hostfile") + 1] == "hosts"
        assert cmd[cmd.index("--mca"):cmd.index("--mca") + 3] == ["--mca", "btl", "self,sm"]
        assert cmd[-4:] == ["launch.bootstrap", "-m", "train.py", "--x"]
    dry = run(launcher() + ["-n", "3", "--dry-run", "script.py"])
    assert dry.returncode == 0 and "launch.bootstrap script.py" in dry.stdout
    bad = run(launcher() + ["-n", "0", "script.py"])
    assert bad.returncode == 2 and "-n must be at least 1" in bad.stderr


def test_rank_environment_from_each_launcher():
    ompi = {"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_RANK": "1",
            "OMPI_COMM_WORLD_LOCAL_SIZE": "2"}
    assert bootstrap.rank_environment(ompi) == {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4",
                                                "LOCAL_WORLD_SIZE": "2"}
    hydra = {"PMI_RANK": "2", "PMI_SIZE": "3", "MPI_LOCALRANKID": "0", "MPI_LOCALNRANKS": "1"}
    assert bootstrap.rank_environment(hydra)["RANK"] == "2"
    slurm = {"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1", "SLURM_NTASKS_PER_NODE": "4(x2)"}
    assert bootstrap.rank_environment(slurm) == {"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8",
                                                 "LOCAL_WORLD_SIZE": "4"}
    assert bootstrap.rank_environment({})["WORLD_SIZE"] == "1"
