# Sourced by _venv.sh and lock.sh: pick a Python >= 3.11 (or the one PYTHON names).
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PYTHON="$candidate"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "volbook: error: Python >= 3.11 not found (set PYTHON=...)" >&2; exit 2; }
