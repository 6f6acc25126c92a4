"""The engine's daily frame (date, ret, rv[, vix, ...]) from a loaded single-asset source."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from volbook import measures
from volbook.data import load
from volbook.errors import DataError, ParameterError
from volbook.realized import VIX_MAX_GAP_DAYS, daily_frame

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"


@pytest.fixture(scope="module")
def ohlc() -> pl.DataFrame:
    return load("sp500_ohlc", columns=["open", "high", "low"], start="2013-01-01")


def test_squared_returns_and_range_measures(ohlc: pl.DataFrame) -> None:
    close = ohlc["close"].to_numpy()
    r = np.log(close[1:] / close[:-1])
    sq = daily_frame(ohlc)
    assert sq.columns == ["date", "ret", "rv"] and sq.schema["date"] == pl.Date
    assert sq["date"].to_list() == ohlc["date"].to_list()[1:]
    np.testing.assert_allclose(sq["ret"], r, rtol=1e-14)
    np.testing.assert_allclose(sq["rv"], r**2, rtol=1e-14)
    o, h, lo, c = (ohlc[x] for x in ("open", "high", "low", "close"))
    for name, expected in [
        ("parkinson", measures.parkinson(h, lo)),
        ("garman_klass", measures.garman_klass(o, h, lo, c)),
        ("rogers_satchell", measures.rogers_satchell(o, h, lo, c)),
    ]:
        frame = daily_frame(ohlc, measure=name)
        np.testing.assert_allclose(frame["rv"], expected[1:], rtol=1e-14)
        np.testing.assert_allclose(frame["ret"], r, rtol=1e-14)
    overnight = daily_frame(ohlc, measure="parkinson", overnight=True)
    gap = np.log(o.to_numpy()[1:] / close[:-1])
    np.testing.assert_allclose(overnight["rv"], measures.parkinson(h, lo)[1:] + gap**2, rtol=1e-14)


def test_no_row_uses_a_later_day(ohlc: pl.DataFrame) -> None:
    """Row t of the frame depends on days <= t only: change every day after t, rows <= t stay."""
    t = 300
    base = daily_frame(ohlc, measure="garman_klass", overnight=True, vix=load("vix"))
    later = ohlc.with_columns(
        *(pl.when(pl.int_range(pl.len()) > t).then(pl.col(c) * 1.3).otherwise(pl.col(c)).alias(c)
          for c in ("open", "high", "low", "close")))
    bumped = daily_frame(later, measure="garman_klass", overnight=True, vix=load("vix"))
    cut = ohlc["date"][t]
    assert base.filter(pl.col("date") <= cut).equals(bumped.filter(pl.col("date") <= cut))
    assert not base.equals(bumped)


def test_vix_is_aligned_on_dates(ohlc: pl.DataFrame) -> None:
    vix = load("vix")
    frame = daily_frame(ohlc, measure="parkinson", vix=vix)
    assert frame.columns == ["date", "ret", "rv", "vix"]
    assert frame["date"].min() == dt.date(2014, 1, 3) and frame["date"].max() == dt.date(2018, 12, 31)
    joined = frame.join(vix.select("date", "close"), on="date", how="left")
    # where VIX has the day, it is that day's close; on 2018-12-05 (VIX closed, see data/vix.md) none
    same = joined.filter(pl.col("close").is_not_null())
    assert (same["vix"] == same["close"]).all()
    carried = joined.filter(pl.col("close").is_null())
    for day in carried["date"]:
        previous = vix.filter(pl.col("date") < day)["close"][-1]
        assert frame.filter(pl.col("date") == day)["vix"].item() == previous
    # a long hole in the VIX series is refused, naming it
    holed = vix.filter(~pl.col("date").is_between(dt.date(2016, 3, 1), dt.date(2016, 3, 31)))
    with pytest.raises(DataError, match=rf"^vix: no value from 2016-02-29 to 2016-03-\d\d \(more than {VIX_MAX_GAP_DAYS} days\)"):
        daily_frame(ohlc, vix=holed)
    with pytest.raises(DataError, match=r"no dates in common with vix"):
        daily_frame(ohlc.filter(pl.col("date") < dt.date(2014, 1, 1)), vix=vix)


def test_intraday_and_oxford_man_sources() -> None:
    bars = load("intraday", path=EXAMPLES / "bars_5min_utc.csv", bar_label="start", early_closes=["2023-11-24"])
    frame = daily_frame(bars, measure="rv", features=["bv", "jv", "rkurt"])
    assert frame.columns == ["date", "ret", "rv", "bv", "jv", "rkurt"] and frame.height == 2
    assert frame["rv"].to_list() == bars["rv"].to_list()[1:]
    assert frame["ret"][0] == pytest.approx(math.log(bars["close"][1] / bars["close"][0]))
    with_gap = daily_frame(bars, measure="rv", overnight=True)
    np.testing.assert_allclose(with_gap["rv"], bars["rv"][1:] + bars["overnight_ret"][1:] ** 2, rtol=1e-14)
    om = load("oxford_man", path=EXAMPLES / "oxford_man_sample.csv")
    spx = daily_frame(om, measure="rv", asset=".SPX")
    assert spx.height == 7 and spx["rv"].to_list() == om.filter(pl.col("asset") == ".SPX")["rv"].to_list()[1:]


@pytest.mark.parametrize(
    ("source", "kwargs", "error", "match"),
    [
        ("sp500", {"measure": "parkinson"}, DataError,
         r"^sp500: measure 'parkinson' needs columns high, low, which the panel lacks \(load a source with open, high "
         r"and low, e\.g\. sp500_ohlc, or use measure='ret2'\)$"),
        ("sp500", {"measure": "rv"}, DataError, r"measure 'rv' needs column rv, which the panel lacks \(sources intraday"),
        ("sp500", {"measure": "yang_zhang"}, ParameterError, r"measure must be one of ret2, parkinson"),
        ("sp500", {"overnight": True}, ParameterError, r"'ret2' is close to close already"),
        ("sp500", {"features": ["vix"]}, ParameterError, r"features: 'vix' is not a numeric column of the panel"),
        ("sp500", {"features": "bv"}, ParameterError, r"features must be a list"),
        ("stocks", {}, DataError, r"^stocks: has 2 assets \(KO, PG\); choose one with asset=$"),
        ("stocks", {"asset": "XOM"}, DataError, r"unknown asset 'XOM'"),
    ],
)
def test_bad_requests(source: str, kwargs: dict, error: type, match: str) -> None:
    panel = load("sp500", start="2020-01-01") if source == "sp500" else load(
        "sp500_stocks", assets=["KO", "PG"], start="2022-01-01")
    with pytest.raises(error, match=match):
        daily_frame(panel, name=source, **kwargs)


def test_gaps_are_named_by_date() -> None:
    frame = pl.DataFrame({
        "date": [dt.date(2020, 1, d) for d in (2, 3, 6)], "asset": "A", "close": [1.0, 1.1, 1.2],
        "rv": [None, 0.0001, None],
    })
    with pytest.raises(DataError, match=r"^p: column 'rv' is missing on 2020-01-06; the daily frame needs it"):
        daily_frame(frame, measure="rv", name="p")
    # the first date's gap is harmless: that row has no return and is dropped
    assert daily_frame(frame.head(2), measure="rv")["rv"].to_list() == [0.0001]
