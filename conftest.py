"""pytest configuration for the whole repository (unit tests and nbval over chapters/).

nbval re-executes the committed chapters; their `save_results` call must not rewrite the
book's committed results, so VOLBOOK_RESULTS_DIR (read by volbook.runner.save_results)
points into a temporary folder before any kernel starts.
"""

import os
import tempfile

os.environ.setdefault("VOLBOOK_RESULTS_DIR", tempfile.mkdtemp(prefix="volbook-nbval-results-"))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")

collect_ignore_glob = ["tests/fixtures/*", "_book/*", "results/*"]
