"""The synthetic GJR-GARCH panel: determinism, shapes, and recovery of its known truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from arch import arch_model

from volbook.data import SCHEMA, load
from volbook.data.synthetic import SECTOR_VOLS, SIZE_ELASTICITY, simulate_panel
from volbook.errors import ParameterError
from volbook.realized import log_returns
from volbook.timing import TRADING_DAYS


def test_determinism() -> None:
    a, b, c = simulate_panel(5, 300, 7), simulate_panel(5, 300, 7), simulate_panel(5, 300, 8)
    assert a.panel.equals(b.panel)
    assert a.truth.params.equals(b.truth.params) and a.truth.variance.equals(b.truth.variance)
    assert not a.panel["close"].equals(c.panel["close"])
    assert not a.truth.params.equals(c.truth.params)


def test_shapes_and_schema() -> None:
    sim = simulate_panel(12, 260, 1, first_date="2021-01-02")  # a Saturday: rolls to Monday
    panel = sim.panel
    assert panel.columns == ["date", "asset", "close", "market_cap", "sector"]
    assert panel.schema == {c: SCHEMA[c].dtype for c in panel.columns}
    assert panel.height == 12 * 260
    assert panel["asset"].unique().sort().to_list() == [f"S{i:03d}" for i in range(1, 13)]
    dates = panel.filter(pl.col("asset") == "S001")["date"]
    assert dates[0] == dt.date(2021, 1, 4)
    assert all(d.weekday() < 5 for d in dates) and dates.is_sorted() and dates.n_unique() == 260
    assert np.all(np.busday_count(dates[0], dates[-1]) == 259)
    assert sim.truth.variance.height == 12 * 259
    assert sim.truth.params.columns == [
        "asset", "sector", "log_market_cap", "omega", "alpha", "gamma", "beta", "persistence",
        "unconditional_variance",
    ]
    assert sim.truth.params["sector"].to_list()[:5] == list(SECTOR_VOLS)
    assert sim.panel.filter(pl.col("date") == dates[0])["close"].to_list() == [100.0] * 12
    # market cap moves with the price from exp(log_market_cap)
    first = panel.group_by("asset", maintain_order=True).first()
    np.testing.assert_allclose(first["market_cap"], np.exp(sim.truth.params["log_market_cap"]), rtol=1e-12)
    shares = panel.group_by("asset").agg((pl.col("market_cap") / pl.col("close")).alias("shares"))
    for row in shares.iter_rows(named=True):
        np.testing.assert_allclose(row["shares"], row["shares"][0], rtol=1e-12)


def test_load_synthetic_matches_simulate_panel() -> None:
    panel = load("synthetic", n_assets=3, n_days=50, seed=4, start="2000-01-10")
    expected = simulate_panel(3, 50, 4).panel.filter(pl.col("date") >= dt.date(2000, 1, 10))
    assert panel.equals(expected)
    assert load("synthetic").height == 20 * 2520


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_assets": 0}, r"n_assets must be an integer >= 1, got 0"),
        ({"n_days": 1}, r"n_days must be an integer >= 2"),
        ({"n_days": 10.5}, r"n_days must be an integer"),
        ({"seed": -1}, r"seed must be an integer >= 0"),
        ({"correlation": 1.0}, r"correlation must be in \[0, 1\)"),
        ({"first_date": "2000-02-31"}, r"first_date: '2000-02-31' is not a date"),
    ],
)
def test_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        simulate_panel(**kwargs)


def test_truth_is_the_conditional_variance_of_the_returns() -> None:
    sim = simulate_panel(1, 3000, 3)
    rets = log_returns(sim.panel).join(sim.truth.variance, on=["date", "asset"], how="inner")
    assert rets.height == 2999
    r, s2 = rets["ret"].to_numpy(), rets["sigma2"].to_numpy()
    # an independent recursion: arch's GJR-GARCH with the true parameters fixed (scaled to %)
    p = sim.truth.params.row(0, named=True)
    fixed = arch_model(100 * r, mean="Zero", vol="GARCH", p=1, o=1, q=1, rescale=False).fix(
        [1e4 * p["omega"], p["alpha"], p["gamma"], p["beta"]]
    )
    arch_s2 = fixed.conditional_volatility**2 / 1e4
    # arch starts from a backcast, the simulator from its burn-in: equal once that has decayed
    np.testing.assert_allclose(arch_s2[500:], s2[500:], rtol=1e-8)
    z = r / np.sqrt(s2)
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.var() - 1) < 4 * np.sqrt(2 / z.size)


def test_recovers_gjr_garch_parameters() -> None:
    sim = simulate_panel(1, 20_000, 11)
    r = log_returns(sim.panel)["ret"].to_numpy()
    fit = arch_model(100 * r, mean="Zero", vol="GARCH", p=1, o=1, q=1, rescale=False).fit(disp="off")
    truth = sim.truth.params.row(0, named=True)
    for name, key in [("alpha[1]", "alpha"), ("gamma[1]", "gamma"), ("beta[1]", "beta")]:
        err = abs(fit.params[name] - truth[key])
        assert err < 3 * fit.std_err[name] and err < 0.03, (name, fit.params[name], truth[key])
    assert truth["gamma"] > 0 and fit.params["gamma[1]"] > 0  # the leverage effect is there


def test_cross_section_sector_and_size_effects() -> None:
    sim = simulate_panel(200, 2520, 5)
    rets = log_returns(sim.panel)
    vols = (
        rets.group_by("asset")
        .agg((pl.col("ret").std() * np.sqrt(TRADING_DAYS)).alias("vol"))
        .join(sim.truth.params, on="asset")
        .with_columns(np.sqrt(TRADING_DAYS * pl.col("unconditional_variance")).alias("true_vol"))
    )
    # the truth follows the stated design, and the sample follows the truth
    expected = vols.select(
        pl.col("sector").replace_strict(SECTOR_VOLS, return_dtype=pl.Float64)
        * (-SIZE_ELASTICITY * (pl.col("log_market_cap") - np.log(1e10))).exp()
    ).to_series()
    np.testing.assert_allclose(vols["true_vol"], expected, rtol=1e-12)
    assert np.corrcoef(np.log(vols["vol"]), np.log(vols["true_vol"]))[0, 1] > 0.9
    by_sector = vols.group_by("sector").agg(pl.col("vol").median()).sort("vol")
    assert by_sector["sector"].to_list() == list(SECTOR_VOLS)
    # size effect in sample: within sectors, log vol falls with log market cap
    within = vols.select(
        (pl.col("log_market_cap") - pl.col("log_market_cap").mean().over("sector")).alias("x"),
        (pl.col("vol").log() - pl.col("vol").log().mean().over("sector")).alias("y"),
    )
    x, y = within["x"].to_numpy(), within["y"].to_numpy()
    slope = np.polyfit(x, y, 1)[0]
    assert abs(slope + SIZE_ELASTICITY) < 0.05, slope


def test_shocks_share_the_stated_correlation() -> None:
    sim = simulate_panel(30, 2000, 2, correlation=0.3)
    z = (
        log_returns(sim.panel)
        .join(sim.truth.variance, on=["date", "asset"])
        .with_columns(z=pl.col("ret") / pl.col("sigma2").sqrt())
        .pivot(on="asset", index="date", values="z")
        .drop("date")
        .to_numpy()
    )
    corr = np.corrcoef(z, rowvar=False)[np.triu_indices(30, 1)]
    assert abs(corr.mean() - 0.3) < 0.02


# ---------------------------------------------------------------- intraday paths


def test_simulate_intraday_shapes_and_determinism() -> None:
    from volbook.data.synthetic_intraday import simulate_intraday

    a, b = simulate_intraday(5, 3, bars_per_day=13, steps_per_bar=10), simulate_intraday(5, 3, bars_per_day=13, steps_per_bar=10)
    assert a.bars.equals(b.bars) and a.truth.equals(b.truth)
    assert not a.bars.equals(simulate_intraday(5, 4, bars_per_day=13, steps_per_bar=10).bars)
    assert a.bars.height == 5 * 14 and a.truth.columns == ["date", "iv", "iq", "jv", "qv", "n_jumps", "overnight_ret"]
    times = a.bars["timestamp"].dt.time().head(14).to_list()
    assert times[0] == dt.time(9, 30) and times[1] == dt.time(10, 0) and times[-1] == dt.time(16, 0)
    assert a.truth["date"].to_list() == [dt.date(2020, 1, d) for d in (2, 3, 6, 7, 8)]
    assert (a.truth["jv"] == 0).all() and a.truth["overnight_ret"][0] is None


def test_simulate_intraday_truth_in_closed_form() -> None:
    from volbook.data.synthetic_intraday import simulate_intraday

    # constant volatility: iv = v_bar and iq = v_bar^2 exactly
    flat = simulate_intraday(4, 0, vol_of_vol=0.0, intraday_vol=0.0, u_shape=0.0, annual_vol=0.2)
    np.testing.assert_allclose(flat.truth["iv"], 0.04 / 252, rtol=1e-12)
    np.testing.assert_allclose(flat.truth["iq"], (0.04 / 252) ** 2, rtol=1e-12)
    # the U-shape keeps the mean, raises the quarticity: int u^2 = 1 + 4 a^2 / 45
    shaped = simulate_intraday(4, 0, vol_of_vol=0.0, intraday_vol=0.0, u_shape=1.0, annual_vol=0.2, steps_per_bar=200)
    np.testing.assert_allclose(shaped.truth["iv"], 0.04 / 252, rtol=1e-6)
    np.testing.assert_allclose(shaped.truth["iq"], (0.04 / 252) ** 2 * (1 + 4 / 45), rtol=1e-5)
    # prices: the day's first price is the previous close times the overnight return
    sim = simulate_intraday(6, 1, jump_intensity=2.0)
    logp = np.log(sim.bars["price"].to_numpy()).reshape(6, 79)
    np.testing.assert_allclose(logp[1:, 0] - logp[:-1, -1], sim.truth["overnight_ret"].to_numpy()[1:], atol=1e-12)
    assert sim.truth["n_jumps"].sum() > 0 and (sim.truth.filter(pl.col("n_jumps") > 0)["jv"] > 0).all()
    np.testing.assert_allclose(sim.truth["qv"], sim.truth["iv"] + sim.truth["jv"], rtol=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_days": 0}, r"n_days must be an integer >= 1"),
        ({"bars_per_day": 7.5}, r"bars_per_day must be an integer"),
        ({"persistence": 1.0}, r"persistence must be in \[0, 1\)"),
        ({"u_shape": 3.0}, r"u_shape must be below 3"),
        ({"jump_vol": -1}, r"jump_vol must be a number >= 0"),
        ({"intraday_halflife": 0}, r"intraday_halflife must be > 0"),
        ({"first_date": "2020-02-30"}, r"first_date: '2020-02-30' is not a date"),
    ],
)
def test_simulate_intraday_bad_parameters(kwargs: dict, match: str) -> None:
    from volbook.data.synthetic_intraday import simulate_intraday

    with pytest.raises(ParameterError, match=match):
        simulate_intraday(**kwargs)
