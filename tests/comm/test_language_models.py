"""The sequence-model examples end to end on 2 ranks: examples/char_lstm.py and examples/transformer_lm.py.

Each trains briefly on the bundled story through distgrad-launch and must beat the uniform
guess (ln of the vocabulary size, about 3.76 nats per character), print its metrics from rank 0
only and end with a generated sample.  They start mpiexec themselves, so they run in the
ordinary single-process session.
"""
import re

import pytest

from example_runs import ROOT, launch

pytest.importorskip("mpi4py")

UNIFORM = 3.76  # ln(43): the story has 43 distinct characters


def _final_loss(stdout):
    m = re.search(r"final val loss: ([\d.]+) nats/char  \(2 ranks", stdout)
    assert m, stdout
    assert stdout.count("final val loss") == 1 and stdout.count("sample: ") == 1
    return float(m.group(1))


def test_char_lstm_trains_on_two_ranks():
    out = launch(ROOT / "examples" / "char_lstm.py", "--no-progress", "--epochs", "2", "--hidden", "48",
                 "--stride", "16", "--sample-len", "30")
    assert _final_loss(out) < UNIFORM - 0.8
    assert re.search(r"sample: The miller.{30}", out)


def test_transformer_lm_trains_on_two_ranks():
    out = launch(ROOT / "examples" / "transformer_lm.py", "--no-progress", "--epochs", "3", "--d-model", "32",
                 "--stride", "4", "--sample-len", "30")
    assert _final_loss(out) < UNIFORM - 0.8
    assert re.search(r"sample: The river.{30}", out)
