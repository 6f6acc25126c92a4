"""pytest configuration for the whole repository (unit tests and nbval over chapters/).

nbval re-executes the committed chapters. Their ``save_results`` call must not rewrite the
book's committed results, so VOLBOOK_RESULTS_DIR (read by volbook.results.save_results)
points into a temporary folder, removed at exit, before any kernel starts. And the results
each chapter computes must agree with its committed ``results/<stem>/``:
VOLBOOK_CHECK_RESULTS=1 makes ``save_results`` compare them (within volbook.results' tolerances)
and raise, failing the chapter's last cell, when they do not.
"""

import atexit
import os
import shutil
import tempfile

if "VOLBOOK_RESULTS_DIR" not in os.environ:
    _scratch = tempfile.mkdtemp(prefix="volbook-nbval-results-")
    atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
    os.environ["VOLBOOK_RESULTS_DIR"] = _scratch
os.environ.setdefault("VOLBOOK_CHECK_RESULTS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")

collect_ignore_glob = ["tests/fixtures/*", "_book/*", "results/*"]
