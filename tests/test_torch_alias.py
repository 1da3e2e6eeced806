"""The torch alias: ``python -m distgrad.run`` / ``distgrad-launch --as-torch`` run PyTorch programs unmodified.

Each alias test runs a program written here in a fresh interpreter (the alias changes what ``import torch``
means for the whole process, and this process may hold the real PyTorch for the parity tests).
"""
import os
import subprocess
import sys
import textwrap

import pytest

import distgrad
from distgrad import torch_alias
from launch import cli

PROGRAM = """
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.linear import Linear, NonDynamicallyQuantizableLinear
from torch.nn.modules.container import Sequential
from torch.nn.parameter import Parameter
from torch.optim.optimizer import Optimizer
from torch.utils.data.dataloader import DataLoader
import torch.backends.cudnn
import distgrad

assert torch is distgrad and nn is distgrad.nn and F is distgrad.nn.functional
assert Linear is distgrad.nn.Linear and Sequential is distgrad.nn.Sequential
assert Parameter is distgrad.nn.Parameter and DataLoader is distgrad.utils.data.DataLoader
assert issubclass(distgrad.optim.AdamW, Optimizer)
import torch.nn.modules.rnn
assert sys.modules["torch.nn.modules.rnn"] is distgrad.nn.modules.rnn is torch.nn.modules.rnn
assert torch.nn.__spec__.name == "distgrad.nn"  # the module keeps its own spec under the alias
model = Sequential(Linear(3, 2))
assert isinstance(model[0], torch.nn.modules.linear.Linear)
assert isinstance(nn.MultiheadAttention(4, 2).out_proj, NonDynamicallyQuantizableLinear)
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
torch.backends.cudnn.benchmark = True
assert not torch.backends.mps.is_available() and isinstance(torch.backends.cpu.get_cpu_capability(), str)
assert torch.compile(model) is model
torch.set_float32_matmul_precision("high")
loss = F.mse_loss(model(torch.ones(4, 3)), torch.zeros(4, 2))
print(sys.argv[1:], "{:.3f}".format(torch.tensor(0.5)), f"{loss:+.1f}"[0])
try:
    import torch.onnx_nonexistent_module
except ModuleNotFoundError as e:
    print("module:", e)
try:
    torch.not_a_name
except AttributeError as e:
    print("name:", e)
"""


def _run(args, tmp_path, code=PROGRAM):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(code))
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return subprocess.run(args(str(script)), capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def _check(out):
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "['--lr', '0.1'] 0.500 +"
    assert lines[1] == ("module: No module named 'torch.onnx_nonexistent_module': distgrad does not provide "
                        "torch.onnx_nonexistent_module yet (it runs this program in place of PyTorch; "
                        "distgrad.onnx_nonexistent_module does not exist)")
    assert lines[2] == ("name: module 'distgrad' has no attribute 'not_a_name': distgrad does not provide "
                        "torch.not_a_name yet")


def test_python_m_distgrad_run_runs_a_pytorch_program_unmodified(tmp_path):
    _check(_run(lambda s: [sys.executable, "-m", "distgrad.run", s, "--lr", "0.1"], tmp_path))


def test_distgrad_launch_as_torch_in_process_and_on_two_ranks(tmp_path):
    _check(_run(lambda s: [sys.executable, "-m", "launch", "-n", "1", "--as-torch", s, "--lr", "0.1"], tmp_path))
    rank = "import os, torch, torch.distributed as dist\nprint(os.environ['RANK'], torch.__name__)\n"
    out = _run(lambda s: [sys.executable, "-m", "launch", "-n", "2", "--as-torch", s], tmp_path, rank)
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.split("\n")[:2]) == ["0 distgrad", "1 distgrad"]


def test_dry_run_passes_as_torch_to_every_rank():
    opts = cli.build_parser().parse_args(["-n", "2", "--as-torch", "train.py", "--x"])
    cmd = cli.build_command(opts, {})
    i = cmd.index("launch.bootstrap")
    assert cmd[i + 1:] == ["--as-torch", "train.py", "--x"]


def test_run_without_a_target_prints_usage(tmp_path):
    out = subprocess.run([sys.executable, "-m", "distgrad.run"], capture_output=True, text=True)
    assert out.returncode == 2 and "usage: python -m distgrad.run" in out.stderr


def test_install_refuses_when_the_real_torch_is_imported(tmp_path):
    pytest.importorskip("torch")
    code = "import torch\nfrom distgrad import torch_alias\ntorch_alias.install()\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0 and "the real PyTorch is already imported" in out.stderr


def test_names_map_both_ways():
    assert torch_alias.distgrad_name("torch") == "distgrad"
    assert torch_alias.distgrad_name("torch.nn.modules.rnn") == "distgrad.nn.modules.rnn"
    assert torch_alias.torch_name("distgrad.optim") == "torch.optim"
    assert torch_alias.torch_name("numpy") == "numpy"


def test_missing_attribute_imports_submodules_and_names_missing_ones():
    getter = torch_alias.missing_attribute("distgrad.nn")
    assert getter("modules") is distgrad.nn.modules
    with pytest.raises(AttributeError, match="distgrad does not provide torch.nn.Mish yet"):
        getter("Mish")
    with pytest.raises(AttributeError, match=r"^module 'distgrad.nn' has no attribute '__wrapped__'$"):
        getter("__wrapped__")
    with pytest.raises(AttributeError, match="torch.nn.functional.mish"):
        distgrad.nn.functional.mish  # noqa: B018
    assert not hasattr(distgrad.linalg, "not_there") and not hasattr(distgrad.optim, "NotAnOptimizer")


def test_a_failing_script_shows_its_own_traceback_not_the_runners(tmp_path):
    code = "import torch\n\ndef f():\n    raise ValueError('bad value')\n\nf()\n"
    out = _run(lambda s: [sys.executable, "-m", "distgrad.run", s], tmp_path, code=code)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):" and lines[-1] == "ValueError: bad value"
    assert 'prog.py", line 6, in <module>' in lines[1]
    assert "runpy" not in out.stderr and "distgrad/run.py" not in out.stderr and "bootstrap" not in out.stderr
    out = _run(lambda s: [sys.executable, "-m", "distgrad.run", s], tmp_path, code="import sys\nsys.exit(3)\n")
    assert out.returncode == 3 and out.stderr == ""
