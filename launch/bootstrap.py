"""What every rank runs first: set PyTorch's rank variables, then run the user's script.

``distgrad-launch -n N`` starts ``python -m launch.bootstrap script.py args``
on each rank.  MPI launchers announce the rank in their own variables
(``OMPI_COMM_WORLD_RANK`` for Open MPI, ``PMI_RANK`` for MPICH's Hydra,
``SLURM_PROCID`` for srun); scripts written for ``torchrun`` read ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE`` and ``LOCAL_WORLD_SIZE``, so this sets those
and then runs the script as ``__main__`` with ``sys.argv`` as if it had been
started directly (``python script.py args``).

Example::

    $ mpiexec -n 2 python -m launch.bootstrap train.py --lr 0.1
    $ mpiexec -n 2 python -m launch.bootstrap -m mypackage.train
    $ mpiexec -n 2 python -m launch.bootstrap --as-torch train.py   # ``import torch`` gives distgrad
"""
import os
import runpy
import sys

# (rank, local rank, world size, local world size) variables of each launcher, in priority order.
_SOURCES = (
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE"),
    ("PMI_RANK", "MPI_LOCALRANKID", "PMI_SIZE", "MPI_LOCALNRANKS"),
    ("SLURM_PROCID", "SLURM_LOCALID", "SLURM_NTASKS", "SLURM_NTASKS_PER_NODE"),
)


def rank_environment(environ):
    """The ``RANK``/``LOCAL_RANK``/``WORLD_SIZE``/``LOCAL_WORLD_SIZE`` values a launcher's variables imply.

    Example::

        >>> rank_environment({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2",
        ...                   "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"})
        {'RANK': '1', 'LOCAL_RANK': '1', 'WORLD_SIZE': '2', 'LOCAL_WORLD_SIZE': '2'}
    """
    for rank, local, size, local_size in _SOURCES:
        if rank in environ and size in environ:
            world = environ[size]
            return {"RANK": environ[rank],
                    "LOCAL_RANK": environ.get(local, environ[rank]),
                    "WORLD_SIZE": world,
                    "LOCAL_WORLD_SIZE": environ.get(local_size, world).split("(")[0].split(",")[0]}
    return {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1"}


def _set_path0(path):
    # sys.path[0] is the launcher's own entry (its bin directory or the cwd of `-m`);
    # the script expects its own directory there, as under `python script.py`.
    if sys.path:
        sys.path[0] = path
    else:
        sys.path.append(path)


def run_target(target, args, module=False):
    """Run ``target`` (a script path, or a module name when ``module``) as ``__main__``.

    ``sys.argv`` and ``sys.path[0]`` are what ``python target args`` (or
    ``python -m target args``) would give the script.
    """
    if module:
        sys.argv = [target] + list(args)
        _set_path0(os.getcwd())
        runpy.run_module(target, run_name="__main__", alter_sys=True)
        return
    if not os.path.exists(target):
        raise FileNotFoundError(f"distgrad-launch: can't open file {target!r}: no such file")
    sys.argv = [target] + list(args)
    _set_path0(os.path.dirname(os.path.abspath(target)))
    runpy.run_path(target, run_name="__main__")


def install_torch_alias():
    """Make ``import torch`` give distgrad in this process (``--as-torch``; see ``distgrad.torch_alias``)."""
    from distgrad import torch_alias  # deferred: only --as-torch runs need distgrad before the script
    torch_alias.install()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "--as-torch":
        argv = argv[1:]
        install_torch_alias()
    module = bool(argv) and argv[0] == "-m"
    if module:
        argv = argv[1:]
    if not argv:
        sys.stderr.write("usage: python -m launch.bootstrap [--as-torch] [-m] script.py|module [args...]\n")
        return 2
    os.environ.update(rank_environment(os.environ))
    run_target(argv[0], argv[1:], module)
    return 0


if __name__ == "__main__":
    sys.exit(main())
