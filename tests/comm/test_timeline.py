"""DISTGRAD_TIMELINE: a valid Chrome trace, one process row per rank, allreduces inside backward.

The trace of a few DDP training steps must hold, for every rank, forward,
backward and optimizer-step events on the compute row and one allreduce event
per bucket and step on the communication row; the first bucket's allreduce
must start before that step's backward ends (communication overlaps
backward).  Recording is off when the variable is unset, and the file is
written at interpreter exit.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import distgrad
import distgrad.distributed as dist
from distgrad import nn
from distgrad.comm import env, timeline
from distgrad.nn.parallel import DistributedDataParallel as DDP

single = pytest.mark.skipif(env.launched_by_mpi(), reason="world-of-one test (runs without mpiexec)")
STEPS = 3


@pytest.fixture(autouse=True, scope="module")
def _world():
    dist.init_process_group(timeout=60)
    yield


@pytest.fixture
def trace_path(tmp_path, monkeypatch):
    path = dist.broadcast_object(str(tmp_path / "trace.json"), src=0)   # one file, rank 0's folder
    monkeypatch.setenv(timeline.ENV_VAR, path)
    yield path
    timeline.stop()


def train(ddp, steps=STEPS):
    opt = distgrad.optim.SGD(ddp.parameters(), lr=0.01)
    g = np.random.default_rng(dist.get_rank())
    for _ in range(steps):
        x = distgrad.tensor(g.standard_normal((64, 128)).astype(np.float32))
        opt.zero_grad()
        ddp(x).square().mean().backward()
        opt.step()


def model():
    distgrad.manual_seed(0)
    return nn.Sequential(nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def test_trace_is_valid_json_with_allreduces_overlapping_backward(trace_path):
    rank, size = dist.get_rank(), dist.get_world_size()
    ddp = DDP(model(), bucket_cap_mb=0.01)
    nb = len(ddp.reducer.buckets)
    assert nb >= 3 and timeline.current() is not None
    train(ddp)
    written = timeline.save()
    if rank != 0:
        assert written is None
        return
    assert written == trace_path
    with open(trace_path) as f:
        trace = json.load(f)
    events = trace["traceEvents"]
    assert {e["pid"] for e in events} == set(range(size))
    for pid in range(size):
        mine = [e for e in events if e["pid"] == pid]
        names = {(e["name"], e["tid"]) for e in mine if e["ph"] == "M"}
        assert ("thread_name", timeline.COMPUTE) in names and ("thread_name", timeline.COMM) in names
        spans = [e for e in mine if e["ph"] == "X"]
        for e in spans:
            assert e["dur"] >= 0 and e["ts"] >= 0 and e["cat"] in ("compute", "comm")
        by_name = {}
        for e in spans:
            by_name.setdefault(e["name"], []).append(e)
        assert len(by_name["forward"]) == STEPS and len(by_name["optimizer step (SGD)"]) == STEPS
        backward = sorted(by_name["backward"], key=lambda e: e["ts"])
        assert len(backward) == STEPS
        for k in range(nb):
            runs = sorted(by_name[f"allreduce bucket {k}"], key=lambda e: e["ts"])
            assert len(runs) == STEPS and all(e["tid"] == timeline.COMM for e in runs)
            assert runs[0]["args"]["bucket"] == k
        first = sorted(by_name["allreduce bucket 0"], key=lambda e: e["ts"])
        for bwd, ar in zip(backward, first):
            # launched inside backward: communication overlaps the rest of the backward pass
            assert bwd["ts"] <= ar["ts"] < bwd["ts"] + bwd["dur"], (bwd, ar)


def test_nothing_is_recorded_without_the_variable(monkeypatch):
    monkeypatch.delenv(timeline.ENV_VAR, raising=False)
    timeline.stop()
    ddp = DDP(model(), bucket_cap_mb=0.01)
    train(ddp, steps=1)
    assert timeline.current() is None
    with pytest.raises(RuntimeError, match="nothing is being recorded"):
        timeline.save()


@single
def test_trace_is_written_at_exit(tmp_path):
    path = tmp_path / "exit.json"
    script = textwrap.dedent("""
        import distgrad, distgrad.distributed as dist
        from distgrad.nn.parallel import DistributedDataParallel as DDP
        dist.init_process_group()
        ddp = DDP(distgrad.nn.Linear(3, 2))
        ddp(distgrad.randn(4, 3)).sum().backward()
    """)
    environ = dict(os.environ, DISTGRAD_TIMELINE=str(path))
    done = subprocess.run([sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "timeline written" in done.stderr
    names = {e["name"] for e in json.loads(path.read_text())["traceEvents"]}
    assert {"forward", "backward", "allreduce bucket 0"} <= names
