"""A nanoGPT-style PyTorch program (tests/programs/char_gpt.py, written here) runs unmodified through the alias.

It trains, writes its checkpoint dict with torch.save, resumes from it with torch.load (model, AdamW state,
iteration count, best loss) and samples from it, each in a fresh ``python -m distgrad.run`` process.
"""
import os
import pathlib
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

import distgrad

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "tests" / "programs" / "char_gpt.py"


@pytest.fixture
def data(tmp_path):
    text = next((ROOT / "examples" / "data").glob("*.txt")).read_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    cut = int(len(ids) * 0.9)
    ids[:cut].tofile(tmp_path / "train.bin")
    ids[cut:].tofile(tmp_path / "val.bin")
    with open(tmp_path / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, f)
    return tmp_path, len(chars)


def run(*args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "distgrad.run", str(PROGRAM), *args], capture_output=True,
                         text=True, cwd=cwd, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def losses(stdout):
    return [(int(i), float(x)) for i, x in re.findall(r"^iter (\d+): loss ([\d.]+)", stdout, re.M)]


def test_train_checkpoint_resume_and_sample(data):
    folder, vocab = data
    out = folder / "out"
    first = run("--data", str(folder), "--out", str(out), "--iters", "8", cwd=folder)
    assert "GradScaler is enabled, but CUDA is not available" in first.stderr  # as PyTorch warns on CPU
    steps = losses(first.stdout)
    assert [i for i, _ in steps] == list(range(8))
    assert abs(steps[0][1] - np.log(vocab)) < 0.3 and steps[-1][1] < steps[0][1] - 0.5
    ckpt = distgrad.load(out / "ckpt.pt")
    assert ckpt["iter_num"] == 8 and set(ckpt) == {"model", "optimizer", "model_args", "iter_num",
                                                   "best_val_loss", "config"}
    assert ckpt["best_val_loss"].ndim == 0 and ckpt["config"]["compile"] is False
    assert ckpt["optimizer"]["state"][0]["step"].item() == 8

    second = run("--data", str(folder), "--out", str(out), "--iters", "4", "--resume", cwd=folder)
    assert re.search(r"^resumed at 8, best [\d.]+, adam step 8\.0$", second.stdout, re.M), second.stdout
    assert [i for i, _ in losses(second.stdout)] == [8, 9, 10, 11]
    assert max(x for _, x in losses(second.stdout)) < steps[0][1] - 0.5  # it continued, not restarted
    assert distgrad.load(out / "ckpt.pt")["optimizer"]["state"][0]["step"].item() == 12

    third = run("--data", str(folder), "--out", str(out), "--sample", "40", cwd=folder)
    sample = re.search(r"^sample: (.*)$", third.stdout, re.S | re.M).group(1)
    assert len(sample.rstrip("\n")) >= 41 - sample.count("\n")
