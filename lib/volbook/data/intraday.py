"""A user's file of intraday bars, as a daily panel of realized measures.

The file (CSV or parquet, dialects as in :mod:`volbook.data.tables`) has

* a timestamp: one column (``timestamp``, ``datetime``, ``time``, ``date``, ``ts``) holding
  date and time, or a ``date`` and a ``time`` column. Text timestamps may be ISO
  (``2024-01-02 09:35:00``, ``2024-01-02T14:35:00Z``, with or without a UTC offset),
  ``MM/DD/YYYY HH:MM[:SS]`` or ``DD/MM/YYYY HH:MM[:SS]`` (detected from the whole column;
  ambiguous ones need ``timestamp_format``), or epoch seconds / milliseconds /
  microseconds / nanoseconds (UTC);
* the bar's last price: ``close``, ``price`` or ``last``; optionally its first price
  ``open`` (then the first bar's open is the session's opening price);
* optionally an asset column (``asset``, ``ticker``, ``symbol``); without one the asset is
  named after the file.

:func:`~volbook.bars.aggregate_bars` turns the bars into one row per day (its parameters:
``tz``, ``timestamps_tz``, ``session``, ``bar_label``, ``label_offset``, ``full_day_bars``,
``scale_short_days``, ``early_closes``). The result is a panel: ``date``, ``asset``, ``close`` (the session's
last price), ``rv``, ``bv``, ``jv``, ``rq``, ``rkurt``, ``overnight_ret``, ``open_to_close``,
``n_bars``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from volbook.bars import aggregate_bars
from volbook.data.files import keep_assets
from volbook.data.schema import validate_panel
from volbook.data.tables import detect_decimal, normalize, parse_dates, parse_numbers, read_table, within_dates
from volbook.errors import DataError, ParameterError

__all__ = ["BAR_ALIASES", "read_bar_file", "parse_timestamps"]

#: Accepted headers (normalized) per bar column, in order of preference.
BAR_ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "datetime", "ts", "time", "date"),
    "date": ("date",),
    "time": ("time",),
    "price": ("close", "price", "last"),
    "open": ("open",),
    "asset": ("asset", "ticker", "symbol"),
}

_ISO = r"^\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}"
_SLASH = r"^\d{1,2}/\d{1,2}/\d{4}[ T]\d{1,2}:\d{2}"
_EPOCH = r"^\d{9,19}(\.\d+)?$"


def _epoch(text: pl.Series) -> pl.Series:
    """Epoch numbers (unit from their size) as UTC datetimes."""
    values = text.cast(pl.Float64)
    top = float(values.abs().max())
    per_us = next(f for limit, f in [(1e11, 1e6), (1e14, 1e3), (1e17, 1.0), (float("inf"), 1e-3)] if top < limit)
    return (values * per_us).round().cast(pl.Int64).cast(pl.Datetime("us", "UTC"))


def parse_timestamps(column: pl.Series, name: str, timestamp_format: str | None = None) -> pl.Series:
    """A text column of timestamps as Datetime (naive, or UTC-aware when the text has an
    offset or is an epoch number); a Datetime column is returned as it is."""
    header = column.name
    if isinstance(column.dtype, pl.Datetime):
        if timestamp_format is not None:
            raise ParameterError(f"timestamp_format applies to text; column '{header}' of {name} holds {column.dtype}")
        return column
    if column.dtype.is_integer() or column.dtype.is_float():
        return _epoch(column.cast(pl.String)).alias(header)
    if column.dtype != pl.String:
        raise DataError(f"{name}: column '{header}' holds {column.dtype}, not timestamps")
    text = column.str.strip_chars()
    if timestamp_format is not None:
        parsed = text.str.strptime(pl.Datetime("us"), timestamp_format, strict=False)
        how = f"does not match timestamp_format '{timestamp_format}'"
    elif text.str.contains(_EPOCH).all():
        return _epoch(text).alias(header)
    elif text.str.contains(_ISO).all():
        parsed = text.str.to_datetime(time_unit="us", strict=False)
        how = "is not a timestamp like the others (YYYY-MM-DD HH:MM[:SS][+HH:MM])"
    elif text.str.contains(_SLASH).all():
        parts = text.str.extract_groups(r"^(\S+)[ T](\S+)$")
        day = parse_dates(parts.struct.field("1").alias(header), name)
        clock = parts.struct.field("2")
        clock = pl.select(
            pl.coalesce(clock.str.to_time("%H:%M:%S%.f", strict=False), clock.str.to_time("%H:%M", strict=False))
        ).to_series()
        parsed = pl.select(day.dt.combine(clock)).to_series().cast(pl.Datetime("us"))
        how = "is not a timestamp like the others (MM/DD/YYYY HH:MM[:SS])"
    else:
        bad = text.filter(~(text.str.contains(_ISO) | text.str.contains(_SLASH) | text.str.contains(_EPOCH)))
        raise DataError(
            f"{name}: column '{header}' has a value '{bad[0]}' that is not a timestamp "
            "(expected YYYY-MM-DD HH:MM[:SS], MM/DD/YYYY HH:MM, epoch seconds, or pass timestamp_format)"
        )
    bad = text.filter(parsed.is_null() & text.is_not_null())
    if bad.len():
        raise DataError(f"{name}: column '{header}' has a value '{bad[0]}' that {how}")
    return parsed.alias(header)


def _timestamps(raw: pl.DataFrame, headers: dict[str, str], name: str, fmt: str | None) -> pl.Series:
    if "date" in headers and "time" in headers and headers["date"] != headers["time"]:
        day, clock = raw[headers["date"]], raw[headers["time"]]
        if day.dtype == pl.Date and clock.dtype == pl.Time:
            return pl.select(day.dt.combine(clock)).to_series().cast(pl.Datetime("us")).alias("timestamp")
        joined = day.cast(pl.String).str.strip_chars() + " " + clock.cast(pl.String).str.strip_chars()
        return parse_timestamps(joined.alias(f"{headers['date']} {headers['time']}"), name, fmt).alias("timestamp")
    return parse_timestamps(raw[headers["timestamp"]], name, fmt).alias("timestamp")


def _match(columns: list[str], name: str) -> dict[str, str]:
    by_key = {normalize(h): h for h in columns}
    headers = {
        col: next(by_key[a] for a in aliases if a in by_key)
        for col, aliases in BAR_ALIASES.items()
        if any(a in by_key for a in aliases)
    }
    if "timestamp" not in headers:
        raise DataError(f"{name}: missing a timestamp column (looked for headers: {', '.join(BAR_ALIASES['timestamp'])})")
    if "price" not in headers:
        raise DataError(f"{name}: missing the bar's price column (looked for headers: close, price, last)")
    return headers


def read_bar_file(
    path: str | Path,
    *,
    timestamp_format: str | None = None,
    decimal: str | None = None,
    assets: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    columns: Collection[str] | None = None,
    **bar_options: Any,
) -> pl.DataFrame:
    """Read a file of intraday bars and return the daily panel of realized measures.

    Parameters
    ----------
    path
        The bar file (module doc).
    timestamp_format
        A ``strftime`` format for text timestamps (``%z`` for an offset).
    decimal
        The decimal mark, as for :func:`~volbook.data.tables.parse_numbers`.
    assets
        Keep these assets only; an unknown one is an error.
    start, end
        Keep these dates (inclusive); bars further away are not read, except a few days
        before ``start`` for the first overnight return.
    columns
        Columns the run needs (:func:`~volbook.data.schema.validate_panel`).
    **bar_options
        ``tz``, ``timestamps_tz``, ``session``, ``bar_label``, ``label_offset``,
        ``full_day_bars``, ``scale_short_days``, ``early_closes`` of
        :func:`~volbook.bars.aggregate_bars`.

    Returns
    -------
    polars.DataFrame
        A validated panel with the realized columns.
    """
    table = read_table(path, aliases=BAR_ALIASES["timestamp"])
    raw, name = table.frame, table.name
    headers = _match(raw.columns, name)
    stem = Path(name).name.split(".")[0]
    raw = keep_assets(raw, headers.get("asset"), stem, assets, name)
    stamps = _timestamps(raw, headers, name, timestamp_format)
    naive_day = stamps.dt.replace_time_zone(None).dt.date() if stamps.dtype.time_zone else stamps.dt.date()
    keep = pl.Series([True] * raw.height)
    if start is not None:
        keep = keep & (naive_day >= start - dt.timedelta(days=10))
    if end is not None:
        keep = keep & (naive_day <= end + dt.timedelta(days=2))
    raw, stamps = raw.filter(keep), stamps.filter(keep)
    if raw.height == 0:
        raise DataError(f"{name}: no bars from {start or 'the start'} to {end or 'the end'}")
    numeric = [headers[c] for c in ("price", "open") if c in headers]
    decimal = detect_decimal(table, numeric, decimal)
    bars = pl.DataFrame([
        stamps,
        *(parse_numbers(raw[headers[c]], name, decimal=decimal, separator=table.separator).cast(pl.Float64).alias(c)
          for c in ("price", "open") if c in headers),
        raw["__asset"].alias("asset"),
    ])
    daily = aggregate_bars(bars, name=name, **bar_options)
    daily = within_dates(daily, "date", start, end, name, "trading days")
    return validate_panel(daily, name=name, columns=columns)

