"""The main job end to end: examples/train_digits.py on 2 ranks through distgrad-launch.

Checks that training reaches a useful accuracy, that rank 0 alone prints metrics, that the
checkpoint is written, and that stopping after one epoch and resuming ends with weights
bit-identical to an uninterrupted run (compared through the digest the script prints).
These tests start mpiexec themselves, so they run in the ordinary single-process session.
"""
import re
import subprocess
import sys

import pytest

from example_runs import ROOT, clean_env, launch

pytest.importorskip("mpi4py")
pytest.importorskip("sklearn")

SCRIPT = ROOT / "examples" / "train_digits.py"


def _launch(tmp_path, *args, ranks=2, timeout=240):
    return launch(SCRIPT, "--no-progress", "--checkpoint", str(tmp_path / "ckpt.safetensors"), *args,
                  ranks=ranks, timeout=timeout)


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
    env = clean_env()
    plain = subprocess.run([sys.executable, str(SCRIPT), "--no-progress", "--checkpoint",
                            str(tmp_path / "p.safetensors"), *common],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert plain.returncode == 0, plain.stderr
    assert _final(plain.stdout) == launched
