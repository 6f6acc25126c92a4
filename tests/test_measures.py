import datetime as dt
import math
import statistics

import numpy as np
import polars as pl
import pytest

from volbook.bars import aggregate_bars as realized_variance_intraday
from volbook.errors import DataError, DataWarning, ParameterError
from volbook.measures import (
    bipower_variation,
    garman_klass,
    jump_variation,
    parkinson,
    realized_kurtosis,
    realized_quarticity,
    realized_variance,
    rogers_satchell,
    yang_zhang,
)

FIVE = dt.timedelta(minutes=5)


def _bars(day: dt.date, log_returns, start_log_price: float = 0.0, first: dt.time = dt.time(9, 30),
          step: dt.timedelta = FIVE) -> pl.DataFrame:
    """End-labelled bars: a price at ``first`` then one per ``step`` (5 minutes) after each return."""
    t0 = dt.datetime.combine(day, first)
    logp = start_log_price + np.r_[0.0, np.cumsum(log_returns)]
    return pl.DataFrame({"timestamp": [t0 + i * step for i in range(logp.size)], "price": np.exp(logp)},
                        schema_overrides={"timestamp": pl.Datetime("us")})


# ---------------------------------------------------------------- OHLC, by hand


def test_ohlc_estimators_by_hand():
    o, h, lo, c = 100.0, 110.0, 95.0, 105.0
    hl, co = math.log(h / lo), math.log(c / o)
    assert parkinson([h], [lo])[0] == pytest.approx(hl**2 / (4 * math.log(2)), rel=1e-14)
    assert garman_klass([o], [h], [lo], [c])[0] == pytest.approx(0.5 * hl**2 - (2 * math.log(2) - 1) * co**2, rel=1e-14)
    rs = math.log(h / c) * math.log(h / o) + math.log(lo / c) * math.log(lo / o)
    assert rogers_satchell([o], [h], [lo], [c])[0] == pytest.approx(rs, rel=1e-14)
    # a day that goes straight up from open=low to close=high: RS sees no variance, Parkinson does
    assert rogers_satchell([100.0], [110.0], [100.0], [110.0])[0] == 0.0
    assert parkinson(pl.Series([110.0]), pl.Series([100.0]))[0] > 0


def test_yang_zhang_against_a_slow_window():
    rng = np.random.default_rng(1)
    n_days, n = 40, 10
    close = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal(n_days)))
    prev_close = np.r_[np.nan, close[:-1]]
    open_ = np.r_[100.0, close[:-1]] * np.exp(0.004 * rng.standard_normal(n_days))
    high = np.maximum(open_, close) * np.exp(np.abs(0.005 * rng.standard_normal(n_days)))
    low = np.minimum(open_, close) * np.exp(-np.abs(0.005 * rng.standard_normal(n_days)))
    got = yang_zhang(open_, high, low, close, prev_close, n)
    k = 0.34 / (1.34 + (n + 1) / (n - 1))
    assert np.isnan(got[: n]).all()  # first n-1 windows are short, window at n-1 contains the NaN prev_close
    for t in range(n, n_days):
        days = range(t - n + 1, t + 1)
        v_o = statistics.variance([math.log(open_[i] / prev_close[i]) for i in days])
        v_c = statistics.variance([math.log(close[i] / open_[i]) for i in days])
        v_rs = statistics.fmean([math.log(high[i] / close[i]) * math.log(high[i] / open_[i])
                                 + math.log(low[i] / close[i]) * math.log(low[i] / open_[i]) for i in days])
        assert got[t] == pytest.approx(v_o + k * v_c + (1 - k) * v_rs, rel=1e-10)
    # the window ends at t: changing day t+1 leaves the value at t unchanged
    bumped = high.copy()
    bumped[30:] *= 1.05
    np.testing.assert_array_equal(yang_zhang(open_, bumped, low, close, prev_close, n)[:30], got[:30])


