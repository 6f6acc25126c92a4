"""Real market data shipped inside installed packages (``arch.data``, ``skfolio.datasets``).

Nothing is downloaded: the files are part of the ``arch`` (NCSA licence) and ``skfolio``
(BSD-3-Clause licence) wheels. The catalogue ``data/README.md`` and one page per source
(``data/<source>.md``) record spans, row counts, provenance and quirks.
"""

from __future__ import annotations

import pandas as pd
import polars as pl

from volbook.data.schema import adjust_ohlc, unpivot_wide, validate_panel

__all__ = ["SECTORS", "load_sp500", "load_sp500_ohlc", "load_sp500_stocks", "load_vix"]

#: GICS sectors of the 20 stocks of ``skfolio.datasets.load_sp500_dataset`` (public facts,
#: current classification; skfolio ships prices only).
SECTORS: dict[str, str] = {
    "AAPL": "Information Technology",
    "AMD": "Information Technology",
    "BAC": "Financials",
    "BBY": "Consumer Discretionary",
    "CVX": "Energy",
    "GE": "Industrials",
    "HD": "Consumer Discretionary",
    "JNJ": "Health Care",
    "JPM": "Financials",
    "KO": "Consumer Staples",
    "LLY": "Health Care",
    "MRK": "Health Care",
    "MSFT": "Information Technology",
    "PEP": "Consumer Staples",
    "PFE": "Health Care",
    "PG": "Consumer Staples",
    "RRC": "Energy",
    "UNH": "Health Care",
    "WMT": "Consumer Staples",
    "XOM": "Energy",
}


def _wide(prices: pd.DataFrame) -> pl.DataFrame:
    """A pandas frame indexed by date, one column per asset, as a polars frame with ``date``."""
    return pl.from_pandas(prices.rename_axis("date").reset_index())


def load_sp500() -> pl.DataFrame:
    """S&P 500 index, daily close, 1990-01-02 to 2022-12-28 (8,313 rows), asset ``SP500``.

    Columns: ``date``, ``asset``, ``close``. Source: ``skfolio.datasets.load_sp500_index``
    (skfolio, BSD-3-Clause), closes rounded to cents; over 1999-2018 they equal
    ``arch.data.sp500`` rounded to cents.
    """
    from skfolio.datasets import load_sp500_index

    return unpivot_wide(_wide(load_sp500_index()), name="sp500")


def load_sp500_ohlc() -> pl.DataFrame:
    """S&P 500 index, daily OHLC and volume, 1999-01-04 to 2018-12-31 (5,031 rows), asset ``SP500``.

    Columns: ``date``, ``asset``, ``close``, ``open``, ``high``, ``low``, ``volume``.
    ``close`` is arch's "Adj Close"; open, high and low are arch's unadjusted prices scaled
    by Adj Close / Close (:func:`~volbook.data.schema.adjust_ohlc`). For the index the two
    closes are equal on every row, so the scaling is the identity. Source:
    ``arch.data.sp500.load`` (arch, NCSA licence).
    """
    from arch.data import sp500

    raw = pl.from_pandas(sp500.load().rename_axis("date").reset_index()).select(
        "date",
        pl.lit("SP500").alias("asset"),
        pl.col("Adj Close").alias("close"),
        pl.col("Open").alias("open"),
        pl.col("High").alias("high"),
        pl.col("Low").alias("low"),
        pl.col("Volume").alias("volume"),
        pl.col("Close").alias("raw_close"),
    )
    return validate_panel(adjust_ohlc(raw, "raw_close", name="sp500_ohlc"), name="sp500_ohlc")


def load_vix() -> pl.DataFrame:
    """CBOE VIX index, daily close, 2014-01-03 to 2019-01-03 (1,259 rows), asset ``VIX``.

    Columns: ``date``, ``asset``, ``close`` (the index level in volatility points, not a
    price). arch's file has 46 empty rows on US market holidays (and 2018-12-05, the
    national day of mourning); they are dropped. Source: ``arch.data.vix.load`` (arch, NCSA).
    """
    from arch.data import vix

    wide = _wide(vix.load()).rename({"vix": "VIX"}).filter(pl.col("VIX").is_not_nan())
    return unpivot_wide(wide, name="vix")


def load_sp500_stocks() -> pl.DataFrame:
    """Twenty large US stocks, daily adjusted close, 1990-01-02 to 2022-12-28 (8,313 rows each).

    Columns: ``date``, ``asset``, ``close``, ``sector`` (GICS, from :data:`SECTORS`).
    The file has no missing values; leading or trailing ones would be dropped per asset
    (:func:`~volbook.data.schema.unpivot_wide`). Prices are rounded to 0.001, so early,
    low-priced days (AAPL at 0.10-0.30) have coarse returns, and RRC has long runs of
    unchanged prices in the 1990s. Source: ``skfolio.datasets.load_sp500_dataset``
    (skfolio, BSD-3-Clause).
    """
    from skfolio.datasets import load_sp500_dataset

    panel = unpivot_wide(_wide(load_sp500_dataset()), name="sp500_stocks")
    return panel.with_columns(sector=pl.col("asset").replace_strict(SECTORS))
