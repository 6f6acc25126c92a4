"""The panel walk-forward: every panel model, refit on one schedule, forecasting every (date, asset).

::

    data = build_features(load("sp500_stocks"), horizon=21)
    wf = walk_forward_panel(data, study_models(), window=504, refit_every=25)
    wf.forecasts      # date, asset, sector, t, target, market_vol, one column per model
    wf.coefficients   # model, date (refit), group, term, coef
    score_forecasts(wf)

Timing (:mod:`volbook.panel.schedule`): at refit date k each model is estimated on the rows
(s, asset) with k - W < s <= k - h, and its coefficients forecast the origins k .. k + every - 1.
Forecasts are annualized volatilities for the h days after the origin, comparable with
``target``. The forecast frame holds every row of the feature frame with t >= first_origin
(targets are null for the last h dates; a model without coefficients for a row gives null).

Ridge models are all fitted from one pass of window sums per space (level, log): cross
products summed per (sector or asset, block of dates), then one small linear solve per group
and refit; forecasts are polars expressions that look up each row's coefficients. The tree
model loops over refit dates (never over assets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from volbook.errors import ParameterError
from volbook.panel.features import CLIP, PanelFeatures, asset_code, design_exprs, sector_code, target_expr
from volbook.panel.models import (
    Baseline,
    PanelModel,
    PanelRidge,
    PanelXGB,
    check_models,
    solve_ridge,
    study_models,
)
from volbook.panel.schedule import RefitSchedule, WindowSums, window_sums

__all__ = ["PanelWalkForward", "walk_forward_panel"]

_KEYS = ("date", "asset", "sector", "t", "target", "market_vol")
_REFIT = "_refit"  # column of the refit index j of each row, read by the ridge forecast expressions


@dataclass(frozen=True)
class PanelWalkForward:
    """Result of :func:`walk_forward_panel`.

    Attributes
    ----------
    forecasts
        ``date`` (origin), ``asset``, ``sector``, ``t``, ``target`` (raw forward vol, null
        where unknown), ``market_vol`` (for regime splits) and one column per model: the
        annualized h-day volatility forecast made at the origin. Sorted by (asset, date).
    coefficients
        Ridge coefficients, long: ``model``, ``date`` (refit date k), ``group`` ("all", a
        sector or an asset), ``term`` ("intercept", a feature, or "sector=<name>"), ``coef``.
    schedule
        The refit schedule used.
    models
        Model names, in the order of the forecast columns.
    """

    forecasts: pl.DataFrame
    coefficients: pl.DataFrame
    schedule: RefitSchedule
    models: tuple[str, ...]

    def long(self) -> pl.DataFrame:
        """Forecasts in long form: ``date``, ``asset``, ``sector``, ``target``, ``model``, ``forecast``."""
        return self.forecasts.unpivot(
            on=list(self.models), index=["date", "asset", "sector", "target"],
            variable_name="model", value_name="forecast",
        )


def _union(lists: Sequence[Sequence[str]]) -> list[str]:
    out: list[str] = []
    for names in lists:
        out += [n for n in names if n not in out]
    return out


def _static_sectors(frame: pl.DataFrame, n_assets: int) -> np.ndarray | None:
    """The sector code of each asset code when no asset changes sector, else None."""
    by_asset = frame.lazy().group_by(a=asset_code()).agg(s=sector_code().first(), n=sector_code().n_unique()).collect()
    if by_asset["n"].max() != 1:
        return None
    mapping = np.zeros(n_assets, dtype=np.int64)
    mapping[by_asset["a"].to_numpy()] = by_asset["s"].to_numpy()
    return mapping


def _sums_for(data: PanelFeatures, schedule: RefitSchedule, models: list[PanelRidge]) -> dict[str, WindowSums]:
    """Window sums per sector (and per asset if a model pools by asset) for one space."""
    space = models[0].space
    names = _union([m.regressors(data) for m in models])
    x, y = design_exprs(names, space), target_expr(space)
    frame, n_sectors = data.frame, len(data.sectors)
    out: dict[str, WindowSums] = {}
    mapping = _static_sectors(frame, len(data.assets)) if any(m.pooling == "asset" for m in models) else None
    if any(m.pooling == "asset" for m in models):
        out["asset"] = window_sums(frame, schedule, x, y, group=asset_code(), n_groups=len(data.assets))
    if any(m.pooling != "asset" for m in models):
        if mapping is not None:
            out["sector"] = out["asset"].regroup(mapping, n_sectors)
        else:
            out["sector"] = window_sums(frame, schedule, x, y, group=sector_code(), n_groups=n_sectors)
    return out


def _dummy_system(sums: WindowSums, regs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Normal equations of ``[1, regs, one indicator per sector]`` from per-sector sums."""
    zz, zy = sums.select(regs)  # (S, R, p, p), (S, R, p)
    s, r, p = zy.shape
    a = np.zeros((r, p + s, p + s))
    b = np.zeros((r, p + s))
    a[:, :p, :p] = zz.sum(axis=0)
    cross = np.moveaxis(zz[..., :, 0], 0, -1)  # (R, p, S): sums of each regressor over each sector
    a[:, :p, p:] = cross
    a[:, p:, :p] = np.swapaxes(cross, 1, 2)
    a[:, np.arange(p, p + s), np.arange(p, p + s)] = zz[..., 0, 0].T
    b[:, :p] = zy.sum(axis=0)
    b[:, p:] = zy[..., 0].T
    return a[None], b[None]