def test_ohlc_input_errors():
    with pytest.raises(DataError, match="low exceeds high on 1 days"):
        parkinson([1.0, 2.0], [1.5, 1.0])
    with pytest.raises(DataError, match="close exceeds high on 1 days"):
        garman_klass([1.0], [1.1], [0.9], [1.2])
    with pytest.raises(DataError, match="open is below low on 1 days"):
        rogers_satchell([0.8], [1.1], [0.9], [1.0])
    with pytest.raises(DataError, match="high has 1 values that are missing"):
        parkinson([np.nan], [1.0])
    with pytest.raises(DataError, match="price arrays differ in length"):
        parkinson([2.0, 2.0], [1.0])
    with pytest.raises(ParameterError, match="n must be an integer >= 2"):
        yang_zhang([1.0], [1.0], [1.0], [1.0], [1.0], 1)


# ---------------------------------------------------------------- intraday, closed forms


def test_constant_returns_full_and_half_day():
    c = 0.001
    full = _bars(dt.date(2024, 1, 2), np.full(78, c))
    half = _bars(dt.date(2024, 1, 3), np.full(42, -c), start_log_price=78 * c + 0.002)  # 09:30-13:00
    out = realized_variance_intraday(pl.concat([full, half]))
    assert out.columns == ["date", "close", "rv", "bv", "jv", "rq", "rkurt", "overnight_ret", "open_to_close", "n_bars"]
    assert out["date"].to_list() == [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]
    assert out["n_bars"].to_list() == [78, 42]
    # full day: sum of 78 c^2; half day: 42 c^2 scaled by 78/42 = 78 c^2
    np.testing.assert_allclose(out["rv"], [78 * c**2, 78 / 42 * 42 * c**2], rtol=1e-9)
    np.testing.assert_allclose(out["bv"], [math.pi / 2 * 78 / 77 * 77 * c**2, math.pi / 2 * 78 / 41 * 41 * c**2],
                               rtol=1e-9)
    assert out["overnight_ret"][0] is None
    assert out["overnight_ret"][1] == pytest.approx(0.002, rel=1e-9)
    np.testing.assert_allclose(out["open_to_close"], [78 * c, -42 * c], rtol=1e-9)
    np.testing.assert_allclose(out["close"], np.exp([78 * c, 78 * c + 0.002 - 42 * c]), rtol=1e-12)
    # quarticity: (N/3)(N/n) sum r^4; kurtosis n sum r^4 / (sum r^2)^2 = 1 for equal |r|
    np.testing.assert_allclose(out["rq"], [78 / 3 * 78 * c**4, 78 / 3 * 78 / 42 * 42 * c**4], rtol=1e-9)
    np.testing.assert_allclose(out["rkurt"], [1.0, 1.0], rtol=1e-9)
    plain = realized_variance_intraday(pl.concat([full, half]), scale_short_days=False)
    np.testing.assert_allclose(plain["rv"], [78 * c**2, 42 * c**2], rtol=1e-9)
    np.testing.assert_allclose(plain["bv"], [math.pi / 2 * 78 * c**2, math.pi / 2 * 42 * c**2], rtol=1e-9)


def test_bars_outside_the_session_are_dropped():
    rng = np.random.default_rng(2)
    day = dt.date(2024, 2, 5)
    bars = _bars(day, 0.001 * rng.standard_normal(78))
    noise = pl.DataFrame({
        "timestamp": [dt.datetime.combine(day, t) for t in
                      (dt.time(4, 0), dt.time(8, 0), dt.time(9, 25), dt.time(16, 5), dt.time(20, 0))],
        "price": [5.0, 0.5, 3.0, 7.0, 0.1],
    }, schema_overrides={"timestamp": pl.Datetime("us")})
    base = realized_variance_intraday(bars)
    assert realized_variance_intraday(pl.concat([noise, bars]).sort("timestamp")).equals(base)
    assert base["n_bars"].item() == 78


