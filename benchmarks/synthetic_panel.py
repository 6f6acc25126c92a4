"""The synthetic panel at the published scale: time and peak memory of 1000 assets x 7500 days.

Prints, for ``simulate_panel(1000, 7500)`` (7.5 million rows) and for
``load("synthetic", n_assets=1000, n_days=7500)`` (the same plus the panel's validation),
the wall time and the peak resident memory of a fresh process, and compares the vectorized
recursion with a straightforward loop over assets and days (on ``--naive-assets`` assets,
the naive loop being slow): both must give the same variance paths (exit 1 otherwise).

Run from the repository root: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/synthetic_panel.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

CHILD = """
import json, time
from volbook.data import load
from volbook.data.synthetic import simulate_panel
t0 = time.perf_counter()
if {load!r}:
    out = load("synthetic", n_assets={n_assets}, n_days={n_days})
    rows = out.height
else:
    out = simulate_panel({n_assets}, {n_days}, 0)
    rows = out.panel.height
seconds = time.perf_counter() - t0
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1e6
print(json.dumps({{"seconds": seconds, "peak_gb": peak, "rows": rows}}))
"""


def run_child(n_assets: int, n_days: int, through_load: bool) -> dict:
    code = CHILD.format(n_assets=n_assets, n_days=n_days, load=through_load)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def naive_variance(returns: np.ndarray, params: dict, first_sigma2: float) -> np.ndarray:
    """The GJR-GARCH recursion of one asset, one day at a time in Python."""
    out = np.empty(returns.size)
    s2 = first_sigma2
    for t, r in enumerate(returns):
        out[t] = s2
        s2 = params["omega"] + (params["alpha"] + params["gamma"] * (r < 0)) * r * r + params["beta"] * s2
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=7500)
    parser.add_argument("--naive-assets", type=int, default=20)
    args = parser.parse_args()

    from volbook.data.synthetic import simulate_panel
    from volbook.realized import log_returns

    for label, through_load in [("simulate_panel", False), ('load("synthetic")', True)]:
        fig = run_child(args.assets, args.days, through_load)
        print(f"{label:>20}: {fig['rows']:,} rows in {fig['seconds']:.2f} s, peak memory {fig['peak_gb']:.2f} GB")

    # naive check: the per-asset, per-day loop gives the same variance paths
    t0 = time.perf_counter()
    sim = simulate_panel(args.naive_assets, args.days, 0)
    fast = time.perf_counter() - t0
    rets = log_returns(sim.panel)
    t0 = time.perf_counter()
    worst = 0.0
    for row in sim.truth.params.iter_rows(named=True):
        r = rets.filter(rets["asset"] == row["asset"])["ret"].to_numpy()
        truth = sim.truth.variance.filter(sim.truth.variance["asset"] == row["asset"])["sigma2"].to_numpy()
        naive = naive_variance(r, row, truth[0])
        worst = max(worst, float(np.max(np.abs(naive / truth - 1))))
    slow = time.perf_counter() - t0
    print(f"{'naive loop':>20}: {args.naive_assets} assets x {args.days} days in {slow:.2f} s "
          f"(vectorized simulate_panel: {fast:.2f} s, {slow / fast:.1f}x); largest relative difference {worst:.1e}")
    return 0 if worst < 1e-10 else 1


if __name__ == "__main__":
    sys.exit(main())
