"""Daily test frames for the perturbation (no look-ahead) tests, and their perturbations.

:func:`make_frame` builds a seeded daily frame holding every column in :data:`COLUMNS`
(``date``, ``ret``, ``rv``, ``vix``, ...) from one stochastic-volatility path, so that the
columns move together as real ones do. :func:`perturb_after` replaces every value after row t
of every column, changing signs (for columns that take both signs) and sizes, and then
recomputes the :data:`DERIVED` columns from the perturbed ones.

Extending it (engineers who register a model reading a new column):

* a raw input column (``rk``, ``jv``, an exogenous series): add a :class:`Column` to
  :data:`COLUMNS` with a generator and a perturbation that keeps the column's domain;
* a column built by a library pipeline from other columns (features stored in the frame):
  add its builder to :data:`DERIVED`; it is rebuilt after every perturbation, so a builder
  that lets later rows into row t (a centred window, a whole-sample standardisation, a
  forward target) makes the perturbation test fail, as it must.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

Generator = Callable[[np.random.Generator, np.ndarray], np.ndarray]
Perturbation = Callable[[np.ndarray, np.random.Generator, int], np.ndarray]


def perturb_signed(values: np.ndarray, rng: np.random.Generator, kind: int) -> np.ndarray:
    """New values for a column with both signs: every value changes its size, and its sign
    too for kinds 0 and 1 (flipped and enlarged / flipped and shrunk); kind 2 draws fresh
    values three times as large with random signs."""
    n = values.size
    if kind % 3 == 0:
        return -values * rng.uniform(1.5, 4.0, n)
    if kind % 3 == 1:
        return -values * rng.uniform(0.1, 0.6, n)
    return 3.0 * (np.abs(values).mean() if n else 1.0) * rng.standard_t(4, n)


def perturb_positive(values: np.ndarray, rng: np.random.Generator, kind: int) -> np.ndarray:
    """New values for a positive column: every value changes size and stays positive."""
    n = values.size
    if kind % 3 == 0:
        return values * rng.uniform(1.5, 4.0, n)
    if kind % 3 == 1:
        return values * rng.uniform(0.1, 0.6, n)
    return (values.mean() if n else 1.0) * rng.lognormal(1.0, 1.0, n) + values


@dataclass(frozen=True)
class Column:
    """How to generate a raw column from the latent daily variance, and how to perturb it."""

    generate: Generator
    perturb: Perturbation


def _ret(rng: np.random.Generator, var: np.ndarray) -> np.ndarray:
    return np.sqrt(var) * rng.standard_t(5, var.size) / np.sqrt(5 / 3)


def _rv(rng: np.random.Generator, var: np.ndarray) -> np.ndarray:
    # a realized measure: the day's variance times a mean-one lognormal measurement error
    return var * rng.lognormal(-0.125, 0.5, var.size)


def _vix(rng: np.random.Generator, var: np.ndarray) -> np.ndarray:
    # an implied volatility index in annualized percent, smoother than the realized measures
    return 100 * np.sqrt(252 * var) * rng.lognormal(0.1, 0.1, var.size)


def _rkurt(rng: np.random.Generator, var: np.ndarray) -> np.ndarray:
    # realized kurtosis of a day's intraday returns: about 3 for Gaussian bars, heavier on some days
    return 3.0 * rng.lognormal(0.0, 0.3, var.size)


def _jv(rng: np.random.Generator, var: np.ndarray) -> np.ndarray:
    # jump variation max(RV - BV, 0): a small, positive share of the day's variance
    return var * rng.uniform(0.01, 0.3, var.size)


#: Raw columns of the test frame. Add the columns your models read (see the module docstring).
COLUMNS: dict[str, Column] = {
    "ret": Column(_ret, perturb_signed),
    "rv": Column(_rv, perturb_positive),
    "vix": Column(_vix, perturb_positive),
    "rkurt": Column(_rkurt, perturb_positive),
    "jv": Column(_jv, perturb_positive),
}

#: Columns computed from the raw ones, rebuilt after each perturbation: name -> frame -> values.
DERIVED: dict[str, Callable[[pl.DataFrame], pl.Series | np.ndarray]] = {}


def _with_derived(frame: pl.DataFrame) -> pl.DataFrame:
    for name, build in DERIVED.items():
        frame = frame.with_columns(pl.Series(name, build(frame)))
    return frame


def make_frame(n: int, seed: int) -> pl.DataFrame:
    """A daily frame of ``n`` business days: ``date`` and every column of COLUMNS and DERIVED.

    The latent daily variance follows a log-AR(1) around 1e-4 (16% annualized) with
    persistence 0.98, so volatility clusters as in daily index returns.
    """
    rng = np.random.default_rng(seed)
    log_var = np.empty(n)
    log_var[0] = 0.0
    shocks = rng.normal(0.0, 0.2, n)
    for i in range(1, n):
        log_var[i] = 0.98 * log_var[i - 1] + shocks[i]
    var = 1e-4 * np.exp(log_var)
    dates = pl.date_range(dt.date(2001, 1, 1), dt.date(2001, 1, 1) + dt.timedelta(days=2 * n), "1d", eager=True)
    dates = dates.filter(dates.dt.weekday() <= 5)[:n]
    frame = pl.DataFrame({"date": dates, **{name: col.generate(rng, var) for name, col in COLUMNS.items()}})
    return _with_derived(frame)


def perturb_after(frame: pl.DataFrame, t: int, seed: int, kind: int) -> pl.DataFrame:
    """``frame`` with every raw column changed at every row after ``t`` (derived ones rebuilt).

    Rows ``0 .. t`` are untouched; ``kind`` chooses the perturbation (see
    :func:`perturb_signed`, :func:`perturb_positive`).
    """
    rng = np.random.default_rng([seed, t, kind])
    out = {}
    for name, col in COLUMNS.items():
        values = frame[name].to_numpy().copy()
        values[t + 1 :] = col.perturb(values[t + 1 :], rng, kind)
        assert (values[t + 1 :] != frame[name].to_numpy()[t + 1 :]).all()
        out[name] = values
    return _with_derived(frame.with_columns(**out))
