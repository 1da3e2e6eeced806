#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install distgrad with its extras.
# Sourced by scripts/train.sh and scripts/test.sh; prints nothing when already up to date.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DISTGRAD_VENV:-$root/.venv}"
py="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating virtual environment in $venv"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
fi
stamp="$venv/.distgrad-installed"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  echo "[setup] installing distgrad[mpi,test,examples] into $venv"
  "$venv/bin/python" -m pip install -q -e "$root[mpi,test,examples]"
  touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
VENV_PY="$venv/bin/python"
