#!/usr/bin/env bash
# The whole test suite: single-process tests, then the multi-rank tests under mpiexec with 2 and 3 ranks.
# Tests that compare with PyTorch run when torch is installed in .venv and skip otherwise.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup_env.sh"
cd "$root"
export PYTHONDONTWRITEBYTECODE=1
status=0
echo "== single process"
"$VENV_PY" -m pytest -q -p no:cacheprovider "$@" || status=1
echo "== docstring examples"
"$VENV_PY" -m pytest -q -p no:cacheprovider --doctest-modules distgrad || status=1
for n in 2 3; do
  echo "== $n ranks (mpiexec --oversubscribe -n $n)"
  timeout 900 "$venv/bin/mpiexec" --oversubscribe -n "$n" \
    "$VENV_PY" -m pytest --with-mpi -q -p no:cacheprovider -m mpi tests/comm || status=1
done
exit $status
