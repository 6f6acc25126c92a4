"""Write the small example files of ``data/examples/`` (simulated values in real layouts).

Run from the repository root: ``python data/examples/make_examples.py``. Every value is
simulated with a fixed seed (nothing here is market data); the layouts are the real ones the
loaders read. ``tests/test_data_examples.py`` regenerates the files and requires them to be
byte-identical to the committed ones, then loads each through ``volbook.data.load``.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import polars as pl

from volbook.bars import aggregate_bars
from volbook.data.synthetic_intraday import simulate_intraday

HERE = Path(__file__).resolve().parent
NEW_YORK = "America/New_York"


def _bar_rows(day: dt.date, prices: np.ndarray, first: dt.time, rng: np.random.Generator) -> list[tuple]:
    """Start-labelled 5-minute OHLCV bars from the prices at bar boundaries."""
    t0 = dt.datetime.combine(day, first)
    rows = []
    for k in range(prices.size - 1):
        o, c = prices[k], prices[k + 1]
        wiggle = np.abs(rng.normal(0, 4e-4, 2))
        local = (t0 + k * dt.timedelta(minutes=5)).replace(tzinfo=None)
        rows.append((local, o, max(o, c) * (1 + wiggle[0]), min(o, c) * (1 - wiggle[1]),
                     c, int(rng.integers(5_000, 50_000))))
    return rows


def bars_frame() -> pl.DataFrame:
    """Three sessions of SPY-like 5-minute bars around Thanksgiving 2023, as a vendor sends
    them: labelled at the bar's start, in UTC, with pre- and after-market bars, a missing
    bar, and the half day of 2023-11-24 (close 13:00) whose after-hours bars follow it."""
    rng = np.random.default_rng(20231124)
    sim = simulate_intraday(3, 7, annual_vol=0.15, first_date="2023-11-21")
    logp = np.log(sim.bars["price"].to_numpy()).reshape(3, 79) + np.log(4.5)  # SPY-like levels
    days = [dt.date(2023, 11, 21), dt.date(2023, 11, 22), dt.date(2023, 11, 24)]  # 23rd: Thanksgiving
    rows: list[tuple] = []
    for i, day in enumerate(days):
        session = np.exp(logp[i] if i < 2 else logp[i][:43])  # the half day: 42 bars to 13:00
        pre = session[0] * np.exp(np.cumsum(rng.normal(0, 3e-4, 7))[::-1])  # 09:00-09:30
        pre[-1] = session[0]
        closing = session[-1] * np.exp(np.r_[0.0, np.cumsum(rng.normal(0, 3e-4, 6))])
        rows += _bar_rows(day, pre, dt.time(9, 0), rng)
        session_rows = _bar_rows(day, session, dt.time(9, 30), rng)
        if i == 0:
            del session_rows[17]  # the 10:55 bar is missing
        rows += session_rows
        rows += _bar_rows(day, closing, dt.time(16, 0) if i < 2 else dt.time(13, 0), rng)
    frame = pl.DataFrame(rows, schema=["local", "open", "high", "low", "close", "volume"], orient="row")
    return frame.select(
        pl.col("local").dt.replace_time_zone(NEW_YORK).dt.convert_time_zone("UTC")
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("timestamp"),
        *(pl.col(c).round(4) for c in ("open", "high", "low", "close")),
        "volume",
    )


def oxford_man_frame() -> pl.DataFrame:
    """Eight days of two indices in the Oxford-Man layout (first column unnamed: local
    midnight with the index's UTC offset), measures computed by volbook from simulated bars."""
    parts = []
    for seed, (symbol, offset, level, opens, closes) in enumerate(
        [(".FTSE", "+00:00", 7500.0, 80000.0, 163000.0), (".SPX", "-05:00", 3250.0, 93000.0, 160000.0)]
    ):
        sim = simulate_intraday(8, 100 + seed, first_date="2020-01-02")
        bars = sim.bars.with_columns(pl.col("price") * level / 100.0)
        five = aggregate_bars(bars)
        ten = aggregate_bars(bars.filter((pl.int_range(pl.len()) % 79) % 2 == 0), full_day_bars=39)
        first = bars.group_by(pl.col("timestamp").dt.date().alias("date")).agg(pl.col("price").first().alias("open_price"))
        day = five.join(first, on="date").join(ten.select("date", pl.col("rv").alias("rv10")), on="date").sort("date")
        parts.append(day.select(
            (pl.col("date").dt.strftime("%Y-%m-%d") + f" 00:00:00{offset}").alias(""),
            pl.lit(symbol).alias("Symbol"),
            pl.lit(opens).alias("open_time"),
            pl.col("open_price").round(2),
            pl.lit(closes).alias("close_time"),
            pl.col("close").round(2).alias("close_price"),
            pl.col("open_to_close").round(8),
            (pl.col("n_bars") + 1).alias("nobs"),
            pl.col("rv").round(10).alias("rv5"),
            pl.col("rv10").round(10),
            pl.col("bv").round(10),
        ))
    return pl.concat(parts).sort("Symbol", "")


def vix_frame() -> pl.DataFrame:
    """Ten days in Cboe's ``VIX_History.csv`` layout (DATE as MM/DD/YYYY), made-up levels."""
    rng = np.random.default_rng(2020)
    dates = np.busday_offset(np.datetime64("2020-01-02"), np.arange(10), roll="forward")
    close = 13.0 * np.exp(np.cumsum(rng.normal(0, 0.06, 10)))
    opens = np.r_[12.5, close[:-1]] * np.exp(rng.normal(0, 0.02, 10))
    high = np.maximum(opens, close) * np.exp(np.abs(rng.normal(0, 0.03, 10)))
    low = np.minimum(opens, close) * np.exp(-np.abs(rng.normal(0, 0.03, 10)))
    return pl.DataFrame({
        "DATE": [d.astype(dt.date).strftime("%m/%d/%Y") for d in dates],
        "OPEN": opens.round(2), "HIGH": high.round(2), "LOW": low.round(2), "CLOSE": close.round(2),
    })


def panel_frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    """A vendor's long daily file of unadjusted closes for four stocks, Jan-Mar 2020, and a
    separate sector file. AAA splits 2-for-1 on 2020-02-18 (unadjusted: the close halves);
    BBB enters on 2020-02-03; CCC leaves after 2020-03-13; DDD's open is missing on
    2020-01-15; market caps are one snapshot, on each asset's last row only."""
    rng = np.random.default_rng(42)
    dates = np.busday_offset(np.datetime64("2020-01-02"), np.arange(62), roll="forward").astype(dt.date)
    rows = []
    spans = {"AAA": (0, 62), "BBB": (22, 62), "CCC": (0, 51), "DDD": (0, 62)}
    levels = {"AAA": 180.0, "BBB": 45.0, "CCC": 12.0, "DDD": 75.0}
    caps = {"AAA": 9.1e11, "BBB": 2.3e10, "CCC": 1.8e9, "DDD": 1.2e11}
    split = int(np.flatnonzero(dates == dt.date(2020, 2, 18))[0])
    for asset, (lo, hi) in spans.items():
        n = hi - lo
        close = levels[asset] * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
        opens = np.r_[levels[asset], close[:-1]] * np.exp(rng.normal(0, 0.005, n))
        after = (np.arange(lo, hi) >= split) & (asset == "AAA")  # unadjusted: prices halve, volume doubles
        close, opens = np.where(after, close / 2, close), np.where(after, opens / 2, opens)
        high = np.maximum(opens, close) * np.exp(np.abs(rng.normal(0, 0.008, n)))
        low = np.minimum(opens, close) * np.exp(-np.abs(rng.normal(0, 0.008, n)))
        volume = rng.integers(100_000, 900_000, n) * (1 + after)
        for j, t in enumerate(range(lo, hi)):
            missing_open = asset == "DDD" and dates[t] == dt.date(2020, 1, 15)
            rows.append((dates[t].isoformat(), asset, None if missing_open else round(opens[j], 2),
                         round(high[j], 2), round(low[j], 2), round(close[j], 2), int(volume[j]),
                         caps[asset] if t == hi - 1 else None))
    panel = pl.DataFrame(rows, schema=["date", "ticker", "open", "high", "low", "close", "volume", "market_cap"],
                         orient="row").sort("date", "ticker")
    sectors = pl.DataFrame({"ticker": list(spans), "GICS Sector": ["Information Technology", "Health Care",
                                                                   "Energy", "Consumer Staples"]})
    return panel, sectors


def write_all(folder: Path = HERE) -> list[Path]:
    """Write every example file into ``folder``; return their paths."""
    panel, sectors = panel_frames()
    files = {
        "bars_5min_utc.csv": bars_frame(),
        "oxford_man_sample.csv": oxford_man_frame(),
        "VIX_History.csv": vix_frame(),
        "panel_unadjusted.csv": panel,
        "sectors.csv": sectors,
    }
    paths = []
    for name, frame in files.items():
        path = folder / name
        text = frame.write_csv()
        if text.startswith('"",'):  # pandas writes the unnamed index column's header as nothing
            text = text[2:]
        path.write_text(text)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(written)
