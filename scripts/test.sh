#!/usr/bin/env bash
# Run every test: the library's unit tests, the no-look-ahead tests, the runner and render
# tests, and nbval re-executing every committed chapter and comparing its outputs.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
python -m pytest tests chapters \
  --nbval --nbval-current-env --nbval-sanitize-with tests/nbval-sanitize.cfg "$@"
