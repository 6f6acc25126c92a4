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

From intraday bars (:func:`realized_variance_intraday`): the sum of squared intraday log
returns within the session, the bipower variation and the overnight return kept separate.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import ArrayLike

from volbook.errors import DataError, ParameterError

__all__ = [
    "REGULAR_SESSION",
    "bipower_variation",
    "garman_klass",
    "jump_variation",
    "parkinson",
    "realized_variance",
    "realized_variance_intraday",
    "rogers_satchell",
    "yang_zhang",
]

#: NYSE/Nasdaq regular trading hours, exchange time.
REGULAR_SESSION = (dt.time(9, 30), dt.time(16, 0))


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


def jump_variation(rv: pl.Expr | str = "rv", bv: pl.Expr | str = "bv") -> pl.Expr:
    """Jump variation ``max(RV - BV, 0)`` from realized variance and bipower variation columns."""
    rv_e, bv_e = (pl.col(x) if isinstance(x, str) else x for x in (rv, bv))
    return (rv_e - bv_e).clip(lower_bound=0.0).alias("jv")


def realized_variance_intraday(
    bars: pl.DataFrame,
    *,
    session: Literal["regular"] | tuple[dt.time, dt.time] = "regular",
    tz: str = "America/New_York",
    bar_label: Literal["end", "start"] = "end",
    full_day_bars: int = 78,
    scale_short_days: bool = True,
) -> pl.DataFrame:
    """Daily realized variance from intraday bars, with the overnight return kept separate.

    Each bar's ``price`` is its last price, observed at the bar's **end**. Bar length is
    ``(session close - session open) / full_day_bars`` (5 minutes for 78 bars of the regular
    session). Steps:

    1. timestamps with a time zone (e.g. UTC) are converted to ``tz``; naive timestamps are
       read as exchange time in ``tz`` (make UTC ones aware first,
       ``.dt.replace_time_zone("UTC")``);
    2. start-labelled bars are moved to their end (``+ bar length``), so both labellings of
       the same data give the same result;
    3. observations outside ``[open, close]`` of the session (inclusive) are dropped: a full
       day has N + 1 observations (09:30, 09:35, ..., 16:00) and N = 78 returns; a day with
       more than N returns, or an observation off the grid of bar ends (open + k * bar
       length), is an error (bars shorter than ``full_day_bars`` implies);
    4. per day, intraday returns ``r_{t,i}`` are differences of consecutive log prices;
       ``rv`` is :func:`realized_variance` and ``bv`` :func:`bipower_variation`, scaled by
       ``N / n_t`` on days with fewer returns (half days, missing bars) when
       ``scale_short_days``; a missing bar merges two intervals into one return, so that day's
       scaling overstates by N / (N - 1);
    5. ``overnight_ret`` = first log price of the day minus the last of the previous day
       (per asset; null on the first day). It is not part of ``rv``.

    Parameters
    ----------
    bars
        Columns ``timestamp`` (Datetime) and ``price`` (positive), optionally ``asset``.
    session
        ``"regular"`` (09:30-16:00, :data:`REGULAR_SESSION`) or an (open, close) pair of times.
    tz
        Exchange time zone.
    bar_label
        Whether a bar's timestamp marks its ``"end"`` or its ``"start"``.
    full_day_bars
        N, the number of returns in a full session (78 for 5-minute bars of the regular
        session, 390 for 1-minute bars).
    scale_short_days
        Apply the ``N / n_t`` correction; otherwise the plain sum of squares.

    Returns
    -------
    polars.DataFrame
        ``date``, (``asset``,) ``rv``, ``bv``, ``n_bars`` (returns observed, ``n_t``),
        ``overnight_ret``; daily variance units, sorted by (asset,) date.
    """
    missing = [c for c in ("timestamp", "price") if c not in bars.columns]
    if missing:
        raise DataError(f"bars lack columns {missing} (has {bars.columns})")
    ts_type = bars.schema["timestamp"]
    if not isinstance(ts_type, pl.Datetime):
        raise DataError(f"bars column 'timestamp' must be Datetime, got {ts_type}")
    price = bars["price"].cast(pl.Float64, strict=False)
    bad = int((~(price.is_finite() & (price > 0)).fill_null(False)).sum())
    if bad:
        raise DataError(f"bars column 'price' has {bad} values that are missing, non-finite or <= 0")
    if bars["timestamp"].null_count():
        raise DataError(f"bars column 'timestamp' has {bars['timestamp'].null_count()} missing values")
    if bar_label not in ("end", "start"):
        raise ParameterError(f"bar_label must be 'end' or 'start', got {bar_label!r}")
    opening, closing = REGULAR_SESSION if session == "regular" else session
    if not (isinstance(opening, dt.time) and isinstance(closing, dt.time) and opening < closing):
        raise ParameterError(f"session must be 'regular' or an (open, close) pair of times, got {session!r}")
    if int(full_day_bars) < 1:
        raise ParameterError(f"full_day_bars must be a positive integer, got {full_day_bars}")
    length = dt.datetime.combine(dt.date.min, closing) - dt.datetime.combine(dt.date.min, opening)
    bar = length / int(full_day_bars)

    keys = ["asset"] if "asset" in bars.columns else []
    ts = pl.col("timestamp")
    local = ts.dt.convert_time_zone(tz) if ts_type.time_zone else ts.dt.replace_time_zone(
        tz, ambiguous="null", non_existent="null")
    if bar_label == "start":
        local = local + pl.lit(bar)
    obs = (
        bars.select(*keys, local.alias("t"), pl.col("price").cast(pl.Float64).log().alias("logp"))
        .filter(pl.col("t").dt.time().is_between(opening, closing, closed="both"))
        .with_columns(date=pl.col("t").dt.date())
        .sort([*keys, "t"])
    )
    if obs.select(pl.struct(*keys, "t").is_duplicated().any()).item():
        raise DataError("bars have duplicate timestamps" + (" within an asset" if keys else ""))
    hint = f"set full_day_bars to the number of bars in a full session (now {int(full_day_bars)})"
    busy = obs.group_by([*keys, "date"]).len().filter(pl.col("len") - 1 > int(full_day_bars))
    if busy.height:
        row = busy.sort([*keys, "date"]).row(0, named=True)
        where = f"asset '{row['asset']}' on " if keys else ""
        raise DataError(f"bars: {where}{row['date']} has {row['len'] - 1} returns, more than full_day_bars; {hint}")
    # on the grid of bar ends: (t - open) * N is a multiple of the session length (in microseconds)
    us = dt.timedelta(microseconds=1)
    since_open = pl.col("t").dt.time().cast(pl.Int64) // 1000 - (dt.datetime.combine(dt.date.min, opening)
                                                                  - dt.datetime.min) // us
    off = obs.filter(since_open * int(full_day_bars) % (length // us) != 0)
    if off.height:
        raise DataError(f"bars: {off['t'][0]} is off the grid of bar ends every {bar} from {opening}; {hint}")
    scale = int(full_day_bars) if scale_short_days else None
    r = pl.col("logp").diff()
    daily = obs.group_by([*keys, "date"]).agg(
        rv=realized_variance(r, scale),
        bv=bipower_variation(r, scale),
        n_bars=(pl.len() - 1).cast(pl.Int64),
        first=pl.col("logp").first(),
        last=pl.col("logp").last(),
    ).sort([*keys, "date"])
    prev_last = pl.col("last").shift(1)
    return daily.select(
        "date",
        *keys,
        "rv",
        "bv",
        "n_bars",
        overnight_ret=pl.col("first") - (prev_last.over(keys) if keys else prev_last),
    )
