"""Simulated truth: how well each regime method recovers known regimes and forecasts, vs HAR.

Data: :func:`volbook.models.regime.simulate_regime_har` (a two-regime log-HAR; calm and
stressed regimes lasting 250 and 125 days on average), seeds given by ``--seeds``, 6,000 days
each. Every model runs through the engine: rolling 1,000-day window, refit every 100 days,
forecasts of the rv sum over 1 and 5 days (5,000 origins per seed).

Printed per model and seed: the accuracy of the filtered regime of day t (Markov-switching
models) against the simulated regime of day t, and of the regime the forecast weights most for
day t+1 (regimes numbered calm first) against the simulated regime of day t+1, beside what
always guessing the more frequent regime scores; and its QLIKE relative to plain HAR (engine's log-HAR with direct
h-step regressions, the one-regime version of the same regressions).

Run: ``.venv/bin/python benchmarks/regime_simulation.py [--seeds 1 2]`` (about a minute per seed).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import sys
import warnings

from _common import print_table
from volbook.models import HAR, CoefficientHAR, DistributionalHAR, MarkovSwitchingHAR, SoftMarkovHAR
from volbook.models.regime import score_regime_recovery, simulate_regime_har
from volbook.walkforward import walk_forward

HORIZONS = (1, 5)


def models() -> list:
    return [HAR("rv", log=True, direct=True), SoftMarkovHAR(), SoftMarkovHAR(emission="signal", name="soft_markov_har_signal"),
            MarkovSwitchingHAR(), DistributionalHAR(),
            DistributionalHAR(train_weights="predicted", name="distributional_har_predicted"),
            CoefficientHAR(n_regimes=2, name="coefficient_har_k2"),
            CoefficientHAR(n_regimes=2, train_weights="predicted", name="coefficient_har_k2_predicted")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    for seed in args.seeds:
        truth = simulate_regime_har(6000, seed=seed)
        har = None
        for model in models():
            wf = walk_forward(model, truth.drop("regime"), horizons=HORIZONS, window=1000, refit_every=100,
                              n_jobs=1, states=True, progress=False)
            s = score_regime_recovery(wf, truth)
            har = har or s
            acc, filt = (("-" if v != v else f"{v:.3f}") for v in (s["accuracy"], s["filtered_accuracy"]))
            rows.append([model.name, str(seed), filt, acc, f"{s['majority']:.3f}" if acc != "-" else "-"]
                        + [f"{s[f'qlike_{h}'] / har[f'qlike_{h}']:.3f}" for h in HORIZONS])
    print_table(["model", "seed", "filtered, day t", "weights, day t+1", "always-calm", *(f"QLIKE/HAR h={h}" for h in HORIZONS)], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
