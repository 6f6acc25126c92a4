"""The one walk-forward engine every forecaster goes through.

For origins ``first_origin .. n-1`` it re-estimates the model at the origins given by
:func:`volbook.timing.refit_origins` on a training window that *ends at that origin*
(``window`` most recent returns, or all of them), then carries the fitted filter forward
through the following returns until the next refit. Every forecast at origin t therefore
uses returns up to t only (checked by ``tests/test_no_lookahead.py``).

Speed without changing results: consecutive refits are grouped in chunks of
``chunk_size`` refits; inside a chunk each fit is warm-started from the previous one, the
first is cold-started, and chunks run in parallel processes. Chunk boundaries depend only on
``chunk_size`` (never on ``n_jobs``), so the forecasts are identical for any number of cores.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from volbook.errors import DataError, ParameterError
from volbook.models.base import Forecaster, check_horizons
from volbook.timing import refit_origins

__all__ = ["WalkForward", "walk_forward"]


@dataclass(frozen=True)
class WalkForward:
    """Result of :func:`walk_forward`.

    Attributes
    ----------
    forecasts
        Long frame: ``date`` (origin), ``model``, ``horizon``, ``forecast`` (variance summed
        over t+1..t+h, daily decimal units).
    params
        One row per refit: ``date`` (origin of the fit), ``model`` and one column per parameter.
    """

    forecasts: pl.DataFrame
    params: pl.DataFrame


def _run_chunk(
    model: Forecaster,
    returns: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    window: int | None,
    horizons: np.ndarray,
) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Refit at each ``starts[i]`` and forecast origins ``starts[i] .. ends[i]`` (inclusive)."""
    out = np.empty((int(ends[-1] - starts[0] + 1), horizons.size))
    params: list[dict[str, float]] = []
    fitted = None
    for t0, t1 in zip(starts, ends):
        lo = 0 if window is None else max(0, t0 - window + 1)
        fitted = model.fit(returns[lo : t0 + 1], start=fitted)
        out[t0 - starts[0] : t1 - starts[0] + 1] = fitted.forecast(horizons, returns[t0 + 1 : t1 + 1])
        params.append(dict(fitted.params))
    return out, params


def walk_forward(
    model: Forecaster,
    returns: np.ndarray | pl.Series,
    *,
    horizons: Sequence[int] = (1,),
    first_origin: int | None = None,
    window: int | None = None,
    refit_every: int | None = None,
    dates: Sequence | pl.Series | None = None,
    n_jobs: int | None = None,
    chunk_size: int = 250,
    progress: bool | None = None,
) -> WalkForward:
    """Forecast ``RV_{t,h}`` at every origin t >= ``first_origin``, re-estimating as scheduled.

    Parameters
    ----------
    model
        Any :class:`~volbook.models.base.Forecaster`.
    returns
        Daily log returns r_0 .. r_{n-1}, oldest first.
    horizons
        Forecast horizons h in days.
    first_origin
        Index of the first origin; defaults to the first index with a full training window
        (``window - 1``, or ``model.min_obs - 1`` for an expanding window).
    window
        Training window length in returns (rolling, ending at the refit origin); ``None`` for
        an expanding window from the first return.
    refit_every
        Re-estimate every k origins; ``None`` estimates once at the first origin and then
        only filters forward (right for models without estimated parameters).
    dates
        Labels for the returns (same length); defaults to integer positions.
    n_jobs
        Processes for chunks of refits (``None``: all cores). Results do not depend on it.
    chunk_size
        Refits per chunk (warm starts run within a chunk). Results depend on it; keep it fixed.
    progress
        Show a progress bar over chunks; ``None`` shows it only on an interactive terminal.
    """
    r = np.asarray(returns, dtype=float).ravel()
    n = r.size
    hs = check_horizons(horizons)
    if not np.isfinite(r).all():
        raise DataError(f"{model.name}: returns contain NaN or inf at position {int(np.argmin(np.isfinite(r)))}")
    if window is not None and int(window) < model.min_obs:
        raise ParameterError(f"{model.name}: training window {window} is shorter than the {model.min_obs} returns it needs")
    needed = (model.min_obs if window is None else int(window)) - 1
    first = needed if first_origin is None else int(first_origin)
    if first < needed:
        raise ParameterError(f"{model.name}: first origin {first} leaves fewer than {needed + 1} training returns")
    if first > n - 1:
        raise DataError(f"{model.name}: {n} returns are too few for a first origin at {first}")
    if int(chunk_size) < 1:
        raise ParameterError(f"chunk_size must be a positive integer, got {chunk_size}")
    label = np.arange(n) if dates is None else np.asarray(dates)
    if label.size != n:
        raise DataError(f"{model.name}: {label.size} dates for {n} returns")

    starts = refit_origins(first, n - 1, refit_every)
    ends = np.append(starts[1:] - 1, n - 1)
    chunks = [slice(i, i + int(chunk_size)) for i in range(0, starts.size, int(chunk_size))]
    jobs = [(model, r, starts[c], ends[c], window, hs) for c in chunks]
    workers = min(os.cpu_count() or 1, len(jobs)) if n_jobs is None else max(1, min(int(n_jobs), len(jobs)))
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(jobs), desc=f"walk-forward {model.name}", unit="chunk", disable=not show)
    if workers == 1:
        results = []
        for job in jobs:
            results.append(_run_chunk(*job))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_run_chunk, *job) for job in jobs]
            results = []
            for fut in futures:
                results.append(fut.result())
                bar.update()
    bar.close()

    values = np.concatenate([res[0] for res in results])
    origins = np.arange(first, n)
    forecasts = pl.DataFrame(
        {
            "date": np.repeat(label[origins], hs.size),
            "model": model.name,
            "horizon": np.tile(hs, origins.size),
            "forecast": values.ravel(),
        }
    ).with_columns(pl.col("horizon").cast(pl.Int64))
    param_rows = [p for res in results for p in res[1]]
    params = pl.DataFrame({"date": label[starts], "model": model.name}).hstack(
        pl.DataFrame(param_rows) if param_rows and param_rows[0] else pl.DataFrame()
    )
    return WalkForward(forecasts=forecasts, params=params)
