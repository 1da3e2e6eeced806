"""distgrad/heap.py: freed arrays stay in the heap (no page faults per step), and the user's choice wins."""
import os
import subprocess
import sys

import pytest

from distgrad import heap

_FAULTS = """
import resource, numpy as np, distgrad
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def step():  # three 8 MiB arrays, freed together: 24 MiB free at the heap top
    arrays = [np.ones(1 << 21, dtype=np.float32) for _ in range(3)]
    del arrays
for _ in range(3):
    step()
f0 = faults()
for _ in range(10):
    step()
print(distgrad.heap.policy(), (faults() - f0) / 10)
"""


def _run(code, **env):
    environ = {k: v for k, v in os.environ.items() if k != "DISTGRAD_KEEP_FREED_MEMORY"}
    environ.update(env)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, check=True)
    return out.stdout.split()


glibc = pytest.mark.skipif(heap._glibc() is None, reason="the heap policy applies to glibc only")


@glibc
def test_freed_arrays_are_reused_without_page_faults():
    policy, faults = _run(_FAULTS)
    assert policy == "kept"
    assert float(faults) < 50  # 8 MiB of fresh pages would be 2048 faults per array
    policy, faults = _run(_FAULTS, DISTGRAD_KEEP_FREED_MEMORY="0")  # glibc's own policy trims and refaults
    assert policy == "default"
    assert float(faults) > 500


@glibc
@pytest.mark.parametrize("variable,value", [("MALLOC_TRIM_THRESHOLD_", "131072"), ("MALLOC_MMAP_THRESHOLD_", "65536"),
                                            ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=131072")])
def test_a_malloc_setting_in_the_environment_is_left_alone(variable, value):
    assert _run("import distgrad; print(distgrad.heap.policy())", **{variable: value}) == ["user"]


def test_opt_out_and_non_glibc_keep_the_default(monkeypatch):
    monkeypatch.setattr(heap, "_policy", "default")
    assert heap.keep_freed_blocks({"DISTGRAD_KEEP_FREED_MEMORY": "off"}) == "default"
    monkeypatch.setattr(heap, "_glibc", lambda: None)
    assert heap.keep_freed_blocks({}) == "default"
    assert heap.keep_freed_blocks({"MALLOC_TOP_PAD_": "0"}) == "user"
    assert heap.policy() == "user"
    assert heap.keep_freed_blocks({}) == "user"  # decided once per process