def test_utc_and_exchange_timestamps_agree_across_dst():
    rng = np.random.default_rng(3)
    days = [dt.date(2024, 1, 16), dt.date(2024, 3, 8), dt.date(2024, 3, 11), dt.date(2024, 7, 9)]  # EST and EDT
    bars = pl.concat([_bars(d, 0.001 * rng.standard_normal(78), start_log_price=0.01 * i) for i, d in enumerate(days)])
    local = realized_variance_intraday(bars)
    utc = bars.with_columns(pl.col("timestamp").dt.replace_time_zone("America/New_York").dt.convert_time_zone("UTC"))
    assert utc["timestamp"][0].hour == 14 and utc.filter(pl.col("timestamp").dt.month() == 7)["timestamp"][0].hour == 13
    assert realized_variance_intraday(utc).equals(local)
    assert local["n_bars"].to_list() == [78] * 4
    # naive UTC timestamps read as exchange time are refused (the session would start at 14:30)
    with pytest.raises(DataError, match="timestamps_tz='UTC'"):
        realized_variance_intraday(utc.with_columns(pl.col("timestamp").dt.replace_time_zone(None)))


def test_start_and_end_labels_agree():
    rng = np.random.default_rng(4)
    bars = pl.concat([_bars(dt.date(2024, 4, d), 0.001 * rng.standard_normal(78)) for d in (1, 2, 3)])
    # the same prices, labelled at bar start: the 09:30 price is the close of the 09:25-09:30 bar
    start = bars.with_columns(pl.col("timestamp") - FIVE)
    assert realized_variance_intraday(start, bar_label="start").equals(realized_variance_intraday(bars))


def test_missing_bar_and_multi_asset():
    rng = np.random.default_rng(5)
    r = 0.001 * rng.standard_normal(78)
    a = _bars(dt.date(2024, 5, 1), r)
    gap = a.filter(pl.int_range(pl.len()) != 40)  # one missing bar: two intervals merge
    got = realized_variance_intraday(gap)
    merged = np.r_[r[:39], r[39] + r[40], r[41:]]
    assert got["n_bars"].item() == 77
    assert got["rv"].item() == pytest.approx(78 / 77 * np.sum(merged**2), rel=1e-9)
    both = pl.concat([a.with_columns(asset=pl.lit("A")), gap.with_columns(asset=pl.lit("B"))])
    out = realized_variance_intraday(both.sample(fraction=1.0, shuffle=True, seed=1))
    assert out.columns == ["date", "asset", "close", "rv", "bv", "jv", "rq", "rkurt", "overnight_ret",
                           "open_to_close", "n_bars"]
    assert out["rv"].to_list() == pytest.approx([np.sum(r**2), got["rv"].item()], rel=1e-9)
    assert out["overnight_ret"].null_count() == 2  # no overnight return across assets


def test_bars_shorter_than_full_day_bars_are_refused():
    rng = np.random.default_rng(6)
    one_minute = dt.timedelta(minutes=1)
    r = 0.001 * rng.standard_normal(390)
    bars = _bars(dt.date(2024, 1, 2), r, step=one_minute)  # a full day of 1-minute bars
    # the default N = 78 would scale the sum of 390 squares by 78/390
    hint = r"^bars: bars come every 1min but full_day_bars=78 means 5min bars in the session; set full_day_bars=390$"
    with pytest.raises(DataError, match=hint):
        realized_variance_intraday(bars)
    with pytest.raises(DataError, match=hint):
        realized_variance_intraday(pl.concat([_bars(dt.date(2024, 1, 2), r[:78]).with_columns(asset=pl.lit("A")),
                                              bars.with_columns(asset=pl.lit("B"))]))
    out = realized_variance_intraday(bars, full_day_bars=390)
    assert out["n_bars"].item() == 390
    assert out["rv"].item() == pytest.approx(np.sum(r**2), rel=1e-9)
    # a short day of 1-minute bars has fewer than 78 returns, but its spacing still tells
    with pytest.raises(DataError, match=hint):
        realized_variance_intraday(bars.head(60))


