"""Never hang: an error on one rank or a rank that skips a collective ends the whole job quickly.

These tests start ``distgrad-launch`` (hence mpiexec) themselves, so they run
in the ordinary single-process pytest session.
"""
import os
import subprocess
import sys
import textwrap
import time

import pytest

from distgrad.comm import env

pytestmark = pytest.mark.skipif(env.launched_by_mpi(), reason="starts its own mpiexec; run without mpiexec")

PREAMBLE = """
import sys, threading, time
import distgrad, distgrad.distributed as dist
"""


def launch(tmp_path, n, body, extra_env=None, timeout=60):
    """Run ``body`` on ``n`` ranks; return (exit status, stdout, stderr, seconds)."""
    script = tmp_path / "job.py"
    script.write_text(PREAMBLE + textwrap.dedent(body))
    environ = dict(os.environ)
    environ.pop("DISTGRAD_TIMEOUT", None)
    environ.update(extra_env or {})
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "launch", "-n", str(n), str(script)], capture_output=True,
                         text=True, timeout=timeout, env=environ)
    return out.returncode, out.stdout, out.stderr, time.monotonic() - t0


def test_exception_on_one_rank_aborts_every_rank(tmp_path):
    code, out, err, seconds = launch(tmp_path, 2, """
        dist.init_process_group()
        if dist.get_rank() == 1:
            raise ValueError("boom on rank one")
        t = distgrad.ones(3)
        dist.all_reduce(t)          # rank 0 waits here for a rank that died
        time.sleep(60)
    """)
    assert code != 0
    assert seconds < 15, err
    assert err.count("[rank 1] Traceback (most recent call last):") == 1, err
    assert "[rank 1] ValueError: boom on rank one" in err
    assert "[rank 0] Traceback" not in err


def test_exception_in_a_thread_aborts_too(tmp_path):
    code, out, err, seconds = launch(tmp_path, 3, """
        dist.init_process_group()
        def work():
            if dist.get_rank() == 1:
                raise KeyError("lost in a thread")
        th = threading.Thread(target=work, name="loader")
        th.start(); th.join()
        dist.barrier()
        time.sleep(60)
    """)
    assert code != 0 and seconds < 15, err
    assert err.count("[rank 1] Exception in thread loader:") == 1, err
    assert "[rank 1] KeyError: 'lost in a thread'" in err


def test_skipped_collective_times_out_naming_collective_and_missing_rank(tmp_path):
    code, out, err, seconds = launch(tmp_path, 3, """
        dist.init_process_group()
        t = distgrad.ones(4)
        dist.all_reduce(t)
        if dist.get_rank() != 1:
            dist.all_reduce(t)      # rank 1 skips it and runs to the end of the script
        print("finished", dist.get_rank(), flush=True)
    """, {"DISTGRAD_TIMEOUT": "3"})
    assert code != 0 and seconds < 15, err
    assert "all_reduce #1 on group world" in err and "did not complete within 3 s" in err, err
    assert "ranks that have not arrived at this all_reduce: [1]" in err
    assert "rank 1: finished its script" in err
    assert "finished 1" in out and "finished 0" not in out


def test_stuck_receive_times_out_and_reports_what_the_peer_does(tmp_path):
    code, out, err, seconds = launch(tmp_path, 2, """
        dist.init_process_group(timeout=2)   # the argument wins over DISTGRAD_TIMEOUT
        if dist.get_rank() == 0:
            dist.recv(distgrad.zeros(2), src=1)
        else:
            time.sleep(30)          # never sends
    """, {"DISTGRAD_TIMEOUT": "100"})
    assert code != 0 and seconds < 15, err
    assert "[rank 0] distgrad.comm: recv on group world with rank 1" in err, err
    assert "did not complete within 2 s" in err
    assert "rank 1: is running its own code" in err


def test_rank_that_never_initialises_is_not_waited_for_forever(tmp_path):
    code, out, err, seconds = launch(tmp_path, 2, """
        from mpi4py import MPI
        if MPI.COMM_WORLD.Get_rank() == 0:
            dist.init_process_group(timeout=2)
        else:
            time.sleep(30)          # takes another code path and never initialises
    """)
    assert code != 0 and seconds < 15, err
    assert "[rank 0] distgrad.comm: init_process_group waited 2 s for the other ranks" in err, err
