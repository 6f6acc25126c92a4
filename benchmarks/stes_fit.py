"""Benchmark: STES and XGBSTES fits with the compiled recursion vs the same code in plain Python.

The problem is chapter 2's fixed split: one fit on the first 4,000 training rows of the S&P 500
shipped by ``arch`` (``arch.data.sp500``, daily log returns from 1999), gate ``EAESE``
(r, abs(r), r^2), target the next day's squared return, then the recursion carried on through
the remaining 1,029 rows with the fitted parameters.

compiled (volbook)
    The library as it is: the variance recursion, its Jacobian and the adjoint pass are
    ``numba``-compiled kernels (:mod:`volbook.models.recursion`).
python (naive)
    The same fits with those three kernels replaced by their plain-Python originals
    (``kernel.py_func``: the identical loops, run by the interpreter); everything else
    (scipy's least squares, XGBoost, the cross-validation) is the same code.

Fits timed: ``STES()`` (least squares with the analytic Jacobian, 5 starts), ``STES(l2="cv")``
(the published L2 grid, 3 expanding folds), ``XGBSTES(cv=True)`` (gblinear, the published
parameters and grid, 3 folds, early stopping) and one XGBSTES boosting round on 4,000 rows.
Times are CPU seconds of this single-threaded process (``OMP_NUM_THREADS=1``, XGBoost
``nthread=1``), which other processes on a shared machine disturb less than wall time; wall
seconds are printed too. Both versions must give the same in-sample and out-of-sample
forecasts to ``RTOL``; the script exits with status 1 otherwise.

Run: ``.venv/bin/python benchmarks/stes_fit.py [--repeat N]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import xgboost as xgb
from arch.data import sp500
from scipy.special import logit

from _common import print_table
from volbook.history import History
from volbook.models import gate, recursion, stes, xgbstes
from volbook.models.stes import STES, fit_es_alpha
from volbook.models.xgbstes import PUBLISHED_PARAMS, XGBSTES, RecursionObjective

RTOL = 1e-10
TRAIN = 4000  # training rows, as in the study
KERNELS = ("stes_filter", "stes_jacobian", "stes_adjoint")


@contextmanager
def python_kernels() -> Iterator[None]:
    """Swap the compiled kernels for their plain-Python originals wherever the library calls them."""
    saved = [(mod, name, getattr(mod, name)) for mod in (gate, stes, xgbstes) for name in KERNELS if hasattr(mod, name)]
    for mod, name, kernel in saved:
        setattr(mod, name, getattr(recursion, name).py_func)
    try:
        yield
    finally:
        for mod, name, kernel in saved:
            setattr(mod, name, kernel)


def timed(fn: Callable[[], object], repeat: int) -> tuple[object, float, float]:
    """Last result, fastest CPU seconds and fastest wall seconds over ``repeat`` calls."""
    cpu = wall = np.inf
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu, wall = min(cpu, time.process_time() - c0), min(wall, time.perf_counter() - w0)
    return out, cpu, wall


def load() -> tuple[History, History]:
    close = sp500.load()["Adj Close"]
    r = np.diff(np.log(close.to_numpy()))
    dates = close.index[1:].to_numpy().astype("datetime64[D]")
    return History({"ret": r[: TRAIN + 1]}, dates[: TRAIN + 1]), History({"ret": r[TRAIN + 1 :]}, dates[TRAIN + 1 :])


def one_round(train: History) -> Callable[[], None]:
    """One boosting round of the published gblinear gate on the 4,000 training rows."""
    r = np.asarray(train["ret"]) * 100
    X = np.column_stack([r, np.abs(r), r**2])[:TRAIN]
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    p, y = r[:TRAIN] ** 2, r[1:] ** 2
    v0 = float(np.mean(p[:20]))
    params = PUBLISHED_PARAMS | {"nthread": 1, "verbosity": 0, "base_score": float(logit(fit_es_alpha(p, np.arange(TRAIN), y, v0)))}
    dtrain = xgb.DMatrix(Z, nthread=1)
    booster = xgb.Booster(params, [dtrain])
    objective = RecursionObjective(p, y, v0, "mse")

    def step() -> None:
        booster.update(dtrain, 0, fobj=objective)

    step()
    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per compiled fit (the fastest is kept)")
    args = parser.parse_args(argv)
    train, test = load()
    fits = {
        "STES, 5 starts": STES(),
        "STES, L2 by 3-fold CV": STES(l2="cv"),
        "XGBSTES gblinear, 3-fold CV": XGBSTES(cv=True),
    }
    rows, failed = [], False
    for label, model in fits.items():
        model.fit(train)  # compiles the kernels (cached on disk after the first run)
        fitted, cpu, wall = timed(lambda: model.fit(train), args.repeat)
        with python_kernels():
            slow, cpu_py, wall_py = timed(lambda: model.fit(train), 1)
            slow_path = slow.path(test)["forecast"].to_numpy()
        ours = fitted.path(test)["forecast"].to_numpy()
        diff = float(np.max(np.abs(ours / slow_path - 1)))
        failed |= not diff <= RTOL
        rows.append([label, f"{cpu_py:.3f}", f"{cpu:.3f}", f"{cpu_py / cpu:.1f}x", f"{wall_py:.2f} / {wall:.2f}", f"{diff:.1e}"])
    step = one_round(train)
    _, cpu, wall = timed(lambda: [step() for _ in range(20)], args.repeat)
    with python_kernels():
        _, cpu_py, wall_py = timed(lambda: [step() for _ in range(20)], 1)
    rows.append(["one XGBSTES round (ms)", f"{cpu_py * 50:.2f}", f"{cpu * 50:.2f}", f"{cpu_py / cpu:.1f}x",
                 f"{wall_py * 50:.2f} / {wall * 50:.2f}", "-"])
    objective = RecursionObjective(np.asarray(train["ret"][:TRAIN]) ** 2 * 1e4, np.asarray(train["ret"][1:]) ** 2 * 1e4, 1.0, "mse")
    z = np.full(TRAIN, -2.0)
    _, cpu, _ = timed(lambda: [objective(z) for _ in range(50)], args.repeat)
    with python_kernels():
        _, cpu_py, _ = timed(lambda: [objective(z) for _ in range(5)], 1)
    rows.append(["recursion + adjoint only (ms)", f"{cpu_py * 200:.2f}", f"{cpu * 20:.3f}", f"{cpu_py * 10 / cpu:.0f}x", "-", "-"])
    print(f"Fits on the first {TRAIN} S&P 500 returns (arch.data.sp500), forecasts through {len(test)} more rows.")
    print("CPU seconds unless marked ms; 'wall' is python / compiled wall time.\n")
    print_table(["fit", "python", "compiled", "speed-up", "wall", "max rel. diff"], rows)
    if failed:
        print(f"\nFAILED: forecasts differ by more than {RTOL} between the two versions", file=sys.stderr)
        return 1
    print(f"\nForecasts of the two versions agree to {RTOL} at every row.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
