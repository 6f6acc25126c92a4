"""Named evaluation periods: calm and stressed stretches of a sample, and scores per period.

A chapter names its periods by their first days (a parameter pair such as
``period_names = ["pre-crisis", "GFC", "post-crisis"]`` and
``period_starts = ["2003-01-01", "2007-08-01", "2009-07-01"]``); each period runs to the day
before the next one starts, the last to the end of the sample. Periods only group forecast
*origins* for scoring: an origin's forecast still uses data up to the origin only, so where the
boundaries lie (chosen with hindsight, as any study's sub-periods are) does not leak into a
forecast.

* :func:`define_periods` checks the names and dates and returns one row per period;
* :func:`label_periods` adds the period of each date to a frame (dates before the first start
  get none);
* :func:`summarize_periods` describes each period's realized variance, so a chapter can justify
  calling a period calm or stressed from the data (``stressed``: its mean annualized volatility
  is above that of all the periods together);
* :func:`score_by_period` scores forecasts per model, horizon and period: MAPE of the
  volatility forecast, MSE and QLIKE of the variance forecast;
* :func:`dm_by_period` and :func:`mcs_by_period` run the Diebold-Mariano test against a
  baseline and the Model Confidence Set within each (period, horizon).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import polars as pl

from volbook import SEED
from volbook.errors import DataError, ParameterError
from volbook.evaluate import diebold_mariano_table, loss_expr, model_confidence_set
from volbook.timing import TRADING_DAYS

__all__ = [
    "define_periods",
    "dm_by_period",
    "label_periods",
    "mcs_by_period",
    "score_by_period",
    "summarize_periods",
    "vol_ape_expr",
]


def _as_date(value: str | dt.date, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ParameterError(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from exc


def define_periods(names: Sequence[str], starts: Sequence[str | dt.date], *, last: str | dt.date) -> pl.DataFrame:
    """Periods from their names and first days; the last one ends on ``last``.

    Parameters
    ----------
    names
        One name per period, distinct, non-empty.
    starts
        The first day of each period, strictly increasing; period k ends the day before
        ``starts[k + 1]``.
    last
        The last day of the last period (the end of the sample); on or after the last start.

    Returns
    -------
    polars.DataFrame
        ``period`` (name), ``first``, ``last`` (dates), in order.

    Raises
    ------
    ParameterError
        Lists of different lengths, an empty or repeated name, a date that is not one, starts
        out of order, or a last period that would be empty.
    """
    names, starts = list(names), list(starts)
    if not names or len(names) != len(starts):
        raise ParameterError(f"period_names ({len(names)}) and period_starts ({len(starts)}) need one entry per "
                             "period, at least one")
    if any(not str(n).strip() for n in names) or len(set(names)) != len(names):
        raise ParameterError(f"period_names must be distinct, non-empty names, got {names}")
    firsts = [_as_date(s, "period_starts") for s in starts]
    for a, b in zip(firsts, firsts[1:]):
        if b <= a:
            raise ParameterError(f"period_starts must increase: {b} follows {a}")
    end = _as_date(last, "the end of the sample")
    if end < firsts[-1]:
        raise ParameterError(f"the last period starts on {firsts[-1]}, after the sample ends ({end}); "
                             "choose earlier period_starts or a later end")
    lasts = [b - dt.timedelta(days=1) for b in firsts[1:]] + [end]
    return pl.DataFrame({"period": [str(n) for n in names], "first": firsts, "last": lasts})


def label_periods(frame: pl.DataFrame, periods: pl.DataFrame, *, on: str = "date") -> pl.DataFrame:
    """``frame`` with a ``period`` column: the period each ``on`` date falls in (null outside all)."""
    if on not in frame.columns:
        raise DataError(f"label_periods: the frame has no column {on!r} (has {frame.columns})")
    expr = pl.lit(None, dtype=pl.String)
    for name, first, last in periods.select("period", "first", "last").iter_rows():
        expr = pl.when(pl.col(on).is_between(first, last)).then(pl.lit(name)).otherwise(expr)
    return frame.with_columns(expr.alias("period"))


def summarize_periods(frame: pl.DataFrame, periods: pl.DataFrame, *, rv: str = "rv") -> pl.DataFrame:
    """Realized variance per period, annualized: what makes a period calm or stressed.

    Parameters
    ----------
    frame
        ``date`` and a per-day realized variance ``rv`` (daily units).
    periods
        From :func:`define_periods`.

    Returns
    -------
    polars.DataFrame
        ``period``, ``first``, ``last`` (the first and last days of the frame in the period),
        ``days``, ``mean_vol`` (``sqrt(252 * mean rv)``), ``median_vol`` (of the daily
        ``sqrt(252 rv)``), ``p95_vol`` (its 95th percentile), ``max_vol`` and ``stressed``
        (``mean_vol`` above that of the days of all the periods together), in period order.
        A period without days in the frame raises.
    """
    labelled = label_periods(frame.select("date", rv), periods).drop_nulls("period")
    vol = (TRADING_DAYS * pl.col(rv)).sqrt()
    table = labelled.group_by("period").agg(
        first=pl.col("date").min(),
        last=pl.col("date").max(),
        days=pl.len().cast(pl.Int64),
        mean_vol=(TRADING_DAYS * pl.col(rv).mean()).sqrt(),
        median_vol=vol.median(),
        p95_vol=vol.quantile(0.95, "linear"),
        max_vol=vol.max(),
    )
    empty = [p for p in periods["period"] if p not in set(table["period"])]
    if empty:
        raise DataError(f"period(s) {empty} have no days in the data ({frame['date'].min()} to {frame['date'].max()}); "
                        "move period_starts inside the sample")
    overall = float(np.sqrt(TRADING_DAYS * labelled[rv].mean()))
    return (
        periods.select("period").join(table, on="period", how="left", maintain_order="left")
        .with_columns(stressed=pl.col("mean_vol") > overall)
    )


def vol_ape_expr(y: str = "target", f: str = "forecast") -> pl.Expr:
    """Absolute percentage error of the volatility forecast, ``|sqrt(f) - sqrt(y)| / sqrt(y)``.

    ``y`` and ``f`` are variances summed over the same h days, so this is also the error of the
    per-day (or annualized) volatility: the factor ``sqrt(h)`` (``sqrt(252 / h)``) cancels.
    """
    return ((pl.col(f).sqrt() - pl.col(y).sqrt()).abs() / pl.col(y).sqrt()).alias("vol_ape")


def _ordered(evaluation: pl.DataFrame) -> pl.DataFrame:
    """``evaluation`` sorted by period (chronologically, by each period's first date), horizon,
    model (in order of first appearance) and date: a canonical order, so that results do not
    depend on how the rows arrived."""
    periods = evaluation.group_by("period").agg(pl.col("date").min().alias("_first")).sort("_first")
    models = evaluation["model"].unique(maintain_order=True)
    return (
        evaluation.with_columns(
            pl.col("period").replace_strict(periods["period"], np.arange(periods.height)).alias("_p"),
            pl.col("model").replace_strict(models, np.arange(models.len())).alias("_m"),
        )
        .sort("_p", "horizon", "_m", "date")
        .drop("_p", "_m")
    )


def score_by_period(evaluation: pl.DataFrame) -> pl.DataFrame:
    """MAPE, MSE and QLIKE per model, horizon and period.

    Parameters
    ----------
    evaluation
        ``date``, ``model``, ``horizon``, ``period``, ``forecast``, ``target`` (variance sums
        over the horizon; targets positive).

    Returns
    -------
    polars.DataFrame
        ``period``, ``horizon``, ``model``, ``n``, ``mape`` (of the volatility forecast, a
        fraction), ``mse`` (variance), ``qlike`` (Patton's normalized form) and ``rank`` (by
        QLIKE within period and horizon, 1 = best); periods in time order, models in their
        order of first appearance in ``evaluation``.
    """
    missing = [c for c in ("date", "model", "horizon", "period", "forecast", "target") if c not in evaluation.columns]
    if missing:
        raise DataError(f"score_by_period: evaluation lacks {missing}")
    if (evaluation["target"] <= 0).any() or (evaluation["forecast"] <= 0).any():
        raise DataError("score_by_period: targets and forecasts must be positive (QLIKE and MAPE divide by them)")
    return (
        _ordered(evaluation)
        .with_columns(vol_ape_expr(), loss_expr("squared"), loss_expr("qlike"))
        .group_by("period", "horizon", "model", maintain_order=True)
        .agg(n=pl.len().cast(pl.Int64), mape=pl.col("vol_ape").mean(), mse=pl.col("squared").mean(),
             qlike=pl.col("qlike").mean())
        .with_columns(rank=pl.col("qlike").rank("min").over("period", "horizon").cast(pl.Int64))
    )


def _wide(evaluation: pl.DataFrame, loss: str) -> pl.DataFrame:
    """Losses of each model on the dates every model has, one column per model, dates sorted."""
    wide = evaluation.pivot(on="model", index="date", values=loss).sort("date")
    return wide.drop_nulls()


def dm_by_period(evaluation: pl.DataFrame, baseline: str, losses: Sequence[str] = ("qlike",)) -> pl.DataFrame:
    """Diebold-Mariano tests of every model against ``baseline`` within each period and horizon
    (:func:`~volbook.evaluate.diebold_mariano_table`: HLN-corrected, HAC variance with h - 1 lags).

    Parameters
    ----------
    evaluation
        As for :func:`score_by_period`, plus one column per name in ``losses`` (per-origin
        losses, e.g. ``loss_expr("qlike")``); within a period and horizon every model on the
        same origins.
    baseline
        The model every other one is compared with.
    losses
        Loss columns to test.

    Returns
    -------
    polars.DataFrame
        ``period``, ``horizon``, ``model``, ``loss``, ``n`` (origins), ``mean_diff`` (the model's
        mean loss minus the baseline's), ``rel_diff`` (over the baseline's mean loss), ``stat``
        (negative: the model's loss is lower) and ``pvalue`` (two-sided); periods in time order.
    """
    if baseline not in set(evaluation["model"]):
        raise DataError(f"dm_by_period: baseline {baseline!r} is not a model of the evaluation")
    rows = []
    for (period, h), group in _ordered(evaluation).group_by("period", "horizon", maintain_order=True):
        n = group["date"].n_unique()
        if n <= h or group["model"].n_unique() < 2 or baseline not in set(group["model"]):
            continue
        rows.append(diebold_mariano_table(group, [baseline], losses, h=int(h)).with_columns(
            period=pl.lit(period), horizon=pl.lit(int(h)), n=pl.lit(n)))
    if not rows:
        raise DataError(f"dm_by_period: no period has {baseline!r} and another model on more than h common dates")
    return pl.concat(rows).select("period", "horizon", "model", "loss", "n", "mean_diff", "rel_diff", "stat", "pvalue")


def mcs_by_period(
    evaluation: pl.DataFrame, loss: str = "qlike", *, size: float = 0.10, reps: int = 1000, seed: int = SEED
) -> pl.DataFrame:
    """The Model Confidence Set (:func:`~volbook.evaluate.model_confidence_set`) within each
    period and horizon, over the models with forecasts at every origin of the period.

    Models that cover only part of a period (e.g. one whose data start later) are left out of
    that period's set rather than cutting every model's sample to theirs.

    Returns
    -------
    polars.DataFrame
        ``period``, ``horizon``, ``model``, ``n`` (origins), ``pvalue``, ``included``.
    """
    rows = []
    for (period, h), group in _ordered(evaluation).group_by("period", "horizon", maintain_order=True):
        origins = group["date"].n_unique()
        counts = group.group_by("model", maintain_order=True).agg(pl.col("date").n_unique().alias("k"))
        full = counts.filter(pl.col("k") == origins)["model"].to_list()
        if len(full) < 2:
            continue
        wide = _wide(group.filter(pl.col("model").is_in(full)), loss).select(full)
        res = model_confidence_set(wide, size=size, reps=reps, seed=seed)
        rows.append(res.with_columns(period=pl.lit(period), horizon=pl.lit(int(h)), n=pl.lit(wide.height)))
    if not rows:
        raise DataError("mcs_by_period: no period has two models with forecasts at every origin")
    return pl.concat(rows).select("period", "horizon", "model", "n", "pvalue", "included")
