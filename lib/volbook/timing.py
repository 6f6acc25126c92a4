"""The timing convention of the whole book, in one place.

Every chapter, model and test follows these rules; nothing else restates them.

Returns
    ``r_t = ln(P_t / P_{t-1})``, daily log returns in decimal units (0.01 = 1%). Variances
    are daily unless a name says ``annualized`` (variance x 252, volatility x sqrt(252)).

Origin
    A forecast made at **origin t** may use data up to and including the close of day t,
    and nothing later. Forecast and target rows are **labelled by their origin date t**.

Target
    For horizon h the target is the *forward* realized variance over t+1 .. t+h::

        RV_{t,h} = sum_{j=1..h} r_{t+j}^2

    (a realized measure may replace r^2). It is null for the last h origins of a sample.
    The per-day version divides by h; the annualized one also multiplies by 252.

Forecast
    A variance forecast for horizon h is a forecast of ``RV_{t,h}`` itself: the *sum* of the
    h one-step-ahead variance forecasts s2_{t+1|t}, ..., s2_{t+h|t}. Averaging the last h
    one-step *volatility* forecasts is not an h-step forecast (its inputs overlap the target).

Layout
    Walk-forward results are long polars frames with one row per (``date`` = origin t,
    ``model``, ``horizon``) and the column ``forecast``; targets have ``target`` in place of
    ``forecast``; join them on (``date``, ``horizon``). See :func:`forward_variance`.

Re-estimation
    A model refit every k days uses, at origin t, parameters estimated on data fully known
    at t. A training row (s, target over s+1..s+h) is usable at origin t only if s+h <= t
    (:func:`usable_training_end`); models get their targets only from
    :meth:`volbook.history.History.training_rows`, which enforces it. Training windows end at t.

Backtests
    The weight held over day t+1 is decided at the close of t from the forecast made at
    origin t. No extra lag, and no less.

Every forecaster is checked by the perturbation test in ``tests/test_no_lookahead.py``:
change every input after t and the forecast at t must not change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import polars as pl

from volbook.errors import ParameterError

__all__ = [
    "TRADING_DAYS",
    "annualize_variance",
    "annualized_vol",
    "forward_sum",
    "forward_variance",
    "refit_origins",
    "targets_frame",
    "usable_training_end",
]

TRADING_DAYS = 252


def _check_horizons(horizons: Sequence[int]) -> list[int]:
    hs = [int(h) for h in horizons]
    if not hs or any(h < 1 for h in hs) or len(set(hs)) != len(hs):
        raise ParameterError(f"horizons must be distinct positive integers, got {list(horizons)}")
    return hs


def forward_variance(returns: np.ndarray, horizon: int) -> np.ndarray:
    """Forward realized variance ``RV_{t,h} = sum_{j=1..h} r_{t+j}^2`` labelled by origin t.

    Parameters
    ----------
    returns
        Daily returns ``r_0 .. r_{n-1}``.
    horizon
        h >= 1.

    Returns
    -------
    numpy.ndarray
        Length n; element t is ``sum(r[t+1 : t+h+1] ** 2)``, NaN for the last h origins.
    """
    return forward_sum(np.asarray(returns, dtype=float) ** 2, horizon)


def forward_sum(values: np.ndarray, horizon: int) -> np.ndarray:
    """``sum(values[t+1 : t+h+1])`` labelled by origin t (NaN for the last h origins).

    The general form of :func:`forward_variance` for any per-day variance proxy (a
    realized measure in place of r^2).
    """
    (h,) = _check_horizons([horizon])
    x = np.asarray(values, dtype=float)
    out = np.full(x.size, np.nan)
    if x.size > h:
        # window sums, not cumulative-sum differences: each value depends on its window only
        out[: x.size - h] = np.lib.stride_tricks.sliding_window_view(x[1:], h).sum(axis=1)
    return out


def targets_frame(
    dates: Sequence | pl.Series, values: np.ndarray, horizons: Sequence[int], *, square: bool = True
) -> pl.DataFrame:
    """Targets in the book's layout: ``date`` (origin t), ``horizon``, ``target`` = RV_{t,h}.

    ``values`` are daily returns, squared before summing (``square=True``, the default), or
    any per-day variance proxy summed as it is (``square=False``: a realized measure ``rv``,
    the target of models fitted on that column). Origins whose window t+1..t+h runs past the
    sample are dropped.
    """
    hs = _check_horizons(horizons)
    d = pl.Series("date", dates) if not isinstance(dates, pl.Series) else dates.alias("date")
    per_day = np.asarray(values, dtype=float) ** 2 if square else np.asarray(values, dtype=float)
    frames = [pl.DataFrame({"date": d, "horizon": h, "target": forward_sum(per_day, h)}) for h in hs]
    return pl.concat(frames).with_columns(pl.col("horizon").cast(pl.Int64)).drop_nans("target")


def usable_training_end(origin: int, horizon: int) -> int:
    """Last training row s whose h-step target (over s+1..s+h) is known at ``origin``: t - h."""
    return int(origin) - int(horizon)


def refit_origins(first: int, last: int, refit_every: int | None) -> np.ndarray:
    """Origins (inclusive range ``first..last``) at which a walk-forward re-estimates.

    ``refit_every=None`` fits once, at ``first``; ``refit_every=k`` refits at first, first+k, ...
    """
    if last < first:
        raise ParameterError(f"no origins: first origin {first} is after the last {last}")
    if refit_every is None:
        return np.array([first])
    if int(refit_every) < 1:
        raise ParameterError(f"refit_every must be a positive integer, got {refit_every}")
    return np.arange(first, last + 1, int(refit_every))


def annualize_variance(variance_sum: np.ndarray, horizon: int) -> np.ndarray:
    """Per-day variance over a horizon, annualized: ``252 * RV_{t,h} / h``."""
    return TRADING_DAYS * np.asarray(variance_sum, dtype=float) / horizon


def annualized_vol(variance_sum: np.ndarray, horizon: int) -> np.ndarray:
    """Annualized volatility of an h-day variance sum: ``sqrt(252 * RV_{t,h} / h)``."""
    return np.sqrt(annualize_variance(variance_sum, horizon))
