"""Estimate once, forecast on: a study's fixed train/test split, and many models at a time.

Chapter 2's study fits every model once on its first ``train_size`` rows and keeps the
parameters fixed while the recursion (or the HAR regressors) run on through the test rows.
In the engine's terms (:mod:`volbook.walkforward`) that is one fit at the origin
``t0 = train_size`` followed by filtering with ``refit_every=None``:

* the training rows are s = 0 .. t0 - 1, whose targets ``y_s = p_{s+1}`` (``p`` the per-day
  proxy: r^2 or a realized measure) are all known at t0;
* the out-of-sample forecasts are made at the origins t0 .. n - 1 with the parameters of t0
  (the last one has no target in the data).

:func:`fit_split` runs that schedule through the engine and keeps the fitted model
(``walk_forward(..., keep_fits=True)``): the **in-sample** forecasts and the gate analysis
need it. In-sample forecasts are the one-step forecasts at the training rows with
the parameters estimated on those same rows (they look back; nobody could have made them at
the time): for ES, STES and XGBSTES the recursion from the first training row
(:meth:`GatedFit.path <volbook.models.gate.GatedFit.path>`), for HAR the regression's fitted
values (rows whose regressors are complete).

:func:`fit_splits` and :func:`walk_forward_models` run several models in ``n_jobs``
processes; each model's result does not depend on ``n_jobs``. :func:`freeze_tuning` turns a
cross-validated model into one with the tuning it chose, for re-estimation without
re-tuning.
"""

from __future__ import annotations

import copy
import multiprocessing as mp
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from volbook.errors import DataError, ParameterError
from volbook.history import RET2
from volbook.models.base import Fitted, Forecaster
from volbook.models.recursion import stes_filter
from volbook.walkforward import WalkForward, walk_forward

__all__ = [
    "SplitFit",
    "fit_split",
    "fit_splits",
    "freeze_tuning",
    "gate_path",
    "in_sample_forecasts",
    "in_sample_from_end",
    "proxy_values",
    "walk_forward_models",
]


@dataclass(frozen=True)
class SplitFit:
    """One model estimated once at the split.

    Attributes
    ----------
    fitted
        The model fitted at origin ``t0 = train_size`` (parameters in ``fitted.params``).
    forecasts
        One row per origin: ``date``, ``model``, ``sample`` (``"train"`` for s < t0, in-sample;
        ``"test"`` for s >= t0), ``forecast`` (of ``p_{s+1}``) and ``target`` (``p_{s+1}``,
        null at the last row). In-sample rows without a forecast (HAR's first rows) are left out.
    """

    fitted: Fitted
    forecasts: pl.DataFrame


def proxy_values(frame: pl.DataFrame, proxy: str = RET2) -> np.ndarray:
    """The per-day variance proxy of a daily frame: ``ret**2`` for ``"ret2"``, else the column."""
    if proxy == RET2:
        return frame["ret"].cast(pl.Float64).to_numpy() ** 2
    if proxy not in frame.columns:
        raise DataError(f"the frame has no column {proxy!r} to use as the variance proxy (it has {frame.columns})")
    return frame[proxy].cast(pl.Float64).to_numpy()


def in_sample_forecasts(fitted: Fitted, n_train: int) -> np.ndarray:
    """One-step forecasts at the training rows 0 .. n_train - 1 with the fitted parameters.

    NaN where the model has none (rows before HAR's longest window). Supported: fits with a
    ``path`` (ES, STES, XGBSTES: the recursion from the first training row) and OLS fits with
    ``res`` (HAR: the regression's fitted values, which are its in-sample one-step forecasts).
    """
    out = np.full(int(n_train), np.nan)
    if hasattr(fitted, "path"):
        path = fitted.path()["forecast"].to_numpy()
        out[:] = path[:n_train]
    elif hasattr(fitted, "res") and hasattr(fitted.res, "fittedvalues"):
        if getattr(getattr(fitted, "model", None), "log", False):
            raise ParameterError("in-sample forecasts of a log-HAR need its back-transform; use the level HAR")
        values = np.asarray(fitted.res.fittedvalues, dtype=float)
        out[n_train - values.size :] = values
    else:
        raise ParameterError(f"{type(fitted).__name__} has no in-sample forecasts (no path or regression)")
    return out


def in_sample_from_end(fitted: Fitted, proxy: np.ndarray) -> np.ndarray:
    """The study's in-sample forecasts of a gated model: the same gates, but the recursion over
    the training rows started from the forecast made at the end of training (``v_next``).

    This reproduces the published code's start (the correct start is the first training row,
    :func:`in_sample_forecasts`). ``proxy`` holds the per-day proxy of the training rows
    0 .. n_train - 1; the result has one forecast per row.
    """
    if not hasattr(fitted, "path"):
        raise ParameterError(f"{type(fitted).__name__} has no gate path: only ES, STES and XGBSTES run a recursion")
    p = np.asarray(proxy, dtype=float)
    alpha = fitted.path()["alpha"].to_numpy()[: p.size]
    return stes_filter(p, alpha, float(fitted.v_next))[1:]


