"""Volatility-scaled books (volbook.panel.portfolio): sizing, legs and ledgers."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from volbook.data import simulate_panel
from volbook.errors import DataError, ParameterError
from volbook.panel import Baseline, PanelRidge, build_features, walk_forward_panel
from volbook.panel.portfolio import backtest_books, binding_limits, book_frame, book_ledger, book_weights

D0, D1, D2 = dt.date(2020, 1, 1), dt.date(2020, 1, 2), dt.date(2020, 1, 3)


def _frame(rows):
    """A book frame by hand: (t, asset, sigma, signal, next_ret)."""
    t, asset, sigma, signal, nxt = zip(*rows)
    return pl.DataFrame({
        "t": t, "date": [[D0, D1][i] for i in t], "asset": asset, "sigma": sigma, "signal": signal,
        "next_ret": nxt, "next_date": [[D1, D2][i] for i in t],
    })


def test_weights_scale_then_cap_then_limit_gross():
    frame = _frame([(0, "a", 0.10, 0.1, 0.0), (0, "b", 0.20, 0.2, 0.0), (0, "c", 0.40, 0.3, 0.0),
                    (0, "d", 0.02, 0.4, 0.0)])
    w = book_weights(frame, "sigma", max_weight=0.05)
    # alpha = 1/4; min(0.2 / sigma, 3) = 2, 1, 0.5, 3 -> 0.5, 0.25, 0.125, 0.75 -> capped at 5%
    assert w["weight"].to_list() == [0.05, 0.05, 0.05, 0.05]
    w = book_weights(frame, "sigma", max_weight=1.0, max_gross=1.0)
    raw = np.array([0.5, 0.25, 0.125, 0.75])
    np.testing.assert_allclose(w["weight"], raw / raw.sum())  # gross 1.625 scaled to 1
    w = book_weights(frame, "sigma", max_weight=1.0, max_gross=2.0, target_vol=0.1)
    # 0.1 / sigma = 1, 0.5, 0.25, 5 -> leverage cap 3 -> gross 1.1875 <= 2: untouched
    np.testing.assert_allclose(w["weight"], [0.25, 0.125, 0.0625, 0.75])


def test_low_vol_legs_take_the_lowest_and_highest_signal():
    frame = _frame([(0, a, 0.2, s, 0.0) for a, s in zip("abcdef", [0.3, 0.1, 0.6, 0.2, 0.5, 0.4])])
    long = book_weights(frame, "sigma", book="low_vol_long", fraction=1 / 3, max_weight=1.0)
    short = book_weights(frame, "sigma", book="low_vol_short", fraction=1 / 3, max_weight=1.0)
    assert long["asset"].to_list() == ["b", "d"] and short["asset"].to_list() == ["c", "e"]
    np.testing.assert_allclose(long["weight"], [0.5, 0.5])  # alpha 1/2, sigma = target


def test_ledger_returns_turnover_entries_and_exits():
    frame = _frame([(0, "a", 0.2, 0.1, 0.10), (0, "b", 0.1, 0.2, -0.05),
                    (1, "b", 0.2, 0.2, 0.02), (1, "c", 0.4, 0.3, 0.01)])
    w = book_weights(frame, "sigma", max_weight=1.0)  # day 0: 0.5, 1.0 -> /1.5; day 1: 0.5, 0.25
    ledger = book_ledger(w, frame, cost_bps=10.0, name="x")
    assert ledger["date"].to_list() == [D1, D2]
    w0 = np.array([0.5, 1.0]) / 1.5
    assert ledger["gross"][0] == pytest.approx(w0 @ [0.10, -0.05])
    assert ledger["gross"][1] == pytest.approx(0.5 * 0.02 + 0.25 * 0.01)
    # day 1 sells all of a, trades b from 2/3 to 1/2, buys c
    assert ledger["turnover"].to_list() == pytest.approx([1.0, w0[0] + abs(0.5 - w0[1]) + 0.25])
    assert ledger["cost"].to_list() == pytest.approx(list(ledger["turnover"] * 1e-3))
    assert ledger["equity"][1] == pytest.approx((1 + ledger["net"][0]) * (1 + ledger["net"][1]))


@pytest.fixture(scope="module")
def setup():
    data = build_features(simulate_panel(n_assets=30, n_days=900, seed=4).panel, horizon=21)
    models = [Baseline("vol_21", {"vol_21": 1.0}), PanelRidge("global")]
    return data, walk_forward_panel(data, models, window=300, refit_every=25)


def test_backtest_books_end_to_end(setup):
    data, wf = setup
    ledgers, table = backtest_books(data, wf, ["vol_21", "global", "target"],
                                    books=("long", "low_vol_long", "low_vol_short", "low_vol_long_short"),
                                    cost_bps=5.0)
    assert table.height == 12 and set(table["book"]) == {"long", "low_vol_long", "low_vol_short", "low_vol_long_short"}
    for sigma in ["vol_21", "global", "target"]:
        get = {b: ledgers.filter(pl.col("strategy") == f"{b}:{sigma}") for b in
               ("low_vol_long", "low_vol_short", "low_vol_long_short")}
        np.testing.assert_allclose(get["low_vol_long_short"]["gross"],
                                   get["low_vol_long"]["gross"] - get["low_vol_short"]["gross"])
    long = ledgers.filter(pl.col("strategy") == "long:global")
    assert (long["weight"] <= 1.0 + 1e-12).all() and long["date"].is_sorted()
    # every book runs on the same days: their net returns pair up for backtest.sharpe_difference
    assert long["date"].equals(ledgers.filter(pl.col("strategy") == "low_vol_long_short:target")["date"])
    # the weights of day t earn the next date's returns: one day recomputed by hand
    frame = book_frame(data, wf, ["vol_21", "global", "target"])
    t = int(frame["t"].min()) + 40
    w = book_weights(frame, "global").filter(pl.col("t") == t)
    nxt = data.frame.filter(pl.col("t") == t + 1).select("asset", "ret")
    gross = w.join(nxt, on="asset").select((pl.col("weight") * (pl.col("ret").exp() - 1)).sum()).item()
    day = long.filter(pl.col("date") == data.dates[t + 1])
    assert day["gross"].item() == pytest.approx(gross, rel=1e-12)
    with pytest.raises(DataError, match="no forecast column 'nope'"):
        backtest_books(data, wf, ["nope"])
    with pytest.raises(ParameterError, match="book must be one of"):
        backtest_books(data, wf, ["global"], books=("short",))


def test_a_zero_forecast_gets_the_leverage_cap_and_a_negative_one_is_refused():
    frame = _frame([(0, "a", 0.0, 0.1, 0.0), (0, "b", 0.2, 0.2, 0.0)])
    w = book_weights(frame, "sigma", max_weight=2.0, max_gross=10.0)
    assert w["weight"].to_list() == [0.5 * 3.0, 0.5 * 1.0]
    with pytest.raises(DataError, match="forecast column 'sigma' has negative values"):
        book_weights(frame.with_columns(sigma=pl.lit(-0.1)), "sigma")


def test_binding_limits_report_what_sizes_the_book():
    """20 equal-weighted names (alpha = 5%): the 5% cap binds exactly where sigma < target; the
    gross limit cannot bind. Without the cap, it binds when mean(min(0.2 / sigma, 3)) > 1."""
    rng = np.random.default_rng(0)
    sig = rng.uniform(0.05, 0.6, (2, 20))
    frame = _frame([(t, f"a{i}", sig[t, i], 0.0, 0.0) for t in range(2) for i in range(20)])
    capped = binding_limits(frame, ["sigma"], max_weight=0.05).row(0, named=True)
    assert capped["at_cap"] == pytest.approx((sig < 0.2).mean())
    assert capped["at_leverage"] == pytest.approx((sig < 0.2 / 3).mean())
    assert capped["gross_limited"] == 0.0
    free = binding_limits(frame, ["sigma"], max_weight=1.0).row(0, named=True)
    assert free["at_cap"] == 0.0
    assert free["gross_limited"] == pytest.approx((np.minimum(0.2 / sig, 3).mean(axis=1) > 1).mean())
    w = book_weights(frame, "sigma", max_weight=1.0)
    assert free["gross"] == pytest.approx(w.group_by("t").agg(pl.col("weight").sum())["weight"].mean())


def test_a_book_exactly_at_the_gross_limit_is_not_scaled():
    frame = _frame([(0, f"a{i}", 0.1, 0.0, 0.0) for i in range(20)])  # 20 x 5% = 100%
    w = book_weights(frame, "sigma", max_weight=0.05, flags=True)
    assert not w["gross_limited"].any() and w["at_cap"].all()
    assert w["weight"].sum() == pytest.approx(1.0)
