"""A VIX history file as Cboe publishes it, as a panel with the asset ``VIX``.

Cboe's download (``VIX_History.csv``) has the header ``DATE,OPEN,HIGH,LOW,CLOSE`` and dates
written ``MM/DD/YYYY``. Older Cboe files (``vixcurrent.csv``) had a disclaimer line above the
header ``Date,VIX Open,VIX High,VIX Low,VIX Close``; both are read. The values are index
levels in annualized volatility points (20 = 20%), not prices. A file whose dates all read
both ways (no day above 12) is read as MM/DD/YYYY, Cboe's format, unless ``date_format``
says otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from pathlib import Path

import polars as pl

from volbook.data.schema import validate_panel
from volbook.data.tables import detect_decimal, normalize, parse_dates, parse_numbers, read_table, within_dates
from volbook.errors import DataError

__all__ = ["read_vix_file"]

_HEADERS = {
    "close": ("close", "vixclose", "price", "vix"),
    "open": ("open", "vixopen"),
    "high": ("high", "vixhigh"),
    "low": ("low", "vixlow"),
}


def read_vix_file(
    path: str | Path,
    *,
    date_format: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    columns: Collection[str] | None = None,
) -> pl.DataFrame:
    """Read a Cboe VIX history file (module doc): ``date``, ``asset`` (``"VIX"``), ``close``
    and ``open``, ``high``, ``low`` when the file has them.

    Raises
    ------
    DataError
        No date or close column, bad dates or values, and everything
        :func:`~volbook.data.schema.validate_panel` refuses.
    """
    table = read_table(path, aliases=("date",))
    raw, name = table.frame, table.name
    by_key = {normalize(h): h for h in raw.columns}
    if "date" not in by_key:
        raise DataError(f"{name}: missing column 'DATE' (Cboe's VIX file: DATE,OPEN,HIGH,LOW,CLOSE)")
    found = {col: next(by_key[a] for a in aliases if a in by_key)
             for col, aliases in _HEADERS.items() if any(a in by_key for a in aliases)}
    if "close" not in found:
        raise DataError(f"{name}: missing column 'CLOSE' (Cboe's VIX file: DATE,OPEN,HIGH,LOW,CLOSE)")
    try:
        dates = parse_dates(raw[by_key["date"]], name, date_format)
    except DataError as exc:
        if "read as MM/DD/YYYY and as DD/MM/YYYY" not in str(exc):
            raise
        dates = parse_dates(raw[by_key["date"]], name, "%m/%d/%Y")
    raw = raw.with_columns(dates.alias("__date"))
    raw = within_dates(raw, "__date", start, end, name)
    decimal = detect_decimal(table, list(found.values()))
    frame = pl.DataFrame([
        raw["__date"].alias("date"),
        pl.Series("asset", ["VIX"] * raw.height),
        *(parse_numbers(raw[h], name, decimal=decimal, separator=table.separator).alias(col) for col, h in found.items()),
    ])
    return validate_panel(frame, name=name, columns=columns)
