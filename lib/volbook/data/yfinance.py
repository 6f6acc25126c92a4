"""Daily prices from Yahoo Finance through the optional ``yfinance`` package.

The download (:func:`download_yfinance`, needs the network and ``pip install -e .[yfinance]``)
is kept apart from the parsing (:func:`parse_yfinance`, pure, tested offline on frames shaped
like yfinance's output). Nothing in the book's tests or chapters downloads anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import polars as pl

from volbook.data.schema import adjust_ohlc, validate_panel
from volbook.errors import DataError, ParameterError

__all__ = ["download_yfinance", "parse_yfinance"]

_FIELDS = {
    "Adj Close": "close",
    "Close": "raw_close",
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Volume": "volume",
}


def _parse_one(frame: pd.DataFrame, ticker: str) -> pl.DataFrame:
    if "Close" not in frame.columns:
        raise DataError(f"yfinance: no 'Close' column for '{ticker}'")
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        index = index.tz_localize(None)  # keep the exchange's local calendar date
    fields = {f: c for f, c in _FIELDS.items() if f in frame.columns}
    if "Adj Close" not in fields:
        fields["Close"] = "close"
    out = pl.DataFrame(
        {"date": index.to_numpy(), "asset": ticker}
        | {col: frame[f].to_numpy(dtype="float64") for f, col in fields.items()}
    )
    out = out.filter(pl.col("close").is_not_nan())
    return adjust_ohlc(out, "raw_close", name="yfinance")


def parse_yfinance(frame: pd.DataFrame, *, ticker: str | None = None) -> pl.DataFrame:
    """A validated panel from the frame ``yfinance.download`` returns.

    Parameters
    ----------
    frame
        Either one ticker with columns ``Open``, ``High``, ``Low``, ``Close``, ``Adj Close``
        (absent when ``auto_adjust=True``), ``Volume``; or several tickers with two-level
        columns (Price, Ticker) (``group_by="column"``) or (Ticker, Price)
        (``group_by="ticker"``). The index holds the dates, naive or time-zone aware (the
        local date is kept).
    ticker
        The asset name for a frame with single-level columns (ignored otherwise).

    Returns
    -------
    polars.DataFrame
        A panel with ``close`` = ``Adj Close`` when present (else ``Close``), ``open``,
        ``high`` and ``low`` scaled by Adj Close / Close
        (:func:`~volbook.data.schema.adjust_ohlc`), and ``volume``. Rows where a ticker has
        no close (dates on which only the other tickers traded, or before it listed) are
        dropped.
    """
    if isinstance(frame.columns, pd.MultiIndex):
        levels = [i for i in range(frame.columns.nlevels) if "Close" in frame.columns.get_level_values(i)]
        if frame.columns.nlevels != 2 or not levels:
            raise DataError("yfinance: expected two column levels (Price, Ticker) with a 'Close' price")
        ticker_level = 1 - levels[0]
        tickers = list(dict.fromkeys(frame.columns.get_level_values(ticker_level)))
        parts = [_parse_one(frame.xs(t, axis=1, level=ticker_level), str(t)) for t in tickers]
    else:
        if ticker is None:
            raise ParameterError("parse_yfinance: a frame with single-level columns needs ticker=")
        parts = [_parse_one(frame, ticker)]
    return validate_panel(pl.concat(parts, how="diagonal"), name="yfinance")


def download_yfinance(
    assets: Sequence[str], start: dt.date | None = None, end: dt.date | None = None
) -> pl.DataFrame:
    """Download daily prices of ``assets`` from Yahoo Finance, ``start`` to ``end`` inclusive.

    Needs the network and the optional extra (``pip install -e .[yfinance]``). Prices are
    requested unadjusted with "Adj Close" (``auto_adjust=False``) and parsed by
    :func:`parse_yfinance`.
    """
    try:
        import yfinance
    except ImportError as exc:
        raise ParameterError(
            "source 'yfinance' needs the optional extra: pip install -e .[yfinance]"
        ) from exc
    if not assets:
        raise ParameterError("source 'yfinance' needs assets=[...] (the tickers to download)")
    frame = yfinance.download(
        list(assets),
        start=start,
        end=None if end is None else end + dt.timedelta(days=1),  # yfinance's end is exclusive
        auto_adjust=False,
        actions=False,
        group_by="column",
        progress=False,
        threads=False,
    )
    if frame is None or frame.empty:
        raise DataError(f"yfinance: no rows for {', '.join(assets)}")
    return parse_yfinance(frame, ticker=assets[0])
