"""Returns and realized measures computed from a panel (:mod:`volbook.data`), and the daily
frame that feeds the walk-forward engine.

Units and dating follow :mod:`volbook.timing`: daily log returns in decimals, each dated by
the day on which it ends; variances in daily units. Row t of a daily frame holds only what
is known at the close of day t.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from volbook import measures
from volbook.errors import DataError, ParameterError

__all__ = ["DAILY_MEASURES", "daily_frame", "log_returns"]

#: The ``measure`` values of :func:`daily_frame` and the panel columns each needs.
DAILY_MEASURES: dict[str, tuple[str, ...]] = {
    "ret2": ("close",),
    "parkinson": ("high", "low"),
    "garman_klass": ("open", "high", "low", "close"),
    "rogers_satchell": ("open", "high", "low", "close"),
    "rv": ("rv",),
}
#: Longest gap, in calendar days, over which a VIX value is carried forward.
VIX_MAX_GAP_DAYS = 5


def log_returns(panel: pl.DataFrame) -> pl.DataFrame:
    """Daily log returns ``r_t = ln(P_t / P_{t-1})`` of every asset of a panel.

    Parameters
    ----------
    panel
        A panel with ``date``, ``asset`` and ``close`` (e.g. from :func:`volbook.data.load`).

    Returns
    -------
    polars.DataFrame
        ``date``, ``asset``, ``ret`` (Float64), sorted by (asset, date); each asset's first
        date, which has no previous close, is dropped.
    """
    return (
        panel.lazy()
        .sort("asset", "date")
        .select(
            "date",
            "asset",
            (pl.col("close") / pl.col("close").shift(1)).log().over("asset").cast(pl.Float64).alias("ret"),
        )
        .drop_nulls("ret")
        .collect()
    )


def _one_asset(panel: pl.DataFrame, asset: str | None, name: str) -> pl.DataFrame:
    names = panel["asset"].unique().sort()
    if asset is None:
        if names.len() > 1:
            listed = ", ".join(names.head(5)) + (", ..." if names.len() > 5 else "")
            raise DataError(f"{name}: has {names.len()} assets ({listed}); choose one with asset=")
        return panel.sort("date")
    if asset not in set(names):
        raise DataError(f"{name}: unknown asset '{asset}'")
    return panel.filter(pl.col("asset") == asset).sort("date")


def _session_variance(frame: pl.DataFrame, measure: str) -> np.ndarray:
    if measure == "parkinson":
        return measures.parkinson(frame["high"], frame["low"])
    estimator = measures.garman_klass if measure == "garman_klass" else measures.rogers_satchell
    return estimator(frame["open"], frame["high"], frame["low"], frame["close"])


def _add_vix(frame: pl.DataFrame, vix: pl.DataFrame, name: str) -> pl.DataFrame:
    """The latest VIX close at or before each date, over the span both cover."""
    if not {"date", "close"} <= set(vix.columns) or vix.select(pl.col("asset").n_unique()).item() != 1:
        raise DataError("vix: expected a one-asset panel with date and close (e.g. load('vix'))")
    levels = vix.select("date", pl.col("close").alias("vix"), pl.col("date").alias("vix_date")).drop_nulls("vix").sort("date")
    first, last = levels["date"].min(), levels["date"].max()
    span = frame.filter(pl.col("date").is_between(first, last))
    if span.height == 0:
        raise DataError(f"{name}: no dates in common with vix ({first} to {last})")
    out = span.join_asof(levels, on="date", strategy="backward")
    stale = out.filter((pl.col("date") - pl.col("vix_date")).dt.total_days() > VIX_MAX_GAP_DAYS)
    if stale.height:
        row = stale.row(0, named=True)
        raise DataError(
            f"vix: no value from {row['vix_date']} to {row['date']} (more than {VIX_MAX_GAP_DAYS} days) inside the "
            f"span of the data; fill the VIX series or choose start and end around the gap"
        )
    return out.drop("vix_date")


def daily_frame(
    panel: pl.DataFrame,
    *,
    measure: str = "ret2",
    asset: str | None = None,
    overnight: bool = False,
    vix: pl.DataFrame | None = None,
    features: Sequence[str] = (),
    name: str = "panel",
) -> pl.DataFrame:
    """The engine's daily frame ``date, ret, rv[, vix][, features]`` from one asset of a panel.

    Parameters
    ----------
    panel
        A loaded panel (:func:`volbook.data.load`); one asset, or name it with ``asset``.
    measure
        The per-day variance proxy that becomes ``rv`` (daily variance units):
        ``"ret2"`` the squared close-to-close return; ``"parkinson"``, ``"garman_klass"``,
        ``"rogers_satchell"`` the range-based estimators of the day's session
        (:mod:`volbook.measures`; needs open/high/low); ``"rv"`` the panel's own realized
        variance (sources ``intraday`` and ``oxford_man``). Yang-Zhang is not offered: its
        value at t averages n days, so a sum of it over t+1..t+h would reach back before t+1.
    asset
        The asset, when the panel has several.
    overnight
        Add the squared overnight return ``ln(open_t / close_{t-1})^2`` to a session measure
        (range-based or ``rv``), so that ``rv`` covers close to close like ``ret``. Not for
        ``"ret2"``, which already does.
    vix
        A one-asset panel of VIX closes (``load("vix")`` or ``load("vix", path=...)``): adds
        ``vix``, the latest VIX close at or before each date (carried over at most
        :data:`VIX_MAX_GAP_DAYS` calendar days), and keeps only the dates both cover.
    features
        Other panel columns to carry (``"bv"``, ``"jv"``, ``"rq"``, ``"rkurt"``,
        ``"overnight_ret"``, ...), each valid on every row kept.
    name
        What the panel is, starting every message.

    Returns
    -------
    polars.DataFrame
        ``date``, ``ret`` (log close-to-close), ``rv``, then ``vix`` and the ``features``;
        one row per date from the asset's second date (the first has no return). Every
        value is finite.

    Raises
    ------
    ParameterError
        An unknown measure, ``overnight`` with ``"ret2"``, a feature that is not a column.
    DataError
        Several assets and no ``asset``, a column the measure needs is missing, a value
        that is missing, negative or not finite (naming the date), no common dates with VIX.
    """
    if measure not in DAILY_MEASURES:
        raise ParameterError(f"measure must be one of {', '.join(DAILY_MEASURES)}, got {measure!r}")
    if overnight and measure == "ret2":
        raise ParameterError("overnight=True adds the overnight return to a session measure; 'ret2' is close to close already")
    if isinstance(features, str):
        raise ParameterError(f"features must be a list of column names, got the string {features!r}")
    frame = _one_asset(panel, asset, name)
    needs = list(DAILY_MEASURES[measure]) + (["open"] if overnight and "overnight_ret" not in frame.columns else [])
    missing = [c for c in needs if c not in frame.columns]
    if missing:
        hint = " (load a source with open, high and low, e.g. sp500_ohlc, or use measure='ret2')" if measure != "rv" else \
            " (sources intraday and oxford_man have it; or use measure='ret2' or a range-based one)"
        raise DataError(f"{name}: measure '{measure}' needs column{'s' * (len(missing) > 1)} "
                        f"{', '.join(missing)}, which the panel lacks{hint}")
    for col in features:
        if col not in frame.columns or not frame[col].dtype.is_numeric():
            raise ParameterError(f"features: '{col}' is not a numeric column of the panel ({', '.join(frame.columns)})")
    for col in [*needs, *features]:
        bad = frame.filter(pl.col(col).is_null() | pl.col(col).cast(pl.Float64).is_nan())
        # a missing value on the first date is harmless (the first row is dropped below)
        bad = bad.filter(pl.col("date") > frame["date"][0])
        if bad.height:
            raise DataError(f"{name}: column '{col}' is missing on {bad['date'][0]}; the daily frame needs it on "
                            f"every date (load with columns=[..., '{col}'] to see every gap, or choose other dates)")

    ret = (pl.col("close") / pl.col("close").shift(1)).log()
    out = frame.with_columns(ret=ret)
    if measure == "ret2":
        out = out.with_columns(rv=pl.col("ret") ** 2)
    elif measure == "rv":
        out = out.with_columns(rv=pl.col("rv"))
    else:
        out = out.with_columns(rv=pl.Series(_session_variance(frame, measure)))
    if overnight:
        gap = pl.col("overnight_ret") if "overnight_ret" in frame.columns else (pl.col("open") / pl.col("close").shift(1)).log()
        out = out.with_columns(rv=pl.col("rv") + gap**2)
    out = out.slice(1).select("date", "ret", "rv", *[c for c in features if c not in ("ret", "rv")])
    if vix is not None:
        out = _add_vix(out, vix, name)
        out = out.select("date", "ret", "rv", "vix", *[c for c in out.columns if c not in ("date", "ret", "rv", "vix")])
    numeric = [c for c in out.columns if c != "date"]
    bad = out.filter(~pl.all_horizontal(pl.col(numeric).cast(pl.Float64).is_finite()) | (pl.col("rv") < 0))
    if bad.height:
        row = bad.row(0, named=True)
        col = next(c for c in numeric if row[c] is None or not np.isfinite(row[c]) or (c == "rv" and row[c] < 0))
        raise DataError(f"{name}: '{col}' is {row[col]} on {row['date']}; every value of the daily frame must be finite")
    return out

