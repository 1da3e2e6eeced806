"""The func tests share the autograd tests' error-parity helper (tests/autograd/error_parity.py)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "autograd"))
