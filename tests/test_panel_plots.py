"""The panel chapter's figures (volbook.panel.plots): what each draws, summarized as documented."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from volbook.labels import model_label
from volbook.panel import plots


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    n = 4000
    y = np.exp(rng.normal(np.log(0.25), 0.4, n))
    return pl.DataFrame({
        "date": [dt.date(2000, 1, 1) + dt.timedelta(days=int(i) // 20) for i in range(n)],
        "sector": rng.choice(["Energy", "Utilities", "Financials"], n),
        "target": y, "a": y * np.exp(rng.normal(0, 0.3, n)), "b": y * np.exp(rng.normal(0, 0.6, n)),
    })


def test_target_boxes_are_the_quantiles_by_sector(frame):
    fig = plots.plot_target_by_sector(frame)
    box = fig.data[0]
    for k, sector in enumerate(box.x):
        y = frame.filter(pl.col("sector") == sector)["target"].to_numpy()
        np.testing.assert_allclose([box.q1[k], box.median[k], box.q3[k], box.lowerfence[k], box.upperfence[k]],
                                   np.quantile(y, [0.25, 0.5, 0.75, 0.05, 0.95]))
    assert list(box.median) == sorted(box.median)  # sectors in the order of their median


def test_density_shares_cover_every_row(frame):
    fig = plots.plot_forecast_density(frame, ["a", "b"], bins=20)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 2
    for h in heat:
        z = np.asarray(h.z, dtype=float)
        shares = np.where(np.isnan(z), 0.0, 10.0 ** z)
        assert shares.sum() == pytest.approx(1.0, rel=5e-3)  # shares of rows, rounded to 3 digits


def test_scores_and_published_points():
    scores = pl.DataFrame({"model": ["vol_21", "global"], "corr": [0.7, 0.73], "rmse": [0.15, 0.14],
                           "mae": [0.09, 0.08], "mape": [0.3, 0.29]})
    fig = plots.plot_scores(scores, {"vol_21": (0.672, 0.199)}, label="this book (2 stocks)")
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 4 and list(bars[0].y) == [model_label("vol_21"), model_label("global")]
    diamonds = [t for t in fig.data if t.type == "scatter" and t.name.startswith("published")]
    assert [list(d.x) for d in diamonds] == [[0.672, None], [0.199, None]]
    # one legend entry for the bars, in a neutral colour (a bar's swatch would take the first model's)
    ours = [t for t in fig.data if t.name == "this book (2 stocks)" and t.showlegend is not False]
    assert len(ours) == 1 and ours[0].marker.color == "#888888"
    assert fig.layout.yaxis.type == "category"  # the legend's empty point must not turn the model axis numeric


def test_heatmap_one_trace_per_model_with_buttons():
    rows = [("m1", dt.date(2001, 1, k), t, c) for k in (1, 2) for t, c in (("intercept", 0.1), ("vol_5", -0.2))]
    rows += [("m2", dt.date(2001, 1, k), t, c) for k in (1, 2) for t, c in (("intercept", 0.1), ("group_risk", 0.4))]
    coefs = pl.DataFrame(rows, schema=["model", "date", "term", "coef"], orient="row").with_columns(group=pl.lit("all"))
    fig = plots.plot_coefficient_heatmap(coefs, ["m1", "m2"])
    assert [t.visible for t in fig.data] == [True, False]
    assert list(fig.data[1].y) == [model_label("intercept"), model_label("group_risk")]
    assert fig.data[0].zmax == pytest.approx(0.2) and fig.data[0].zmin == pytest.approx(-0.2)
    assert len(fig.layout.updatemenus[0].buttons) == 2
    assert fig.layout.updatemenus[0].type == "dropdown"  # a row of buttons would run under the mode bar


def test_equity_traces_per_book_and_accuracy_points():
    dates = [dt.date(2001, 1, 1) + dt.timedelta(days=i) for i in range(30)]
    ledgers = pl.concat([
        pl.DataFrame({"date": dates, "strategy": f"{book}:{sigma}", "equity": np.linspace(1, 2, 30)})
        for book in ("long", "short") for sigma in ("vol_21", "target")
    ])
    fig = plots.plot_book_equity(ledgers, {"long": "long", "short": "short"}, every=10)
    assert [t.visible for t in fig.data] == [True, True, False, False]
    assert len(fig.data[0].x) == 3
    points = pl.DataFrame({"model": ["vol_21", "global", "target"] * 2, "book": ["cap"] * 3 + ["no cap"] * 3,
                           "rmse": [0.15, 0.13, None] * 2, "sharpe": [1.0, 0.9, 1.5, 0.95, 0.85, 1.6]})
    fig = plots.plot_accuracy_and_sharpe(points)
    by_name = {}
    for t in fig.data:
        by_name.setdefault(t.name, []).append(t)
    # one legend entry per model, a marker per book; perfect foresight a line per book across the models' errors
    assert [(list(t.x), list(t.y)) for t in by_name[model_label("vol_21")]] == [([0.15], [1.0]), ([0.15], [0.95])]
    assert [t.showlegend for t in by_name[model_label("global")]] == [True, False]
    assert list(by_name[f"{model_label('target')}, cap"][0].x) == [0.13, 0.15]
    assert list(by_name[f"{model_label('target')}, no cap"][0].y) == [1.6, 1.6]
    assert by_name["cap"][0].marker.symbol != by_name["no cap"][0].marker.symbol


def test_single_axis_figures_have_axis_titles(frame):
    fig = plots.plot_target_by_sector(frame)
    assert fig.layout.yaxis.title.text == "forward volatility (annualized)"
    points = pl.DataFrame({"model": ["vol_21"], "book": ["cap"], "rmse": [0.15], "sharpe": [1.0]})
    fig = plots.plot_accuracy_and_sharpe(points)
    assert fig.layout.xaxis.title.text.startswith("forecast RMSE") and fig.layout.yaxis.title.text.startswith("Sharpe")
