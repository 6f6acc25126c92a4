"""The one walk-forward engine every forecaster goes through.

Input is a daily frame: a polars DataFrame with a ``date`` column and numeric columns
(``ret``, a realized measure ``rv``, exogenous series ...), row t holding only what is known
at the close of t; a 1-D array or Series of returns stands for the frame with the single
column ``ret``. The engine hands a model only the columns it declares (``model.inputs``),
checked to be present and finite, as :class:`~volbook.history.History` windows.

For origins ``first_origin .. n-1`` it re-estimates the model at the origins given by
:func:`volbook.timing.refit_origins` on a training window of rows that *ends at that origin*
(``window`` most recent rows, or all of them), then feeds the fitted filter the following
rows until the next refit. Regression targets reach a model only through
``History.training_rows``, which forms a target over s+1..s+h only for rows with
s + h <= t. Every forecast at origin t therefore uses rows up to t only (checked by
``tests/test_no_lookahead.py``).

Speed without changing results: consecutive refits are grouped in chunks of
``chunk_size`` refits; inside a chunk each fit is warm-started from the previous one, the
first is cold-started. With ``n_jobs > 1`` chunks run in parallel ``spawn`` processes (a
script that asks for them needs an ``if __name__ == "__main__":`` guard); the default is one
process, which needs no guard. Chunk boundaries depend only on ``chunk_size`` (never on
``n_jobs``), so the forecasts are identical for any number of processes.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from volbook.errors import DataError, ParameterError
from volbook.history import History
from volbook.models.base import Fitted, Forecaster, check_history, check_horizons
from volbook.timing import refit_origins

__all__ = ["WalkForward", "walk_forward", "training_window"]


def _no_states() -> pl.DataFrame:
    return pl.DataFrame(schema={"date": pl.Int64, "model": pl.String, "name": pl.String, "value": pl.Float64})


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
    states
        With ``walk_forward(..., states=True)``: long frame ``date`` (origin), ``model``,
        ``name``, ``value`` of the model's per-origin states (:meth:`Fitted.states
        <volbook.models.base.Fitted.states>`); otherwise empty.
    fits
        With ``walk_forward(..., keep_fits=True)``: the fitted models, one per refit, in the
        order of the rows of ``params`` (in-sample forecasts, gate paths and summaries need
        them); otherwise empty.
    """

    forecasts: pl.DataFrame
    params: pl.DataFrame
    states: pl.DataFrame = field(default_factory=_no_states)
    fits: tuple[Fitted, ...] = ()


def training_window(origin: int, window: int | None) -> slice:
    """Rows of the training window at a refit origin: the last ``window`` rows up to ``origin``
    (all rows up to it when ``window`` is None)."""
    lo = 0 if window is None else max(0, origin - window + 1)
    return slice(lo, origin + 1)


def _run_chunk(
    model: Forecaster,
    columns: dict[str, np.ndarray],
    dates: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    window: int | None,
    horizons: np.ndarray,
    with_states: bool = False,
    keep_fits: bool = False,
) -> tuple[np.ndarray, list[dict[str, float]], list[dict[str, np.ndarray]], list[Fitted]]:
    """Refit at each ``starts[i]`` and forecast origins ``starts[i] .. ends[i]`` (inclusive)."""
    out = np.empty((int(ends[-1] - starts[0] + 1), horizons.size))
    params: list[dict[str, float]] = []
    states: list[dict[str, np.ndarray]] = []
    fits: list[Fitted] = []
    fitted = None
    for t0, t1 in zip(starts, ends):
        train = training_window(t0, window)
        fitted = model.fit(History({c: v[train] for c, v in columns.items()}, dates[train]), start=fitted)
        later = slice(t0 + 1, t1 + 1)
        new = History({c: v[later] for c, v in columns.items()}, dates[later], targets=False)
        out[t0 - starts[0] : t1 - starts[0] + 1] = fitted.forecast(horizons, new)
        params.append(dict(fitted.params))
        if with_states:
            states.append({k: np.asarray(v, dtype=float) for k, v in fitted.states(new).items()})
        if keep_fits:
            fits.append(fitted)
    return out, params, states, fits


