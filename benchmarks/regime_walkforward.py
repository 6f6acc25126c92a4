"""Benchmark: chapter 3's walk-forwards, the cost per refit of each regime method, and the
Markov-switching reference made cheaper without changing its forecasts.

The forecasting problem is chapter 3's: the S&P 500 daily range-based realized variance
(Garman-Klass, from ``volbook.data.load("sp500_ohlc")``, 1999-2018, 5,030 days), forecasts of
its sum over 1, 5 and 22 days, a rolling 1,000-day window re-estimated every ``--refit-every``
days (42 by default, as in chapter 3: 96 refits).

Part 1 times every model of the chapter with ``n_jobs=1`` and prints its cost per refit.

Part 2: the statsmodels Markov-switching HAR dominates. Over the first ``--ms-refits`` refits:

naive
    What a reader would write: at every refit, ``MarkovRegression(y, exog=X,
    switching_variance=True).fit()`` from volbook's deterministic cold start (statsmodels' own
    default start fails on HAR data), with statsmodels' complex-step gradient and its results
    object (``fit_markov_regression(..., plain=True)``).
volbook
    ``MarkovSwitchingHAR``: the same start and optimizer, with an analytic score for the
    regression coefficients and variances (Fisher's identity; statsmodels' complex-step
    gradient is nine tenths of its fit) and without the results object (its covariance matrix
    by numerical differentiation and its smoothing; the smoothed probabilities are computed once
    at the optimum). Both gradients are exact to rounding, so BFGS takes the same steps.

The two must give the same forecasts to ``RTOL`` at every origin. Where they differ by more,
the script reports both fits' log-likelihoods on that window and exits with status 1.

Part 3 (``--chapter``) runs every model as chapter 3 would, ``n_jobs=2`` with chunks of
``--chunk`` refits, and prints the total.

Part 2 alternates the two runs ``--repeat`` times and keeps each one's fastest time.

Run: ``.venv/bin/python benchmarks/regime_walkforward.py [--refit-every K] [--ms-refits N] [--no-part1] [--chapter]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import sys
import warnings

import numpy as np
import polars as pl

from _common import forecast_matrix, print_table, time_call
from volbook.data import load
from volbook.models import HAR, CoefficientHAR, DistributionalHAR, MarkovSwitchingHAR, SoftMarkovHAR
from volbook.models.regime.forecasters import SwitchingFitted
from volbook.models.regime.switching import fit_markov_regression
from volbook.realized import daily_frame
from volbook.walkforward import walk_forward

WINDOW = 1000
HORIZONS = (1, 5, 22)
RTOL = 1e-3  # forecasts of two fits of the same maximum agree this closely (BFGS stops at gtol 1e-5)


class NaiveMarkovSwitchingHAR(MarkovSwitchingHAR):
    """The straightforward statsmodels fit at every refit: complex-step score, full results object."""

    def fit(self, history, *, start=None) -> SwitchingFitted:
        return super().fit(history, plain=True)


def chapter_models() -> list:
    return [HAR("rv", log=True, direct=True), SoftMarkovHAR(), SoftMarkovHAR(emission="signal", name="soft_markov_har_signal"),
            DistributionalHAR(), CoefficientHAR(), MarkovSwitchingHAR()]


def run(model, frame: pl.DataFrame, refit_every: int, jobs: int = 1, chunk: int = 250):
    return walk_forward(model, frame, horizons=HORIZONS, window=WINDOW, refit_every=refit_every, n_jobs=jobs,
                        chunk_size=chunk, progress=False)


def loglik_at(params_row: dict, frame: pl.DataFrame, origin: int) -> float:
    """Log-likelihood (statsmodels') of one fit's parameters on the window ending at ``origin``."""
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    from volbook.models.regime.base import LOOKBACK, har_design

    g = np.log(frame["rv"].to_numpy()[origin - WINDOW + 1 : origin + 1])
    days = np.arange(LOOKBACK, g.size)
    X = har_design(g)[days - 1]
    model = MarkovRegression(g[days], k_regimes=2, exog=X[:, 1:], switching_variance=True)
    beta = np.array([[params_row[f"{c}_{k}"] for c in ("const", "daily", "weekly", "monthly")] for k in (0, 1)])
    P = np.array([[params_row["p_00"], 1 - params_row["p_00"]], [1 - params_row["p_11"], params_row["p_11"]]])
    sigma2 = np.array([params_row["sigma_0"], params_row["sigma_1"]]) ** 2
    return float(model.loglike(np.concatenate([P[:, 0], beta.T.ravel(), sigma2])))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refit-every", type=int, default=42, help="days between refits (default 42, as in chapter 3)")
    parser.add_argument("--ms-refits", type=int, default=48, help="refits compared in part 2 (default 48)")
    parser.add_argument("--repeat", type=int, default=2, help="alternating timings of part 2 (default 2)")
    parser.add_argument("--part1", action=argparse.BooleanOptionalAction, default=True, help="run part 1 (default yes)")
    parser.add_argument("--chapter", action="store_true", help="also run part 3 (all models, n_jobs=2)")
    parser.add_argument("--chunk", type=int, default=48, help="refits per chunk in part 3 (default 48)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    frame = daily_frame(load("sp500_ohlc"), measure="garman_klass")
    k = args.refit_every
    n_origins = frame.height - WINDOW + 1
    refits = -(-n_origins // k)
    print("Chapter 3 walk-forwards: log realized variance (Garman-Klass), rolling 1000-day window")
    print(f"data     sp500_ohlc, {frame.height} days {frame['date'][0]} .. {frame['date'][-1]}")
    print(f"origins  {n_origins}, horizons {list(HORIZONS)}, refit every {k} days: {refits} refits")
    print(f"cores    {os.cpu_count()}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} "
          f"(load average now {os.getloadavg()[0]:.1f}: other work on this machine inflates every time)\n")

    if args.part1:
        print("Part 1: cost per refit, n_jobs=1")
        rows, total = [], 0.0
        for model in chapter_models():
            wf, t = time_call(lambda: run(model, frame, k))
            total += t
            rows.append([model.name, str(wf.params.height), f"{t:.1f}", f"{1e3 * t / wf.params.height:.0f}"])
        for row in rows:
            row.append(f"{100 * float(row[2]) / total:.0f}%")
        print_table(["model", "refits", "wall s", "ms/refit", "share"], rows)
        print(f"total {total:.1f} s on one core\n")

    m = args.ms_refits
    sub = frame.slice(0, WINDOW - 1 + (m - 1) * k + 1)
    print(f"Part 2: the Markov-switching reference, first {m} refits ({sub.height - WINDOW + 1} origins), n_jobs=1")
    # alternate the two runs and keep each one's fastest: the machine's load changes over minutes
    t_naive = t_ours = np.inf
    for _ in range(args.repeat):
        naive, t = time_call(lambda: run(NaiveMarkovSwitchingHAR(), sub, k))
        t_naive = min(t_naive, t)
        ours, t = time_call(lambda: run(MarkovSwitchingHAR(), sub, k))
        t_ours = min(t_ours, t)
    print_table(["run", "wall s", "ms/refit", "speed-up"],
                [["naive (complex-step score, results object)", f"{t_naive:.1f}", f"{1e3 * t_naive / m:.0f}", "1.00x"],
                 ["volbook (analytic score, no results object)", f"{t_ours:.1f}", f"{1e3 * t_ours / m:.0f}", f"{t_naive / t_ours:.2f}x"]])
    a, b = forecast_matrix(ours, HORIZONS), forecast_matrix(naive, HORIZONS)
    rel = np.abs(a - b) / np.abs(b)
    origin_refit = np.arange(rel.shape[0]) // k
    bad_refits = np.unique(origin_refit[(rel > RTOL).any(axis=1)])
    same = ~np.isin(np.arange(m), bad_refits)
    print(f"\n{same.sum()} of {m} refits give forecasts agreeing to {RTOL:.0e} (relative) at every origin and horizon;"
          f" largest difference there {rel[np.isin(origin_refit, np.flatnonzero(same))].max():.1e}.")
    failures = []
    if bad_refits.size:
        p_ours, p_naive = ours.params.to_dicts(), naive.params.to_dicts()
        gain = np.array([loglik_at(p_ours[i], sub, WINDOW - 1 + i * k) - loglik_at(p_naive[i], sub, WINDOW - 1 + i * k)
                         for i in bad_refits])
        print(f"At the other {bad_refits.size} refits the fits sit at different maxima; volbook's log-likelihood minus"
              f" the naive one's: min {gain.min():+.3f}, max {gain.max():+.3f}.")
        failures.append(f"{bad_refits.size} refits give forecasts differing by more than {RTOL:.0e}")

    if args.chapter:
        print(f"\nPart 3: every model as the chapter runs it (n_jobs=2, chunks of {args.chunk} refits)")
        rows, total = [], 0.0
        for model in chapter_models():
            wf, t = time_call(lambda: run(model, frame, k, jobs=2, chunk=args.chunk))
            total += t
            rows.append([model.name, f"{t:.1f}"])
        print_table(["model", "wall s"], rows)
        print(f"total {total:.1f} s")
    for msg in failures:
        print(f"FAIL: {msg}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
