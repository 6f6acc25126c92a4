"""Daily price panels from a user's CSV or parquet file.

Three layouts are recognised from the headers (matched case-insensitively, ignoring spaces,
dots and underscores, so ``Adj Close``, ``adj_close`` and ``ADJ. CLOSE`` are one header):

long
    A date column, an asset column (``asset``, ``ticker`` or ``symbol``), a close column and
    optionally ``open``, ``high``, ``low``, ``volume``, ``market_cap`` (or ``mktcap``) and
    ``sector``. Rows may be grouped by asset or by date; each asset's dates must increase.
    Other columns are ignored.
single asset
    A date column and a close column but no asset column (a vendor's one-ticker download,
    e.g. Yahoo's Date, Open, High, Low, Close, Adj Close, Volume). The asset is named after
    the file (``SPY.csv`` -> ``SPY``). Other columns are ignored.
wide
    A date column and one price column per asset, headed by the asset's name. Empty cells
    before an asset's first price and after its last are dropped (assets entering and
    leaving the universe); an empty cell between two prices is an error.

``layout="auto"`` reads a file without an asset, volume, market cap or sector column as wide
when at least as many of its non-date columns are unrecognised headers as recognised ones
(``date,AAPL,Price`` and ``date,AAPL,LOW`` are wide; Yahoo's ``Date,Open,High,Low,Close,
Volume,Dividends,Stock Splits`` is one asset), else as long or single asset.
``layout="wide"`` makes every column but the date an asset (a ticker such as ``LOW``);
``layout="long"`` never reads the file as wide.

Date headers: ``date``, ``timestamp``, ``datetime``. Close headers, in order of preference:
``adj close`` / ``adjusted close``, then ``close``, then ``price``. When the adjusted close
is used and the file also has the raw close, ``open``, ``high`` and ``low`` are scaled by
adj close / close (:func:`~volbook.data.schema.adjust_ohlc`); ``volume`` is kept as is.

Vendor quirks handled: thousands separators (``"1,234.50"``; a comma in any other place is
refused, so a decimal comma is never misread), surrounding spaces, and dates written
``YYYY-MM-DD``, ``MM/DD/YYYY`` or ``DD/MM/YYYY`` with four-digit years, detected from the
whole column. Slash dates that read both ways (no day above 12) are refused: pass
``date_format``. A market cap that is a single snapshot repeated on every row is fine.
Everything else the panel schema requires (no duplicates, dates in order, finite positive
prices) is checked by :func:`~volbook.data.schema.validate_panel`; every error is one line
starting with the file's path.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from volbook.data.schema import adjust_ohlc, unpivot_wide, validate_panel
from volbook.errors import DataError, ParameterError

__all__ = ["HEADER_ALIASES", "LAYOUTS", "read_panel_file"]

#: Accepted headers per panel column (normalized: lower case, letters and digits only),
#: in order of preference.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "timestamp", "datetime"),
    "asset": ("asset", "ticker", "symbol"),
    "close": ("adjclose", "adjustedclose", "close", "price"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "volume": ("volume",),
    "market_cap": ("marketcap", "mktcap"),
    "sector": ("sector",),
}

#: The ``layout`` values :func:`read_panel_file` accepts.
LAYOUTS = ("auto", "long", "wide")
_KNOWN = {alias for aliases in HEADER_ALIASES.values() for alias in aliases}

# (format, what the text must look like): four-digit years only, so "1/2/20" is not year 20
_DATE_FORMATS = (
    ("%Y-%m-%d", r"^\d{4}-\d{1,2}-\d{1,2}$"),
    ("%m/%d/%Y", r"^\d{1,2}/\d{1,2}/\d{4}$"),
    ("%d/%m/%Y", r"^\d{1,2}/\d{1,2}/\d{4}$"),
)
_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$"
_NO_CLOSE = "missing column 'close' (looked for headers: adj close, close, price)"


def _normalize(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _read(path: Path, name: str) -> pl.DataFrame:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataError(f"{name}: no such file")
    try:
        if suffix in (".csv", ".txt"):
            return pl.read_csv(path, infer_schema=False)
        if suffix in (".parquet", ".pq"):
            return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"{name}: cannot read the file ({str(exc).splitlines()[0]})") from exc
    raise DataError(f"{name}: unsupported file type '{suffix}' (use .csv or .parquet)")


def _match_headers(columns: list[str], name: str) -> dict[str, str]:
    """Panel column -> file header, for the headers that match an alias."""
    by_key: dict[str, str] = {}
    for header in columns:
        key = _normalize(header)
        if key in by_key:
            raise DataError(f"{name}: columns '{by_key[key]}' and '{header}' have the same meaning")
        by_key[key] = header
    return {
        col: next(by_key[a] for a in aliases if a in by_key)
        for col, aliases in HEADER_ALIASES.items()
        if any(a in by_key for a in aliases)
    }


def _is_wide(columns: list[str], headers: dict[str, str]) -> bool:
    """``layout="auto"``: no asset/volume/market cap/sector column, and at least as many
    unrecognised non-date columns as recognised ones."""
    if any(col in headers for col in ("asset", "volume", "market_cap", "sector")):
        return False
    known = sum(_normalize(h) in _KNOWN for h in columns if h != headers["date"])
    return len(columns) - 1 - known >= known


def _parse_dates(column: pl.Series, name: str, date_format: str | None) -> pl.Series:
    header = column.name
    if column.dtype != pl.String:
        if date_format is not None:
            raise ParameterError(
                f"date_format applies to text dates; column '{header}' of {name} holds {column.dtype}"
            )
        return column
    text = column.str.strip_chars()
    present = text.is_not_null()
    if date_format is not None:
        parsed = text.str.strptime(pl.Date, date_format, strict=False)
        bad = text.filter(present & parsed.is_null())
        if bad.len():
            raise DataError(
                f"{name}: column '{header}' has a date '{bad[0]}' that does not match "
                f"date_format '{date_format}'"
            )
        return parsed
    parsed = pl.DataFrame({"text": text}).select(
        **{
            fmt: pl.when(pl.col("text").str.contains(pattern)).then(
                pl.col("text").str.strptime(pl.Date, fmt, strict=False)
            )
            for fmt, pattern in _DATE_FORMATS
        }
    )
    complete = [fmt for fmt in parsed.columns if parsed[fmt].is_not_null().sum() == present.sum()]
    if complete == ["%m/%d/%Y", "%d/%m/%Y"]:
        raise DataError(
            f"{name}: dates in column '{header}' such as '{text.drop_nulls()[0]}' read as "
            "MM/DD/YYYY and as DD/MM/YYYY; pass date_format='%m/%d/%Y' or '%d/%m/%Y'"
        )
    if complete:
        return parsed[complete[0]].alias(header)
    none = text.filter(present & parsed.select(pl.all_horizontal(pl.all().is_null())).to_series())
    if none.len():
        raise DataError(
            f"{name}: column '{header}' has an unparseable date '{none[0]}' "
            "(expected YYYY-MM-DD or MM/DD/YYYY, or pass date_format)"
        )
    raise DataError(f"{name}: column '{header}' mixes date formats; pass date_format")


def _parse_numbers(column: pl.Series, name: str) -> pl.Series:
    if column.dtype != pl.String:
        return column
    text = column.str.strip_chars()
    text = pl.select(
        pl.when(text.str.contains(_THOUSANDS)).then(text.str.replace_all(",", "")).otherwise(text)
    ).to_series()
    values = text.cast(pl.Float64, strict=False)
    bad = column.filter(text.is_not_null() & (text != "") & values.is_null())
    if bad.len():
        raise DataError(f"{name}: column '{column.name}' has a non-numeric value '{bad[0]}'")
    return values.alias(column.name)


def read_panel_file(
    path: str | Path, *, date_format: str | None = None, layout: str = "auto"
) -> pl.DataFrame:
    """Read a daily price panel from a CSV or parquet file (layouts and quirks: module doc).

    Parameters
    ----------
    path
        ``.csv`` (or ``.txt``) or ``.parquet`` (or ``.pq``) file.
    date_format
        A ``strftime`` format forcing how text dates are read, e.g. ``"%d.%m.%Y"``.
    layout
        ``"auto"`` (from the headers, see the module doc), ``"long"`` (an asset column, or
        a single asset) or ``"wide"`` (every column but the date is an asset's close).

    Returns
    -------
    polars.DataFrame
        A validated panel (:func:`~volbook.data.schema.validate_panel`).

    Raises
    ------
    ParameterError
        An unknown ``layout``.
    DataError
        One line naming the file and the problem: unreadable file, missing date or close
        column, unparseable or ambiguous dates, non-numeric prices, duplicate or unsorted
        dates, missing, NaN, infinite, zero or negative prices (or raw close).
    """
    if layout not in LAYOUTS:
        raise ParameterError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    path = Path(path)
    name = str(path)
    raw = _read(path, name)
    dates = [h for h in raw.columns if _normalize(h) in HEADER_ALIASES["date"]]
    headers = _match_headers(dates if layout == "wide" else raw.columns, name)
    if "date" not in headers:
        looked = ", ".join(HEADER_ALIASES["date"])
        raise DataError(f"{name}: missing column 'date' (looked for headers: {looked})")
    date_col = _parse_dates(raw[headers["date"]], name, date_format).alias("date")

    if layout == "wide" or (layout == "auto" and _is_wide(raw.columns, headers)):
        prices = [_parse_numbers(raw[c], name) for c in raw.columns if c != headers["date"]]
        return unpivot_wide(pl.DataFrame([date_col, *prices]), name=name)

    if "close" not in headers:
        hint = ""
        if layout == "auto" and "asset" not in headers:  # maybe a wide file with a ticker like LOW
            field = next(h for col, h in headers.items() if col != "date")
            hint = f"; if '{field}' is an asset, pass layout=\"wide\""
        raise DataError(f"{name}: {_NO_CLOSE}{hint}")
    columns = {col: raw[h] for col, h in headers.items() if col not in ("date", "asset", "sector")}
    # an unadjusted close besides an adjusted one puts open/high/low on the adjusted basis
    raw_close = next((h for h in raw.columns if _normalize(h) == "close" and h != headers["close"]), None)
    asset = raw[headers["asset"]] if "asset" in headers else pl.Series([path.stem] * raw.height)
    frame = pl.DataFrame(
        [
            date_col,
            asset.alias("asset"),
            *(_parse_numbers(series, name).alias(col) for col, series in columns.items()),
            *([raw[headers["sector"]].alias("sector")] if "sector" in headers else []),
            *([_parse_numbers(raw[raw_close], name).alias("raw_close")] if raw_close else []),
        ]
    )
    return validate_panel(adjust_ohlc(frame, "raw_close", name=name, header=raw_close), name=name)
