"""Are the differences between panel forecasts real? Tests over dates, not rows.

The rows of a panel are not independent: the 20 (or 1,000) forecasts of one date share the
market's shocks, and consecutive dates share h - 1 of their h target days. :func:`compare_models`
therefore treats the *date* as the unit. For pairs (model, baseline) it gives the difference of
the pooled correlations and RMSEs (:func:`volbook.panel.score_forecasts`, same rows), each with
a p-value from a circular block bootstrap of whole dates (all assets of a date move together;
blocks of ``block_size`` dates keep the overlap of the targets), and the Diebold-Mariano test
(:func:`volbook.evaluate.diebold_mariano`, HLN correction, lags h - 1) on each date's mean
squared error across assets (:func:`volbook.panel.scores.daily_losses`).

The bootstrap resamples each date's sufficient statistics (row count and the sums of ``f``,
``f^2``, ``y``, ``y^2``, ``f y``), so a replication costs one sum per model, not a pass over
the rows. Its p-value is two-sided: the share of replications whose difference lies further
from the estimate than the estimate from zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from arch.bootstrap import CircularBlockBootstrap

from volbook import SEED
from volbook.errors import DataError, ParameterError
from volbook.evaluate import diebold_mariano
from volbook.panel.walkforward import PanelWalkForward

__all__ = ["compare_models"]


def _rows(forecasts: PanelWalkForward | pl.DataFrame, models: Sequence[str], min_target: float) -> pl.DataFrame:
    frame = forecasts.forecasts if isinstance(forecasts, PanelWalkForward) else forecasts
    missing = [c for c in ["date", "target", *models] if c not in frame.columns]
    if missing:
        raise DataError(f"no column '{missing[0]}' in the forecasts")
    rows = frame.select("date", "target", *models).drop_nulls().filter(pl.col("target") > min_target)
    if rows.height == 0:
        raise DataError("no row has a target and every compared model's forecast")
    return rows


def _stats(rows: pl.DataFrame, models: Sequence[str]) -> np.ndarray:
    """Per date: n, sum y, sum y^2, then for each model sum f, sum f^2, sum f y."""
    y = pl.col("target")
    sums = [pl.len().cast(pl.Float64).alias("n"), y.sum().alias("sy"), (y * y).sum().alias("syy")]
    for m in models:
        f = pl.col(m)
        sums += [f.sum().alias(f"{m}:f"), (f * f).sum().alias(f"{m}:ff"), (f * y).sum().alias(f"{m}:fy")]
    table = rows.lazy().group_by("date").agg(sums).sort("date").collect(engine="in-memory")
    return table.drop("date").to_numpy()


def _scores(total: np.ndarray, n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """Pooled correlation and RMSE of each model from summed statistics (``total[..., k]``)."""
    n, sy, syy = total[..., 0:1], total[..., 1:2], total[..., 2:3]
    f = total[..., 3::3][..., :n_models]
    ff = total[..., 4::3][..., :n_models]
    fy = total[..., 5::3][..., :n_models]
    cov = fy - f * sy / n
    corr = cov / np.sqrt((ff - f * f / n) * (syy - sy * sy / n))
    rmse = np.sqrt((ff - 2 * fy + syy) / n)
    return corr, rmse


def compare_models(
    forecasts: PanelWalkForward | pl.DataFrame,
    pairs: Sequence[tuple[str, str]],
    *,
    horizon: int,
    block_size: int | None = None,
    reps: int = 1000,
    seed: int = SEED,
    min_target: float = 0.0,
) -> pl.DataFrame:
    """Test each (model, baseline) pair: correlation, RMSE and Diebold-Mariano over dates.

    Parameters
    ----------
    forecasts
        A walk-forward or its forecasts frame (``date``, ``target``, the models).
    pairs
        ``(model, baseline)`` names; every model of every pair is scored on the same rows
        (those where all of them have forecasts).
    horizon
        h of the target: the Diebold-Mariano lags (h - 1) and the default block size (3 h).
    block_size
        Dates per bootstrap block (default ``3 * horizon``).
    reps
        Bootstrap replications.
    seed
        Seed of the bootstrap: the same seed gives the same p-values.
    min_target
        Rows whose target is at most this are left out, as in :func:`volbook.panel.score_forecasts`.

    Returns
    -------
    polars.DataFrame
        ``model``, ``baseline``, ``corr_diff`` (model minus baseline) and ``corr_pvalue``,
        ``rmse_diff`` and ``rmse_pvalue`` (bootstrap), ``dm_stat`` (negative: the model's
        daily mean squared error is lower) and ``dm_pvalue``, ``dates``, one row per pair.
    """
    if not pairs:
        raise ParameterError("compare_models: no pairs given")
    names = list(dict.fromkeys(name for pair in pairs for name in pair))
    rows = _rows(forecasts, names, min_target)
    stats = _stats(rows, names)
    block = 3 * int(horizon) if block_size is None else int(block_size)
    if not 1 <= block < stats.shape[0]:
        raise ParameterError(f"block_size must be in [1, {stats.shape[0] - 1}] dates, got {block}")
    corr, rmse = _scores(stats.sum(axis=0), len(names))
    bootstrap = CircularBlockBootstrap(block, stats, seed=int(seed))
    draws = [_scores(data[0].sum(axis=0), len(names)) for data, _ in bootstrap.bootstrap(int(reps))]
    corr_b = np.stack([d[0] for d in draws])
    rmse_b = np.stack([d[1] for d in draws])
    # each date's mean squared error per model: (sum f^2 - 2 sum f y + sum y^2) / n
    daily = (stats[:, 4::3] - 2 * stats[:, 5::3] + stats[:, 2:3]) / stats[:, 0:1]
    out = []
    for model, base in pairs:
        i, j = names.index(model), names.index(base)
        dc, dr = corr[i] - corr[j], rmse[i] - rmse[j]
        dm = diebold_mariano(daily[:, i], daily[:, j], h=int(horizon))
        out.append({
            "model": model, "baseline": base,
            "corr_diff": float(dc), "corr_pvalue": float(np.mean(np.abs(corr_b[:, i] - corr_b[:, j] - dc) >= abs(dc))),
            "rmse_diff": float(dr), "rmse_pvalue": float(np.mean(np.abs(rmse_b[:, i] - rmse_b[:, j] - dr) >= abs(dr))),
            "dm_stat": dm.stat, "dm_pvalue": dm.pvalue, "dates": stats.shape[0],
        })
    return pl.DataFrame(out)
