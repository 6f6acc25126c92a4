# Sourced by book.sh and test.sh: create .venv and install volbook into it when needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Reproducibility: one thread for BLAS/OpenMP, a fixed hash seed (the runner sets them for
# the kernels too).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0

source scripts/_python.sh

# Exact versions come from requirements.lock (pip constraints; pyproject.toml keeps the
# ranges). A change of pyproject.toml, requirements.lock or the Python version rebuilds
# .venv from scratch, so nothing from an older lock survives.
stamp=".venv/.volbook-installed"
want="$(cat pyproject.toml requirements.lock | "$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read() + sys.version.encode()).hexdigest())')"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== installing volbook into .venv from requirements.lock (first run, or pyproject.toml / requirements.lock changed)"
  "$PYTHON" -m venv --clear .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -c requirements.lock -e '.[test]'
  echo "$want" > "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
