"""Reading regime forecasters: per-regime coefficients, stressed-regime shares, the hindsight
comparison (smoothed against filtered weights), the poster comparison, and the chapter's figures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from volbook.errors import DataError
from volbook.models import HAR, SoftMarkovHAR
from volbook.models.regime import simulate_regime_har
from volbook.periods import define_periods
from volbook.plots import figure_html
from volbook.regime_analysis import (
    POSTER_MAPE,
    compare_with_poster,
    hindsight_comparison,
    regime_coefficients,
    regime_shares,
)
from volbook.regime_plots import _vol_ticks, plot_hindsight, plot_periods, plot_regime_weights

DATES = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(6)]


def _params() -> pl.DataFrame:
    """Three refits of a two-regime Markov model, and a clustering that finds 3, 2, 3 regimes."""
    markov = pl.DataFrame({
        "date": DATES[:3], "model": "ms_har", "n_regimes": [2.0] * 3,
        "const_0": [-1.0, -2.0, -3.0], "daily_0": [0.1, 0.2, 0.3], "weekly_0": [0.3] * 3, "monthly_0": [0.2] * 3,
        "sigma_0": [0.5, 0.6, 0.7], "p_00": [0.9, 0.95, 0.98],
        "const_1": [-0.5] * 3, "daily_1": [0.4, 0.5, 0.6], "weekly_1": [0.2] * 3, "monthly_1": [0.1] * 3,
        "sigma_1": [0.9] * 3, "p_11": [0.8] * 3,
    })
    nan = float("nan")
    cluster = pl.DataFrame({
        "date": DATES[:3], "model": "coefficient_har", "n_regimes": [3.0, 2.0, 3.0],
        **{f"{c}_{k}": [0.1 * (k + 1)] * 3 for c in ("const", "daily", "weekly", "monthly", "sigma") for k in (0, 1)},
        **{f"{c}_2": [0.3, nan, 0.5] for c in ("const", "daily", "weekly", "monthly", "sigma")},
    })
    har = pl.DataFrame({"date": DATES[:3], "model": "har_log", "h1.const": [-0.4, -0.5, -0.6],
                        "h1.log_rv_1": [0.3] * 3, "h1.log_rv_5": [0.4] * 3, "h1.log_rv_22": [0.2] * 3,
                        "h1.sigma2": [0.64] * 3})
    return pl.concat([har, markov, cluster], how="diagonal")


def test_regime_coefficients_are_medians_over_the_refits_with_that_regime():
    table = regime_coefficients(_params(), har="har_log")
    rows = {(r["model"], r["regime"]): r for r in table.iter_rows(named=True)}
    assert list(rows) == [("har_log", 0), ("ms_har", 0), ("ms_har", 1),
                          ("coefficient_har", 0), ("coefficient_har", 1), ("coefficient_har", 2)]
    har = rows[("har_log", 0)]
    assert (har["const"], har["daily"], har["persistence"], har["sigma"]) == pytest.approx((-0.5, 0.3, 0.9, 0.8))
    assert har["n_regimes"] == 1 and har["duration"] is None
    calm = rows[("ms_har", 0)]
    assert (calm["const"], calm["daily"], calm["sigma"], calm["refits"]) == pytest.approx((-2.0, 0.2, 0.6, 3))
    assert calm["persistence"] == pytest.approx(0.2 + 0.3 + 0.2)
    assert calm["duration"] == pytest.approx(1 / (1 - 0.95))
    third = rows[("coefficient_har", 2)]
    assert third["refits"] == 2 and third["const"] == pytest.approx(0.4) and third["n_regimes"] == 3
    with pytest.raises(DataError, match="no one-day log-HAR parameters"):
        regime_coefficients(_params().filter(pl.col("model") == "ms_har"), har="ms_har")
    with pytest.raises(DataError, match="no per-regime coefficients"):
        regime_coefficients(pl.DataFrame({"date": DATES[:1], "model": ["x"], "alpha": [0.1]}))


def test_regime_shares_use_the_regimes_of_the_fit_in_force():
    # refits on DATES[0] (3 regimes) and DATES[3] (one regime only); origins DATES[0..5]
    params = pl.DataFrame({"date": [DATES[0], DATES[3]], "model": "m", "n_regimes": [3.0, 1.0]})
    weights = {"regime_0": [0.2, 0.1, 0.6, 1.0, 1.0, 1.0], "regime_1": [0.2, 0.3, 0.3, 0.0, 0.0, 0.0],
               "regime_2": [0.6, 0.6, 0.1, 0.0, 0.0, 0.0]}
    states = pl.concat([pl.DataFrame({"date": DATES, "model": "m", "name": k, "value": v}) for k, v in weights.items()])
    states = pl.concat([states, pl.DataFrame({"date": DATES, "model": "m", "name": "filtered_0", "value": 9.0})])
    periods = define_periods(["early", "late"], ["2020-01-01", "2020-01-03"], last="2020-01-06")
    shares = regime_shares(states, params, periods)
    assert shares.select("model", "period", "origins").rows() == [("m", "early", 2), ("m", "late", 4)]
    assert shares["mean_weight"].to_list() == pytest.approx([0.6, (0.1 + 0 + 0 + 0) / 4])
    assert shares["share_above"].to_list() == pytest.approx([1.0, 0.0])
    with pytest.raises(DataError, match="no regime weights"):
        regime_shares(states.filter(pl.col("name") == "filtered_0"), params, periods)


@pytest.fixture(scope="module")
def fitted():
    return SoftMarkovHAR().fit(simulate_regime_har(1500, seed=3).select("date", "rv"))


def test_hindsight_comparison_aligns_smoothed_and_filtered_days(fitted):
    result = hindsight_comparison(fitted)
    p = result.probabilities
    n = len(fitted.history)
    assert p.height == n - 23 and p["date"][0] == fitted.history.dates[23] and p["date"][-1] == fitted.history.dates[-1]
    # on the last day of the window the smoothed probability has nothing later to condition on
    assert p["smoothed"][-1] == pytest.approx(p["filtered"][-1], abs=1e-8)
    assert p["rv"].to_numpy() == pytest.approx(fitted.rv[23:])
    # the predicted weight of day d is the filtered probability of d - 1 pushed one step ahead
    P = fitted.switching.transmat
    assert p["predicted"].to_numpy() == pytest.approx((fitted.filtered[:-1] @ P)[:, -1])
    assert p["predicted"][1] == pytest.approx((fitted.filtered[1] @ P)[-1])
    scores = {r["weights"]: r for r in result.scores.iter_rows(named=True)}
    assert scores["smoothed"]["n"] == scores["predicted"]["n"] == n - 23
    # on data with well separated regimes, hindsight weights score better: the look-ahead the chapter measures
    assert scores["smoothed"]["qlike"] < scores["predicted"]["qlike"]


def test_hindsight_comparison_needs_a_markov_fit():
    frame = pl.DataFrame({"rv": np.exp(np.random.default_rng(0).standard_normal(300)) * 1e-4})
    with pytest.raises(DataError, match="needs a Markov-switching fit"):
        hindsight_comparison(HAR("rv", log=True, direct=True).fit(frame))


def test_poster_comparison_puts_both_tables_on_one_scale():
    scores = pl.DataFrame({
        "period": ["a"] * 4, "horizon": [1] * 4,
        "model": ["har_log", "soft_markov_har", "distributional_har", "coefficient_har"],
        "mape": [0.40, 0.38, 0.42, 0.40],
    })
    summary = pl.DataFrame({"period": ["a"], "stressed": [True]})
    table = compare_with_poster(scores, summary)
    poster = table.filter(pl.col("source") == "poster")
    assert poster["har"].to_list() == pytest.approx((POSTER_MAPE["har"] / 100).to_list())
    assert poster["soft_markov_har"][0] == pytest.approx(24.33 / 27.09 - 1)
    ours = table.filter(pl.col("source") == "this chapter").row(0, named=True)
    assert (ours["har"], ours["soft_markov_har"], ours["distributional_har"]) == pytest.approx((0.40, -0.05, 0.05))
    assert ours["stressed"] is True
    with pytest.raises(DataError, match="lack the models"):
        compare_with_poster(scores.filter(pl.col("model") != "coefficient_har"), summary)


def test_figures_show_what_they_say():
    rng = np.random.default_rng(0)
    dates = pl.date_range(dt.date(2020, 1, 1), dt.date(2020, 4, 30), "1d", eager=True)
    trend = np.exp(np.linspace(0.0, 3.0, dates.len()))  # volatility from about 15% to 70%
    frame = pl.DataFrame({"date": dates, "rv": 1e-4 * trend * rng.chisquare(3, dates.len()) / 3})
    periods = define_periods(["a", "b"], ["2020-01-01", "2020-03-01"], last="2020-04-30")
    fig = plot_periods(frame, periods, vix=pl.DataFrame({"date": dates, "vix": 20.0}))
    assert [t.name for t in fig.data] == ["daily", "21-day mean", "VIX / 100"] and len(fig.layout.shapes) == 2
    w = rng.uniform(size=dates.len())
    states = pl.concat([
        pl.DataFrame({"date": dates, "model": "ms_har", "name": "regime_0", "value": 1 - w}),
        pl.DataFrame({"date": dates, "model": "ms_har", "name": "regime_1", "value": w}),
        pl.DataFrame({"date": dates, "model": "coefficient_har", "name": "regime_0", "value": 0.5 * (1 - w)}),
        pl.DataFrame({"date": dates, "model": "coefficient_har", "name": "regime_1", "value": 0.5 * (1 - w)}),
        pl.DataFrame({"date": dates, "model": "coefficient_har", "name": "regime_2", "value": w}),
    ])
    fig = plot_regime_weights(states, frame, periods, ["ms_har", "coefficient_har"], every=1)
    stacked = [t for t in fig.data if t.stackgroup]
    assert [(t.stackgroup, t.name) for t in stacked] == [("ms_har", "regime 1"), ("coefficient_har", "regime 1"),
                                                         ("coefficient_har", "regime 2")]
    assert np.allclose(np.asarray(stacked[0].y), w)
    # the short volatility panel is labelled at 1-2-5 steps inside its range (plotly's own log
    # ticks label every integer percent there, and the labels overlap)
    vol = pl.Series(np.sqrt(252 * frame["rv"].rolling_mean(21).drop_nulls().to_numpy()))
    ticks = fig.layout.yaxis.tickvals
    assert ticks and np.allclose(ticks, _vol_ticks(vol))
    assert np.allclose(_vol_ticks(pl.Series([0.08, 0.3, 0.9])), [0.1, 0.2, 0.5])
    assert np.allclose(_vol_ticks(pl.Series([0.12, float("nan"), 0.35])), [0.2, 0.3])  # one 1-2-5 tick: every integer
    assert _vol_ticks(pl.Series([0.15, 0.18])) is None  # not even two: plotly's own ticks
    probabilities = pl.DataFrame({"date": dates, "smoothed": w, "filtered": 1 - w, "rv": frame["rv"]})
    fig = plot_hindsight(probabilities, used=pl.DataFrame({"date": dates, "weight": w}),
                         zoom=(dt.date(2020, 2, 1), dt.date(2020, 2, 29)))
    assert len(fig.data) == 4 and all(len(t.x) == 29 for t in fig.data)
    # the walk-forward's trace is its filtered probability (what the chapter passes), named so
    assert "filtered" in fig.data[3].name and "weight" not in fig.data[3].name
    assert 'id="x-plotly"' in figure_html(fig, div_id="x-plotly")
