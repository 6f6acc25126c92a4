"""Daily price panels from a user's CSV or parquet file (and a separate sector file).

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

**Only what the run uses is checked.** The assets asked for are selected, and the dates from
``start`` to ``end``, before any value is parsed or validated: a bad value in another asset's
rows, or outside the dates, does not stop the run. Among the selected rows, ``date``,
``asset``, ``close`` and the ``columns`` the run needs must be valid; a gap in another
optional column is kept as null and reported (:func:`~volbook.data.schema.validate_panel`).

A market cap may be a time series or a single snapshot per asset: repeated on every row, or
given on one row only (then copied to the asset's other rows). A separate sector file
(``sectors=``) has an asset column and a ``sector`` (or ``gics sector``) column, and may
carry a ``market cap`` snapshot.

Text quirks (separators, decimal commas, thousands separators, date formats, preamble lines,
encodings) are handled or refused by :mod:`volbook.data.tables`; every error is one line
starting with the file's path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from pathlib import Path

import polars as pl

from volbook.data.schema import adjust_ohlc, validate_panel, wide_to_long
from volbook.data.tables import detect_decimal, normalize, parse_dates, parse_numbers, read_table
from volbook.errors import DataError, ParameterError

__all__ = ["HEADER_ALIASES", "LAYOUTS", "keep_assets", "read_panel_file", "read_sector_file", "select_assets"]

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
    "sector": ("sector", "gicssector"),
}

#: The ``layout`` values :func:`read_panel_file` accepts.
LAYOUTS = ("auto", "long", "wide")
_KNOWN = {alias for aliases in HEADER_ALIASES.values() for alias in aliases}
_NO_CLOSE = "missing column 'close' (looked for headers: adj close, close, price)"


def _match_headers(columns: list[str], name: str) -> dict[str, str]:
    """Panel column -> file header, for the headers that match an alias."""
    by_key: dict[str, str] = {}
    for header in columns:
        key = normalize(header)
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
    known = sum(normalize(h) in _KNOWN for h in columns if h != headers["date"])
    return len(columns) - 1 - known >= known


def select_assets(available: Sequence[str], assets: Sequence[str] | None, name: str) -> None:
    """Refuse an asset of ``assets`` that is not in ``available``, listing what is."""
    if assets is None:
        return
    if isinstance(assets, str):
        raise ParameterError(f"assets must be a list of names, got the string {assets!r}")
    known = set(available)
    for asset in assets:
        if asset not in known:
            listed = ", ".join(sorted(known)) if len(known) <= 20 else f"{len(known)} assets"
            raise DataError(f"{name}: unknown asset '{asset}' (available: {listed})")


def keep_assets(raw: pl.DataFrame, header: str | None, default: str, assets: Sequence[str] | None,
                name: str) -> pl.DataFrame:
    """``raw`` with an ``__asset`` column (the ``header`` column's names, stripped, or
    ``default`` on every row when there is none), keeping the rows of ``assets`` only
    (all when None); an unknown asset is an error (:func:`select_assets`)."""
    if header is not None:
        asset = raw[header].cast(pl.String).str.strip_chars()
    else:
        asset = pl.Series([default] * raw.height, dtype=pl.String)
    select_assets(asset.unique().drop_nulls().to_list(), assets, name)
    raw = raw.with_columns(asset.alias("__asset"))
    return raw if assets is None else raw.filter(pl.col("__asset").is_in(list(assets)))


def _in_window(start: dt.date | None, end: dt.date | None, col: str = "date") -> pl.Expr:
    day = pl.col(col).cast(pl.Date)
    keep = pl.lit(True)
    if start is not None:
        keep = keep & (day >= start)
    if end is not None:
        keep = keep & (day <= end)
    return keep


def _fill_snapshot(frame: pl.DataFrame) -> pl.DataFrame:
    """A market cap given on one row of an asset (a snapshot) copied to its other rows."""
    if "market_cap" not in frame.columns:
        return frame
    cap = pl.col("market_cap")
    one = (cap.drop_nulls().n_unique() == 1).over("asset")
    return frame.with_columns(pl.when(one).then(cap.drop_nulls().first().over("asset")).otherwise(cap).alias("market_cap"))


def read_sector_file(path: str | Path, *, decimal: str | None = None) -> pl.DataFrame:
    """Static attributes per asset: ``asset``, ``sector`` and optionally ``market_cap``.

    The file has an asset column (``asset``, ``ticker``, ``symbol``), a sector column
    (``sector``, ``gics sector``) and optionally a market-cap snapshot (``market cap``,
    ``mktcap``); other columns are ignored.

    Raises
    ------
    DataError
        No asset or sector column, an asset listed twice, or a bad market cap.
    """
    table = read_table(path, aliases=HEADER_ALIASES["asset"])
    raw, name = table.frame, table.name
    headers = _match_headers(raw.columns, name)
    for col in ("asset", "sector"):
        if col not in headers:
            looked = ", ".join(HEADER_ALIASES[col])
            raise DataError(f"{name}: missing column '{col}' (looked for headers: {looked})")
    out = pl.DataFrame([
        raw[headers["asset"]].cast(pl.String).str.strip_chars().alias("asset"),
        raw[headers["sector"]].cast(pl.String).str.strip_chars().alias("sector"),
        *([parse_numbers(raw[headers["market_cap"]], name, decimal=decimal, separator=table.separator)
           .cast(pl.Float64).alias("market_cap")] if "market_cap" in headers else []),
    ])
    dup = out.filter(pl.col("asset").is_duplicated())
    if dup.height:
        raise DataError(f"{name}: asset '{dup['asset'][0]}' is listed twice; give one row per asset")
    if "market_cap" in out.columns:
        bad = out.filter(~(pl.col("market_cap").is_finite() & (pl.col("market_cap") > 0)).fill_null(True))
        if bad.height:
            raise DataError(f"{name}: column 'market_cap' is not a positive number for asset '{bad['asset'][0]}'")
    return out


def _join_sectors(frame: pl.DataFrame, sectors: str | Path, name: str, decimal: str | None) -> pl.DataFrame:
    attributes = read_sector_file(sectors, decimal=decimal)
    twice = [c for c in attributes.columns if c != "asset" and c in frame.columns]
    if twice:
        raise DataError(f"{name}: column '{twice[0]}' is in the file and in the sector file {sectors}; keep one")
    return frame.join(attributes, on="asset", how="left")


def read_panel_file(
    path: str | Path,
    *,
    date_format: str | None = None,
    layout: str = "auto",
    decimal: str | None = None,
    sectors: str | Path | None = None,
    assets: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    columns: Collection[str] | None = None,
) -> pl.DataFrame:
    """Read a daily price panel from a CSV or parquet file (layouts and quirks: module doc).

    Parameters
    ----------
    path
        ``.csv`` (or ``.txt``, ``.csv.gz``) or ``.parquet`` (or ``.pq``) file.
    date_format
        A ``strftime`` format forcing how text dates are read, e.g. ``"%d.%m.%Y"``.
    layout
        ``"auto"`` (from the headers, see the module doc), ``"long"`` (an asset column, or
        a single asset) or ``"wide"`` (every column but the date is an asset's close).
    decimal
        ``"."`` or ``","`` forces the decimal mark; None detects it
        (:func:`~volbook.data.tables.parse_numbers`).
    sectors
        A sector file (:func:`read_sector_file`) joined on the asset.
    assets
        Keep these assets only (None: all); an unknown one is an error.
    start, end
        Keep these dates only (inclusive).
    columns
        Columns the run needs (:func:`~volbook.data.schema.validate_panel`); None: all.

    Returns
    -------
    polars.DataFrame
        A validated panel (:func:`~volbook.data.schema.validate_panel`).

    Raises
    ------
    ParameterError
        An unknown ``layout`` or ``decimal``.
    DataError
        One line naming the file and the problem: unreadable file, missing date or close
        column, unparseable or ambiguous dates, non-numeric prices, duplicate or unsorted
        dates, missing, NaN, infinite, zero or negative prices (or raw close), an unknown
        asset, no rows between ``start`` and ``end``.
    """
    if layout not in LAYOUTS:
        raise ParameterError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    table = read_table(path, aliases=HEADER_ALIASES["date"])
    raw, name, sep = table.frame, table.name, table.separator
    stem = Path(name).name.split(".")[0]
    dates = [h for h in raw.columns if normalize(h) in HEADER_ALIASES["date"]]
    headers = _match_headers(dates if layout == "wide" else raw.columns, name)
    if "date" not in headers:
        looked = ", ".join(HEADER_ALIASES["date"])
        raise DataError(f"{name}: missing column 'date' (looked for headers: {looked})")

    if layout == "wide" or (layout == "auto" and _is_wide(raw.columns, headers)):
        names = [c for c in raw.columns if c != headers["date"]]
        select_assets(names, assets, name)
        keep = names if assets is None else list(dict.fromkeys(assets))
        wide = raw.select(headers["date"], *keep)
        wide = wide.with_columns(parse_dates(wide[headers["date"]], name, date_format)).rename(
            {headers["date"]: "date"}).filter(_in_window(start, end))
        decimal = detect_decimal(table, keep, decimal)
        prices = [parse_numbers(wide[c], name, decimal=decimal, separator=sep) for c in keep]
        frame = wide_to_long(pl.DataFrame([wide["date"], *prices]), name=name) if wide.height else None
    else:
        if "close" not in headers:
            hint = ""
            if layout == "auto" and "asset" not in headers:  # maybe a wide file with a ticker like LOW
                field = next(h for col, h in headers.items() if col != "date")
                hint = f"; if '{field}' is an asset, pass layout=\"wide\""
            raise DataError(f"{name}: {_NO_CLOSE}{hint}")
        # an unadjusted close besides an adjusted one puts open/high/low on the adjusted basis
        raw_close = next((h for h in raw.columns if normalize(h) == "close" and h != headers["close"]), None)
        text = keep_assets(raw, headers.get("asset"), stem, assets, name)
        text = text.with_columns(parse_dates(text[headers["date"]], name, date_format).alias("__date"))
        text = text.filter(_in_window(start, end, "__date"))
        numbers = {col: h for col, h in headers.items() if col not in ("date", "asset", "sector")}
        decimal = detect_decimal(table, [*numbers.values(), *([raw_close] if raw_close else [])], decimal)
        frame = pl.DataFrame(
            [
                text["__date"].alias("date"),
                text["__asset"].alias("asset"),
                *(parse_numbers(text[h], name, decimal=decimal, separator=sep).alias(col) for col, h in numbers.items()),
                *([text[headers["sector"]].str.strip_chars().alias("sector")] if "sector" in headers else []),
                *([parse_numbers(text[raw_close], name, decimal=decimal, separator=sep).alias("raw_close")]
                  if raw_close else []),
            ]
        ) if text.height else None
        if frame is not None:
            frame = adjust_ohlc(frame, "raw_close", name=name, header=raw_close)
    if frame is None or frame.height == 0:
        raise DataError(f"{name}: no rows from {start or 'the start'} to {end or 'the end'}")
    if sectors is not None:
        frame = _join_sectors(frame, sectors, name, decimal)
    return validate_panel(_fill_snapshot(frame), name=name, columns=columns)