def _ridge(
    model: PanelRidge, data: PanelFeatures, schedule: RefitSchedule, sums: dict[str, WindowSums]
) -> tuple[pl.Expr, pl.DataFrame]:
    """Fit one ridge model at every refit; its forecast expression and coefficient table."""
    regs = model.regressors(data)
    if model.pooling == "asset":
        zz, zy = sums["asset"].select(regs)
        code, labels = asset_code(), pl.Series(data.assets)
    elif model.pooling == "sector":
        zz, zy = sums["sector"].select(regs)
        code, labels = sector_code(), pl.Series(data.sectors)
    elif model.dummies:
        zz, zy = _dummy_system(sums["sector"], regs)
        code, labels = pl.lit(0), pl.Series(["all"])
    else:
        zz, zy = sums["sector"].total().select(regs)
        code, labels = pl.lit(0), pl.Series(["all"])
    coef = solve_ridge(zz, zy, model.alpha, penalize_intercept=model.penalize_intercept, min_rows=model.min_rows)
    n_groups, n_refits, _ = coef.shape
    flat = np.swapaxes(coef, 0, 1).reshape(n_refits * n_groups, -1)  # row j * G + g
    j = pl.col(_REFIT)
    idx = j * n_groups + code.cast(pl.Int64)
    x = design_exprs(regs, model.space)
    terms = ["intercept", *regs]
    pred = pl.lit(pl.Series(flat[:, 0])).gather(idx)
    for i, xi in enumerate(x, start=1):
        pred = pred + pl.lit(pl.Series(flat[:, i])).gather(idx) * xi
    if model.dummies:
        n_sectors = len(data.sectors)
        dummies = flat[:, len(terms):]  # (R, S)
        pred = pred + pl.lit(pl.Series(dummies.ravel())).gather(j * n_sectors + sector_code().cast(pl.Int64))
        terms += [f"sector={s}" for s in data.sectors]
    if model.space == "log":
        pred = pred.exp()
    expr = pred.clip(*CLIP).alias(model.name)  # NaN where no coefficients: made null by the caller
    table = pl.DataFrame({
        "model": model.name,
        "date": np.repeat(data.dates.gather(schedule.refits).to_numpy(), n_groups * len(terms)),
        "group": np.tile(np.repeat(labels.to_numpy(), len(terms)), n_refits),
        "term": np.tile(terms, n_refits * n_groups),
        "coef": flat.ravel(),
    }).filter(pl.col("coef").is_not_nan())
    return expr, table


