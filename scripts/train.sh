#!/usr/bin/env bash
# The main job: data-parallel training of a small CNN on scikit-learn's bundled 8x8 digits,
# on 2 ranks through distgrad-launch, with a progress bar and the final test accuracy.
# Extra arguments go to examples/train_digits.py (e.g. --epochs 5 --model mlp --resume).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup_env.sh"
cd "$root"
exec "$venv/bin/distgrad-launch" -n "${DISTGRAD_RANKS:-2}" examples/train_digits.py "$@"
