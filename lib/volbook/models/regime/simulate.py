"""A two-regime (or K-regime) HAR on log realized variance, simulated with known truth.

The data-generating process the regime tests recover::

    S_d         Markov chain, Pr(S_d = j | S_{d-1} = i) = transmat[i, j]
    L_d         = log rv_d
    L_d         = x_{d-1}' beta[S_d] + sigma[S_d] * eps_d,     eps_d ~ N(0, 1)
    x_{d-1}     = (1, L_{d-1}, mean(L_{d-5 .. d-1}), mean(L_{d-22 .. d-1}))
    ret_d       = sqrt(rv_d) * u_d,                              u_d ~ N(0, 1)

It is exactly the model of :mod:`volbook.models.regime.switching` (and of statsmodels'
``MarkovRegression`` with switching variance) on the ``"log"`` scale, with HAR averages of log
rv as regressors. The defaults: a calm regime (slopes summing to 0.945, long-run log variance -10,
a daily volatility of 0.67 %, residual sd 0.30) and a stressed one (more weight on the last day,
slopes summing to 0.95, long-run -8 or 1.8 % a day, residual sd 0.50), lasting 250 and 125 days
on average (a third of the days are stressed). At the same regressors the two regimes' one-day
forecasts differ by 0.1 to 0.5 in log variance: enough to matter, too little to tell the regime
from one day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from typing import TYPE_CHECKING

from volbook.errors import ParameterError

if TYPE_CHECKING:  # volbook.walkforward imports the models
    from volbook.walkforward import WalkForward

__all__ = ["DEFAULT_REGIME_HAR", "score_regime_recovery", "simulate_regime_har"]

#: Default truth: per-regime (intercept, daily, weekly, monthly) coefficients on log rv,
#: residual standard deviations and the transition matrix.
DEFAULT_REGIME_HAR: dict[str, np.ndarray] = {
    "beta": np.array([[-0.55, 0.30, 0.40, 0.245], [-0.40, 0.50, 0.30, 0.15]]),
    "sigma": np.array([0.30, 0.50]),
    "transmat": np.array([[0.996, 0.004], [0.008, 0.992]]),
}


def simulate_regime_har(
    n: int,
    *,
    beta: np.ndarray | None = None,
    sigma: np.ndarray | None = None,
    transmat: np.ndarray | None = None,
    seed: int = 0,
    burn: int = 500,
    start: dt.date = dt.date(2000, 1, 3),
) -> pl.DataFrame:
    """Simulate ``n`` business days of the regime-switching log-HAR (module docstring).

    Parameters
    ----------
    n
        Days returned (after a burn-in of ``burn`` days, which starts in regime 0 at the calm
        regime's long-run level).
    beta, sigma, transmat
        The truth; defaults in :data:`DEFAULT_REGIME_HAR`.
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same frame.
    start
        Date of the first returned day; dates are consecutive weekdays.

    Returns
    -------
    polars.DataFrame
        ``date``, ``rv`` (daily variance), ``ret`` (daily log return), ``regime`` (S_d, int).
    """
    b = np.asarray(DEFAULT_REGIME_HAR["beta"] if beta is None else beta, dtype=float)
    s = np.asarray(DEFAULT_REGIME_HAR["sigma"] if sigma is None else sigma, dtype=float)
    P = np.asarray(DEFAULT_REGIME_HAR["transmat"] if transmat is None else transmat, dtype=float)
    k = s.size
    if b.shape != (k, 4) or P.shape != (k, k) or not np.allclose(P.sum(axis=1), 1) or (P < 0).any():
        raise ParameterError("beta must be (K, 4), sigma (K,), transmat a (K, K) row-stochastic matrix")
    if (s <= 0).any() or int(n) < 1:
        raise ParameterError("sigma must be positive and n at least 1")
    rng = np.random.default_rng(seed)
    total = int(n) + int(burn)
    level0 = b[0, 0] / (1.0 - b[0, 1:].sum())
    L = np.empty(total + 22)
    L[:22] = level0
    regime = np.empty(total, dtype=np.int64)
    state = 0
    eps = rng.standard_normal(total)
    uniform = rng.random(total)
    cum = np.cumsum(P, axis=1)
    for d in range(total):
        state = int(np.searchsorted(cum[state], uniform[d], side="right")) if d else 0
        state = min(state, k - 1)
        regime[d] = state
        i = d + 22  # position of day d in L
        x = (1.0, L[i - 1], L[i - 5 : i].mean(), L[i - 22 : i].mean())
        L[i] = float(np.dot(b[state], x)) + s[state] * eps[d]
    rv = np.exp(L[22 + burn :])
    ret = np.sqrt(rv) * rng.standard_normal(int(n))
    dates = pl.date_range(start, start + dt.timedelta(days=2 * int(n) + 14), "1d", eager=True)
    dates = dates.filter(dates.dt.weekday() <= 5)[: int(n)]
    return pl.DataFrame({"date": dates, "rv": rv, "ret": ret, "regime": regime[burn:]})


def score_regime_recovery(wf: WalkForward, truth: pl.DataFrame) -> dict[str, float]:
    """How well a walk-forward's regime weights track simulated regimes, and its QLIKE by horizon.

    Parameters
    ----------
    wf
        A walk-forward run with ``states=True`` of a regime forecaster (states ``regime_k``), or
        of any forecaster (then only the losses are scored).
    truth
        The frame of :func:`simulate_regime_har` (``date``, ``rv``, ``regime``).

    Returns
    -------
    dict
        ``accuracy``: share of origins t whose most probable regime for day t+1 (argmax of the
        ``regime_k`` weights, regimes numbered calm first) is the simulated regime of day t+1
        (NaN without states); ``filtered_accuracy``: the same for the filtered regime of day t
        itself (``filtered_k`` states, Markov-switching models only); ``majority``: the share of
        the most frequent regime over the same days (what always guessing it scores); ``qlike_<h>``: QLIKE of the forecasts of
        ``sum(rv[t+1 .. t+h])`` over the origins whose target is complete.
    """
    from volbook.evaluate import qlike
    from volbook.timing import targets_frame

    out: dict[str, float] = {}
    days = truth.select("date", "regime", next_regime=pl.col("regime").shift(-1)).drop_nulls()
    for prefix, key, column in (("regime_", "accuracy", "next_regime"), ("filtered_", "filtered_accuracy", "regime")):
        named = wf.states.filter(pl.col("name").str.starts_with(prefix)) if wf.states.height else wf.states
        if not named.height:
            out[key] = float("nan")
            continue
        w = named.pivot(on="name", index="date", values="value")
        cols = sorted(c for c in w.columns if c != "date")
        w = w.join(days, on="date")
        actual = w[column].to_numpy()
        out[key] = float((w.select(cols).to_numpy().argmax(axis=1) == actual).mean())
        if key == "accuracy":
            out["majority"] = float(np.bincount(actual).max() / actual.size)
    out.setdefault("majority", float("nan"))
    hs = wf.forecasts["horizon"].unique().sort().to_list()
    scored = wf.forecasts.join(targets_frame(truth["date"], truth["rv"].to_numpy(), hs, square=False), on=["date", "horizon"])
    for h in hs:
        one = scored.filter(pl.col("horizon") == h)
        out[f"qlike_{h}"] = float(qlike(one["target"].to_numpy(), one["forecast"].to_numpy()))
    return out
