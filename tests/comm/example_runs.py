"""Shared helper for the tests that run an example script end to end through ``python -m launch``."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def clean_env():
    """This process's environment without what an enclosing mpiexec set (a test session may run
    under one), so the child starts its own job or runs as a plain singleton."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMPI_COMM_WORLD", "OMPI_MCA", "PMIX_", "PMI_", "OMPI_UNIVERSE"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def launch(script, *args, ranks=2, timeout=240):
    """Run ``script`` on ``ranks`` ranks with distgrad's launcher; its stdout (the run must succeed)."""
    cmd = [sys.executable, "-m", "launch", "-n", str(ranks), str(script), *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout
