"""The realized-measure sources a user brings: intraday bar files, Oxford-Man files, Cboe VIX
files; the example files of data/examples (regenerated, then loaded)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import re
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from volbook.bars import aggregate_bars
from volbook.data import load
from volbook.data.synthetic_intraday import simulate_intraday
from volbook.errors import DataError, DataWarning, ParameterError

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"


def write(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip())
    return path


def test_example_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for fresh in module.write_all(tmp_path):
        assert fresh.read_bytes() == (EXAMPLES / fresh.name).read_bytes(), fresh.name


# ---------------------------------------------------------------- intraday bar files


def test_example_bar_file_utc_start_labels_half_day_extended_hours() -> None:
    path = EXAMPLES / "bars_5min_utc.csv"
    with pytest.warns(DataWarning, match=r"1 day ends before the close although the file has after-hours bars "
                      r"\(first: 2023-11-24, last bar at 13:30\): if a half day, list it in early_closes"):
        naive = load("intraday", path=path, bar_label="start")
    assert naive["n_bars"].to_list() == [77, 78, 48]  # the half day's after-hours bars counted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        daily = load("intraday", path=path, bar_label="start", early_closes=["2023-11-24"])
    assert daily.columns == ["date", "asset", "close", "rv", "bv", "jv", "rq", "rkurt", "overnight_ret",
                             "open_to_close", "n_bars"]
    assert daily["date"].to_list() == [dt.date(2023, 11, 21), dt.date(2023, 11, 22), dt.date(2023, 11, 24)]
    assert daily["asset"].to_list() == ["bars_5min_utc"] * 3
    assert daily["n_bars"].to_list() == [77, 78, 42]  # a missing bar; the half day to 13:00
    # against the simulation behind the file (prices rounded to 4 decimals in the file)
    sim = simulate_intraday(3, 7, annual_vol=0.15, first_date="2023-11-21")
    truth = aggregate_bars(sim.bars)
    assert daily["rv"][1] == pytest.approx(truth["rv"][1], rel=2e-3)
    assert daily["close"][1] == pytest.approx(4.5 * truth["close"][1], rel=1e-6)
    half = sim.bars.filter(pl.col("timestamp").dt.date() == dt.date(2023, 11, 23)).head(43)
    assert daily["rv"][2] == pytest.approx(78 / 42 * np.sum(np.diff(np.log(half["price"].to_numpy())) ** 2), rel=2e-3)
    raw = pl.read_csv(path)
    closes = raw.filter(pl.col("timestamp").is_in(["2023-11-21T20:55:00Z", "2023-11-22T14:25:00Z"]))["close"]
    assert daily["overnight_ret"][1] == pytest.approx(math.log(closes[1] / closes[0]), abs=1e-12)
    start = load("intraday", path=path, bar_label="start", early_closes=["2023-11-24"], start="2023-11-22")
    assert start.equals(daily.slice(1))  # the first overnight return still uses the day before


def _bar_text(stamps: list[str], header: str = "timestamp,close") -> str:
    prices = 100 * np.exp(np.cumsum(np.r_[0.0, 0.001 * np.sin(np.arange(1, len(stamps)))]))
    return header + "\n" + "".join(f"{s},{p:.5f}\n" for s, p in zip(stamps, prices, strict=True))


def _day(date: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> list[str]:
    t0 = dt.datetime.fromisoformat(date + " 09:30")
    return [(t0 + k * dt.timedelta(minutes=5)).strftime(fmt) for k in range(79)]


@pytest.mark.parametrize(
    ("stamps", "header", "options"),
    [
        (_day("2024-03-01"), "timestamp,close", {}),
        (_day("2024-03-01", "%m/%d/%Y %H:%M"), "Date Time,Last", {}),  # 03/01: read as MM/DD? ambiguous below
        ([s.replace(" ", "T") + "-05:00" for s in _day("2024-03-01")], "datetime,price", {}),
        ([str(int(dt.datetime.fromisoformat(s + "-05:00").timestamp())) for s in _day("2024-03-01")], "ts,close", {}),
        ([str(int(dt.datetime.fromisoformat(s + "-05:00").timestamp() * 1000)) for s in _day("2024-03-01")], "ts,close", {}),
        (_day("2024-03-01", "%d.%m.%Y %H:%M"), "time,close", {"timestamp_format": "%d.%m.%Y %H:%M"}),
    ],
    ids=["iso", "slash", "offset", "epoch-s", "epoch-ms", "format"],
)
def test_timestamp_layouts_give_the_same_day(tmp_path: Path, stamps: list[str], header: str, options: dict) -> None:
    path = write(tmp_path, _bar_text(stamps, header), "bars.csv")
    if "/" in stamps[0]:  # 03/01/2024 reads both ways: refused, then read with the format
        with pytest.raises(DataError, match=r"read as MM/DD/YYYY and as DD/MM/YYYY"):
            load("intraday", path=path)
        options = {"timestamp_format": "%m/%d/%Y %H:%M"}
    out = load("intraday", path=path, **options)
    expected = load("intraday", path=write(tmp_path, _bar_text(_day("2024-03-01")), "ref.csv"))
    assert out.drop("asset").equals(expected.drop("asset"))
    assert out["date"].to_list() == [dt.date(2024, 3, 1)] and out["n_bars"].item() == 78


def test_separate_date_and_time_columns_and_assets(tmp_path: Path) -> None:
    rows = []
    for asset in ("SPY", "QQQ"):
        for k, stamp in enumerate(_day("2024-03-01")):
            day, clock = stamp.split(" ")
            rows.append(f"{asset},{day},{clock},{100 + 0.01 * k * (1 if asset == 'SPY' else -1):.4f}")
    path = write(tmp_path, "Symbol,Date,Time,Close\n" + "\n".join(rows) + "\n", "two.csv")
    both = load("intraday", path=path)
    assert both["asset"].to_list() == ["QQQ", "SPY"] and (both["n_bars"] == 78).all()
    assert load("intraday", path=path, assets=["SPY"])["asset"].to_list() == ["SPY"]
    with pytest.raises(DataError, match=r"two\.csv: unknown asset 'IWM' \(available: QQQ, SPY\)"):
        load("intraday", path=path, assets=["IWM"])


@pytest.mark.parametrize(
    ("text", "options", "match"),
    [
        ("time,volume\n2024-03-01 09:35:00,5\n", {}, r"missing the bar's price column \(looked for headers: close, price, last\)"),
        ("price,volume\n1,5\n", {}, r"missing a timestamp column"),
        ("timestamp,close\n2024-03-01 09:35:00,1\n2024-03-01 soon,2\n", {},
         r"column 'timestamp' has a value '2024-03-01 soon' that is not a timestamp"),
        ("timestamp,close\nyesterday,1\n", {}, r"has a value 'yesterday' that is not a timestamp \(expected"),
        ("timestamp,close\n2024-03-01 09:35:00,1\n2024-03-01 09:40:00,-1\n", {},
         r"bars column 'price' has 1 values that are missing, non-finite or <= 0"),
        ("timestamp,close\n2024-03-01 03:35:00,1\n", {}, r"no bar ends inside the session 09:30-16:00"),
        ("timestamp,close\n2024-03-01 09:35:00,1\n", {"start": "2025-01-01"}, r"no bars from 2025-01-01 to the end"),
        ("timestamp,close\n2024-03-01 09:35:00,1\n", {"tz": "Mars/Olympus"}, r"unknown time zone 'Mars/Olympus'"),
        ("timestamp,close\n2024-03-01 09:35:00,1\n", {"early_closes": ["2024-13-01"]}, r"early_closes: '2024-13-01'"),
        ("timestamp,close\n2024-03-01 09:35:00,1\n", {"early_closes": "2024-03-01"}, r"early_closes must be a list"),
        ("timestamp,close\n2024-03-01 09:35:00,1\n", {"session": ("16:00", "09:30")}, r"session must be 'regular'"),
    ],
)
def test_bad_bar_files(tmp_path: Path, text: str, options: dict, match: str) -> None:
    path = write(tmp_path, text, "bars.csv")
    with pytest.raises((DataError, ParameterError)) as info:
        load("intraday", path=path, **options)
    assert re.search(match, str(info.value)) and "\n" not in str(info.value)


def test_bar_file_labelled_after_the_bar_start_says_so(tmp_path: Path) -> None:
    """The issue's case: a bar file labelled a few minutes after each bar's start."""
    stamps = [(dt.datetime(2024, 3, 1, 9, 33) + k * dt.timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
              for k in range(78)]
    path = write(tmp_path, _bar_text(stamps), "late.csv")
    with pytest.raises(DataError) as info:
        load("intraday", path=path)
    message = str(info.value)
    assert "full_day_bars" not in message
    assert message.endswith("every label sits 3min after a 5min bar boundary from 09:30 (e.g. 2024-03-01 09:33:00), "
                            "so the labels are neither bar starts nor bar ends; if they sit at a fixed point inside "
                            "each bar, pass bar_label='start', label_offset='3min' (the same as bar_label='end', "
                            "label_offset='-2min')")
    assert load("intraday", path=path, bar_label="start", label_offset="3min")["n_bars"].item() == 77


# ---------------------------------------------------------------- Oxford-Man files


def test_example_oxford_man_file() -> None:
    path = EXAMPLES / "oxford_man_sample.csv"
    panel = load("oxford_man", path=path)
    assert panel.columns == ["date", "asset", "close", "open", "rv", "bv", "jv", "overnight_ret", "open_to_close"]
    assert panel["asset"].unique().sort().to_list() == [".FTSE", ".SPX"] and panel.height == 16
    raw = pl.read_csv(path)
    spx = raw.filter(pl.col("Symbol") == ".SPX")
    got = panel.filter(pl.col("asset") == ".SPX")
    assert got["date"].to_list() == [dt.date.fromisoformat(s[:10]) for s in spx[""]]
    assert got["rv"].to_list() == spx["rv5"].to_list() and got["close"].to_list() == spx["close_price"].to_list()
    np.testing.assert_allclose(got["jv"], np.maximum(spx["rv5"] - spx["bv"], 0), rtol=0, atol=1e-18)
    np.testing.assert_allclose(got["overnight_ret"][1:], np.log(spx["open_price"][1:] / spx["close_price"][:-1]),
                               rtol=1e-12)
    assert got["overnight_ret"][0] is None
    ten = load("oxford_man", path=path, assets=[".SPX"], measure="rv10")
    assert ten["rv"].to_list() == spx["rv10"].to_list()
    with pytest.raises(DataError, match=r"unknown asset 'SPX' \(available: \.FTSE, \.SPX\)"):
        load("oxford_man", path=path, assets=["SPX"])


OXFORD = ",Symbol,close_price,open_price,rv5,bv\n{d1},.N225,23000,22900,{rv},0.0001\n{d2},.N225,23100,23050,0.0001,0.0001\n"


@pytest.mark.parametrize(
    ("text", "options", "match"),
    [
        (OXFORD.format(d1="2020-01-06 00:00:00+09:00", d2="2020-01-07 00:00:00+09:00", rv="0.00012"),
         {"measure": "rk_parzen"}, r"missing column 'rk_parzen' \(the Oxford-Man layout\); choose another with measure="),
        (OXFORD.format(d1="2020-01-05 15:00:00+00:00", d2="2020-01-06 15:00:00+00:00", rv="0.00012"), {},
         r"timestamp '2020-01-05 15:00:00\+00:00' is not at local midnight: the file's days were converted"),
        (OXFORD.format(d1="06/01/2020", d2="07/01/2020", rv="0.00012"), {}, r"date '06/01/2020' is not YYYY-MM-DD"),
        (",Symbol,close_price,rv5\n2020-01-06,.N225,23000,1.21\n2020-01-07,.N225,23100,1.0\n", {},
         r"column 'rv5' has a median of 1.1, a daily volatility of 105%: it is not in decimal units \(percent "
         r"squared\?\); divide it by 10,000$"),
        (OXFORD.format(d1="2020-01-06", d2="2020-01-07", rv="0.00012").replace("Symbol", "Index"), {},
         r"missing column 'Symbol'"),
        (OXFORD.format(d1="2020-01-06", d2="2020-01-07", rv="0.00012"), {"measure": "rv7"}, r"measure must be one of rv5"),
    ],
    ids=["no-measure", "utc", "slash-date", "percent", "no-symbol", "bad-measure"],
)
def test_bad_oxford_man_files(tmp_path: Path, text: str, options: dict, match: str) -> None:
    path = write(tmp_path, text, "om.csv")
    with pytest.raises((DataError, ParameterError)) as info:
        load("oxford_man", path=path, **options)
    assert re.search(match, str(info.value)), str(info.value)


def test_oxford_man_plain_dates_and_gaps(tmp_path: Path) -> None:
    text = OXFORD.format(d1="2020-01-06", d2="2020-01-07", rv="")
    path = write(tmp_path, text, "om.csv")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel = load("oxford_man", path=path)
    assert [str(w.message).split(": ", 1)[1][:40] for w in caught] == [
        "column 'rv' is missing or invalid on 1 r", "column 'jv' is missing or invalid on 1 r"]
    assert panel["rv"].to_list() == [None, 0.0001]
    with pytest.raises(DataError, match=r"column 'rv' is missing \(null\) for asset '\.N225' on 2020-01-06"):
        load("oxford_man", path=path, columns=["rv"])


# ---------------------------------------------------------------- Cboe VIX files


def test_example_vix_file() -> None:
    panel = load("vix", path=EXAMPLES / "VIX_History.csv")
    raw = pl.read_csv(EXAMPLES / "VIX_History.csv")
    assert panel.columns == ["date", "asset", "close", "open", "high", "low"]
    assert panel["asset"].unique().to_list() == ["VIX"] and panel.height == 10
    assert panel["date"][0] == dt.date(2020, 1, 2) and panel["close"].to_list() == raw["CLOSE"].to_list()
    assert load("vix", path=EXAMPLES / "VIX_History.csv", start="2020-01-10").height == 4


def test_vix_file_layouts(tmp_path: Path) -> None:
    # a short file whose dates read both ways: Cboe's MM/DD/YYYY
    short = write(tmp_path, "DATE,OPEN,HIGH,LOW,CLOSE\n01/02/2020,13.5,14.0,13.0,13.8\n01/03/2020,13.8,15,13.7,14.5\n",
                  "vix.csv")
    assert load("vix", path=short)["date"].to_list() == [dt.date(2020, 1, 2), dt.date(2020, 1, 3)]
    assert load("vix", path=short, date_format="%d/%m/%Y")["date"].to_list() == [dt.date(2020, 2, 1), dt.date(2020, 3, 1)]
    # Cboe's old vixcurrent.csv: a disclaimer line, then "VIX Close"
    old = write(tmp_path, "Cboe data is compiled for the convenience of site visitors\n"
                "Date,VIX Open,VIX High,VIX Low,VIX Close\n1/2/2004,17.96,18.68,17.54,18.22\n"
                "1/5/2004,18.45,18.49,17.44,17.49\n", "vixcurrent.csv")
    assert load("vix", path=old)["close"].to_list() == [18.22, 17.49]
    with pytest.raises(DataError, match=r"missing column 'CLOSE' \(Cboe's VIX file: DATE,OPEN,HIGH,LOW,CLOSE\)"):
        load("vix", path=write(tmp_path, "DATE,OPEN\n01/02/2020,13\n", "bad.csv"))
    with pytest.raises(DataError, match=r"unknown asset 'VXN' \(available: VIX\)"):
        load("vix", path=short, assets=["VXN"])
