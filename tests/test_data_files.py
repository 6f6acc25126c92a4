"""User files (CSV, parquet: long, wide, single asset, vendor quirks) and yfinance parsing."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from volbook.data import load, require_rows
from volbook.data.yfinance import download_yfinance, parse_yfinance
from volbook.errors import DataError, ParameterError


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text.strip() + "\n")
    return path


LONG = """
date,ticker,close
2020-01-02,AAA,10.0
2020-01-02,BBB,20.0
2020-01-03,AAA,10.5
2020-01-03,BBB,19.0
2020-01-06,AAA,11.0
2020-01-06,BBB,19.5
"""
WIDE = """
Date,AAA,BBB
2020-01-02,10.0,20.0
2020-01-03,10.5,19.0
2020-01-06,11.0,19.5
"""


def test_long_wide_and_parquet_give_the_same_panel(tmp_path: Path) -> None:
    long = load("file", path=write(tmp_path, LONG, "long.csv"))
    wide = load("file", path=write(tmp_path, WIDE, "wide.csv"))
    assert long.equals(wide)
    assert long.columns == ["date", "asset", "close"]
    assert long["asset"].to_list() == ["AAA"] * 3 + ["BBB"] * 3
    assert long["close"].to_list() == [10.0, 10.5, 11.0, 20.0, 19.0, 19.5]
    parquet = tmp_path / "long.parquet"
    long.write_parquet(parquet)
    assert load("file", path=parquet).equals(long)
    # pandas export: Timestamp dates, upper-case headers
    pq2 = tmp_path / "pandas.parquet"
    long.to_pandas().rename(columns={"date": "Date", "asset": "Symbol", "close": "Price"}).to_parquet(pq2)
    assert load("file", path=pq2).equals(long)


def test_wide_assets_entering_and_leaving(tmp_path: Path) -> None:
    path = write(tmp_path, "date,AAA,BBB\n2020-01-02,10,\n2020-01-03,11,20\n2020-01-06,,21\n")
    panel = load("file", path=path)
    assert panel.select("date", "asset").rows() == [
        (dt.date(2020, 1, 2), "AAA"),
        (dt.date(2020, 1, 3), "AAA"),
        (dt.date(2020, 1, 3), "BBB"),
        (dt.date(2020, 1, 6), "BBB"),
    ]
    gap = write(tmp_path, "date,AAA\n2020-01-02,10\n2020-01-03,\n2020-01-06,12\n", "gap.csv")
    with pytest.raises(DataError, match=r"gap\.csv: column 'close' is missing \(null\) for asset 'AAA' on 2020-01-03"):
        load("file", path=gap)


def test_vendor_csv_adj_close_thousands_and_us_dates(tmp_path: Path) -> None:
    # a one-ticker vendor download: Adj Close preferred, open/high/low scaled onto its basis
    text = """
Date,Open,High,Low,Close,Adj Close,Volume
01/14/2020,"1,000.00","1,100.00",900.00,"1,050.00",525.00,"1,234,567"
01/15/2020,"1,050.00","1,060.00","1,000.00","1,010.00",505.00,"2,000,000"
"""
    panel = load("file", path=write(tmp_path, text, "SPY.csv"))
    assert panel.columns == ["date", "asset", "close", "open", "high", "low", "volume"]
    assert panel["asset"].to_list() == ["SPY", "SPY"]
    assert panel["date"].to_list() == [dt.date(2020, 1, 14), dt.date(2020, 1, 15)]
    assert panel["close"].to_list() == [525.0, 505.0]
    np.testing.assert_allclose(panel["open"], [500.0, 525.0])
    np.testing.assert_allclose(panel["high"], [550.0, 530.0])
    np.testing.assert_allclose(panel["low"], [450.0, 500.0])
    assert panel["volume"].to_list() == [1234567.0, 2000000.0]


def test_long_file_with_snapshot_market_cap_and_sector(tmp_path: Path) -> None:
    text = """
