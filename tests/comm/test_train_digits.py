"""The main job end to end: examples/train_digits.py on 2 ranks through distgrad-launch.

Checks that training reaches a useful accuracy, that rank 0 alone prints metrics, that the
checkpoint is written, and that stopping after one epoch and resuming ends with weights
bit-identical to an uninterrupted run (compared through the digest the script prints).
These tests start mpiexec themselves, so they run in the ordinary single-process session.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mpi4py")
pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "train_digits.py"


def _clean_env():
    """This process's environment without what an enclosing mpiexec set (a test session may run
    under one), so the child starts its own job or runs as a plain singleton."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMPI_COMM_WORLD", "OMPI_MCA", "PMIX_", "PMI_", "OMPI_UNIVERSE"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def _launch(tmp_path, *args, ranks=2, timeout=240):
    env = _clean_env()
    cmd = [sys.executable, "-m", "launch", "-n", str(ranks), str(SCRIPT), "--no-progress",
           "--checkpoint", str(tmp_path / "ckpt.safetensors"), *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def _final(stdout):
    m = re.search(r"final test accuracy: ([\d.]+)%.*weights ([0-9a-f]{16})", stdout)
    assert m, stdout
    return float(m.group(1)), m.group(2)


def test_two_ranks_train_and_resume_bit_identical(tmp_path):
    common = ["--model", "mlp", "--epochs", "3", "--batch-size", "64"]
    full = _launch(tmp_path / "a", *common)
    acc, digest = _final(full)
    assert acc > 85.0
    assert full.count("final test accuracy") == 1          # metrics come from rank 0 only
    assert (tmp_path / "a" / "ckpt.safetensors").exists()

    first = _launch(tmp_path / "b", *common, "--stop-after", "1")
    assert "epoch  1/3" in first and "epoch  2/3" not in first
    resumed = _launch(tmp_path / "b", *common, "--resume")
    assert "resumed from" in resumed
    assert _final(resumed)[1] == digest


def test_one_rank_in_process_gives_the_same_weights_as_plain_python(tmp_path):
    common = ["--model", "mlp", "--epochs", "1", "--batch-size", "64"]
    launched = _final(_launch(tmp_path / "a", *common, ranks=1))
    env = _clean_env()
    plain = subprocess.run([sys.executable, str(SCRIPT), "--no-progress", "--checkpoint",
                            str(tmp_path / "p.safetensors"), *common],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert plain.returncode == 0, plain.stderr
    assert _final(plain.stdout) == launched
