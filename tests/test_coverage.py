"""docs/coverage.md is what scripts/coverage.py makes of the code now, and every name it is checked
against exists in PyTorch (so the list does not claim names PyTorch lacks)."""
import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("coverage_script", ROOT / "scripts" / "coverage.py")
coverage = importlib.util.module_from_spec(spec)
spec.loader.exec_module(coverage)


def test_coverage_page_is_current():
    assert (ROOT / "docs" / "coverage.md").read_text() == coverage.render(), \
        "docs/coverage.md is stale: run python scripts/coverage.py"


def test_every_listed_name_exists_in_pytorch():
    pytest.importorskip("torch")
    absent = [f"{ns}.{n}" for ns, names in coverage.read_names().items()
              for n in names if not hasattr(coverage.resolve("torch", ns), n)]
    assert absent == []


def test_the_page_counts_what_distgrad_has():
    text = coverage.render()
    assert "| `torch.nn.utils.rnn` | 7 of 7 | 0 |" in text  # every packed-sequence helper is in
    assert "`LSTM`" in text.split("## `torch.nn`")[1].split("Provided:")[1]
