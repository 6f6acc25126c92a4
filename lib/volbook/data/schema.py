"""The panel schema every source returns, and the checks that enforce it.

A *panel* is a long polars frame, one row per (asset, date), sorted by (asset, date):

==============  =========  =========  =================================================
column          dtype      required   meaning
==============  =========  =========  =================================================
``date``        Date       yes        trading day
``asset``       String     yes        ticker or name
``close``       Float64    yes        closing price (adjusted for splits and dividends
                                      where the source provides it), finite and > 0
``open``        Float64    no         opening price, same basis as ``close``, > 0
``high``        Float64    no         daily high, same basis as ``close``, > 0
``low``         Float64    no         daily low, same basis as ``close``, > 0
``volume``      Float64    no         traded volume, finite and >= 0
``market_cap``  Float64    no         market capitalization, finite and > 0 (a time
                                      series or a snapshot repeated on every row)
``sector``      String     no         sector label
==============  =========  =========  =================================================

An optional column, when present, has a value on every row (no nulls).
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from volbook.errors import DataError

__all__ = ["ColumnSpec", "SCHEMA", "adjust_ohlc", "require_rows", "unpivot_wide", "validate_panel"]


class ColumnSpec(NamedTuple):
    """One column of the panel schema: its polars dtype and whether every panel has it."""

    dtype: type[pl.DataType]
    required: bool


#: The panel schema: column -> (dtype, required), in the column order of every panel.
SCHEMA: dict[str, ColumnSpec] = {
    "date": ColumnSpec(pl.Date, True),
    "asset": ColumnSpec(pl.String, True),
    "close": ColumnSpec(pl.Float64, True),
    "open": ColumnSpec(pl.Float64, False),
    "high": ColumnSpec(pl.Float64, False),
    "low": ColumnSpec(pl.Float64, False),
    "volume": ColumnSpec(pl.Float64, False),
    "market_cap": ColumnSpec(pl.Float64, False),
    "sector": ColumnSpec(pl.String, False),
}

_POSITIVE = ("close", "open", "high", "low", "market_cap")
_NUMERIC = (*_POSITIVE, "volume")


def _where(row: dict) -> str:
    return f"asset '{row['asset']}' on {row['date']}"


def _check_prices(df: pl.DataFrame, col: str, *, name: str, header: str | None = None,
                  nonnegative: bool = False) -> None:
    """Refuse a null, NaN, infinite, zero or negative value of ``col`` (zero is fine if
    ``nonnegative``), naming ``header`` (default ``col``), the asset and the date."""
    x = pl.col(col)
    bad = df.filter(x.is_null() | ~x.is_finite() | ((x < 0) if nonnegative else (x <= 0)))
    if bad.height:
        row = bad.row(0, named=True)
        value = row[col]
        if value is None:
            what = "missing (null)"
        elif value != value:
            what = "NaN"
        elif abs(value) == float("inf"):
            what = "infinite"
        else:
            what = "zero" if value == 0 else f"negative ({value})"
        raise DataError(f"{name}: column '{header or col}' is {what} for {_where(row)}")


def _parse_dates(column: pl.Series, name: str) -> pl.Series:
    """The ``date`` column as pl.Date: ISO strings or midnight datetimes are accepted."""
    if column.dtype == pl.Date:
        return column
    if column.dtype == pl.String:
        parsed = column.str.strip_chars().str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        bad = column.filter(parsed.is_null() & column.is_not_null())
        if bad.len():
            raise DataError(f"{name}: column 'date' has an unparseable date '{bad[0]}' (expected YYYY-MM-DD)")
        return parsed
    if isinstance(column.dtype, pl.Datetime):
        timed = column.filter(column.dt.truncate("1d") != column)
        if timed.len():
            raise DataError(
                f"{name}: column 'date' has a time of day ({timed[0]}); a daily panel needs dates"
            )
        return column.dt.date()
    raise DataError(f"{name}: column 'date' has dtype {column.dtype}, not a date")


def validate_panel(df: pl.DataFrame, *, name: str) -> pl.DataFrame:
    """Check a frame against the panel schema and return it with exact dtypes and order.

    Parameters
    ----------
    df
        Long frame with at least ``date``, ``asset`` and ``close`` (see :data:`SCHEMA`).
        ``date`` may be pl.Date, ISO strings (YYYY-MM-DD) or datetimes at midnight.
        Within each asset, rows must be in increasing date order (a frame sorted by date
        with the assets interleaved is fine; the result is re-sorted by asset, date).
    name
        What the frame is (a source name or a file path); every error message starts with it.

    Returns
    -------
    polars.DataFrame
        Columns in :data:`SCHEMA` order (required first, then the optional ones present),
        cast to their schema dtypes, sorted by (asset, date).

    Raises
    ------
    DataError
        On a missing or unknown column, a non-numeric price column, an unparseable date, a
        missing value, a duplicate (asset, date), dates out of order within an asset, or a
        price that is NaN, infinite, zero or negative (a negative volume). The one-line
        message names the column, asset and date of the first offender.
    """
    for col, spec in SCHEMA.items():
        if spec.required and col not in df.columns:
            raise DataError(f"{name}: missing column '{col}'")
    unknown = [c for c in df.columns if c not in SCHEMA]
    if unknown:
        raise DataError(f"{name}: unknown column '{unknown[0]}' (panel columns: {', '.join(SCHEMA)})")
    if df.height == 0:
        raise DataError(f"{name}: no rows")
    for col in _NUMERIC:
        if col in df.columns and not df[col].dtype.is_numeric():
            raise DataError(f"{name}: column '{col}' is not numeric (dtype {df[col].dtype})")
    columns = [c for c in SCHEMA if c in df.columns]
    out = df.select(columns).with_columns(
        _parse_dates(df["date"], name),
        *(pl.col(c).cast(SCHEMA[c].dtype) for c in columns if c != "date"),
    )
    for col in columns:
        missing = out[col].is_null()
        if missing.any():
            i = int(missing.arg_true()[0])
            where = f"row {i + 1}" if col in ("date", "asset") else _where(out.row(i, named=True))
            raise DataError(f"{name}: column '{col}' is missing (null) for {where}")
    ordered = out.sort("asset", "date", maintain_order=True)
    same = (pl.col("asset") == pl.col("asset").shift(1)) & (pl.col("date") == pl.col("date").shift(1))
    dup = ordered.filter(same)
    if dup.height:
        raise DataError(f"{name}: duplicate row for {_where(dup.row(0, named=True))}")
    back = out.with_columns(prev=pl.col("date").shift(1).over("asset"))
    back = back.filter(pl.col("date") < pl.col("prev"))
    if back.height:
        row = back.row(0, named=True)
        raise DataError(
            f"{name}: dates out of order for asset '{row['asset']}': {row['date']} comes after {row['prev']}"
        )
    out = ordered
    for col in _NUMERIC:
        if col in out.columns:
            _check_prices(out, col, name=name, nonnegative=col == "volume")
    return out


def require_rows(df: pl.DataFrame, n: int, *, why: str, name: str = "panel") -> None:
    """Refuse a panel in which some asset has fewer than ``n`` rows.

    Parameters
    ----------
    df
        A panel (at least ``asset``).
    n
        Rows every asset needs.
    why
        What needs them, e.g. ``"garch_window + max(horizons)"``; quoted in the message.
    name
        What the panel is, for the message.

    Raises
    ------
    DataError
        ``"<name>: asset 'X' has 812 rows, at least 1001 are needed (<why>)"`` for the
        shortest asset (the first by name among ties), or ``"<name>: no rows ..."``.
    """
    if df.height == 0:
        raise DataError(f"{name}: no rows, at least {n} are needed ({why})")
    counts = df.group_by("asset").len().sort("len", "asset")
    asset, k = counts.row(0)
    if k < n:
        raise DataError(f"{name}: asset '{asset}' has {k} rows, at least {n} are needed ({why})")


def unpivot_wide(wide: pl.DataFrame, *, name: str) -> pl.DataFrame:
    """A validated panel from a wide frame: a ``date`` column and one close column per asset.

    Missing values (null or NaN) before an asset's first price and after its last are
    dropped (the asset was not yet, or no longer, in the universe); a missing value between
    two prices is an error, as is a column without any price.
    """
    assets = [c for c in wide.columns if c != "date"]
    if not assets:
        raise DataError(f"{name}: no asset columns besides 'date'")
    for col in assets:
        if not wide[col].dtype.is_numeric():
            raise DataError(f"{name}: asset column '{col}' is not numeric (dtype {wide[col].dtype})")
    wide = wide.with_columns(pl.col(assets).cast(pl.Float64))
    long = wide.unpivot(index="date", on=assets, variable_name="asset", value_name="close")
    present = (pl.col("close").is_not_null() & pl.col("close").is_not_nan()).cast(pl.Int32)
    long = long.filter(
        (present.cum_sum().over("asset") > 0) & (present.cum_sum(reverse=True).over("asset") > 0)
    )
    empty = [a for a in assets if a not in set(long["asset"].unique())]
    if empty:
        raise DataError(f"{name}: asset column '{empty[0]}' has no prices")
    return validate_panel(long, name=name)


def adjust_ohlc(df: pl.DataFrame, raw_close: str, *, name: str, header: str = "Close") -> pl.DataFrame:
    """Put ``open``/``high``/``low`` on the basis of an adjusted ``close``, and drop ``raw_close``.

    Vendors adjust the close for splits and dividends ("Adj Close") but not the open, high
    and low. Multiplying them by ``close / raw_close`` (yfinance's own ``auto_adjust``)
    keeps every intraday ratio (high/low, close/open) as traded and makes the four prices
    comparable. Where the two closes agree (an index) nothing changes; without a
    ``raw_close`` column the frame is returned as is.

    Raises
    ------
    DataError
        When ``raw_close`` is missing (null), NaN, infinite, zero or negative:
        ``"<name>: column '<header>' is zero for asset 'X' on 2020-01-03"``, ``header``
        being the raw close's name in the source.
    """
    if raw_close not in df.columns:
        return df
    _check_prices(df, raw_close, name=name, header=header)
    factor = pl.col("close") / pl.col(raw_close)
    ohlc = [c for c in ("open", "high", "low") if c in df.columns]
    return df.with_columns(*(pl.col(c) * factor for c in ohlc)).drop(raw_close)
