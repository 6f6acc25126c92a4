#!/usr/bin/env bash
# Build the whole book: install, execute every chapter with papermill, render the site.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
for notebook in chapters/[0-9]*.ipynb; do
  chapter="$(basename "$notebook" .ipynb)"
  echo "== running $chapter"
  volbook run "$chapter"
done
echo "== rendering"
volbook render
