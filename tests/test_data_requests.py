"""Validation applies to what a run uses; one-line messages for the bad inputs users bring
(issue 5 §2, data side): directories, ';' files with decimal commas, ragged rows, constant
prices, encodings, preambles."""

from __future__ import annotations

import datetime as dt
import gzip
import re
import warnings
from pathlib import Path

import pytest

from volbook.data import load, load_asset
from volbook.errors import DataError, DataWarning, ParameterError


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip())
    return path


# a vendor file of three assets: B lacks one open, C has a broken close and a duplicate row
VENDOR = """
date,ticker,open,high,low,close
2020-01-02,A,10,11,9,10.5
2020-01-03,A,10.5,11,10,10.8
2020-01-06,A,10.8,11.2,10.1,11.0
2020-01-02,B,20,21,19,20.5
2020-01-03,B,,21,19.5,20.2
2020-01-06,B,20.2,20.9,19.8,20.0
2020-01-02,C,5,5.5,4.5,5.2
2020-01-03,C,5.2,5.6,5.0,n/a
2020-01-03,C,5.2,5.6,5.0,5.3
"""


def test_a_single_asset_run_checks_only_its_asset(tmp_path: Path) -> None:
    path = write(tmp_path, VENDOR)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no report either: A is complete
        a = load("file", path=path, assets=["A"])
    assert a["asset"].unique().to_list() == ["A"] and a.height == 3
    assert a["open"].null_count() == 0
    # the whole file, or C, is refused: C is broken
    with pytest.raises(DataError, match=r"column 'close' has a non-numeric value 'n/a'"):
        load("file", path=path)
    with pytest.raises(DataError, match=r"column 'close' has a non-numeric value 'n/a'"):
        load("file", path=path, assets=["C"])


def test_a_gap_in_an_unused_column_is_reported_not_refused(tmp_path: Path) -> None:
    path = write(tmp_path, VENDOR)
    with pytest.warns(DataWarning, match=r"prices\.csv: column 'open' is missing or invalid on 1 row "
                      r"\(first: missing \(null\) for asset 'B' on 2020-01-03\); kept as null"):
        b = load("file", path=path, assets=["B"])
    assert b["open"].to_list() == [20.0, None, 20.2]
    assert b["close"].to_list() == [20.5, 20.2, 20.0]
    # a run that uses open refuses it, naming the asset and date
    with pytest.raises(DataError, match=r"^\S*prices\.csv: column 'open' is missing \(null\) for asset 'B' on 2020-01-03$"):
        load("file", path=path, assets=["B"], columns=["open", "high", "low"])
    # a column the run needs but the file lacks
    with pytest.raises(DataError, match=r"missing column 'volume' \(this run uses: date, asset, close, volume\)"):
        load("file", path=path, assets=["A"], columns=["volume"])
    with pytest.raises(DataError, match=r"unknown column 'opne' asked for"):
        load("file", path=path, assets=["A"], columns=["opne"])
    with pytest.raises(ParameterError, match=r"columns must be a list"):
        load("file", path=path, columns="open")


def test_rows_outside_the_dates_are_not_checked(tmp_path: Path) -> None:
    text = "date,close\n2019-12-30,NaN\n2019-12-31,-1\n2020-01-02,10\n2020-01-03,11\n"
    path = write(tmp_path, text)
    assert load("file", path=path, start="2020-01-01")["close"].to_list() == [10.0, 11.0]
    with pytest.raises(DataError, match=r"column 'close' is NaN for asset 'prices' on 2019-12-30"):
        load("file", path=path)
    with pytest.raises(DataError, match=r"prices\.csv: no rows from 2021-01-01 to the end"):
        load("file", path=path, start="2021-01-01")


def test_wide_file_selects_asset_columns_first(tmp_path: Path) -> None:
    path = write(tmp_path, "date,AAA,BBB\n2020-01-02,10,x\n2020-01-03,11,\n2020-01-06,12,21\n")
    assert load("file", path=path, assets=["AAA"])["close"].to_list() == [10.0, 11.0, 12.0]
    with pytest.raises(DataError, match=r"column 'BBB' has a non-numeric value 'x'"):
        load("file", path=path)
    with pytest.raises(DataError, match=r"unknown asset 'CCC' \(available: AAA, BBB\)"):
        load("file", path=path, assets=["CCC"])


