"""User panels (issue 9 §2): unadjusted splits flagged and handled, snapshot market caps,
a separate sector file, assets entering and leaving; the quality report."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from volbook.data import find_splits, handle_splits, load, quality_report
from volbook.errors import DataError, DataWarning, ParameterError
from volbook.realized import log_returns

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
PANEL, SECTORS = EXAMPLES / "panel_unadjusted.csv", EXAMPLES / "sectors.csv"


def example() -> pl.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # DDD's missing open
        return load("file", path=PANEL, sectors=SECTORS)


def test_example_panel_entering_leaving_snapshot_and_sectors() -> None:
    with pytest.warns(DataWarning, match=r"column 'open' is missing or invalid on 1 row \(first: missing \(null\) "
                      r"for asset 'DDD' on 2020-01-15\)"):
        panel = load("file", path=PANEL, sectors=SECTORS)
    assert panel.columns == ["date", "asset", "close", "open", "high", "low", "volume", "market_cap", "sector"]
    spans = panel.group_by("asset").agg(pl.col("date").min().alias("first"), pl.col("date").max().alias("last"),
                                        pl.col("market_cap").n_unique().alias("caps"), pl.col("sector").first())
    spans = {r["asset"]: r for r in spans.iter_rows(named=True)}
    assert spans["BBB"]["first"] == dt.date(2020, 2, 3) and spans["CCC"]["last"] == dt.date(2020, 3, 12)
    assert all(r["caps"] == 1 for r in spans.values())  # the snapshot on the last row, copied back
    assert panel.filter(pl.col("asset") == "AAA")["market_cap"].unique().to_list() == [9.1e11]
    assert spans["DDD"]["sector"] == "Consumer Staples"
    with pytest.raises(DataError, match=r"column 'open' is missing \(null\) for asset 'DDD' on 2020-01-15"):
        load("file", path=PANEL, columns=["open"])


def test_the_report_flags_the_split_gap_and_snapshot() -> None:
    report = quality_report(example())
    assert report.splits.select("asset", "date", "ratio", "kind").rows() == [("AAA", dt.date(2020, 2, 18), 2.0, "split")]
    assert report.gaps.rows() == [("open", "DDD", 1, dt.date(2020, 1, 15))]
    assert report.snapshots.rows() == [("market_cap", 4)]
    assert report.stale.height == 0
    assert report.lines() == [
        "suspected split of AAA on 2020-02-18: close 186.33 -> 91.66 (ratio 2)",
        "column 'open' of DDD is missing on 1 rows from 2020-01-15",
        "column 'market_cap' is one value per asset (a snapshot) for 4 assets",
    ]


def test_split_handling_adjust_and_drop() -> None:
    panel = example()
    kept = log_returns(panel)
    split_day = (pl.col("asset") == "AAA") & (pl.col("date") == dt.date(2020, 2, 18))
    raw = kept.filter(split_day)["ret"].item()
    assert raw == pytest.approx(math.log(91.66 / 186.33))  # -71%: the split as a return

    adjusted = handle_splits(panel, "adjust")
    assert adjusted.height == panel.height
    ret = log_returns(adjusted)
    assert ret.filter(split_day)["ret"].item() == pytest.approx(math.log(91.66 / (186.33 / 2)), abs=1e-12)
    before = (pl.col("asset") == "AAA") & (pl.col("date") < dt.date(2020, 2, 18))
    np.testing.assert_allclose(adjusted.filter(before)["close"], panel.filter(before)["close"] / 2, rtol=1e-15)
    np.testing.assert_allclose(adjusted.filter(before)["volume"], panel.filter(before)["volume"] * 2, rtol=1e-15)
    # every other return is untouched
    others = ~split_day
    np.testing.assert_allclose(ret.filter(others)["ret"], kept.filter(others)["ret"], rtol=1e-12, atol=1e-15)

    dropped = handle_splits(panel, "drop")
    assert dropped.height == panel.height - 1 and dropped.filter(split_day).height == 0
    rd = log_returns(dropped)
    # the next day's return is the true one; no return spans the split
    after = (pl.col("asset") == "AAA") & (pl.col("date") == dt.date(2020, 2, 19))
    assert rd.filter(after)["ret"].item() == pytest.approx(kept.filter(after)["ret"].item(), abs=1e-12)
    np.testing.assert_allclose(rd.filter(others)["ret"], kept.filter(others)["ret"], rtol=1e-12, atol=1e-15)
    assert rd.filter(pl.col("asset") == "AAA")["ret"].abs().max() < 0.1

    # through load
    assert load("file", path=PANEL, assets=["AAA"], splits="adjust").equals(adjusted.filter(pl.col("asset") == "AAA")
                                                                            .drop("sector"))
    with pytest.raises(ParameterError, match=r"splits must be one of keep, adjust, drop, got 'fix'"):
        load("file", path=PANEL, splits="fix")


def test_find_splits_reverse_splits_bad_prints_and_two_splits() -> None:
    dates = [dt.date(2021, 1, 4) + dt.timedelta(days=i) for i in range(12)]
    close = [10.0, 10.1, 10.2, 1.02 * 10, 10.3, 10.2, 10.1, 10.0, 9.9, 9.8, 9.7, 9.6]
    # A: a 1-for-10 reverse split on day 3 (close x 10); B: a bad print that reverts next day;
    # C: 2-for-1 on day 4 and 3-for-1 on day 8
    a = [c * (10 if i >= 3 else 1) for i, c in enumerate(close)]
    b = [c / 2 if i == 5 else c for i, c in enumerate(close)]
    c = [x / (2 if i >= 4 else 1) / (3 if i >= 8 else 1) for i, x in enumerate(close)]
    panel = pl.DataFrame({"date": dates * 3, "asset": ["A"] * 12 + ["B"] * 12 + ["C"] * 12, "close": a + b + c})
    flags = find_splits(panel)
    assert flags.select("asset", "date", "ratio", "kind").rows() == [
        ("A", dates[3], 10.0, "reverse split"), ("C", dates[4], 2.0, "split"), ("C", dates[8], 3.0, "split")]
    adjusted = handle_splits(panel, "adjust", splits=flags)
    # back-adjusted onto today's share basis: every price as after both splits
    np.testing.assert_allclose(adjusted.filter(pl.col("asset") == "C")["close"], [x / 6 for x in close], rtol=1e-12)
    np.testing.assert_allclose(adjusted.filter(pl.col("asset") == "A")["close"], [x * 10 for x in close], rtol=1e-12)
    assert handle_splits(panel, "keep").equals(panel)
    # the genuine -52% day of a stock (ratio 2.08) is outside the default tolerance
    crash = pl.DataFrame({"date": dates[:3], "asset": "X", "close": [100.0, 100.0 / 2.08, 48.0]})
    assert find_splits(crash).height == 0 and find_splits(crash, tolerance=0.05).height == 1
    with pytest.raises(ParameterError, match="find_splits"):
        find_splits(panel, window=0)


def test_the_shipped_stocks_flag_only_rrc() -> None:
    """sp500_stocks holds adjusted prices: the one flag is RRC's 3-for-1-looking artefact."""
    report = quality_report(load("sp500_stocks"))
    assert report.splits.select("asset", "date", "ratio").rows() == [("RRC", dt.date(1990, 4, 10), 3.0)]
    assert report.stale.filter(pl.col("days") >= 60)["asset"].unique().to_list() == ["RRC"]
    assert report.gaps.height == 0