def gate_path(split: SplitFit, frame: pl.DataFrame, train_size: int) -> pl.DataFrame:
    """The gate path (:meth:`GatedFit.path <volbook.models.gate.GatedFit.path>`) of a model
    fitted at the split, over every row of ``frame``: ``date``, ``sample`` (``"test"`` from
    the origin t0 = train_size on, like :class:`SplitFit`), ``alpha``, ``logit``,
    ``forecast`` and the ``contrib_*`` columns."""
    fitted, t0 = split.fitted, int(train_size)
    if not hasattr(fitted, "path"):
        raise ParameterError(f"{type(fitted).__name__} has no gate path: only ES, STES and XGBSTES have one")
    later = frame.slice(t0 + 1).select("date", *fitted.spec.inputs)
    path = fitted.path(later)
    if path.height != frame.height:
        raise DataError(f"the gate path has {path.height} rows for a frame of {frame.height}: was the model fitted on it?")
    return path.with_columns(sample=pl.Series(np.where(np.arange(path.height) < t0, "train", "test")))


def fit_split(model: Forecaster, frame: pl.DataFrame, train_size: int, *, proxy: str = RET2) -> SplitFit:
    """Fit ``model`` on rows 0 .. train_size (origin t0 = train_size) and forecast every later origin.

    The test forecasts and the fitted model come from the engine
    (:func:`~volbook.walkforward.walk_forward` with ``first_origin=train_size``,
    ``refit_every=None`` and ``keep_fits=True``); the in-sample forecasts are added from the
    fitted model (:func:`in_sample_forecasts`).

    Parameters
    ----------
    model
        Any forecaster; it reads its declared ``inputs`` from ``frame``.
    frame
        The daily frame (``date``, ``ret``, optional ``rv`` ...), oldest row first.
    train_size
        Training rows s = 0 .. train_size - 1 (their targets end by row train_size).
    proxy
        The per-day proxy whose next value is the target: ``"ret2"`` or a column of ``frame``.
    """
    n, t0 = frame.height, int(train_size)
    if not 2 <= t0 <= n - 2:
        raise ParameterError(f"train_size must leave training rows and at least one scored test row: "
                             f"got {train_size} for {n} rows")
    p = proxy_values(frame, proxy)
    run = walk_forward(model, frame, first_origin=t0, refit_every=None, n_jobs=1, progress=False, keep_fits=True)
    (fitted,) = run.fits
    forecast = np.concatenate([in_sample_forecasts(fitted, t0), run.forecasts["forecast"].to_numpy()])
    out = pl.DataFrame(
        {
            "date": frame["date"],
            "model": model.name,
            "sample": np.where(np.arange(n) < t0, "train", "test"),
            "forecast": forecast,
            "target": np.append(p[1:], np.nan),
        }
    ).with_columns(pl.col("target").fill_nan(None)).filter(pl.col("forecast").is_not_nan())
    return SplitFit(fitted, out)


def _run(function: Callable, jobs: Sequence[tuple], n_jobs: int | None) -> list:
    """``function(*job)`` for every job, in ``n_jobs`` spawned processes (1: this process)."""
    if n_jobs is not None and int(n_jobs) != -1 and int(n_jobs) < 1:
        raise ParameterError(f"n_jobs must be a positive integer, or -1 for every core, got {n_jobs}")
    cores = (os.cpu_count() or 1) if n_jobs is None or int(n_jobs) == -1 else int(n_jobs)
    workers = min(cores, len(jobs))
    if workers <= 1:
        return [function(*job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        return list(pool.map(function, *zip(*jobs)))


def _check_names(models: Sequence[Forecaster]) -> None:
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ParameterError(f"model names must be distinct, got {names}")


def fit_splits(
    models: Sequence[Forecaster], frame: pl.DataFrame, train_size: int, *, proxy: str = RET2, n_jobs: int | None = 1
) -> dict[str, SplitFit]:
    """:func:`fit_split` for each model, in ``n_jobs`` processes; keyed by model name, in order."""
    _check_names(models)
    results = _run(_fit, [(m, frame, train_size, proxy) for m in models], n_jobs)
    return {m.name: r for m, r in zip(models, results)}


def _fit(model: Forecaster, frame: pl.DataFrame, train_size: int, proxy: str) -> SplitFit:
    return fit_split(model, frame, train_size, proxy=proxy)


def _walk(model: Forecaster, frame: pl.DataFrame, kwargs: dict[str, Any]) -> WalkForward:
    return walk_forward(model, frame, n_jobs=1, **kwargs)


def walk_forward_models(
    models: Sequence[Forecaster], frame: pl.DataFrame, *, n_jobs: int | None = 1, **kwargs: Any
) -> dict[str, WalkForward]:
    """:func:`~volbook.walkforward.walk_forward` of each model (same keyword arguments), one
    model per process in ``n_jobs`` processes; keyed by model name, in order."""
    _check_names(models)
    results = _run(_walk, [(m, frame, kwargs) for m in models], n_jobs)
    return {m.name: r for m, r in zip(models, results)}


def freeze_tuning(model: Forecaster, params: Mapping[str, float]) -> Forecaster:
    """A copy of a cross-validated ``model`` that uses the tuning recorded in ``params``.

    STES with ``l2="cv"`` gets ``l2 = params["l2"]``; XGBSTES with ``cv=True`` gets the
    winning grid values (the keys of its grid, read from ``params``) and no cross-validation.
    Any other model is returned unchanged. The name stays the same.
    """
    frozen = copy.copy(model)
    if getattr(model, "l2", None) == "cv":
        frozen.l2 = float(params["l2"])
    elif getattr(model, "cv", False):
        keys = sorted({k for candidate in model.grid for k in candidate})
        missing = [k for k in keys if k not in params]
        if missing:
            raise ParameterError(f"{model.name}: params lack the tuned values {missing}")
        frozen.xgb_params = dict(model.xgb_params) | {
            k: (int(params[k]) if k == "max_depth" else float(params[k])) for k in keys
        }
        frozen.cv, frozen.grid = False, ()
    return frozen
