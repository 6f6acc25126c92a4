"""Scoring panel forecasts of annualized volatility: correlation, RMSE, MAE, MAPE.

The study's metrics, on the raw (unclipped) target and pooled over every (date, asset) row:
``corr`` (Pearson, forecast vs realized), ``rmse``, ``mae`` (in volatility units: 0.01 = one
point of annualized vol) and ``mape`` (mean of ``|f - y| / y``, a fraction). By default every
model is scored on the same rows: those where the target and *all* the models' forecasts exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from volbook.errors import DataError, ParameterError
from volbook.panel.models import PUBLISHED
from volbook.panel.walkforward import PanelWalkForward

__all__ = ["REGIMES", "daily_losses", "market_regime", "score_forecasts", "with_published"]

#: Market-volatility regimes of the study (annualized vol of the equal-weighted market).
REGIMES: tuple[str, ...] = ("< 20%", "20-30%", "> 30%")


def market_regime(column: str = "market_vol", bounds: tuple[float, float] = (0.20, 0.30)) -> pl.Expr:
    """The regime of each row: ``"< 20%"``, ``"20-30%"`` or ``"> 30%"`` of ``column``, as an Enum."""
    x = pl.col(column)
    label = pl.when(x < bounds[0]).then(pl.lit(REGIMES[0])).when(x <= bounds[1]).then(pl.lit(REGIMES[1]))
    return label.otherwise(pl.lit(REGIMES[2])).cast(pl.Enum(REGIMES)).alias("regime")


def score_forecasts(
    forecasts: PanelWalkForward | pl.DataFrame,
    models: Sequence[str] | None = None,
    *,
    by: Sequence[str | pl.Expr] = (),
    common_rows: bool = True,
    min_target: float = 0.0,
) -> pl.DataFrame:
    """Correlation, RMSE, MAE and MAPE of each model's forecasts against ``target``.

    Parameters
    ----------
    forecasts
        A :class:`~volbook.panel.walkforward.PanelWalkForward` or its ``forecasts`` frame.
    models
        Forecast columns to score (default: all the walk-forward's models).
    by
        Group columns or expressions (e.g. ``market_regime()``, ``"sector"``); one row per
        group and model.
    common_rows
        Score every model on the rows where all of them (and the target) have values.
    min_target
        Rows whose target is ``<= min_target`` are left out (default: exact zeros, a price
        that did not move for h days, where MAPE is undefined). The study's clip floor 0.025
        leaves out near-stale prices too.

    Returns
    -------
    polars.DataFrame
        ``*by, model, n, corr, rmse, mae, mape``, models in the order given.
    """
    if isinstance(forecasts, PanelWalkForward):
        frame, names = forecasts.forecasts, list(models or forecasts.models)
    else:
        frame, names = forecasts, list(models or [])
    if not names:
        raise DataError("score_forecasts: no model columns given")
    missing = [c for c in ["target", *names] if c not in frame.columns]
    if missing:
        raise DataError(f"score_forecasts: no column '{missing[0]}' in the forecasts")
    keys = [pl.col(b) if isinstance(b, str) else b for b in by]
    long = (
        frame.lazy()
        .filter(pl.col("target") > min_target, *([pl.col(n).is_not_null() for n in names] if common_rows else []))
        .select(*keys, "target", *names)
        .unpivot(on=names, index=[k.meta.output_name() for k in keys] + ["target"],
                 variable_name="model", value_name="forecast")
        .drop_nulls("forecast")
        .with_columns(pl.col("model").cast(pl.Enum(names)))
    )
    y, f = pl.col("target"), pl.col("forecast")
    group = [k.meta.output_name() for k in keys] + ["model"]
    out = (
        long.group_by(group)
        .agg(
            n=pl.len(),
            corr=pl.corr(f, y),
            rmse=((f - y) ** 2).mean().sqrt(),
            mae=(f - y).abs().mean(),
            mape=((f - y).abs() / y).mean(),
        )
        .sort(group)
        .collect(engine="in-memory")
    )
    if out.height == 0:
        raise DataError("score_forecasts: no row has a target and every model's forecast")
    return out.with_columns(pl.col("model").cast(pl.String))


def with_published(scores: pl.DataFrame) -> pl.DataFrame:
    """``scores`` beside the study's published correlation and RMSE (null for models it lacks)."""
    published = pl.DataFrame(
        {"model": list(PUBLISHED), "corr_published": [v[0] for v in PUBLISHED.values()],
         "rmse_published": [v[1] for v in PUBLISHED.values()]}
    )
    return scores.join(published, on="model", how="left", maintain_order="left")


def daily_losses(
    wf: PanelWalkForward,
    models: Sequence[str] | None = None,
    *,
    loss: Literal["squared", "absolute"] = "squared",
    min_target: float = 0.0,
) -> pl.DataFrame:
    """Each model's loss averaged over the assets of each date, on the common rows.

    The input of :func:`volbook.evaluate.diebold_mariano` (with ``h`` = the horizon: targets of
    consecutive dates overlap by h - 1 days) and :func:`volbook.evaluate.model_confidence_set`:
    a panel's rows of one date are not independent, their cross-sectional mean is one
    observation of a time series.

    Returns
    -------
    polars.DataFrame
        ``date`` and one column per model, sorted by date.
    """
    if loss not in ("squared", "absolute"):
        raise ParameterError(f"loss must be 'squared' or 'absolute', got {loss!r}")
    names = list(models or wf.models)
    f = wf.forecasts.filter(pl.col("target") > min_target, *[pl.col(n).is_not_null() for n in names])
    if f.height == 0:
        raise DataError("daily_losses: no row has a target and every model's forecast")
    err = [(pl.col(n) - pl.col("target")) for n in names]
    per_row = [(e * e if loss == "squared" else e.abs()).alias(n) for e, n in zip(err, names)]
    return f.lazy().select("date", *per_row).group_by("date").agg(pl.all().mean()).sort("date").collect(
        engine="in-memory")
