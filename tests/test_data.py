"""Packaged data sources, the panel schema and log returns."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from volbook.data import SCHEMA, SOURCES, load, require_rows, validate_panel
from volbook.data.packaged import SECTORS
from volbook.errors import DataError, ParameterError
from volbook.realized import log_returns

# source -> first date, last date, rows per asset, assets, columns (as in data/README.md)
PACKAGED = {
    "sp500": (dt.date(1990, 1, 2), dt.date(2022, 12, 28), 8313, ["SP500"], ["date", "asset", "close"]),
    "sp500_ohlc": (
        dt.date(1999, 1, 4),
        dt.date(2018, 12, 31),
        5031,
        ["SP500"],
        ["date", "asset", "close", "open", "high", "low", "volume"],
    ),
    "vix": (dt.date(2014, 1, 3), dt.date(2019, 1, 3), 1259, ["VIX"], ["date", "asset", "close"]),
    "sp500_stocks": (
        dt.date(1990, 1, 2),
        dt.date(2022, 12, 28),
        8313,
        sorted(SECTORS),
        ["date", "asset", "close", "sector"],
    ),
}


def test_every_source_is_tested() -> None:
    # the packaged ones here; synthetic in test_synthetic.py; file and yfinance in
    # test_data_files.py; intraday, oxford_man and a vix file in test_data_sources.py
    assert set(SOURCES) == set(PACKAGED) | {"synthetic", "file", "yfinance", "intraday", "oxford_man"}


@pytest.mark.parametrize("source", sorted(PACKAGED))
def test_packaged_source(source: str) -> None:
    first, last, rows, assets, columns = PACKAGED[source]
    panel = load(source)
    assert panel.columns == columns
    assert panel.schema == {c: SCHEMA[c].dtype for c in columns}
    assert panel.equals(panel.sort("asset", "date"))
    assert not panel.select(pl.struct("asset", "date").is_duplicated().any()).item()
    assert sorted(panel["asset"].unique()) == assets
    per_asset = panel.group_by("asset").agg(
        pl.col("date").min().alias("first"), pl.col("date").max().alias("last"), pl.len()
    )
    assert per_asset["first"].to_list() == [first] * len(assets)
    assert per_asset["last"].to_list() == [last] * len(assets)
    assert per_asset["len"].to_list() == [rows] * len(assets)
    assert panel.select(pl.col("close").is_finite().all() & (pl.col("close") > 0).all()).item()
    assert panel.null_count().sum_horizontal().item() == 0
    assert validate_panel(panel, name=source).equals(panel)


def test_sp500_ohlc_matches_arch() -> None:
    from arch.data import sp500

    raw = sp500.load()
    # for the index the adjusted and raw closes agree, so open/high/low need no scaling
    np.testing.assert_array_equal(raw["Adj Close"].to_numpy(), raw["Close"].to_numpy())
    panel = load("sp500_ohlc")
    for col, arch_col in [("close", "Adj Close"), ("open", "Open"), ("high", "High"), ("low", "Low")]:
        np.testing.assert_array_equal(panel[col].to_numpy(), raw[arch_col].to_numpy())
    np.testing.assert_array_equal(panel["volume"].to_numpy(), raw["Volume"].to_numpy().astype(float))
    assert panel.select(
        (pl.col("high") >= pl.max_horizontal("open", "close")).all()
        & (pl.col("low") <= pl.min_horizontal("open", "close")).all()
    ).item()


def test_sp500_sources_agree_on_overlap() -> None:
    # two independent packages: skfolio's closes are arch's rounded to cents
    joined = load("sp500").join(load("sp500_ohlc"), on=["date", "asset"], suffix="_arch")
    assert joined.height == 5031
    assert (joined["close"] - joined["close_arch"]).abs().max() <= 0.005 + 1e-9


def test_vix_drops_holiday_rows() -> None:
    from arch.data import vix

    raw = vix.load()
    dropped = set(raw.index[raw["vix"].isna()].date)
    assert len(dropped) == 46 and dt.date(2018, 12, 5) in dropped
    panel = load("vix")
    assert panel.height == len(raw) - 46
    assert not dropped & set(panel["date"])


def test_sp500_stocks_sectors() -> None:
    panel = load("sp500_stocks", assets=["AAPL", "XOM", "JPM"])
    sectors = dict(panel.select("asset", "sector").unique().iter_rows())
    assert sectors == {"AAPL": "Information Technology", "XOM": "Energy", "JPM": "Financials"}
    assert len(set(SECTORS.values())) == 7


def test_start_end_assets_filters() -> None:
    panel = load("sp500_stocks", start="2020-01-02", end=dt.date(2020, 1, 31), assets=["MSFT", "KO"])
    assert sorted(panel["asset"].unique()) == ["KO", "MSFT"]
    assert panel["date"].min() == dt.date(2020, 1, 2) and panel["date"].max() == dt.date(2020, 1, 31)
    assert panel.height == 2 * 21  # 21 trading days in January 2020


def test_empty_window_is_an_error() -> None:
    with pytest.raises(DataError, match=r"^sp500: no rows from 2020-01-04 to 2020-01-05$"):
        load("sp500", start="2020-01-04", end="2020-01-05")


def test_unknown_source_lists_valid_names() -> None:
    with pytest.raises(ParameterError, match=r"unknown data source 'sp600' \(valid: sp500, sp500_ohlc, vix"):
        load("sp600")  # type: ignore[arg-type]


def test_unknown_asset() -> None:
    with pytest.raises(DataError, match=r"sp500_stocks: unknown asset 'TSLA' \(available: AAPL, AMD"):
        load("sp500_stocks", assets=["AAPL", "TSLA"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"source": "sp500", "n_days": 10}, r"source 'sp500': unknown option 'n_days' \(it takes none\)"),
        ({"source": "synthetic", "n_day": 10}, r"unknown option 'n_day' \(valid: n_assets, n_days"),
        ({"source": "file"}, r"source 'file' needs path="),
        ({"source": "sp500", "path": "x.csv"}, r"path= is only for sources file, intraday, oxford_man and vix, not 'sp500'"),
        ({"source": "intraday"}, r"source 'intraday' needs path="),
        ({"source": "vix", "date_format": "%m/%d/%Y"}, r"source 'vix': date_format is only for a file \(path=\)"),
        ({"source": "sp500", "start": "2020-13-01"}, r"start: '2020-13-01' is not a date"),
        ({"source": "sp500", "start": "2021-01-01", "end": "2020-01-01"}, r"start 2021-01-01 is after end 2020-01-01"),
    ],
)
def test_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        load(**kwargs)


def test_validate_panel_casts_orders_and_resorts() -> None:
    # date-major order (assets interleaved), ISO string dates, integer prices, extra order
    frame = pl.DataFrame(
        {
            "sector": ["X", "Y", "X", "Y"],
            "close": [1, 2, 3, 4],
            "asset": ["B", "A", "B", "A"],
            "date": ["2020-01-02", "2020-01-02", "2020-01-03", "2020-01-03"],
            "volume": [10, 0, 30, 40],
        }
    )
    out = validate_panel(frame, name="frame")
    assert out.columns == ["date", "asset", "close", "volume", "sector"]
    assert out.schema["close"] == pl.Float64 and out.schema["date"] == pl.Date
    assert out["asset"].to_list() == ["A", "A", "B", "B"]
    assert out["close"].to_list() == [2.0, 4.0, 1.0, 3.0]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda f: f.drop("close"), r"^frame: missing column 'close'$"),
        (lambda f: f.with_columns(pl.lit(1).alias("foo")), r"unknown column 'foo'"),
        (lambda f: f.with_columns(pl.col("close").cast(pl.String)), r"column 'close' is not numeric"),
        (lambda f: f.with_columns(pl.lit("2020-01-0x").alias("date")), r"unparseable date '2020-01-0x'"),
        (lambda f: f.with_columns(pl.lit(-1.0).alias("volume")), r"column 'volume' is negative \(-1.0\)"),
        (
            lambda f: f.with_columns(pl.col("date").cast(pl.Datetime) + pl.duration(hours=9)),
            r"column 'date' has a time of day",
        ),
        (lambda f: f.with_columns(pl.lit(None, pl.String).alias("asset")), r"column 'asset' is missing \(null\) for row 1"),
    ],
)
def test_validate_panel_refuses(change, match: str) -> None:
    frame = pl.DataFrame(
        {"date": [dt.date(2020, 1, 2), dt.date(2020, 1, 3)], "asset": "A", "close": [1.0, 2.0]}
    )
    with pytest.raises(DataError, match=match):
        validate_panel(change(frame), name="frame")


def test_require_rows() -> None:
    panel = load("sp500_stocks", start="2022-01-01", assets=["AAPL", "KO"])
    n = panel.height // 2
    require_rows(panel, n, why="enough")
    short = panel.filter((pl.col("asset") != "KO") | (pl.col("date") > dt.date(2022, 2, 1)))
    k = short.filter(pl.col("asset") == "KO").height
    with pytest.raises(DataError, match=rf"^sp: asset 'KO' has {k} rows, at least {n} are needed \(the windows\)$"):
        require_rows(short, n, why="the windows", name="sp")


def test_log_returns_match_numpy() -> None:
    panel = load("sp500_stocks", start="2022-06-01", assets=["AMD", "PG"])
    # shuffle rows: log_returns must not depend on the row order it receives
    shuffled = panel.sample(fraction=1.0, shuffle=True, seed=0)
    rets = log_returns(shuffled)
    assert rets.columns == ["date", "asset", "ret"] and rets.schema["ret"] == pl.Float64
    for asset in ["AMD", "PG"]:
        prices = panel.filter(pl.col("asset") == asset)
        got = rets.filter(pl.col("asset") == asset)
        p = prices["close"].to_numpy()
        np.testing.assert_allclose(got["ret"].to_numpy(), np.log(p[1:] / p[:-1]), rtol=1e-13, atol=1e-16)
        assert got["date"].to_list() == prices["date"].to_list()[1:]
    assert rets.height == panel.height - 2
