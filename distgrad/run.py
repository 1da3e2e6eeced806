"""``python -m distgrad.run script.py args...``: run a program written for PyTorch, unmodified, on distgrad.

It installs the torch alias (:mod:`distgrad.torch_alias`: ``import torch`` and
every ``torch.X`` give distgrad's modules) and then runs the script as
``__main__`` with ``sys.argv`` and ``sys.path[0]`` as ``python script.py args``
would set them; ``-m module`` runs a module as ``python -m`` would.  For
several ranks use ``distgrad-launch -n N --as-torch script.py args...``.

Example::

    $ python -m distgrad.run train.py --device=cpu --compile=False
    $ python -m distgrad.run -m mypackage.train
"""
import os
import runpy
import sys

from distgrad import torch_alias
from launch import bootstrap
from launch.bootstrap import run_target

# the frames of this runner: a failing script's traceback starts below them, as under ``python script.py``
_RUNNER_FILES = {os.path.abspath(__file__), os.path.abspath(bootstrap.__file__), os.path.abspath(runpy.__file__),
                 "<frozen runpy>"}


def _script_traceback(tb):
    while tb is not None and (tb.tb_frame.f_code.co_filename in _RUNNER_FILES
                              or os.path.abspath(tb.tb_frame.f_code.co_filename) in _RUNNER_FILES):
        tb = tb.tb_next
    return tb

USAGE = "usage: python -m distgrad.run [-m] script.py|module [args...]"


def main(argv=None):
    """Install the alias and run the target; returns the exit status for a usage error, else 0."""
    argv = sys.argv[1:] if argv is None else list(argv)
    module = bool(argv) and argv[0] == "-m"
    if module:
        argv = argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        sys.stderr.write(USAGE + "\n")
        return 0 if argv else 2
    torch_alias.install()
    try:
        run_target(argv[0], argv[1:], module)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as e:
        tb = _script_traceback(e.__traceback__)
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
