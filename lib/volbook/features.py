"""Features built from history: row t of every feature uses rows up to t only.

A feature is a function of the rows at or before its own row, so a model can compute it on
the :class:`~volbook.history.History` it is given (which ends at the origin) and index it with
the training rows from :meth:`~volbook.history.History.training_rows`. The perturbation test
(``tests/test_no_lookahead.py``) covers features either way: built inside a model, or stored
as columns of the daily frame by a builder registered in ``tests/_frames.py``.

Two sections:

* **HAR regressors** (:func:`har_features`): trailing means of any daily series over Corsi's
  windows, for the HAR models.
* **Gate (transition) variables** for ES / STES / XGBSTES (:func:`gate_features`), by family:

==========  ==========================================  ===============================
family      columns                                     row t uses
==========  ==========================================  ===============================
ret         ``ret`` = r_t                               r_t
abs_ret     ``abs_ret`` = abs(r_t)                      r_t
ret2        ``ret2`` = r_t^2                            r_t
har         ``rv5``, ``rv20``: mean proxy over the       proxy p_{t-w+1} .. p_t
            last 5 and 20 rows (HAR(5,20) variances)
har_diff    ``har_diff`` = rv5 - rv20                    proxy p_{t-19} .. p_t
dow         ``dow_1`` .. ``dow_4``: Tuesday .. Friday    date t
            dummies (Monday is the base level, absorbed
            by the gate's constant)
month       ``month`` = 1 .. 12, one numeric column      date t
            (as published)
fomc        ``is_fomc``, ``days_to_fomc``,               the FOMC calendar
            ``is_near_fomc``                             (:mod:`volbook.events`)
opex        ``is_opex``, ``days_to_opex``,               third-Friday rule
            ``is_near_opex``
imm         ``is_imm``, ``days_to_imm``, ``is_near_imm``  third-Wednesday rule
==========  ==========================================  ===============================

  The gate's rolling means use the rows available: in the first w - 1 rows of a sample the
  mean runs over rows 0 .. t (as in the published study, ``min_periods=1``); from row w - 1
  on they are :func:`har_features`, each window's own mean. The proxy is r^2 unless a
  realized measure is given. The models standardize these columns on their training rows
  (:class:`volbook.models.gate.GateScaler`), not here. Calendar and event features use only
  the calendar, which is known in advance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import polars as pl

from volbook.errors import DataError, ParameterError
from volbook.events import as_days, event_features

__all__ = [
    "HAR_LAGS",
    "check_lags",
    "har_features",
    "har_feature_names",
    "CALENDAR",
    "EAESE",
    "EVENTS",
    "FAMILIES",
    "GateFamily",
    "SEASONAL",
    "check_families",
    "family_of",
    "feature_lookback",
    "gate_feature_frame",
    "gate_features",
    "rolling_mean",
]

#: Corsi's (2009) daily, weekly and monthly averaging windows, in trading days.
HAR_LAGS = (1, 5, 22)


def check_lags(lags: Sequence[int]) -> tuple[int, ...]:
    """HAR averaging windows as a tuple of distinct, increasing integers >= 1."""
    out = tuple(int(k) for k in lags)
    if not out or out[0] < 1 or any(b <= a for a, b in zip(out, out[1:])):
        raise ParameterError(f"HAR lags must be increasing positive integers, got {list(lags)}")
    return out


def har_features(x: np.ndarray, lags: Sequence[int] = HAR_LAGS) -> np.ndarray:
    """HAR regressors of a daily series: trailing means over each window, ending at row t.

    Parameters
    ----------
    x
        A per-day series x_0 .. x_{n-1} (r^2, a realized measure, its log, VIX ...).
    lags
        Averaging windows L_1 < L_2 < ..., in rows; ``(1, 5, 22)`` gives Corsi's daily,
        weekly and monthly components.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, len(lags))``; element ``[t, k]`` = ``mean(x[t - L_k + 1 : t + 1])``, NaN
        where fewer than L_k rows exist (``t < L_k - 1``). Each mean is taken over its own
        window (no running sums), so it does not depend on rows before the window.
    """
    values = np.asarray(x, dtype=float).ravel()
    ls = check_lags(lags)
    out = np.full((values.size, len(ls)), np.nan)
    for k, lag in enumerate(ls):
        if values.size >= lag:
            out[lag - 1 :, k] = np.lib.stride_tricks.sliding_window_view(values, lag).mean(axis=1)
    return out


def har_feature_names(name: str, lags: Sequence[int] = HAR_LAGS) -> list[str]:
    """Column names of :func:`har_features` of the series ``name``: ``name_1``, ``name_5`` ..."""
    return [f"{name}_{lag}" for lag in check_lags(lags)]


# -- Gate (transition) variables for ES / STES / XGBSTES ---------------------------------------

GateFamily = Literal["ret", "abs_ret", "ret2", "har", "har_diff", "dow", "month", "fomc", "opex", "imm"]
#: Every gate family, in display order.
FAMILIES: tuple[GateFamily, ...] = get_args(GateFamily)
#: Taylor's (2004) transition variables: return (E), absolute return (AE), squared return (SE).
EAESE: tuple[GateFamily, ...] = ("ret", "abs_ret", "ret2")
#: Day of week and month.
CALENDAR: tuple[GateFamily, ...] = ("dow", "month")
#: Scheduled events.
EVENTS: tuple[GateFamily, ...] = ("fomc", "opex", "imm")
#: The study's "seasonal" set: calendar and events.
SEASONAL: tuple[GateFamily, ...] = CALENDAR + EVENTS

_HAR_WINDOWS = (5, 20)
_NEEDS_DATES = set(SEASONAL)


def rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Row t: mean of ``x[max(0, t - window + 1) .. t]`` (the window ends at t, includes t).

    :func:`har_features` from row ``window - 1`` on; before it, the mean of the rows so far.
    """
    x = np.asarray(x, dtype=float)
    out = har_features(x, (window,))[:, 0]
    head = min(window - 1, x.size)
    out[:head] = np.cumsum(x[:head]) / np.arange(1, head + 1)
    return out