@pytest.mark.filterwarnings("ignore::volbook.errors.DataWarning")  # the gaps are checked inside
def test_sector_file_errors(tmp_path: Path) -> None:
    prices = tmp_path / "p.csv"
    prices.write_text("date,ticker,close\n2020-01-02,A,1\n2020-01-03,A,2\n2020-01-02,B,3\n2020-01-03,B,4\n")
    twice = tmp_path / "twice.csv"
    twice.write_text("symbol,sector\nA,Energy\nA,Utilities\n")
    with pytest.raises(DataError, match=r"twice\.csv: asset 'A' is listed twice; give one row per asset"):
        load("file", path=prices, sectors=twice)
    nosector = tmp_path / "ns.csv"
    nosector.write_text("symbol,industry\nA,Oil\n")
    with pytest.raises(DataError, match=r"ns\.csv: missing column 'sector' \(looked for headers: sector, gicssector\)"):
        load("file", path=prices, sectors=nosector)
    partial = tmp_path / "partial.csv"
    partial.write_text("Ticker,Sector,Market Cap\nA,Energy,\"1,000,000\"\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel = load("file", path=prices, sectors=partial)
    assert [str(w.message).split(": ", 1)[1] for w in caught] == [
        "column 'market_cap' is missing or invalid on 2 rows (first: missing (null) for asset 'B' on 2020-01-02); "
        "kept as null because this run does not use it",
        "column 'sector' is missing or invalid on 2 rows (first: missing (null) for asset 'B' on 2020-01-02); "
        "kept as null because this run does not use it",
    ]
    assert panel["sector"].to_list() == ["Energy", "Energy", None, None]
    with pytest.raises(DataError, match=r"column 'sector' is missing \(null\) for asset 'B' on 2020-01-02"):
        load("file", path=prices, sectors=partial, columns=["sector"])
    both = tmp_path / "both.csv"
    both.write_text("date,ticker,close,sector\n2020-01-02,A,1,X\n2020-01-03,A,2,X\n")
    with pytest.raises(DataError, match=r"column 'sector' is in the file and in the sector file"):
        load("file", path=both, sectors=partial)