def _xgb(model: PanelXGB, data: PanelFeatures, schedule: RefitSchedule, progress: bool) -> np.ndarray:
    """Tree forecasts for the rows with t >= first_origin (in frame order): one fit per refit date."""
    cols = ["t", "target", "sector", *model.regressors(data)]
    train = data.frame.select(cols).sort("t", maintain_order=True)
    t_train = train["t"].to_numpy()
    rows = data.frame.filter(pl.col("t") >= schedule.first_origin).select(cols)
    order = np.argsort(rows["t"].to_numpy(), kind="stable")
    apply = rows[order]
    t_apply = apply["t"].to_numpy()
    out = np.full(rows.height, np.nan)
    for j in tqdm(range(schedule.refits.size), desc=f"walk-forward {model.name}", disable=not progress):
        lo, hi = schedule.training_bounds(j)
        k = int(schedule.refits[j])
        part = train[np.searchsorted(t_train, lo): np.searchsorted(t_train, hi, side="right")]
        part = part.filter(pl.col("target").is_not_null())
        a, b = np.searchsorted(t_apply, k), np.searchsorted(t_apply, k + schedule.refit_every)
        if b > a and part.height > 0:
            out[order[a:b]] = model.fit_predict(part, apply[a:b], data)
    return out


def walk_forward_panel(
    data: PanelFeatures,
    models: Sequence[PanelModel] | None = None,
    *,
    window: int = 504,
    refit_every: int = 25,
    first_origin: int | None = None,
    progress: bool = False,
) -> PanelWalkForward:
    """Forecast the h-day forward volatility of every asset at every origin with each model.

    Parameters
    ----------
    data
        Features and target from :func:`volbook.panel.features.build_features` (h is its horizon).
    models
        Panel models (default :func:`volbook.panel.models.study_models`).
    window
        W: the rolling training window covers the dates (k - W, k] (rows with s + h <= k).
    refit_every
        Days between refits; coefficients of refit k forecast origins k .. k + refit_every - 1.
    first_origin
        First refit date and origin (calendar position); default ``window - 1``.
    progress
        Show a progress bar over the tree model's refits.

    Returns
    -------
    PanelWalkForward
    """
    models = list(study_models() if models is None else models)
    check_models(models)
    schedule = RefitSchedule.build(data.n_dates, window=window, refit_every=refit_every,
                                   horizon=data.horizon, first_origin=first_origin)
    for m in models:
        if isinstance(m, (PanelRidge, PanelXGB)):
            missing = [f for f in m.regressors(data) if f not in data.frame.columns]
            if missing:
                raise ParameterError(f"{m.name}: feature '{missing[0]}' is not in the data "
                                     f"(available: {', '.join(data.stock_features)}, market_vol, group_risk)")
    exprs: dict[str, pl.Expr] = {}
    tables = []
    for space in ("level", "log"):
        ridge = [m for m in models if isinstance(m, PanelRidge) and m.space == space]
        if ridge:
            sums = _sums_for(data, schedule, ridge)
            for m in ridge:
                exprs[m.name], table = _ridge(m, data, schedule, sums)
                tables.append(table)
            del sums
    for m in models:
        if isinstance(m, Baseline):
            exprs[m.name] = m.forecast_expr()
    # one model at a time, on the streaming engine: it filters and computes in small pieces,
    # so little memory is used besides the result
    rows = data.frame.lazy().filter(pl.col("t") >= schedule.first_origin)
    forecasts = rows.select(_KEYS).collect()
    rows = rows.with_columns(schedule.refit_index().alias(_REFIT))
    for m in models:
        if m.name in exprs:
            forecasts = forecasts.with_columns(rows.select(exprs[m.name]).collect().to_series().fill_nan(None))
    for m in models:
        if isinstance(m, PanelXGB):
            values = _xgb(m, data, schedule, progress)
            forecasts = forecasts.with_columns(pl.Series(m.name, values).fill_nan(None))
    names = tuple(m.name for m in models)
    coefficients = pl.concat(tables) if tables else pl.DataFrame(
        schema={"model": pl.String, "date": pl.Date, "group": pl.String, "term": pl.String, "coef": pl.Float64}
    )
    return PanelWalkForward(forecasts[[*_KEYS, *names]], coefficients, schedule, names)
