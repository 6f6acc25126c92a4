"""Figures: the renderer the chapters rely on, and what each figure function draws."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
import pytest

import volbook
import volbook._cells
from volbook import plots
from volbook.timing import TRADING_DAYS

MODELS = ("ewma", "garch")
HORIZONS = (1, 5)


@pytest.fixture(scope="module")
def evaluation() -> pl.DataFrame:
    """A small forecasts-joined-with-targets frame: 40 origins x 2 models x 2 horizons."""
    rng = np.random.default_rng(0)
    dates = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(40)]
    rows = [
        {"date": d, "model": m, "horizon": h, "forecast": h * 1e-4 * (1 + k), "target": h * 1e-4 * rng.exponential()}
        for d in dates for k, m in enumerate(MODELS) for h in HORIZONS
    ]
    return pl.DataFrame(rows)


def test_setup_selects_the_html_renderer_without_plotly_js():
    volbook.setup()
    assert pio.renderers.default == "volbook"
    bundle = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))._repr_mimebundle_()
    assert list(bundle) == ["text/html"]  # no plotly JSON that Quarto cannot display
    html = bundle["text/html"]
    assert "Plotly.newPlot" in html
    assert "<script src" not in html
    assert len(html) < 50_000  # plotly.min.js itself is ~4.6 MB


def _in_cell(monkeypatch, code: str, msg_id: str = "m1") -> None:
    """Pretend the kernel is executing a cell with this code (what papermill and nbval send)."""
    header = {"header": {"msg_id": msg_id}, "content": {"code": code}}
    monkeypatch.setattr(volbook._cells, "_parent_header", lambda: header)


def test_figure_ids_come_from_the_cell_label_not_the_content(monkeypatch):
    _in_cell(monkeypatch, "#| label: fig-vol\n#| fig-cap: x\nplot()")
    a = plots.figure_html(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])))
    b = plots.figure_html(go.Figure(go.Scatter(x=[1, 2], y=[3, 5])))
    assert 'id="fig-vol-plotly"' in a and 'id="fig-vol-plotly-2"' in b  # a second figure of the cell
    _in_cell(monkeypatch, "#| label: fig-vol\nplot()", msg_id="m2")  # the cell run again
    assert plots.figure_html(go.Figure(go.Scatter(x=[1, 2], y=[3, 5]))).count('"fig-vol-plotly"') == 3
    _in_cell(monkeypatch, "plot()", msg_id="m3")
    assert re.search(r'id="volbook-plotly-\d+"', plots.figure_html(go.Figure()))
    assert 'id="my-id"' in plots.figure_html(go.Figure(), div_id="my-id")


def test_figures_redraw_when_their_box_changes_width():
    # plotly's 'responsive' listens to window resizes only; Quarto's column narrows without one
    page = plots.figure_html(go.Figure(), div_id="my-id")
    assert "getElementById('my-id')" in page and "new ResizeObserver" in page and "Plotly.Plots.resize(gd)" in page


def _embedded(html: str) -> dict:
    """The figure JSON (data and layout) embedded in a figure's HTML."""
    args = re.search(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*(\{.*\}),\s*\{"displaylogo', html, re.S)
    return {"data": json.loads(args.group(1)), "layout": json.loads(args.group(2))}


def test_rounding_to_scale_and_to_significant_digits():
    np.testing.assert_array_equal(plots.round_to_scale([0.123456, 0.00012345, -0.5, np.nan]),
                                  [0.123, 0.0, -0.5, np.nan])
    np.testing.assert_array_equal(plots.round_to_scale([1234.5, 7.77]), [1230.0, 10.0])
    np.testing.assert_array_equal(plots.round_significant([123456.0, 0.000123456, 0.0], 3), [123000.0, 0.000123, 0.0])


def test_embedded_data_is_rounded_and_does_not_depend_on_the_last_bits():
    rng = np.random.default_rng(3)
    vol = 0.1 + 0.3 * rng.random(2000)
    dates = [dt.date(2000, 1, 1) + dt.timedelta(days=i) for i in range(2000)]

    def figure(v):
        fig = go.Figure(go.Scatter(x=dates, y=v, name="linear"))
        fig.add_trace(go.Scatter(x=dates, y=np.exp(10 * v), name="log", yaxis="y2"))
        fig.update_layout(yaxis2=dict(type="log", overlaying="y"), xaxis=dict(domain=[0, 1 / 3]))
        return plots.figure_html(fig, div_id="f")

    html = figure(vol)
    data = _embedded(html)["data"]
    linear, log = np.array(data[0]["y"]), np.array(data[1]["y"])
    np.testing.assert_array_equal(linear, np.round(vol, 3))  # 3 significant digits of the largest value
    np.testing.assert_allclose(log, np.exp(10 * vol), rtol=5e-4)  # 4 significant digits of each value
    assert _embedded(html)["layout"]["xaxis"]["domain"] == [0, 0.333333]
    assert "bdata" not in html  # short decimals, not base64 float64
    noisy = vol * (1 + 1e-9 * rng.standard_normal(vol.size))  # another machine's BLAS/optimizer
    assert figure(noisy) == html


def test_layout_keeps_legends_menus_and_titles_apart(evaluation):
    fig = plots.plot_forecasts_over_time(evaluation, HORIZONS, every=5)
    legend, menu = fig.layout.legend, fig.layout.updatemenus[0]
    assert (legend.yref, legend.y, legend.yanchor) == ("container", 0, "bottom")  # below the plot
    assert (menu.x, menu.xanchor, menu.y, menu.yanchor) == (0, "left", 1, "bottom")  # top left, mode bar is right
    assert fig.layout.margin.b >= 90 and fig.layout.margin.t >= 40
    paths = plots.plot_parameter_paths(pl.DataFrame({"date": [1, 2], "model": ["garch"] * 2, "alpha": [0.1] * 2,
                                                     "beta": [0.8] * 2, "persistence": [0.9] * 2}), every=1)
    assert paths.layout.legend.y == 0 and paths.layout.margin.t >= 40  # subplot titles have the top
    assert paths.layout.yaxis.title.text == "estimate"
    scatter = plots.plot_forecast_scatter(evaluation, 1, every=1)
    assert scatter.layout.xaxis.title.text == "forecast" and scatter.layout.yaxis.title.text == "realized"


def test_variants_share_the_model_colour_dashed():
    assert plots.line_style("garch_no_costs")["color"] == plots.COLORS["garch"]
    assert plots.line_style("garch_no_costs")["dash"] == "dash"
    assert plots.line_style("garch_refit_5")["color"] == plots.COLORS["garch"]
    assert "dash" not in plots.line_style("gjr_garch")
    colours = [c for k, c in plots.COLORS.items()]
    assert len(set(colours)) == len(colours)


def test_rolling_vol_is_the_annualized_root_mean_square_of_the_window():
    r = np.random.default_rng(1).normal(0, 0.01, 300)
    frame = pl.DataFrame({"date": [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(300)], "ret": r})
    fig = plots.plot_rolling_vol(frame, [20])
    expected = np.sqrt(pd.Series(r**2).rolling(20).mean() * TRADING_DAYS).to_numpy()
    got = np.array(fig.data[0].y, dtype=float)
    np.testing.assert_allclose(got[19:], expected[19:], atol=5e-5)
    assert np.isnan(got[:19]).all()
    thinned = plots.plot_rolling_vol(frame, [20], every=2)
    np.testing.assert_array_equal(np.array(thinned.data[0].y, dtype=float)[10:], got[20::2])


def test_forecasts_over_time_thins_origins_and_annualizes_per_horizon(evaluation):
    fig = plots.plot_forecasts_over_time(evaluation, HORIZONS, every=5)
    assert len(fig.data) == len(HORIZONS) * (len(MODELS) + 1)  # realized + each model, per horizon
    assert [t.visible for t in fig.data] == [True] * 3 + [False] * 3
    assert len(fig.layout.updatemenus[0].buttons) == len(HORIZONS)
    garch_h5 = fig.data[5]
    assert garch_h5.name == "GARCH(1,1)" and len(garch_h5.x) == 8  # 40 origins, every 5th
    row = evaluation.filter((pl.col("model") == "garch") & (pl.col("horizon") == 5)).sort("date").row(0, named=True)
    assert garch_h5.y[0] == pytest.approx(np.sqrt(TRADING_DAYS * row["forecast"] / 5), rel=1e-12)

    zoomed = plots.plot_forecasts_over_time(evaluation, HORIZONS, every=5, zoom=(dt.date(2020, 1, 11), dt.date(2020, 1, 20)),
                                            zoom_models=["garch"])
    assert len(zoomed.data) == len(HORIZONS) * (len(MODELS) + 1 + 2)  # + realized and garch in the zoom panel
    assert len(zoomed.data[4].x) == 10 and zoomed.data[4].yaxis == "y2"  # every origin in the window
    assert [len(b.args[0]["visible"]) for b in zoomed.layout.updatemenus[0].buttons] == [10, 10]


def test_error_histograms_are_shares_of_origins(evaluation):
    fig = plots.plot_error_histograms(evaluation, HORIZONS, bins=10)
    assert len(fig.data) == len(HORIZONS) * len(MODELS)
    for trace in fig.data:  # extremes are clipped into the end bins, so nothing is lost
        assert sum(trace.y) == pytest.approx(1.0, abs=1e-4)


def test_clipped_errors_are_what_the_end_bins_take_in(evaluation):
    lo, hi = plots.error_range(evaluation, tail=0.1)
    err = np.log(evaluation["forecast"] / evaluation["target"]).to_numpy()
    assert lo == np.floor(np.quantile(err, 0.1)) and hi == np.ceil(np.quantile(err, 0.9))
    clipped = plots.clipped_errors(evaluation, tail=0.1)
    assert clipped.height == len(HORIZONS) * len(MODELS) and clipped["horizon"].is_sorted()
    for h, m, below, above in clipped.iter_rows():
        part = evaluation.filter((pl.col("horizon") == h) & (pl.col("model") == m))
        e = np.log(part["forecast"] / part["target"]).to_numpy()
        assert below == pytest.approx((e < lo).mean()) and above == pytest.approx((e > hi).mean())
    assert clipped["below"].sum() + clipped["above"].sum() > 0  # the fixture's exponential targets reach past the range


def test_surface_is_horizon_by_origin(evaluation):
    fig = plots.plot_surface(evaluation, "garch", every=2)
    assert [t.type for t in fig.data] == ["surface", "surface", "heatmap"]
    z = np.asarray(fig.data[2].z)
    assert z.shape == (len(HORIZONS), 20)
    np.testing.assert_allclose(z, np.asarray(fig.data[1].z) - np.asarray(fig.data[0].z), atol=2e-4)


def test_scatter_equity_and_parameter_paths(evaluation):
    scatter = plots.plot_forecast_scatter(evaluation, 1, every=1)
    assert len(scatter.data) == 2 * len(MODELS)  # points and the diagonal per model
    assert len(scatter.data[0].x) == 40

    daily = pl.DataFrame({"date": list(range(10)) * 2, "strategy": ["a"] * 10 + ["b"] * 10,
                          "equity": np.linspace(1, 2, 20)})
    equity = plots.plot_equity(daily, every=3)
    assert [t.name for t in equity.data] == ["a", "b"] and len(equity.data[0].x) == 4

    params = pl.DataFrame({"date": list(range(12)) * 2, "model": ["garch"] * 12 + ["gjr_garch"] * 12,
                           "alpha": [0.1] * 24, "beta": [0.85] * 24, "persistence": [0.95] * 24})
    paths = plots.plot_parameter_paths(params, every=4)
    assert len(paths.data) == 2 * 3 and all(len(t.x) == 3 for t in paths.data)
    assert [t.showlegend for t in paths.data] == [True, False, False] * 2


def test_small_figures_of_the_stylized_facts():
    r = np.random.default_rng(2).standard_t(4, 2000) * 0.01
    dist = plots.plot_return_distribution(r, bins=50)
    bars = dist.data[0]
    width = bars.x[1] - bars.x[0]
    assert np.nansum(bars.y) * width == pytest.approx(1.0, rel=0.01)  # a density (empty bins not drawn)
    acf = plots.plot_acf(np.full(10, 0.01), np.full(10, 0.2), band=0.05)
    assert [len(t.y) for t in acf.data] == [10, 10]
    price = pl.DataFrame({"date": range(5), "close": [1.0, 2, 3, 4, 5], "ret": [0.0, 0.1, 0.1, 0.1, 0.1]})
    fig = plots.plot_price_and_returns(price)
    assert list(fig.data[1].y) == [0.0, 10.0, 10.0, 10.0, 10.0]  # percent


def test_every_figure_titles_its_axes(evaluation):
    """Plain figures (one pair of axes, no subplot grid) get their axis titles too."""
    r = np.random.default_rng(4).normal(0, 0.01, 300)
    frame = pl.DataFrame({"date": [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(300)], "ret": r,
                          "close": np.exp(np.cumsum(r))})
    daily = pl.DataFrame({"date": list(range(10)) * 2, "strategy": ["a"] * 10 + ["b"] * 10,
                          "equity": np.linspace(1, 2, 20)})
    params = pl.DataFrame({"date": list(range(12)), "model": ["garch"] * 12, "alpha": [0.1] * 12,
                           "beta": [0.85] * 12, "persistence": [0.95] * 12})
    figures = {
        "price": (plots.plot_price_and_returns(frame), False),
        "rolling": (plots.plot_rolling_vol(frame, [20]), False),
        "distribution": (plots.plot_return_distribution(r, bins=30), True),
        "acf": (plots.plot_acf(np.full(10, 0.01), np.full(10, 0.2), band=0.05), True),
        "forecasts": (plots.plot_forecasts_over_time(evaluation, HORIZONS), False),
        "scatter": (plots.plot_forecast_scatter(evaluation, 1, every=1), True),
        "errors": (plots.plot_error_histograms(evaluation, HORIZONS, bins=10), True),
        "surface": (plots.plot_surface(evaluation, "garch", every=2), False),
        "equity": (plots.plot_equity(daily, every=1), False),
        "drawdowns": (plots.plot_drawdowns(daily), False),
        "parameters": (plots.plot_parameter_paths(params, every=1), False),
    }
    for name, (fig, x_titled) in figures.items():
        assert fig.layout.yaxis.title.text, f"{name}: no y-axis title"
        assert not x_titled or fig.layout.xaxis.title.text, f"{name}: no x-axis title"
