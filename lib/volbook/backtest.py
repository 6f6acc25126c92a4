"""Volatility targeting: position sizing from a volatility forecast, and its performance.

Timing follows :mod:`volbook.timing` (Backtests): the weight ``w_t`` is decided at the close
of day t from the forecast made at origin t and is held over day t+1, whose return it earns.

Conventions of this module:

* portfolio returns are **simple** returns, ``w_t * (exp(r_{t+1}) - 1)`` for the log return
  ``r_{t+1}``; the rest of the wealth (or the borrowing when ``w_t > 1``) earns zero;
* turnover on day t+1 is ``|w_t - w_{t-1}|``, starting from cash (``w_{-1} = 0``), so the
  first day pays for building the position; the drift of the weight within a day is ignored;
* costs are ``cost_bps / 1e4`` per unit of turnover, subtracted from the gross return;
* equity starts at 1 before the first day and compounds the net returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import ArrayLike
from scipy import stats

from volbook.errors import DataError, ParameterError
from volbook.timing import TRADING_DAYS

__all__ = [
    "SharpeTest",
    "buy_and_hold",
    "performance",
    "performance_table",
    "run_backtest",
    "sharpe_difference",
    "vol_target_weights",
]


def vol_target_weights(
    sigma_forecast: ArrayLike, target_vol: float = 0.15, w_min: float = 0.0, w_max: float = 2.0
) -> np.ndarray:
    """Volatility-targeting weights ``w_t = clip(target_vol / sigma_hat_t, w_min, w_max)``.

    Parameters
    ----------
    sigma_forecast
        Annualized volatility forecasts for the next day, made at origins t (positive).
    target_vol
        Annualized target volatility.
    w_min, w_max
        Bounds on the weight (``w_max = 2`` allows 2x leverage).
    """
    if not target_vol > 0:
        raise ParameterError(f"target_vol must be positive, got {target_vol}")
    if not 0.0 <= w_min <= w_max:
        raise ParameterError(f"need 0 <= w_min <= w_max, got w_min={w_min}, w_max={w_max}")
    sigma = np.asarray(sigma_forecast.to_numpy() if isinstance(sigma_forecast, pl.Series) else sigma_forecast,
                       dtype=float)
    if not (np.isfinite(sigma) & (sigma > 0)).all():
        raise DataError(f"sigma has {int((~(np.isfinite(sigma) & (sigma > 0))).sum())} values that are "
                        "missing, non-finite or <= 0; drop the warm-up origins first")
    return np.clip(target_vol / sigma, w_min, w_max)


def _check_frame(frame: pl.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"backtest frame lacks columns {missing} (has {frame.columns})")
    if frame.height < 2:
        raise DataError(f"backtest frame has {frame.height} rows; at least 2 are needed")
    dates = frame["date"]
    if dates.null_count() or not dates.is_sorted() or dates.n_unique() != frame.height:
        raise DataError("backtest frame: column 'date' must be strictly increasing")
    ret = frame["ret"][1:].cast(pl.Float64)
    if ret.null_count() or not ret.is_finite().all():
        raise DataError("backtest frame: column 'ret' has missing or non-finite values after the first row")


def _daily(frame: pl.DataFrame, weights: np.ndarray, cost_bps: float, name: str) -> pl.DataFrame:
    """The daily ledger for weights ``weights[t]`` decided at ``frame['date'][t]``."""
    if not cost_bps >= 0:
        raise ParameterError(f"cost_bps must be >= 0, got {cost_bps}")
    w = weights[:-1]
    turnover = np.abs(np.diff(w, prepend=0.0))
    gross = w * np.expm1(frame["ret"][1:].cast(pl.Float64).to_numpy())
    cost = cost_bps / 1e4 * turnover
    net = gross - cost
    return pl.DataFrame(
        {
            "date": frame["date"][1:],
            "strategy": pl.Series([name] * w.size, dtype=pl.String),
            "weight": w,
            "turnover": turnover,
            "gross": gross,
            "cost": cost,
            "net": net,
            "equity": np.cumprod(1.0 + net),
        }
    )


def run_backtest(
    frame: pl.DataFrame,
    *,
    target_vol: float = 0.15,
    w_min: float = 0.0,
    w_max: float = 2.0,
    cost_bps: float = 0.0,
    name: str = "vol_target",
) -> pl.DataFrame:
    """Daily ledger of a volatility-targeting strategy.

    Parameters
    ----------
    frame
        Columns ``date``, ``ret`` (log return of day ``date``) and ``sigma`` (annualized
        one-day volatility forecast made at origin ``date``), strictly increasing dates, no
        missing ``sigma``. Row t's ``ret`` is used only as the return earned by ``w_{t-1}``.
    target_vol, w_min, w_max
        See :func:`vol_target_weights`.
    cost_bps
        Cost in basis points per unit of turnover.
    name
        Value of the ``strategy`` column.

    Returns
    -------
    polars.DataFrame
        One row per day t+1 (the rows of ``frame`` but the first): ``date`` (t+1),
        ``strategy``, ``weight`` (decided at t), ``turnover``, ``gross``, ``cost``, ``net``
        (simple returns) and ``equity`` (growth of 1).
    """
    _check_frame(frame, ("date", "ret", "sigma"))
    weights = vol_target_weights(frame["sigma"], target_vol, w_min, w_max)
    return _daily(frame, weights, cost_bps, name)


def buy_and_hold(frame: pl.DataFrame, *, name: str = "buy_and_hold") -> pl.DataFrame:
    """The benchmark in the layout of :func:`run_backtest`: weight 1 every day, no costs.

    Only ``date`` and ``ret`` of ``frame`` are used; on the same frame the dates match the
    strategy's. Turnover is 1 on the first day (bought from cash) and 0 afterwards.
    """
    _check_frame(frame, ("date", "ret"))
    return _daily(frame, np.ones(frame.height), 0.0, name)


def _performance_exprs(periods_per_year: int) -> list[pl.Expr]:
    n = pl.len()
    net = pl.col("net")
    vol = net.std() * np.sqrt(periods_per_year)
    peak = pl.max_horizontal(pl.col("equity").cum_max(), pl.lit(1.0))
    return [
        (pl.col("equity").last() ** (periods_per_year / n) - 1.0).alias("cagr"),
        vol.alias("vol"),
        (net.mean() * periods_per_year / vol).alias("sharpe"),
        (pl.col("equity") / peak - 1.0).min().alias("max_drawdown"),
        pl.col("turnover").mean().alias("avg_turnover"),
        (pl.col("turnover").mean() * periods_per_year).alias("annual_turnover"),
        pl.col("cost").sum().alias("total_cost"),
        pl.col("weight").mean().alias("avg_weight"),
        n.cast(pl.Int64).alias("n_days"),
    ]


def performance(daily: pl.DataFrame, periods_per_year: int = TRADING_DAYS) -> dict[str, float]:
    """Performance of one daily ledger from :func:`run_backtest` or :func:`buy_and_hold`.

    Definitions (net returns ``R_t``, ``n`` days, equity ``E_t``):

    * ``cagr`` = ``E_n ** (periods_per_year / n) - 1`` (years counted in trading days);
    * ``vol`` = ``std(R, ddof=1) * sqrt(periods_per_year)``;
    * ``sharpe`` = ``mean(R) * periods_per_year / vol``: arithmetic, risk-free rate 0;
    * ``max_drawdown`` = ``min_t E_t / max(1, max_{s<=t} E_s) - 1`` (<= 0; the starting
      equity of 1 counts as a peak);
    * ``avg_turnover`` (per day), ``annual_turnover`` (times ``periods_per_year``),
      ``total_cost`` (sum of daily costs, in return units), ``avg_weight``, ``n_days``.
    """
    if "strategy" in daily.columns and daily["strategy"].n_unique() > 1:
        raise DataError("performance: daily holds several strategies; use performance_table")
    return daily.select(_performance_exprs(periods_per_year)).row(0, named=True)


def performance_table(daily: pl.DataFrame, periods_per_year: int = TRADING_DAYS) -> pl.DataFrame:
    """:func:`performance` for every ``strategy`` of stacked ledgers, one row each, in order of appearance."""
    if "strategy" not in daily.columns:
        raise DataError("performance_table: daily lacks the column 'strategy'")
    rows = [
        {"strategy": part["strategy"][0], **performance(part, periods_per_year)}
        for part in daily.partition_by("strategy", maintain_order=True)
    ]
    return pl.DataFrame(rows)


@dataclass(frozen=True)
class SharpeTest:
    """Result of :func:`sharpe_difference` (Sharpe ratios annualized, risk-free rate 0).

    Attributes
    ----------
    sharpe_a, sharpe_b
        Annualized Sharpe ratios ``sqrt(P) * mean / std`` (``std`` with ``ddof=0``).
    diff
        ``sharpe_a - sharpe_b``.
    se
        HAC standard error of ``diff``.
    stat, pvalue
        ``diff / se`` and its two-sided p-value (standard normal).
    lags
        Newey-West lags used.
    """

    sharpe_a: float
    sharpe_b: float
    diff: float
    se: float
    stat: float
    pvalue: float
    lags: int


def _as_returns(x: ArrayLike, name: str) -> np.ndarray:
    a = np.asarray(x.to_numpy() if isinstance(x, pl.Series) else x, dtype=float)
    if a.ndim != 1 or a.size < 10:
        raise DataError(f"{name} must be a 1-D array of at least 10 returns, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise DataError(f"{name} has {int((~np.isfinite(a)).sum())} missing or non-finite returns")
    return a


def sharpe_difference(
    returns_a: ArrayLike, returns_b: ArrayLike, *, periods_per_year: int = TRADING_DAYS, lags: int | None = None
) -> SharpeTest:
    """Test equal Sharpe ratios of two return series of the same days (Ledoit & Wolf 2008, HAC).

    The difference ``SR_a - SR_b`` is a function of ``u = (mean_a, mean_b, E[a^2], E[b^2])``;
    its standard error is the delta method ``sqrt(g' Psi g / T)`` with the gradient ``g`` of
    that function and ``Psi`` the Newey-West (Bartlett) long-run covariance of
    ``(a - mean_a, b - mean_b, a^2 - E[a^2], b^2 - E[b^2])``: robust to fat tails,
    heteroskedasticity and autocorrelation, unlike the Jobson-Korkie test with Memmel's
    correction, which assumes independent normal returns (the two agree for such returns).
    Ledoit and Wolf prefer a Parzen kernel with prewhitening or a studentized bootstrap in
    small samples; with thousands of daily returns the Bartlett kernel is adequate.

    Parameters
    ----------
    returns_a, returns_b
        Per-period (simple) returns of the two strategies on the same periods.
    periods_per_year
        For annualizing the Sharpe ratios (the p-value does not depend on it).
    lags
        Newey-West lags; default ``floor(4 (T/100)^(2/9))``.

    Raises
    ------
    DataError
        Unequal lengths, non-finite values, or a difference whose variance is zero (e.g. one
        series a multiple of the other: their Sharpe ratios are equal by construction).
    """
    a, b = _as_returns(returns_a, "returns_a"), _as_returns(returns_b, "returns_b")
    if a.size != b.size:
        raise DataError(f"returns_a has {a.size} values but returns_b has {b.size}")
    n = a.size
    lags = int(4 * (n / 100) ** (2 / 9)) if lags is None else int(lags)
    if not 0 <= lags < n:
        raise ParameterError(f"lags must be in [0, {n - 1}], got {lags}")
    mu = np.array([a.mean(), b.mean()])
    gamma = np.array([(a**2).mean(), (b**2).mean()])
    var = gamma - mu**2
    if (var <= 0).any():
        raise DataError("a return series is constant: its Sharpe ratio is undefined")
    sharpe = mu / np.sqrt(var)
    grad = np.array([gamma[0] / var[0] ** 1.5, -gamma[1] / var[1] ** 1.5,
                     -mu[0] / (2 * var[0] ** 1.5), mu[1] / (2 * var[1] ** 1.5)])
    y = np.column_stack([a - mu[0], b - mu[1], a**2 - gamma[0], b**2 - gamma[1]])
    psi = y.T @ y / n
    for k in range(1, lags + 1):
        gk = y[k:].T @ y[:-k] / n
        psi += (1 - k / (lags + 1)) * (gk + gk.T)
    variance = float(grad @ psi @ grad) / n
    # the variances of the two Sharpe ratios on their own set the scale of "zero"
    own = sum(float(grad[[i, i + 2]] @ psi[np.ix_([i, i + 2], [i, i + 2])] @ grad[[i, i + 2]]) for i in (0, 1)) / n
    if not variance > 1e-10 * own:
        raise DataError("the Sharpe ratio difference has zero variance (one series a multiple of the other?)")
    scale = np.sqrt(periods_per_year)
    diff = float(sharpe[0] - sharpe[1])
    se = np.sqrt(variance)
    stat = diff / se
    return SharpeTest(float(scale * sharpe[0]), float(scale * sharpe[1]), float(scale * diff), float(scale * se),
                      float(stat), float(2 * stats.norm.sf(abs(stat))), lags)
