"""Seeded intraday price paths whose integrated variance, quarticity and jumps are known.

Model, for day t and intraday time s in [0, 1] (one session = one unit of time; variances
in daily units)::

    d log P_t(s) = sigma_t(s) dW(s) + dJ(s)
    sigma_t^2(s) = v_t * u(s) * exp(x_t(s) - var(x) / 2)
    log v_t      = log v_bar + phi (log v_{t-1} - log v_bar) + eta e_t          (across days)
    x_t(s)       : Ornstein-Uhlenbeck within the day, mean 0, stationary variance var(x)
    u(s)         = U-shape, 1 + a ((2 s - 1)^2 - 1/3), mean 1 over the day

so volatility moves across days (persistent log variance), within the day (the OU factor)
and by time of day (the U-shape). Jumps: a Poisson number per day (``jump_intensity``) at
uniform times, sizes N(0, ``jump_vol``^2). Between sessions the log price moves by an
overnight return N(0, ``overnight_vol``^2).

The path is simulated on a fine grid of ``bars_per_day * steps_per_bar`` steps (Euler for
the price, exact AR(1) for the OU factor), and the truth is computed on the same grid:
integrated variance ``iv = sum sigma^2 dt``, integrated quarticity ``iq = sum sigma^4 dt``,
jump variation ``jv = sum J^2`` and quadratic variation ``qv = iv + jv``. Bars are the fine
log prices every ``steps_per_bar`` steps, end-labelled, plus the session's opening price at
its start (09:30): N + 1 observations a day, so coarser bars are a subsample of timestamps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.signal import lfilter

from volbook.errors import ParameterError

__all__ = ["SyntheticBars", "simulate_intraday"]

_OPEN = dt.time(9, 30)
_SESSION = dt.timedelta(hours=6, minutes=30)


@dataclass(frozen=True)
class SyntheticBars:
    """Simulated bars and the truth behind them.

    Attributes
    ----------
    bars
        ``timestamp`` (naive New York exchange time, end-labelled, 09:30 .. 16:00) and
        ``price``: N + 1 rows per day.
    truth
        One row per day: ``date``, ``iv``, ``iq``, ``jv``, ``qv`` (= iv + jv), ``n_jumps``,
        ``overnight_ret`` (null on the first day).
    """

    bars: pl.DataFrame
    truth: pl.DataFrame


def _check(value: object, name: str, low: float, *, integer: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or value < low or (integer and int(value) != value):
        kind = "an integer" if integer else "a number"
        raise ParameterError(f"{name} must be {kind} >= {low}, got {value!r}")
    return float(value)


def simulate_intraday(
    n_days: int = 250,
    seed: int = 0,
    *,
    bars_per_day: int = 78,
    steps_per_bar: int = 60,
    annual_vol: float = 0.18,
    persistence: float = 0.97,
    vol_of_vol: float = 0.25,
    intraday_vol: float = 0.3,
    intraday_halflife: float = 0.1,
    u_shape: float = 1.0,
    jump_intensity: float = 0.0,
    jump_vol: float = 0.01,
    overnight_vol: float = 0.004,
    first_date: str | dt.date = "2020-01-02",
) -> SyntheticBars:
    """Simulate intraday bars of one asset with known integrated variance (model: module doc).

    Parameters
    ----------
    n_days
        Trading days (business days from ``first_date``).
    seed
        Seed of ``numpy.random.default_rng``.
    bars_per_day
        N, bars per 09:30-16:00 session (78: five minutes).
    steps_per_bar
        Fine steps per bar (60: five-second steps for five-minute bars).
    annual_vol
        sqrt(252 v_bar): the typical annualized volatility.
    persistence, vol_of_vol
        phi and eta of the daily log variance.
    intraday_vol, intraday_halflife
        Stationary standard deviation of the OU factor x and its half-life (in days).
    u_shape
        a, the depth of the time-of-day U-shape (0: flat; below 3 keeps u > 0).
    jump_intensity, jump_vol
        Expected jumps per day and their standard deviation.
    overnight_vol
        Standard deviation of the overnight return.
    first_date
        First day (rolled forward to a business day).

    Returns
    -------
    SyntheticBars
    """
    n_days = int(_check(n_days, "n_days", 1, integer=True))
    seed = int(_check(seed, "seed", 0, integer=True))
    n = int(_check(bars_per_day, "bars_per_day", 1, integer=True))
    k = int(_check(steps_per_bar, "steps_per_bar", 1, integer=True))
    for value, label in [(annual_vol, "annual_vol"), (vol_of_vol, "vol_of_vol"), (intraday_vol, "intraday_vol"),
                         (jump_intensity, "jump_intensity"), (jump_vol, "jump_vol"),
                         (overnight_vol, "overnight_vol"), (u_shape, "u_shape")]:
        _check(value, label, 0)
    if not 0 <= persistence < 1:
        raise ParameterError(f"persistence must be in [0, 1), got {persistence!r}")
    if u_shape >= 3:
        raise ParameterError(f"u_shape must be below 3 (else u(s) <= 0 at midday), got {u_shape!r}")
    if _check(intraday_halflife, "intraday_halflife", 0) == 0:
        raise ParameterError("intraday_halflife must be > 0")
    try:
        start = np.datetime64(first_date, "D")
    except ValueError as exc:
        raise ParameterError(f"first_date: {first_date!r} is not a date (YYYY-MM-DD)") from exc

    rng = np.random.default_rng(seed)
    m = n * k
    dt_step = 1.0 / m
    v_bar = annual_vol**2 / 252.0
    eta = vol_of_vol * np.sqrt(1 - persistence**2)  # stationary sd of log v is vol_of_vol
    log_v = np.empty(n_days)
    log_v[0] = np.log(v_bar) + vol_of_vol * rng.standard_normal()
    shocks = rng.standard_normal(n_days)
    for t in range(1, n_days):
        log_v[t] = np.log(v_bar) + persistence * (log_v[t - 1] - np.log(v_bar)) + eta * shocks[t]

    phi = 0.5 ** (dt_step / intraday_halflife)
    innovations = intraday_vol * np.sqrt(1 - phi**2) * rng.standard_normal((n_days, m))
    innovations[:, 0] = intraday_vol * rng.standard_normal(n_days)  # stationary start
    x = lfilter([1.0], [1.0, -phi], innovations, axis=1)
    s = (np.arange(m) + 0.5) / m
    u = 1.0 + u_shape * ((2 * s - 1) ** 2 - 1.0 / 3.0)
    sigma2 = np.exp(log_v)[:, None] * u[None, :] * np.exp(x - intraday_vol**2 / 2)

    diffusion = np.sqrt(sigma2 * dt_step) * rng.standard_normal((n_days, m))
    n_jumps = rng.poisson(jump_intensity, n_days)
    jumps = np.zeros((n_days, m))
    days = np.repeat(np.arange(n_days), n_jumps)
    np.add.at(jumps, (days, rng.integers(0, m, days.size)), jump_vol * rng.standard_normal(days.size))
    overnight = overnight_vol * rng.standard_normal(n_days)
    overnight[0] = 0.0

    steps = diffusion + jumps
    day_move = steps.sum(axis=1)
    opens = np.log(100.0) + np.cumsum(overnight + np.r_[0.0, day_move[:-1]])
    path = opens[:, None] + np.cumsum(steps, axis=1)
    sampled = np.hstack([opens[:, None], path[:, k - 1 :: k]])  # N + 1 log prices a day

    dates = np.busday_offset(start, np.arange(n_days), roll="forward").astype("datetime64[D]")
    offsets = (np.arange(n + 1) * (_SESSION / n) + (dt.datetime.combine(dt.date.min, _OPEN) - dt.datetime.min))
    times = dates.astype("datetime64[us]")[:, None] + np.array(offsets, dtype="timedelta64[us]")[None, :]
    bars = pl.DataFrame({"timestamp": times.ravel(), "price": np.exp(sampled.ravel())})
    iv = sigma2.sum(axis=1) * dt_step
    jv = (jumps**2).sum(axis=1)
    truth = pl.DataFrame(
        {
            "date": dates,
            "iv": iv,
            "iq": (sigma2**2).sum(axis=1) * dt_step,
            "jv": jv,
            "qv": iv + jv,
            "n_jumps": n_jumps.astype(np.int64),
            "overnight_ret": overnight,
        }
    ).with_columns(pl.when(pl.int_range(pl.len()) > 0).then("overnight_ret").alias("overnight_ret"))
    return SyntheticBars(bars=bars, truth=truth)