def _frame_columns(
    model: Forecaster, data: np.ndarray | pl.Series | pl.DataFrame, dates: Sequence | pl.Series | None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The model's declared columns of ``data`` as float arrays, checked, and the row labels."""
    if isinstance(data, pl.DataFrame):
        if dates is not None:
            raise ParameterError(f"{model.name}: pass the dates as the frame's 'date' column, not as dates=")
        missing = [c for c in model.inputs if c not in data.columns]
        if missing:
            raise DataError(f"{model.name}: reads the column(s) {missing}, which the data lacks (it has {data.columns})")
        columns = {c: data[c].cast(pl.Float64).to_numpy() for c in model.inputs}
        if "date" in data.columns:
            if data["date"].null_count() or data["date"].n_unique() != data.height or not data["date"].is_sorted():
                raise DataError(f"{model.name}: the frame's 'date' column must be strictly increasing, without nulls")
            label = data["date"].to_numpy()
        else:
            label = np.arange(data.height)
    else:
        if tuple(model.inputs) != ("ret",):
            raise DataError(f"{model.name}: reads the columns {list(model.inputs)}; pass a frame with them, not an array of returns")
        columns = {"ret": np.asarray(data, dtype=float).ravel()}
        n = columns["ret"].size
        label = np.arange(n) if dates is None else np.asarray(dates)
        if label.size != n:
            raise DataError(f"{model.name}: {label.size} dates for {n} returns")
    check_history(History(columns, label), model.inputs, name=model.name)
    return columns, label


def walk_forward(
    model: Forecaster,
    data: np.ndarray | pl.Series | pl.DataFrame,
    *,
    horizons: Sequence[int] = (1,),
    first_origin: int | None = None,
    window: int | None = None,
    refit_every: int | None = None,
    dates: Sequence | pl.Series | None = None,
    n_jobs: int | None = 1,
    chunk_size: int = 250,
    progress: bool | None = None,
    states: bool = False,
    keep_fits: bool = False,
) -> WalkForward:
    """Forecast the proxy summed over t+1..t+h at every origin t >= ``first_origin``.

    Parameters
    ----------
    model
        Any :class:`~volbook.models.base.Forecaster`.
    data
        The daily frame, oldest row first: a polars DataFrame with ``date`` and the columns
        in ``model.inputs``, or a 1-D array / Series of daily log returns r_0 .. r_{n-1}
        (the frame with the single column ``ret``).
    horizons
        Forecast horizons h in days.
    first_origin
        Index of the first origin; defaults to the first index with a full training window
        (``window - 1``, or ``model.min_obs - 1`` for an expanding window).
    window
        Training window length in rows (rolling, ending at the refit origin); ``None`` for
        an expanding window from the first row.
    refit_every
        Re-estimate every k origins; ``None`` estimates once at the first origin and then
        only filters forward (right for models without estimated parameters).
    dates
        Labels for an array of returns (same length); defaults to integer positions. A
        frame's labels are its ``date`` column.
    n_jobs
        Processes for chunks of refits: 1 (default) runs in this process; k > 1 starts a
        pool of k ``spawn`` workers (a script then needs an ``if __name__ == "__main__":``
        guard); ``None`` or -1 uses every core. Results do not depend on it.
    chunk_size
        Refits per chunk (warm starts run within a chunk). Results depend on it; keep it fixed.
    progress
        Show a progress bar over chunks; ``None`` shows it only on an interactive terminal.
    states
        Also collect the model's per-origin states into ``WalkForward.states``.
    keep_fits
        Also return the fitted model of every refit in ``WalkForward.fits`` (with
        ``n_jobs > 1`` they come back pickled from the workers).
    """
    hs = check_horizons(horizons)
    columns, label = _frame_columns(model, data, dates)
    n = label.size
    if window is not None and int(window) < model.min_obs:
        raise ParameterError(f"{model.name}: training window {window} is shorter than the {model.min_obs} rows it needs")
    needed = (model.min_obs if window is None else int(window)) - 1
    first = needed if first_origin is None else int(first_origin)
    if first < needed:
        raise ParameterError(f"{model.name}: first origin {first} leaves fewer than {needed + 1} training rows")
    if first > n - 1:
        raise DataError(f"{model.name}: {n} rows are too few for a first origin at {first}")
    if int(chunk_size) < 1:
        raise ParameterError(f"chunk_size must be a positive integer, got {chunk_size}")
    if n_jobs is not None and int(n_jobs) != -1 and int(n_jobs) < 1:
        raise ParameterError(f"n_jobs must be a positive integer, or -1 for every core, got {n_jobs}")

    starts = refit_origins(first, n - 1, refit_every)
    ends = np.append(starts[1:] - 1, n - 1)
    chunks = [slice(i, i + int(chunk_size)) for i in range(0, starts.size, int(chunk_size))]
    jobs = [(model, columns, label, starts[c], ends[c], window, hs, states, keep_fits) for c in chunks]
    cores = (os.cpu_count() or 1) if n_jobs is None or int(n_jobs) == -1 else int(n_jobs)
    workers = min(cores, len(jobs))
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
    fits = tuple(f for res in results for f in res[3])
    if not states:
        return WalkForward(forecasts=forecasts, params=params, fits=fits)
    blocks = [
        pl.DataFrame({"date": label[t0 : t1 + 1], "model": model.name, "name": k, "value": v})
        for (t0, t1), block in zip(zip(starts, ends), (b for res in results for b in res[2]))
        for k, v in block.items()
    ]
    state_frame = pl.concat(blocks) if blocks else _no_states()
    return WalkForward(forecasts=forecasts, params=params, states=state_frame, fits=fits)
