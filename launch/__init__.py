"""``distgrad-launch``: start a training script on N MPI ranks (or in-process for N = 1).

Example::

    $ distgrad-launch -n 4 train.py --epochs 3
    $ python -m launch -n 1 train.py      # runs in this process: pdb and breakpoint() work

See :mod:`launch.cli` for the options and :mod:`launch.bootstrap` for what
each rank runs first.
"""