@pytest.mark.filterwarnings("ignore::volbook.errors.DataWarning")  # B's gap, reported in another test
def test_load_asset(tmp_path: Path) -> None:
    path = write(tmp_path, VENDOR)
    with pytest.raises(DataError, match=r"prices\.csv: has 3 assets \(A, B, C\); choose one with asset=$"):
        load_asset("file", path=write(tmp_path, VENDOR.replace("n/a", "5.3").replace("2020-01-03,C,5.2,5.6,5.0,5.3\n", "", 1)))
    assert load_asset("file", path=path, asset="A", min_rows=3).height == 3
    with pytest.raises(DataError, match=r"asset 'A' has 3 rows, at least 4 are needed \(garch_window\)$"):
        load_asset("file", path=path, asset="A", min_rows=4, why="garch_window")
    with pytest.raises(DataError, match=r"^sp500_stocks: has 20 assets \(AAPL, AMD, BAC, BBY, CVX, \.\.\.\); choose one"):
        load_asset("sp500_stocks", start="2022-01-01")
    assert load_asset("sp500_stocks", asset="KO", start="2022-12-01").height == 19
    with pytest.raises(ParameterError, match=r"asset must be one name"):
        load_asset("sp500_stocks", asset=["KO"])  # type: ignore[arg-type]


def test_constant_prices_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "date,close\n2020-01-02,100\n2020-01-03,100\n2020-01-06,100\n", "flat.csv")
    with pytest.raises(DataError, match=r"flat\.csv: asset 'flat' has the same close \(100\) on all 3 rows, so "
                       r"every return is zero; check the close column"):
        load("file", path=path)
    # one moving day is enough (a stale stretch is the quality report's business)
    moving = write(tmp_path, "date,close\n2020-01-02,100\n2020-01-03,100\n2020-01-06,101\n", "moving.csv")
    assert load("file", path=moving).height == 3


def test_semicolon_file_with_decimal_commas_is_read(tmp_path: Path) -> None:
    text = "Date;Open;Close;Volume\n02.01.2020;1.234,50;1.240,25;1.500\n03.01.2020;1.240,00;1.250,75;2.000.000\n"
    panel = load("file", path=write(tmp_path, text, "eu.csv"))
    assert panel["date"].to_list() == [dt.date(2020, 1, 2), dt.date(2020, 1, 3)]
    assert panel["open"].to_list() == [1234.5, 1240.0]
    assert panel["close"].to_list() == [1240.25, 1250.75]
    assert panel["volume"].to_list() == [1500.0, 2_000_000.0]
    tab = "date\tticker\tclose\n2020-01-02\tA\t1,5\n2020-01-03\tA\t1,25\n"
    assert load("file", path=write(tmp_path, tab, "tab.txt"))["close"].to_list() == [1.5, 1.25]
    # ';' with decimal points stays decimal points
    points = "date;close\n2020-01-02;1.5\n2020-01-03;2.5\n"
    assert load("file", path=write(tmp_path, points, "points.csv"))["close"].to_list() == [1.5, 2.5]


def test_decimal_comma_in_a_comma_file_says_how(tmp_path: Path) -> None:
    path = write(tmp_path, 'date,close\n2020-01-02,"1234,5"\n2020-01-03,"1235,5"\n')
    with pytest.raises(DataError, match=r"column 'close' has a non-numeric value '1234,5'; a decimal comma\? "
                       r"pass decimal=\",\" or save the file with ';' separators$"):
        load("file", path=path)
    assert load("file", path=path, decimal=",")["close"].to_list() == [1234.5, 1235.5]
    mixed = write(tmp_path, "date;close\n2020-01-02;1,5\n2020-01-03;1.5\n", "mixed.csv")
    with pytest.raises(DataError, match=r"non-numeric value '1.5'; the column mixes decimal commas and points"):
        load("file", path=mixed)
    with pytest.raises(ParameterError, match=r"decimal must be '\.' or ',', got ' '"):
        load("file", path=path, decimal=" ")