def feature_lookback(families: Sequence[GateFamily]) -> int:
    """How many rows before t a feature at row t reads (0 for point-in-time features)."""
    return max(_HAR_WINDOWS) - 1 if {"har", "har_diff"} & set(families) else 0


def check_families(families: Sequence[str]) -> tuple[GateFamily, ...]:
    """``families`` as a tuple, each known and listed once."""
    fams = tuple(families)
    unknown = [f for f in fams if f not in FAMILIES]
    if unknown:
        raise ParameterError(f"unknown gate feature family {unknown[0]!r}; choose from {', '.join(FAMILIES)}")
    if len(set(fams)) != len(fams):
        raise ParameterError(f"gate feature families listed twice: {list(fams)}")
    return fams  # type: ignore[return-value]


def gate_features(
    families: Sequence[GateFamily],
    *,
    ret: np.ndarray,
    proxy: np.ndarray | None = None,
    dates: Sequence | np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Gate features for every row: an (n, k) float array and its k column names.

    Parameters
    ----------
    families
        Gate families (see the module docstring), e.g. ``EAESE + ("har_diff",) + SEASONAL``.
    ret
        Daily log returns r_0 .. r_{n-1}.
    proxy
        Per-day variance proxy for the HAR families; ``None`` uses r^2.
    dates
        Row dates; required by the calendar and event families.
    """
    fams = check_families(families)
    r = np.asarray(ret, dtype=float)
    p = r**2 if proxy is None else np.asarray(proxy, dtype=float)
    if p.shape != r.shape:
        raise DataError(f"the variance proxy has {p.size} rows and the returns {r.size}")
    days = None
    if _NEEDS_DATES & set(fams):
        if dates is None:
            raise ParameterError(f"gate families {sorted(_NEEDS_DATES & set(fams))} need the row dates")
        days = as_days(dates)
        if days.shape != r.shape:
            raise DataError(f"{days.size} dates for {r.size} rows")
    cols: dict[str, np.ndarray] = {}
    for fam in fams:
        if fam == "ret":
            cols["ret"] = r
        elif fam == "abs_ret":
            cols["abs_ret"] = np.abs(r)
        elif fam == "ret2":
            cols["ret2"] = r**2
        elif fam == "har":
            for w in _HAR_WINDOWS:
                cols[f"rv{w}"] = rolling_mean(p, w)
        elif fam == "har_diff":
            short, long = _HAR_WINDOWS
            cols["har_diff"] = rolling_mean(p, short) - rolling_mean(p, long)
        elif fam == "dow":
            weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
            if (weekday > 4).any():
                raise DataError("a row falls on a weekend: day-of-week dummies cover Monday to Friday only")
            for d in range(1, 5):
                cols[f"dow_{d}"] = (weekday == d).astype(float)
        elif fam == "month":
            cols["month"] = (days.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(float)
        else:
            cols.update(event_features(days, fam))
    names = tuple(cols)
    X = np.column_stack([cols[c] for c in names]) if names else np.empty((r.size, 0))
    return X, names


def family_of(column: str) -> GateFamily:
    """The gate family a feature column belongs to (``"dow_3"`` -> ``"dow"``, ``"rv5"`` -> ``"har"``)."""
    for fam in EVENTS:
        if column.endswith(f"_{fam}"):
            return fam
    if column.startswith("dow_"):
        return "dow"
    if column.startswith("rv") and column[2:].isdigit():
        return "har"
    if column in FAMILIES:
        return column  # type: ignore[return-value]
    raise ParameterError(f"{column!r} is not a gate feature column")


def gate_feature_frame(frame: pl.DataFrame, families: Sequence[GateFamily], *, proxy: str = "ret2") -> pl.DataFrame:
    """The gate features of a daily frame (``date``, ``ret``, optional ``rv``) as a polars frame.

    ``proxy`` is ``"ret2"`` (squared returns) or the name of a realized-measure column; it
    feeds the HAR families. The result has ``date`` and one column per feature.
    """
    for col in ("date", "ret") + (() if proxy == "ret2" else (proxy,)):
        if col not in frame.columns:
            raise DataError(f"the frame has no {col!r} column (columns: {', '.join(frame.columns)})")
    X, names = gate_features(
        families,
        ret=frame["ret"].to_numpy(),
        proxy=None if proxy == "ret2" else frame[proxy].to_numpy(),
        dates=frame["date"].to_numpy(),
    )
    return pl.DataFrame({"date": frame["date"], **{n: X[:, j] for j, n in enumerate(names)}})
