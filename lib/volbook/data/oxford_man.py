"""A realized-measure file in the Oxford-Man layout, as a daily panel.

The Oxford-Man Institute's "Realized Library" (discontinued in 2022) published one CSV,
``oxfordmanrealizedvolatilityindices.csv``, with one row per index and trading day:

* a first column without a header (pandas' index; ``Unnamed: 0`` or ``date`` in copies)
  holding the day as local midnight with the index's UTC offset,
  ``2000-01-03 00:00:00+01:00``;
* ``Symbol`` (``.SPX``, ``.FTSE``, ``.N225``, ... : several indices in one file);
* realized measures in daily variance units (decimals squared: 1e-4 is a 1% day):
  ``rv5`` and ``rv10`` (5- and 10-minute realized variance), ``rv5_ss`` / ``rv10_ss``
  (subsampled), ``bv`` / ``bv_ss`` (bipower variation), ``rk_parzen``, ``rk_th2``,
  ``rk_twoscale`` (realized *kernels*), ``medrv``, ``rsv`` / ``rsv_ss`` (semivariance);
* ``open_price``, ``close_price``, ``open_to_close`` (log return), ``open_time`` /
  ``close_time`` (HHMMSS), ``nobs``.

:func:`read_oxford_man_file` keeps the index's local trading day as ``date``; a timestamp
that is not at local midnight (a copy converted to UTC, which moves Asian indices to the
previous day) is refused. The panel: ``date``, ``asset`` (the symbol as written),
``close`` (``close_price``), ``open`` (``open_price``), ``rv`` (the ``measure`` chosen,
``rv5`` by default), ``bv`` and ``jv = max(rv - bv, 0)`` when the file has ``bv``,
``open_to_close``, and ``overnight_ret = ln(open_price / previous close_price)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from pathlib import Path

import polars as pl

from volbook.data.files import keep_assets
from volbook.data.schema import validate_panel
from volbook.data.tables import detect_decimal, normalize, parse_numbers, read_table, within_dates
from volbook.errors import DataError, ParameterError

__all__ = ["MEASURES", "read_oxford_man_file"]

#: Measures of the Oxford-Man file that ``measure=`` may choose as ``rv``.
MEASURES = ("rv5", "rv5_ss", "rv10", "rv10_ss", "bv", "bv_ss", "rk_parzen", "rk_th2", "rk_twoscale", "medrv")

_DATE_HEADERS = ("", "unnamed0", "date", "datetime", "index")
_LOCAL_DAY = r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}:\d{2})(?:\.\d+)?([+-]\d{2}:?\d{2}|Z)?)?$"


def _local_days(column: pl.Series, name: str) -> pl.Series:
    text = column.cast(pl.String).str.strip_chars()
    parts = text.str.extract_groups(_LOCAL_DAY)
    day, clock = parts.struct.field("1"), parts.struct.field("2")
    bad = text.filter(day.is_null() & text.is_not_null())
    if bad.len():
        raise DataError(f"{name}: date '{bad[0]}' is not YYYY-MM-DD[ HH:MM:SS+HH:MM] (the Oxford-Man layout)")
    late = text.filter(clock.is_not_null() & (clock != "00:00:00"))
    if late.len():
        raise DataError(
            f"{name}: timestamp '{late[0]}' is not at local midnight: the file's days were converted "
            "to another time zone (UTC?); use the original file, whose dates are each index's local day"
        )
    return day.str.to_date("%Y-%m-%d").alias("date")


def read_oxford_man_file(
    path: str | Path,
    *,
    measure: str = "rv5",
    decimal: str | None = None,
    assets: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    columns: Collection[str] | None = None,
) -> pl.DataFrame:
    """Read an Oxford-Man realized-measure file (module doc) as a daily panel.

    Parameters
    ----------
    path
        The CSV (or parquet) file.
    measure
        The column that becomes ``rv``, one of :data:`MEASURES` present in the file.
    decimal
        The decimal mark, as for :func:`~volbook.data.tables.parse_numbers`.
    assets
        Symbols to keep, as written in the file (``".SPX"``); an unknown one is an error.
    start, end
        Keep these dates (inclusive).
    columns
        Columns the run needs (:func:`~volbook.data.schema.validate_panel`).

    Raises
    ------
    DataError
        Missing symbol, date, close or measure column, dates not at local midnight, a
        measure in percent units, and everything :func:`~volbook.data.schema.validate_panel`
        refuses.
    """
    if measure not in MEASURES:
        raise ParameterError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    table = read_table(path, aliases=("symbol",))
    raw, name = table.frame, table.name
    by_key = {normalize(h): h for h in raw.columns}
    date_header = next((by_key[k] for k in _DATE_HEADERS if k in by_key), None)
    if date_header is None:
        raise DataError(f"{name}: no date column (the Oxford-Man file's first, unnamed column)")
    for need in ("symbol", "closeprice", normalize(measure)):
        if need not in by_key:
            what = {"symbol": "Symbol", "closeprice": "close_price"}.get(need, measure)
            hint = "; choose another with measure=" if need == normalize(measure) else ""
            raise DataError(f"{name}: missing column '{what}' (the Oxford-Man layout){hint}")
    raw = keep_assets(raw, by_key["symbol"], "", assets, name)
    raw = raw.with_columns(_local_days(raw[date_header], name).alias("__date"))
    raw = within_dates(raw, "__date", start, end, name)
    wanted = {"close": "closeprice", "open": "openprice", "rv": normalize(measure), "bv": "bv",
              "open_to_close": "opentoclose"}
    present = {col: by_key[key] for col, key in wanted.items() if key in by_key}
    decimal = detect_decimal(table, list(present.values()), decimal)
    frame = pl.DataFrame([
        raw["__date"].alias("date"),
        raw["__asset"].alias("asset"),
        *(parse_numbers(raw[h], name, decimal=decimal, separator=table.separator).cast(pl.Float64).alias(col)
          for col, h in present.items()),
    ])
    typical = frame.select(pl.col("rv").median()).item()
    if typical is not None and typical > 0.01:
        raise DataError(
            f"{name}: column '{measure}' has a median of {typical:.3g}, a daily volatility of "
            f"{typical ** 0.5:.0%}: it is not in decimal units (percent squared?); divide it by 10,000"
        )
    frame = frame.sort("asset", "date")
    if "bv" in frame.columns:
        frame = frame.with_columns(jv=(pl.col("rv") - pl.col("bv")).clip(lower_bound=0.0))
    if "open" in frame.columns:
        frame = frame.with_columns(
            overnight_ret=(pl.col("open") / pl.col("close").shift(1)).log().over("asset"))
    return validate_panel(frame, name=name, columns=columns)