def test_labels_inside_the_bar_are_named_with_the_fix():
    """Bars stamped a minute after their start: the offset, not full_day_bars, is the problem."""
    rng = np.random.default_rng(7)
    days = [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]
    exact = pl.concat([_bars(d, 0.001 * rng.standard_normal(78), start_log_price=0.01 * i) for i, d in enumerate(days)])
    base = realized_variance_intraday(exact)
    # the vendor stamps the 09:30-09:35 bar (closing price at 09:35) at 09:31, and there is no 09:30 print
    late = exact.filter(pl.col("timestamp").dt.time() > dt.time(9, 30)).with_columns(
        pl.col("timestamp") - dt.timedelta(minutes=4))
    message = (r"^bars: every label sits 1min after a 5min bar boundary from 09:30 \(e\.g\. 2024-01-02 09:31:00\), "
               r"so the labels are neither bar starts nor bar ends; if they sit at a fixed point inside each bar, "
               r"pass bar_label='start', label_offset='1min' \(the same as bar_label='end', label_offset='-4min'\)$")
    for label in ("end", "start"):
        with pytest.raises(DataError, match=message):
            realized_variance_intraday(late, bar_label=label)
    fixed = realized_variance_intraday(late, bar_label="start", label_offset="1min")
    assert fixed["n_bars"].to_list() == [77, 77]  # no open print: the first interval is missing
    both = base.join(fixed, on="date", suffix="_late")
    assert (both["close"] == both["close_late"]).all()
    # stamped at the last trade, 2 seconds before the bar's end
    early = exact.with_columns(pl.col("timestamp") - dt.timedelta(seconds=2))
    with pytest.raises(DataError, match=r"every label sits 4min58s after .* pass bar_label='start', label_offset="
                       r"'4min58s' \(the same as bar_label='end', label_offset='-2s'\)$"):
        realized_variance_intraday(early)
    assert realized_variance_intraday(early, label_offset=-2).equals(base)
    assert realized_variance_intraday(early, bar_label="start", label_offset="4min58s").equals(base)
    assert realized_variance_intraday(early, label_offset=dt.timedelta(seconds=-2)).equals(base)
    # labels at varying points of the bar: not regular bars
    jitter = exact.with_columns(pl.col("timestamp") + pl.duration(seconds=pl.int_range(pl.len()) % 7 + 1))
    with pytest.raises(DataError, match=r"bar ends fall off the 5min grid from 09:30 at varying points .* resample"):
        realized_variance_intraday(jitter)
    with pytest.raises(ParameterError, match=r"label_offset: 'soon' is not a duration"):
        realized_variance_intraday(exact, label_offset="soon")
    with pytest.raises(ParameterError, match=r"label_offset must be shorter than a bar"):
        realized_variance_intraday(exact, label_offset="5min")


def test_utc_read_as_exchange_time_is_refused_with_the_fix():
    rng = np.random.default_rng(8)
    days = [dt.date(2024, 1, 16), dt.date(2024, 1, 17), dt.date(2024, 7, 9)]
    bars = pl.concat([_bars(d, 0.001 * rng.standard_normal(78), start_log_price=0.01 * i) for i, d in enumerate(days)])
    naive_utc = bars.with_columns(pl.col("timestamp").dt.replace_time_zone("America/New_York")
                                  .dt.convert_time_zone("UTC").dt.replace_time_zone(None))
    with pytest.raises(DataError, match=r"^bars: on most days the first bar inside the session 09:30-16:00 ends at "
                       r"14:30 \(America/New_York\), 5:00:00 after the open: the timestamps are probably in another "
                       r"time zone; pass timestamps_tz='UTC'"):
        realized_variance_intraday(naive_utc)
    assert realized_variance_intraday(naive_utc, timestamps_tz="UTC").equals(realized_variance_intraday(bars))
    with pytest.raises(ParameterError, match=r"unknown time zone 'Mars/Olympus'"):
        realized_variance_intraday(bars, timestamps_tz="Mars/Olympus")