Symbol,Timestamp,Price,Market Cap,Sector
AAA,2020-01-02,10,5e9,Energy
AAA,2020-01-03,11,5e9,Energy
BBB,2020-01-02,20,"7,000,000,000",Utilities
BBB,2020-01-03,21,"7,000,000,000",Utilities
"""
    panel = load("file", path=write(tmp_path, text))
    assert panel.columns == ["date", "asset", "close", "market_cap", "sector"]
    assert panel["market_cap"].to_list() == [5e9, 5e9, 7e9, 7e9]


@pytest.mark.parametrize(
    ("dates", "date_format", "expected"),
    [
        (["2020-01-02", "2020-01-03"], None, [dt.date(2020, 1, 2), dt.date(2020, 1, 3)]),
        (["1/2/2020", "1/13/2020"], None, [dt.date(2020, 1, 2), dt.date(2020, 1, 13)]),
        (["02/01/2020", "13/01/2020"], None, [dt.date(2020, 1, 2), dt.date(2020, 1, 13)]),
        (["01/02/2020", "01/03/2020"], "%d/%m/%Y", [dt.date(2020, 2, 1), dt.date(2020, 3, 1)]),
        (["02.01.2020", "03.01.2020"], "%d.%m.%Y", [dt.date(2020, 1, 2), dt.date(2020, 1, 3)]),
    ],
)
def test_date_formats(tmp_path: Path, dates: list[str], date_format: str | None, expected: list) -> None:
    path = write(tmp_path, "date,close\n" + "\n".join(f"{d},{i + 1}" for i, d in enumerate(dates)))
    options = {} if date_format is None else {"date_format": date_format}
    assert load("file", path=path, **options)["date"].to_list() == expected


def test_start_end_and_assets_on_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, LONG)
    panel = load("file", path=path, start="2020-01-03", assets=["BBB"])
    assert panel["close"].to_list() == [19.0, 19.5]
    with pytest.raises(DataError, match=r"prices\.csv: unknown asset 'CCC' \(available: AAA, BBB\)"):
        load("file", path=path, assets=["CCC"])


BAD_INPUTS = [
    ("no_close.csv", "date,ticker,volume\n2020-01-02,A,5\n", r"missing column 'close'"),
    ("no_date.csv", "day,ticker,close\n2020-01-02,A,5\n", r"missing column 'date'"),
    ("wide_volume.csv", "date,AAA,volume\n2020-01-02,5,100\n", r"missing column 'close'.*'volume'"),
    ("bad_date.csv", "date,close\n2020-01-02,1\n2020-01-3x,2\n", r"unparseable date '2020-01-3x'"),
    ("two_digit.csv", "date,close\n1/2/20,1\n1/3/20,2\n", r"unparseable date '1/2/20'"),
    ("mixed.csv", "date,close\n2020-01-02,1\n01/13/2020,2\n", r"mixes date formats"),
    ("ambiguous.csv", "date,close\n01/02/2020,1\n01/03/2020,2\n", r"read as MM/DD/YYYY and as DD/MM/YYYY"),
    ("forced.csv", "date,close\n2020-01-02,1\n", r"does not match date_format '%d/%m/%Y'"),
    ("dup.csv", "date,ticker,close\n2020-01-02,A,1\n2020-01-03,A,2\n2020-01-02,A,3\n",
     r"duplicate row for asset 'A' on 2020-01-02"),
    ("unsorted.csv", "date,close\n2020-01-02,1\n2020-01-06,2\n2020-01-03,3\n",
     r"dates out of order for asset 'unsorted': 2020-01-03 comes after 2020-01-06"),
    ("wide_unsorted.csv", "date,A,B\n2020-01-03,1,1\n2020-01-02,2,2\n", r"dates out of order for asset 'A'"),
    ("nan.csv", "date,close\n2020-01-02,1\n2020-01-03,NaN\n", r"column 'close' is NaN for asset 'nan' on 2020-01-03"),
    ("inf.csv", "date,close\n2020-01-02,1\n2020-01-03,inf\n", r"column 'close' is infinite for asset 'inf' on 2020-01-03"),
    ("zero.csv", "date,close\n2020-01-02,1\n2020-01-03,0\n", r"column 'close' is zero for asset 'zero' on 2020-01-03"),
    ("neg.csv", "date,close\n2020-01-02,1\n2020-01-03,-2.5\n", r"column 'close' is negative \(-2.5\) for asset 'neg'"),
    ("missing.csv", "date,ticker,close\n2020-01-02,A,\n", r"column 'close' is missing \(null\) for asset 'A'"),
    ("decimal_comma.csv", 'date,close\n2020-01-02,"1234,5"\n', r"column 'close' has a non-numeric value '1234,5'"),
    ("text.csv", "date,close\n2020-01-02,n/a\n", r"column 'close' has a non-numeric value 'n/a'"),
    ("empty_col.csv", "date,A,B\n2020-01-02,1,\n", r"asset column 'B' has no prices"),
    ("twice.csv", "Date,date,close\n2020-01-02,2020-01-02,1\n", r"columns 'Date' and 'date' have the same meaning"),
    ("prices.xlsx", "x", r"unsupported file type '\.xlsx'"),
]


@pytest.mark.parametrize(("name", "text", "match"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_files_name_the_file_and_the_problem(tmp_path: Path, name: str, text: str, match: str) -> None:
    path = write(tmp_path, text, name)
    options = {"date_format": "%d/%m/%Y"} if name == "forced.csv" else {}
    with pytest.raises(DataError) as info:
        load("file", path=path, **options)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert re.search(match, message), message
    assert "\n" not in message


ADJUSTED = "Date,Open,Close,Adj Close\n2020-01-02,10,10,5\n2020-01-03,10,{},5\n"


@pytest.mark.parametrize(
    ("close", "what"), [("0", "zero"), ("", "missing (null)"), ("-2", "negative (-2.0)"), ("inf", "infinite")]
)
def test_a_bad_raw_close_is_named(tmp_path: Path, close: str, what: str) -> None:
    # the raw Close is only the divisor of the open/high/low scaling, but it is still checked
    path = write(tmp_path, ADJUSTED.format(close), "adj.csv")
    with pytest.raises(DataError) as info:
        load("file", path=path)
    assert str(info.value) == f"{path}: column 'Close' is {what} for asset 'adj' on 2020-01-03"
    frame = yf_single()
    frame.loc[frame.index[1], "Close"] = float(close or "nan")
    with pytest.raises(DataError, match=r"^yfinance: column 'Close' is .* for asset 'SPY' on 2024-01-03"):
        parse_yfinance(frame, ticker="SPY")


def test_layout_decides_what_a_column_is(tmp_path: Path) -> None:
    text = "date,AAPL,Price\n2020-01-02,300,10\n2020-01-03,297,11\n"
    path = write(tmp_path, text, "mixed.csv")
    wide = load("file", path=path)  # two assets, one of them named like a close header
    assert wide["asset"].to_list() == ["AAPL", "AAPL", "Price", "Price"]
    assert wide["close"].to_list() == [300.0, 297.0, 10.0, 11.0]
    assert load("file", path=path, layout="wide").equals(wide)
    single = load("file", path=path, layout="long")  # one asset with an ignored AAPL column
    assert single["asset"].to_list() == ["mixed", "mixed"] and single["close"].to_list() == [10.0, 11.0]
    # Lowe's (LOW) in a wide file: auto reads it as wide next to another ticker
    low = load("file", path=write(tmp_path, "Date,AAPL,LOW\n2020-01-02,300,120\n", "low.csv"))
    assert low.select("asset", "close").rows() == [("AAPL", 300.0), ("LOW", 120.0)]
    only = write(tmp_path, "Date,LOW\n2020-01-02,120\n2020-01-03,121\n", "only_low.csv")
    with pytest.raises(DataError, match=r"missing column 'close' .*; if 'LOW' is an asset, pass layout=\"wide\"$"):
        load("file", path=only)
    assert load("file", path=only, layout="wide")["asset"].to_list() == ["LOW", "LOW"]
    # a one-ticker download with extra columns stays one asset
    yahoo = "Date,Open,High,Low,Close,Volume,Dividends,Stock Splits\n2020-01-02,10,11,9,10.5,100,0,0\n"
    panel = load("file", path=write(tmp_path, yahoo, "SPY.csv"))
    assert panel.row(0) == (dt.date(2020, 1, 2), "SPY", 10.5, 10.0, 11.0, 9.0, 100.0)
    with pytest.raises(ParameterError, match=r"layout must be one of auto, long, wide, got 'tall'"):
        load("file", path=path, layout="tall")
    with pytest.raises(ParameterError, match=r"unknown option 'layuot' \(valid: date_format, layout, decimal, sectors\)"):
        load("file", path=path, layuot="wide")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nothere\.csv: no such file$"):
        load("file", path=tmp_path / "nothere.csv")


def test_too_few_rows(tmp_path: Path) -> None:
    path = write(tmp_path, LONG)
    panel = load("file", path=path)
    with pytest.raises(DataError) as info:
        require_rows(panel, 5, why="garch_window + max horizon", name=str(path))
    assert str(info.value) == f"{path}: asset 'AAA' has 3 rows, at least 5 are needed (garch_window + max horizon)"


def test_date_format_needs_text_dates(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    load("file", path=write(tmp_path, LONG)).write_parquet(path)
    with pytest.raises(ParameterError, match=r"date_format applies to text dates; column 'date' of .*p\.parquet holds Date"):
        load("file", path=path, date_format="%Y-%m-%d")


# --- yfinance: frames shaped like yfinance.download output, no network -------------------

FIELDS = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]


def yf_single() -> pd.DataFrame:
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], name="Date")
    return pd.DataFrame(
        {
            "Open": [100.0, 102.0, 101.0],
            "High": [103.0, 104.0, 102.0],
            "Low": [99.0, 100.0, 98.0],
            "Close": [102.0, 101.0, 99.0],
            "Adj Close": [51.0, 50.5, 49.5],
            "Volume": [1000, 1100, 900],
        },
        index=index,
    )


def yf_multi(tz: str | None) -> pd.DataFrame:
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], name="Date")
    if tz is not None:
        index = index.tz_localize(tz)
    columns = pd.MultiIndex.from_product([FIELDS, ["AAPL", "SAP.DE"]], names=["Price", "Ticker"])
    data = np.arange(1.0, 1.0 + 3 * len(columns)).reshape(3, len(columns))
    frame = pd.DataFrame(data, index=index, columns=columns)
    frame.loc[index[0], (slice(None), "SAP.DE")] = np.nan  # a day only AAPL traded
    return frame


def test_parse_yfinance_single_ticker() -> None:
    panel = parse_yfinance(yf_single(), ticker="SPY")
    assert panel.columns == ["date", "asset", "close", "open", "high", "low", "volume"]
    assert panel["date"].to_list() == [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)]
    assert panel["close"].to_list() == [51.0, 50.5, 49.5]
    np.testing.assert_allclose(panel["open"], [50.0, 51.0, 50.5])  # Open * Adj Close / Close
    assert panel["volume"].to_list() == [1000.0, 1100.0, 900.0]
    auto = parse_yfinance(yf_single().drop(columns="Adj Close"), ticker="SPY")  # auto_adjust=True
    assert auto["close"].to_list() == [102.0, 101.0, 99.0] and auto["open"].to_list() == [100.0, 102.0, 101.0]
    with pytest.raises(ParameterError, match="needs ticker="):
        parse_yfinance(yf_single())


@pytest.mark.parametrize("tz", [None, "America/New_York", "Europe/Berlin"])
def test_parse_yfinance_multi_ticker(tz: str | None) -> None:
    frame = yf_multi(tz)
    panel = parse_yfinance(frame)
    assert panel.select("asset").unique(maintain_order=True)["asset"].to_list() == ["AAPL", "SAP.DE"]
    aapl = panel.filter(pl.col("asset") == "AAPL")
    assert aapl["date"].to_list() == [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)]
    assert aapl["close"].to_list() == frame[("Adj Close", "AAPL")].tolist()
    assert panel.filter(pl.col("asset") == "SAP.DE")["date"].to_list() == [dt.date(2024, 1, 3), dt.date(2024, 1, 4)]
    # group_by="ticker" puts the ticker level first: same panel
    swapped = frame.swaplevel(axis=1).sort_index(axis=1)
    assert parse_yfinance(swapped).equals(panel)


def test_download_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yfinance", None)  # import yfinance -> ImportError
    with pytest.raises(ParameterError, match=re.escape("source 'yfinance' needs the optional extra: pip install -e .[yfinance]")):
        download_yfinance(["SPY"])
    with pytest.raises(ParameterError, match="optional extra"):
        load("yfinance", assets=["SPY"])
