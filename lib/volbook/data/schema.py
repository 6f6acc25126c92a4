"""The panel schema every source returns, and the checks that enforce it.

A *panel* is a long polars frame, one row per (asset, date), sorted by (asset, date):

=================  =========  =========  ==============================================
column             dtype      required   meaning
=================  =========  =========  ==============================================
``date``           Date       yes        trading day
``asset``          String     yes        ticker or name
``close``          Float64    yes        closing price (adjusted for splits and dividends
                                         where the source provides it), finite and > 0
``open``           Float64    no         opening price, same basis as ``close``, > 0
``high``           Float64    no         daily high, same basis as ``close``, > 0
``low``            Float64    no         daily low, same basis as ``close``, > 0
``volume``         Float64    no         traded volume, finite and >= 0
``market_cap``     Float64    no         market capitalization, finite and > 0 (a time
                                         series or a snapshot repeated on every row)
``sector``         String     no         sector label
``rv``             Float64    no         realized variance of the day (daily variance
                                         units), >= 0
``bv``             Float64    no         bipower variation, >= 0
``jv``             Float64    no         jump variation max(rv - bv, 0), >= 0
``rq``             Float64    no         realized quarticity, >= 0
``rkurt``          Float64    no         realized kurtosis, >= 0
``overnight_ret``  Float64    no         log return from the previous close to the
                                         session's first price (null on the first day)
``open_to_close``  Float64    no         log return from the session's first to its
                                         last price
``n_bars``         Int64      no         intraday returns observed that day, >= 0
=================  =========  =========  ==============================================

The realized columns (``rv`` .. ``n_bars``) come from intraday bars
(:mod:`volbook.data.intraday`) or a realized-measure file (:mod:`volbook.data.oxford_man`).

**What a run needs is checked, the rest is reported.** :func:`validate_panel` with
``columns=None`` requires a valid value in every column present. With ``columns`` (the
columns a run uses; what :func:`volbook.data.load` passes) only ``date``, ``asset``,
``close`` and those columns must be complete and valid; a missing or invalid value in another
optional column becomes null and is reported by a :class:`~volbook.errors.DataWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from typing import NamedTuple

import polars as pl

from volbook.errors import DataError, DataWarning

__all__ = [
    "ColumnSpec",
    "SCHEMA",
    "adjust_ohlc",
    "require_rows",
    "unpivot_wide",
    "validate_panel",
    "wide_to_long",
]


class ColumnSpec(NamedTuple):
    """One column of the panel schema.

    ``dtype`` is its polars dtype, ``required`` whether every panel has it, ``check`` what a
    valid value is: ``"date"``, ``"label"`` (a string), ``"price"`` (finite, > 0),
    ``"nonnegative"`` (finite, >= 0) or ``"finite"``.
    """

    dtype: type[pl.DataType]
    required: bool
    check: str = "price"


#: The panel schema: column -> (dtype, required, check), in the column order of every panel.
SCHEMA: dict[str, ColumnSpec] = {
    "date": ColumnSpec(pl.Date, True, "date"),
    "asset": ColumnSpec(pl.String, True, "label"),
    "close": ColumnSpec(pl.Float64, True),
    "open": ColumnSpec(pl.Float64, False),
    "high": ColumnSpec(pl.Float64, False),
    "low": ColumnSpec(pl.Float64, False),
    "volume": ColumnSpec(pl.Float64, False, "nonnegative"),
    "market_cap": ColumnSpec(pl.Float64, False),
    "sector": ColumnSpec(pl.String, False, "label"),
    "rv": ColumnSpec(pl.Float64, False, "nonnegative"),
    "bv": ColumnSpec(pl.Float64, False, "nonnegative"),
    "jv": ColumnSpec(pl.Float64, False, "nonnegative"),
    "rq": ColumnSpec(pl.Float64, False, "nonnegative"),
    "rkurt": ColumnSpec(pl.Float64, False, "nonnegative"),
    "overnight_ret": ColumnSpec(pl.Float64, False, "finite"),
    "open_to_close": ColumnSpec(pl.Float64, False, "finite"),
    "n_bars": ColumnSpec(pl.Int64, False, "nonnegative"),
}

_NUMERIC = tuple(c for c, spec in SCHEMA.items() if spec.check not in ("date", "label"))
# columns whose value on an asset's first row may be null (nothing before it)
_FIRST_ROW_MAY_BE_NULL = ("overnight_ret",)


def _where(row: dict) -> str:
    return f"asset '{row['asset']}' on {row['date']}"


def _invalid(col: str, check: str) -> pl.Expr:
    """True where ``col`` holds no valid value under ``check`` (null, NaN, inf, sign)."""
    x = pl.col(col)
    bad = x.is_null()
    if check in ("price", "nonnegative", "finite"):
        bad = bad | ~x.cast(pl.Float64).is_finite()
    if check == "price":
        bad = bad | (x <= 0)
    elif check == "nonnegative":
        bad = bad | (x < 0)
    if col in _FIRST_ROW_MAY_BE_NULL:
        bad = bad & ~(x.is_null() & (pl.int_range(pl.len()).over("asset") == 0))
    return bad.fill_null(True)


def _describe(value: object) -> str:
    if value is None:
        return "missing (null)"
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and abs(value) == float("inf"):
        return "infinite"
    return "zero" if value == 0 else f"negative ({value})"


def _check_prices(df: pl.DataFrame, col: str, *, name: str, header: str | None = None,
                  check: str = "price") -> None:
    """Refuse a value of ``col`` that is invalid under ``check`` (null, NaN, infinite, zero or
    negative for a price), naming ``header`` (default ``col``), the asset and the date."""
    bad = df.filter(_invalid(col, check))
    if bad.height:
        row = bad.row(0, named=True)
        raise DataError(f"{name}: column '{header or col}' is {_describe(row[col])} for {_where(row)}")


def _null_unneeded(df: pl.DataFrame, col: str, *, name: str) -> pl.DataFrame:
    """Set invalid values of an optional column the run does not use to null; warn once."""
    bad = _invalid(col, SCHEMA[col].check)
    flagged = df.select(bad.alias("bad"), pl.col(col), "asset", "date").filter("bad")
    if flagged.height:
        row = flagged.row(0, named=True)
        n = flagged.height
        warnings.warn(
            DataWarning(
                f"{name}: column '{col}' is missing or invalid on {n} row{'s' * (n > 1)} "
                f"(first: {_describe(row[col])} for {_where(row)}); kept as null because this "
                "run does not use it"
            ),
            stacklevel=4,
        )
        return df.with_columns(pl.when(bad).then(None).otherwise(pl.col(col)).alias(col))
    return df


def _check_not_constant(df: pl.DataFrame, *, name: str) -> None:
    """Refuse an asset whose close never changes (every return would be zero)."""
    flat = (
        df.group_by("asset")
        .agg(pl.len().alias("n"), pl.col("close").min().alias("lo"), pl.col("close").max().alias("hi"))
        .filter((pl.col("n") > 1) & (pl.col("lo") == pl.col("hi")))
        .sort("asset")
    )
    if flat.height:
        asset, n, value, _ = flat.row(0)
        raise DataError(
            f"{name}: asset '{asset}' has the same close ({value:g}) on all {n} rows, so every "
            "return is zero; check the close column (a stale or placeholder series) or leave "
            "the asset out"
        )


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


def validate_panel(
    df: pl.DataFrame, *, name: str, columns: Collection[str] | None = None
) -> pl.DataFrame:
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
    columns
        The columns the run needs besides ``date``, ``asset`` and ``close``: each must be
        present with a valid value on every row. A missing or invalid value in another
        optional column is set to null and reported by one
        :class:`~volbook.errors.DataWarning` per column. None (the default): every column
        present is needed.

    Returns
    -------
    polars.DataFrame
        Columns in :data:`SCHEMA` order (required first, then the optional ones present),
        cast to their schema dtypes, sorted by (asset, date).

    Raises
    ------
    DataError
        On a missing or unknown column, a non-numeric price column, an unparseable date, a
        missing value, a duplicate (asset, date), dates out of order within an asset, a
        price that is NaN, infinite, zero or negative (a negative volume or realized
        measure), or an asset whose close is the same on every row (all returns zero). The
        one-line message names the column, asset and date of the first offender.
    """
    needed = [c for c, spec in SCHEMA.items() if spec.required]
    if columns is not None:
        unknown = [c for c in columns if c not in SCHEMA]
        if unknown:
            raise DataError(f"{name}: unknown column '{unknown[0]}' asked for (panel columns: {', '.join(SCHEMA)})")
        needed += [c for c in SCHEMA if c in columns and c not in needed]
    for col in needed:
        if col not in df.columns:
            uses = f" (this run uses: {', '.join(needed)})" if columns is not None and col not in ("date", "asset", "close") else ""
            raise DataError(f"{name}: missing column '{col}'{uses}")
    unknown = [c for c in df.columns if c not in SCHEMA]
    if unknown:
        raise DataError(f"{name}: unknown column '{unknown[0]}' (panel columns: {', '.join(SCHEMA)})")
    if df.height == 0:
        raise DataError(f"{name}: no rows")
    for col in _NUMERIC:
        if col in df.columns and not (df[col].dtype.is_numeric() or df[col].dtype == pl.Null):
            raise DataError(f"{name}: column '{col}' is not numeric (dtype {df[col].dtype})")
    present = [c for c in SCHEMA if c in df.columns]
    out = df.select(present).with_columns(
        _parse_dates(df["date"], name),
        *(pl.col(c).cast(SCHEMA[c].dtype) for c in present if c != "date"),
    )
    for col in ("date", "asset"):
        missing = out[col].is_null()
        if missing.any():
            raise DataError(f"{name}: column '{col}' is missing (null) for row {int(missing.arg_true()[0]) + 1}")
    asset, date = pl.col("asset"), pl.col("date")
    in_order = (asset > asset.shift(1)) | ((asset == asset.shift(1)) & (date > date.shift(1)))
    if not out.select(in_order.fill_null(True).all()).item():  # else sorted, unique: nothing to do
        ordered = out.sort("asset", "date", maintain_order=True)
        dup = ordered.filter((asset == asset.shift(1)) & (date == date.shift(1)))
        if dup.height:
            raise DataError(f"{name}: duplicate row for {_where(dup.row(0, named=True))}")
        back = out.with_columns(prev=date.shift(1).over("asset")).filter(date < pl.col("prev"))
        if back.height:
            row = back.row(0, named=True)
            raise DataError(
                f"{name}: dates out of order for asset '{row['asset']}': {row['date']} comes after {row['prev']}"
            )
        out = ordered
    for col in present:
        check = SCHEMA[col].check
        if check == "date":
            continue
        if col in needed or columns is None:
            if check == "label":
                missing = out.filter(pl.col(col).is_null())
                if missing.height:
                    raise DataError(f"{name}: column '{col}' is missing (null) for {_where(missing.row(0, named=True))}")
            else:
                _check_prices(out, col, name=name, check=check)
        else:
            out = _null_unneeded(out, col, name=name)
    _check_not_constant(out, name=name)
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


def wide_to_long(wide: pl.DataFrame, *, name: str) -> pl.DataFrame:
    """A long frame (date, asset, close) from a wide one: a ``date`` column and one close
    column per asset, not yet validated.

    Missing values (null or NaN) before an asset's first price and after its last are
    dropped (the asset was not yet, or no longer, in the universe); a column without any
    price is an error. A missing value between two prices is kept (null), for
    :func:`validate_panel` to refuse or report.
    """
    assets = [c for c in wide.columns if c != "date"]
    if not assets:
        raise DataError(f"{name}: no asset columns besides 'date'")
    for col in assets:
        if not (wide[col].dtype.is_numeric() or wide[col].dtype == pl.Null):
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
    return long


def unpivot_wide(
    wide: pl.DataFrame, *, name: str, columns: Collection[str] | None = None
) -> pl.DataFrame:
    """A validated panel from a wide frame: a ``date`` column and one close column per asset.

    Missing values (null or NaN) before an asset's first price and after its last are
    dropped (the asset was not yet, or no longer, in the universe); a missing value between
    two prices is an error, as is a column without any price (:func:`wide_to_long`).
    """
    return validate_panel(wide_to_long(wide, name=name), name=name, columns=columns)


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