def test_open_column_gives_the_first_interval():
    """OHLC bars labelled at their start: the first bar's open is the 09:30 price."""
    rng = np.random.default_rng(9)
    r = 0.001 * rng.standard_normal(78)
    end_labelled = _bars(dt.date(2024, 3, 1), r)  # 79 prices 09:30 .. 16:00
    prices = end_labelled["price"].to_numpy()
    ohlc = pl.DataFrame({"timestamp": end_labelled["timestamp"][:-1], "open": prices[:-1], "price": prices[1:]})
    with_open = realized_variance_intraday(ohlc, bar_label="start")
    assert with_open["n_bars"].item() == 78
    for col in ("rv", "bv", "rq", "rkurt", "open_to_close", "close"):
        assert with_open[col].item() == pytest.approx(realized_variance_intraday(end_labelled)[col].item(), rel=1e-12)
    # without the open, start labels read as end labels stop one bar short of the close: warned
    with pytest.warns(DataWarning, match=r"no day has a bar ending at the session close 16:00, most end at 15:55: "
                      r"if the file labels bars at their start, pass bar_label='start'"):
        realized_variance_intraday(ohlc.drop("open"))


def test_jump_variation_closed_form():
    c, jump = 0.001, 0.02
    r = np.tile([c, -c], 39)
    r[50] = jump
    out = realized_variance_intraday(_bars(dt.date(2024, 6, 3), r)).with_columns(jump_variation())
    rv = np.sum(r**2)
    bv = math.pi / 2 * 78 / 77 * np.sum(np.abs(r[1:]) * np.abs(r[:-1]))
    assert out["rv"].item() == pytest.approx(rv, rel=1e-9)
    assert out["bv"].item() == pytest.approx(bv, rel=1e-9)
    assert out["jv"].item() == pytest.approx(rv - bv, rel=1e-9)
    assert out["jv"].item() > 0.5 * jump**2
    # never negative
    frame = pl.DataFrame({"rv": [1.0, 2.0], "bv": [1.5, 1.0]})
    assert frame.select(jump_variation(pl.col("rv"), "bv"))["jv"].to_list() == [0.0, 1.0]


def test_expressions_in_a_group_by():
    frame = pl.DataFrame({"day": [1, 1, 1, 2, 2], "r": [0.1, -0.2, 0.3, 0.5, None]})
    out = frame.group_by("day", maintain_order=True).agg(
        rv=realized_variance(pl.col("r"), None),
        bv=bipower_variation(pl.col("r"), 4),
        rv4=realized_variance(pl.col("r"), 4),
    )
    assert out["rv"].to_list() == pytest.approx([0.14, 0.25])
    assert out["rv4"].to_list() == pytest.approx([4 / 3 * 0.14, 4 * 0.25])
    assert out["bv"][0] == pytest.approx(math.pi / 2 * 4 / 2 * (0.02 + 0.06))
    assert out["bv"][1] is None  # one return: no bipower variation
    more = frame.group_by("day", maintain_order=True).agg(
        rq=realized_quarticity(pl.col("r"), None), rq4=realized_quarticity(pl.col("r"), 4),
        rk=realized_kurtosis(pl.col("r")))
    fourth = 0.1**4 + 0.2**4 + 0.3**4
    assert more["rq"].to_list() == pytest.approx([3 / 3 * fourth, 1 / 3 * 0.5**4])
    assert more["rq4"].to_list() == pytest.approx([4 / 3 * 4 / 3 * fourth, 4 / 3 * 4 * 0.5**4])
    assert more["rk"].to_list() == pytest.approx([3 * fourth / 0.14**2, 1.0])
    flat = pl.DataFrame({"r": [0.0, 0.0]}).select(realized_kurtosis(pl.col("r")))
    assert flat.item() is None  # no movement: kurtosis undefined


