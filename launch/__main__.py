"""``python -m launch -n N script.py [args...]``: the same as ``distgrad-launch``."""
import sys

from launch.cli import main

if __name__ == "__main__":
    sys.exit(main())
