"""Realized measures of daily variance, from daily OHLC prices or from intraday bars.

Every measure is a **daily variance** in decimal units (``0.01 ** 2`` for a 1% day). The
single-day ones (Parkinson, Garman-Klass, Rogers-Satchell, intraday ``rv`` and ``bv``) can
stand in for ``r_t^2`` in the targets of :mod:`volbook.timing` (``forward_sum``); Yang-Zhang
cannot: its value at t averages days t-n+1 .. t, so a forward target built from it would
leak days <= t.

From daily open, high, low and close *prices* (logarithms are taken here), for day t:

* :func:`parkinson`, :func:`garman_klass`, :func:`rogers_satchell` use day t alone and
  measure the variance of the **trading session** (open to close), not the overnight gap;
* :func:`yang_zhang` adds the overnight gap and averages over n days: its value at t uses
  days t-n+1 .. t only (NaN for the first n-1 days), so it is known at the close of t.

From one day's intraday returns (polars expressions for ``group_by(...).agg``):
:func:`realized_variance`, :func:`bipower_variation`, :func:`realized_quarticity`,
:func:`realized_kurtosis`, and :func:`jump_variation` from the first two. From a file of
intraday bars to one row of these per day (sessions, time zones, bar labels, the overnight
return kept separate): :func:`volbook.bars.aggregate_bars`.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from numpy.typing import ArrayLike

from volbook.errors import DataError, ParameterError

__all__ = [
    "bipower_variation",
    "garman_klass",
    "jump_variation",
    "parkinson",
    "realized_kurtosis",
    "realized_quarticity",
    "realized_variance",
    "rogers_satchell",
    "yang_zhang",
]

# ---------------------------------------------------------------- daily OHLC


def _log_prices(**prices: ArrayLike) -> dict[str, np.ndarray]:
    """Logs of same-length, finite, positive price arrays with high >= (open, close) >= low."""
    out: dict[str, np.ndarray] = {}
    for name, x in prices.items():
        a = np.asarray(x.to_numpy() if isinstance(x, pl.Series) else x, dtype=float)
        if a.ndim != 1:
            raise DataError(f"{name} must be a 1-D array of prices, got shape {a.shape}")
        ok = np.isfinite(a) & (a > 0)
        allowed = ok | np.isnan(a) if name == "prev_close" else ok  # prev_close may be NaN (first day)
        if not allowed.all():
            raise DataError(f"{name} has {int((~allowed).sum())} values that are missing, non-finite or <= 0")
        out[name] = np.log(np.where(ok, a, np.nan))
    sizes = {name: a.size for name, a in out.items()}
    if len(set(sizes.values())) != 1:
        raise DataError(f"price arrays differ in length: {sizes}")
    high, low = out["high"], out["low"]
    for name in ("open", "close", "low"):
        if name in out and (out[name] > high).any():
            raise DataError(f"{name} exceeds high on {int((out[name] > high).sum())} days")
    for name in ("open", "close"):
        if name in out and (out[name] < low).any():
            raise DataError(f"{name} is below low on {int((out[name] < low).sum())} days")
    return out


def parkinson(high: ArrayLike, low: ArrayLike) -> np.ndarray:
    """Parkinson (1980) range estimator ``ln(H/L)^2 / (4 ln 2)`` of the session variance."""
    p = _log_prices(high=high, low=low)
    return (p["high"] - p["low"]) ** 2 / (4.0 * math.log(2.0))


def garman_klass(open: ArrayLike, high: ArrayLike, low: ArrayLike, close: ArrayLike) -> np.ndarray:  # noqa: A002
    """Garman & Klass (1980): ``0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2`` (session variance, zero drift)."""
    p = _log_prices(open=open, high=high, low=low, close=close)
    return 0.5 * (p["high"] - p["low"]) ** 2 - (2.0 * math.log(2.0) - 1.0) * (p["close"] - p["open"]) ** 2


def _rs(p: dict[str, np.ndarray]) -> np.ndarray:
    h, lo, o, c = p["high"], p["low"], p["open"], p["close"]
    return (h - c) * (h - o) + (lo - c) * (lo - o)


def rogers_satchell(open: ArrayLike, high: ArrayLike, low: ArrayLike, close: ArrayLike) -> np.ndarray:  # noqa: A002
    """Rogers & Satchell (1991): ``ln(H/C) ln(H/O) + ln(L/C) ln(L/O)``, unbiased under any drift."""
    return _rs(_log_prices(open=open, high=high, low=low, close=close))


def yang_zhang(
    open: ArrayLike,  # noqa: A002
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    prev_close: ArrayLike,
    n: int,
) -> np.ndarray:
    """Yang & Zhang (2000) variance over a rolling window of n days, overnight gap included.

    ``V_t = V_O + k V_C + (1 - k) V_RS`` over days t-n+1 .. t, where ``V_O`` and ``V_C`` are
    the sample variances (mean removed, divisor n - 1) of the overnight returns
    ``ln(O/C_prev)`` and open-to-close returns ``ln(C/O)``, ``V_RS`` the mean Rogers-Satchell
    term, and ``k = 0.34 / (1.34 + (n + 1) / (n - 1))``.

    Parameters
    ----------
    open, high, low, close
        Daily prices.
    prev_close
        Close of the previous day, aligned with day t (NaN allowed for the first day; the
        windows containing it are then NaN).
    n
        Window length in days, at least 2.

    Returns
    -------
    numpy.ndarray
        Daily variance; element t uses days t-n+1 .. t only, NaN for t < n - 1.
    """
    if int(n) != n or n < 2:
        raise ParameterError(f"n must be an integer >= 2, got {n}")
    n = int(n)
    p = _log_prices(open=open, high=high, low=low, close=close, prev_close=prev_close)
    out = np.full(p["open"].size, np.nan)
    if out.size < n:
        return out
    k = 0.34 / (1.34 + (n + 1) / (n - 1))
    window = np.lib.stride_tricks.sliding_window_view
    v_o = window(p["open"] - p["prev_close"], n).var(axis=1, ddof=1)
    v_c = window(p["close"] - p["open"], n).var(axis=1, ddof=1)
    v_rs = window(_rs(p), n).mean(axis=1)
    out[n - 1 :] = v_o + k * v_c + (1.0 - k) * v_rs
    return out


# ---------------------------------------------------------------- intraday bars


def _scale(n: pl.Expr, full_day_bars: int | None) -> pl.Expr:
    return n if full_day_bars is None else pl.lit(float(full_day_bars))


def realized_variance(returns: pl.Expr, full_day_bars: int | None = 78) -> pl.Expr:
    """Realized variance of one day's intraday returns, for ``group_by(...).agg``.

    ``RV_t = (N / n_t) sum_i r_{t,i}^2`` with ``n_t`` the number of non-null returns of the
    day and ``N = full_day_bars`` (the short-day correction: a half day with 42 returns is
    scaled by 78/42); ``full_day_bars=None`` gives the plain sum. Null for a day without returns.
    """
    r = returns.drop_nulls()
    n = r.len().cast(pl.Float64)
    return pl.when(n > 0).then(_scale(n, full_day_bars) / n * (r**2).sum())


def bipower_variation(returns: pl.Expr, full_day_bars: int | None = 78) -> pl.Expr:
    """Bipower variation of one day's intraday returns, for ``group_by(...).agg``.

    ``BV_t = (pi / 2) (N / (n_t - 1)) sum_{i>=2} |r_{t,i}| |r_{t,i-1}|`` (Barndorff-Nielsen &
    Shephard 2004, with the n/(n-1) factor of Andersen, Bollerslev & Diebold 2007 and the same
    short-day scaling N/n_t as :func:`realized_variance`); robust to jumps. ``N = n_t`` when
    ``full_day_bars`` is None. Null for a day with fewer than 2 returns.
    """
    r = returns.drop_nulls().abs()
    n = r.len().cast(pl.Float64)
    return pl.when(n > 1).then(math.pi / 2.0 * _scale(n, full_day_bars) / (n - 1.0) * (r * r.shift(1)).sum())


def realized_quarticity(returns: pl.Expr, full_day_bars: int | None = 78) -> pl.Expr:
    """Realized quarticity of one day's intraday returns, for ``group_by(...).agg``.

    ``RQ_t = (N / 3) (N / n_t) sum_i r_{t,i}^4`` (Barndorff-Nielsen & Shephard 2002, with the
    short-day scaling of :func:`realized_variance`): it estimates the integrated quarticity
    ``int sigma^4`` of a full day, in squared daily-variance units; ``2 RQ_t / N`` estimates
    the variance of ``RV_t``. ``N = n_t`` when ``full_day_bars`` is None. Null for a day
    without returns.
    """
    r = returns.drop_nulls()
    n = r.len().cast(pl.Float64)
    big_n = _scale(n, full_day_bars)
    return pl.when(n > 0).then(big_n / 3.0 * big_n / n * (r**4).sum())


def realized_kurtosis(returns: pl.Expr) -> pl.Expr:
    """Realized kurtosis of one day's intraday returns, for ``group_by(...).agg``.

    ``RKurt_t = n_t sum_i r_{t,i}^4 / (sum_i r_{t,i}^2)^2`` (Amaya, Christoffersen, Jacobs &
    Vasquez 2015): scale-free, so no short-day scaling; about 3 for Gaussian returns with
    constant volatility, larger with jumps or volatility moving within the day. Null for a day
    without returns or with every return zero.
    """
    r = returns.drop_nulls()
    n = r.len().cast(pl.Float64)
    s2 = (r**2).sum()
    return pl.when((n > 0) & (s2 > 0)).then(n * (r**4).sum() / s2**2)


def jump_variation(rv: pl.Expr | str = "rv", bv: pl.Expr | str = "bv") -> pl.Expr:
    """Jump variation ``max(RV - BV, 0)`` from realized variance and bipower variation columns."""
    rv_e, bv_e = (pl.col(x) if isinstance(x, str) else x for x in (rv, bv))
    return (rv_e - bv_e).clip(lower_bound=0.0).alias("jv")
