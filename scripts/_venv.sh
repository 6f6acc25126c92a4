# Sourced by book.sh and test.sh: create .venv and install volbook into it when needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Reproducibility: one thread for BLAS/OpenMP, a fixed hash seed (the runner sets them for
# the kernels too).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PYTHON="$candidate"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "volbook: error: Python >= 3.11 not found (set PYTHON=...)" >&2; exit 2; }

stamp=".venv/.volbook-installed"
want="$(cat pyproject.toml | "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== installing volbook into .venv (first run, or pyproject.toml changed)"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[test]'
  echo "$want" > "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