def test_intraday_input_errors():
    bars = _bars(dt.date(2024, 1, 2), np.zeros(78))
    with pytest.raises(DataError, match=r"bars lack columns \['price'\]"):
        realized_variance_intraday(bars.drop("price"))
    with pytest.raises(DataError, match="'timestamp' must be Datetime"):
        realized_variance_intraday(bars.with_columns(pl.col("timestamp").cast(pl.String)))
    with pytest.raises(DataError, match="'price' has 1 values"):
        realized_variance_intraday(bars.with_columns(price=pl.when(pl.int_range(pl.len()) == 3).then(0.0)
                                                     .otherwise("price")))
    with pytest.raises(DataError, match="duplicate timestamps"):
        realized_variance_intraday(pl.concat([bars, bars[:1]]))
    with pytest.raises(ParameterError, match="bar_label must be"):
        realized_variance_intraday(bars, bar_label="middle")
    with pytest.raises(ParameterError, match="session must be"):
        realized_variance_intraday(bars, session=(dt.time(16), dt.time(9)))
    with pytest.raises(ParameterError, match="session must be"):
        realized_variance_intraday(bars, session=("9:30", "16:00"))
    assert realized_variance_intraday(bars, session=("09:30", "16:00")).equals(realized_variance_intraday(bars))
    with pytest.raises(ParameterError, match="full_day_bars must be a positive integer"):
        realized_variance_intraday(bars, full_day_bars=0)


# ---------------------------------------------------------------- simulated Brownian paths


@pytest.fixture(scope="module")
def brownian_days():
    """2000 days of a driftless Brownian log price, one step per second over 6.5 hours.

    Daily session variance sigma^2 = 1e-4, overnight gaps with variance 0.25e-4. Returns the
    daily OHLC (high and low from all 23,400 steps) and 5-minute end-labelled bars.
    """
    rng = np.random.default_rng(20240101)
    days, steps, sigma, sigma_o = 2000, 23_400, 0.01, 0.005
    every = steps // 78
    ohlc = {k: np.empty(days) for k in ("open", "high", "low", "close")}
    sampled = np.empty((days, 79))
    level = 0.0
    for lo in range(0, days, 250):
        gaps = sigma_o * rng.standard_normal(250)
        paths = np.cumsum(sigma / np.sqrt(steps) * rng.standard_normal((250, steps)), axis=1)
        for j in range(250):
            open_ = level + gaps[j]
            path = open_ + paths[j]
            ohlc["open"][lo + j], ohlc["close"][lo + j] = open_, path[-1]
            ohlc["high"][lo + j] = max(open_, path.max())
            ohlc["low"][lo + j] = min(open_, path.min())
            sampled[lo + j] = np.r_[open_, path[every - 1 :: every]]
            level = path[-1]
    first = dt.datetime(2000, 1, 3, 9, 30)
    stamps = np.array([first + dt.timedelta(days=d) + i * FIVE for d in range(days) for i in range(79)],
                      dtype="datetime64[us]")
    bars = pl.DataFrame({"timestamp": stamps, "price": np.exp(sampled.ravel())})
    prices = {k: np.exp(v) for k, v in ohlc.items()}
    return prices, bars, sigma**2, sigma_o**2


def test_range_estimators_are_unbiased_on_brownian_paths(brownian_days):
    p, _, var, var_o = brownian_days
    for estimate in (parkinson(p["high"], p["low"]), garman_klass(p["open"], p["high"], p["low"], p["close"]),
                     rogers_satchell(p["open"], p["high"], p["low"], p["close"])):
        assert estimate.mean() == pytest.approx(var, rel=0.05)
    prev_close = np.r_[np.nan, p["close"][:-1]]
    yz = yang_zhang(p["open"], p["high"], p["low"], p["close"], prev_close, 20)
    assert np.nanmean(yz) == pytest.approx(var + var_o, rel=0.05)  # Yang-Zhang includes the overnight gap


def test_intraday_measures_are_unbiased_on_brownian_paths(brownian_days):
    _, bars, var, var_o = brownian_days
    out = realized_variance_intraday(bars)
    assert out.height == 2000 and (out["n_bars"] == 78).all()
    assert out["rv"].mean() == pytest.approx(var, rel=0.05)
    assert out["bv"].mean() == pytest.approx(var, rel=0.05)
    assert out["overnight_ret"].var() == pytest.approx(var_o, rel=0.1)


# ---------------------------------------------------------------- simulated intraday paths, known truth


