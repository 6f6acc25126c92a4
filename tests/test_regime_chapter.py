"""Chapter 3 on a user's own intraday bars: the path its parameters promise, run for real.

A seeded simulation (``volbook.data.synthetic_intraday``) is written as a vendor-style file:
5-minute bars stamped in UTC without an offset. ``volbook run regime -p source=intraday`` must
refuse it in one line until ``timestamps_tz=UTC`` is given (the runner passes the chapter's
intraday options to its data check), then run the whole chapter on the bars' realized variance.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from volbook.data.synthetic_intraday import simulate_intraday

ROOT = Path(__file__).resolve().parents[1]


def volbook(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    env.pop("VOLBOOK_RESULTS_DIR", None)
    return subprocess.run([sys.executable, "-m", "volbook.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_the_chapter_runs_on_intraday_bars_in_utc(tmp_path: Path) -> None:
    sim = simulate_intraday(n_days=1000, seed=5, steps_per_bar=2, first_date="2014-01-02")
    utc = sim.bars.with_columns(
        pl.col("timestamp").dt.replace_time_zone("America/New_York").dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None).dt.strftime("%Y-%m-%d %H:%M:%S")
    )
    utc.rename({"price": "close"}).write_csv(tmp_path / "bars.csv")
    flags = ["-p", "source=intraday", "-p", "path=bars.csv", "-p", "window=400", "-p", "refit_every=126",
             "-p", "horizons=[1, 5]", "-p", "vix_window=400", "-p", 'period_names=["first", "second"]',
             "-p", 'period_starts=["2015-08-01", "2016-08-01"]', "-p", "n_jobs=1"]

    refused = volbook("run", "regime", *flags, "--out", str(tmp_path / "run"), "--root", str(ROOT), cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "timestamps_tz='UTC'" in refused.stderr

    done = volbook("run", "regime", *flags, "-p", "timestamps_tz=UTC", "--out", str(tmp_path / "run"),
                   "--root", str(ROOT), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    scores = pl.read_csv(tmp_path / "run" / "results" / "scores.csv")
    assert set(scores["period"]) == {"first", "second"} and set(scores["horizon"]) == {1, 5}
    assert scores.filter(pl.col("model") == "ms_har").height == 4
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["refits"]["har_log"] == metrics["refits"]["soft_markov_har"] > 1