def test_a_row_with_an_extra_field_is_named_by_line(tmp_path: Path) -> None:
    path = write(tmp_path, "date,close\n2020-01-02,1\n2020-01-03,1,234.5\n2020-01-06,2\n")
    with pytest.raises(DataError) as info:
        load("file", path=path)
    assert str(info.value) == (
        f"{path}: line 3 has 3 fields but the header has 2; a stray ',' inside a value? "
        "Quote that value or remove the extra field"
    )
    # after a preamble, the line number is still the file's
    pre = write(tmp_path, "Prices downloaded 2020-02-01\ndate;close\n2020-01-02;1\n2020-01-03;2;3\n", "pre.csv")
    with pytest.raises(DataError, match=r"line 4 has 3 fields but the header has 2; a stray ';'"):
        load("file", path=pre)


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "prices"
    folder.mkdir()
    with pytest.raises(DataError, match=r"prices: is a directory, not a file; pass the CSV or parquet file itself$"):
        load("file", path=folder)
    (folder / "spy.csv").write_text("date,close\n2020-01-02,1\n")
    (folder / "notes.md").write_text("x")
    with pytest.raises(DataError, match=r"is a directory, not a file; pass the CSV or parquet file itself \(it holds spy\.csv\)$"):
        load("file", path=folder)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", r"the file is empty$"),
        (b"\n \n", r"the file is empty$"),
        (b"date,close\n", r"no rows below the header$"),
        (b"date,sector,close\n2020-01-02,\xe9nergie,1\n", r"is not UTF-8 text \(byte 0xe9 on line 2\); save it as UTF-8"),
    ],
    ids=["empty", "blank", "header-only", "latin-1"],
)
def test_unreadable_files(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=match) as info:
        load("file", path=path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_preamble_bom_gzip_and_trailing_separator(tmp_path: Path) -> None:
    # Cboe's old vixcurrent.csv had a disclaimer line above the header
    text = ("Cboe data is compiled for the convenience of site visitors, see terms\n"
            "Date,VIX Open,VIX High,VIX Low,VIX Close\n")
    old = write(tmp_path, text + "01/02/2004,17.96,18.68,17.54,18.22\n01/13/2004,18.45,18.49,17.44,17.49\n", "vix.csv")
    # VIX Close is not a close header for a generic file: the file is read as wide, its
    # columns as assets, which is why load("vix", path=...) exists; here only the preamble matters
    assert load("file", path=old, assets=["VIX Close"])["close"].to_list() == [18.22, 17.49]
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfDate,Close,\n2020-01-02,1,\n2020-01-03,2,\n")
    assert load("file", path=bom)["close"].to_list() == [1.0, 2.0]
    gz = tmp_path / "p.csv.gz"
    gz.write_bytes(gzip.compress(b"date,close\n2020-01-02,1\n2020-01-03,2\n"))
    panel = load("file", path=gz)
    assert panel["asset"].to_list() == ["p", "p"] and panel["close"].to_list() == [1.0, 2.0]


def test_every_message_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "date,close\n2020-01-02,1\n2020-01-03,1,2\n")
    for call in (lambda: load("file", path=path), lambda: load("file", path=tmp_path)):
        with pytest.raises(DataError) as info:
            call()
        assert "\n" not in str(info.value) and re.match(r"^/\S+: ", str(info.value))


def test_a_chapter_passes_its_source_options_to_the_data_check(capsys) -> None:
    """A chapter parameter named like an option of the chosen source reaches load() in the
    runner's check before the kernel starts (chapter 3: bar_label for an intraday file)."""
    from volbook.data import source_options
    from volbook.params import DataRequest
    from volbook.runner import check_data

    bars = Path(__file__).resolve().parents[1] / "data" / "examples" / "bars_5min_utc.csv"
    values = {"source": "intraday", "path": str(bars), "start": None, "end": None, "asset": None,
              "bar_label": "start", "early_closes": ["2023-11-24"], "timestamps_tz": None, "measure": "rv5",
              "window": 1000}
    assert source_options("intraday", values) == {"bar_label": "start", "early_closes": ["2023-11-24"]}
    assert source_options("oxford_man", values) == {"measure": "rv5"}
    assert source_options("sp500_ohlc", values) == {}
    check_data("x", values, DataRequest(columns=("close",)))
    assert capsys.readouterr().err == ""
    check_data("x", values | {"early_closes": []}, DataRequest(columns=("close",)))
    assert "list it in early_closes" in capsys.readouterr().err  # the half day is not known: a note