def _subsample(bars: pl.DataFrame, fine: int, n: int) -> pl.DataFrame:
    """Every (fine / n)-th observation of each day's fine + 1 observations: n-bar data."""
    return bars.filter((pl.int_range(pl.len()) % (fine + 1)) % (fine // n) == 0)


@pytest.fixture(scope="module")
def no_jumps():
    from volbook.data.synthetic_intraday import simulate_intraday

    return simulate_intraday(400, 1, bars_per_day=390, steps_per_bar=12)


@pytest.fixture(scope="module")
def with_jumps():
    from volbook.data.synthetic_intraday import simulate_intraday

    return simulate_intraday(400, 2, bars_per_day=390, steps_per_bar=12, jump_intensity=0.5, jump_vol=0.01)


def _measures(sim, n: int) -> pl.DataFrame:
    out = realized_variance_intraday(_subsample(sim.bars, 390, n), full_day_bars=n)
    assert (out["n_bars"] == n).all()
    return out.join(sim.truth, on="date", suffix="_true")


def _mean_rel_error(frame: pl.DataFrame, est: str, true: str) -> float:
    return float(((frame[est] - frame[true]).abs() / frame[true]).mean())


def test_measures_converge_to_the_integrated_variance(no_jumps):
    frames = {n: _measures(no_jumps, n) for n in (13, 78, 390)}
    for n, f in frames.items():
        # Barndorff-Nielsen & Shephard: (RV - IV) / sqrt(2 IQ / n) is close to N(0, 1)
        z = (f["rv"] - f["iv"]) / (2 * f["iq"] / n).sqrt()
        assert abs(z.mean()) < 4 / np.sqrt(f.height) and 0.85 < z.std() < 1.15, (n, z.mean(), z.std())
        np.testing.assert_allclose(f["overnight_ret"].drop_nulls(), f["overnight_ret_true"].drop_nulls(), atol=1e-12)
    for est, true in [("rv", "iv"), ("bv", "iv"), ("rq", "iq")]:
        errors = [_mean_rel_error(frames[n], est, true) for n in (13, 78, 390)]
        assert errors[0] > errors[1] > errors[2], (est, errors)
    fine = frames[390]
    assert abs(fine["bv"].mean() / fine["iv"].mean() - 1) < 0.02
    assert abs(fine["rq"].mean() / fine["iq"].mean() - 1) < 0.05
    # realized kurtosis estimates 3 IQ / IV^2 (above 3: volatility moves within the day)
    assert fine["rkurt"].mean() == pytest.approx((3 * fine["iq"] / fine["iv"] ** 2).mean(), rel=0.05)
    assert fine["jv"].mean() < 0.03 * fine["iv"].mean()  # no jumps: little jump variation


def test_bipower_separates_jumps_as_sampling_gets_finer(with_jumps):
    frames = {n: _measures(with_jumps, n) for n in (13, 78, 390)}
    assert with_jumps.truth["n_jumps"].sum() > 150
    rv_errors = [_mean_rel_error(frames[n], "rv", "qv") for n in (13, 78, 390)]  # RV -> IV + jumps^2
    bv_bias = [abs(float((frames[n]["bv"] / frames[n]["iv"]).mean()) - 1) for n in (13, 78, 390)]  # BV -> IV
    jv_corr = [np.corrcoef(frames[n]["jv"], frames[n]["jv_true"])[0, 1] for n in (13, 78, 390)]
    assert rv_errors[0] > rv_errors[1] > rv_errors[2] and rv_errors[2] < 0.07, rv_errors
    assert bv_bias[0] > bv_bias[1] > bv_bias[2] and bv_bias[2] < 0.06, bv_bias
    assert jv_corr[0] < jv_corr[1] < jv_corr[2] and jv_corr[2] > 0.99, jv_corr
    fine = frames[390]
    assert fine["jv"].mean() == pytest.approx(fine["jv_true"].mean(), rel=0.15)
    calm = fine.filter(pl.col("n_jumps") == 0)
    assert calm["jv"].mean() < 0.03 * fine["iv"].mean()
