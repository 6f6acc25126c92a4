"""Every figure of the book, in one style.

Figures are plotly objects. Inside a chapter they display through the ``volbook`` renderer
(set by :func:`use_volbook_theme`, called from :func:`volbook.setup`): an HTML fragment with
a deterministic ``div`` id derived from the figure's content and *no* plotly.js, so committed
notebooks stay small and reruns do not differ by random ids. The rendered site loads one
local copy of ``plotly.min.js`` (see :mod:`volbook.render`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.subplots import make_subplots
from scipy import stats

from volbook.timing import TRADING_DAYS

__all__ = [
    "COLORS",
    "use_volbook_theme",
    "figure_html",
    "plot_price_and_returns",
    "plot_rolling_vol",
    "plot_return_distribution",
    "plot_acf",
    "plot_forecasts_over_time",
    "plot_forecast_scatter",
    "plot_error_histograms",
    "plot_surface",
    "plot_equity",
    "plot_parameter_paths",
]

#: Model colours, fixed so that a model keeps its colour across every figure.
COLORS = {
    "realized": "#222222",
    "rolling_20": "#8c564b",
    "rolling_60": "#e377c2",
    "ewma": "#1f77b4",
    "garch": "#d62728",
    "gjr_garch": "#ff7f0e",
    "t_garch": "#2ca02c",
    "buy_and_hold": "#7f7f7f",
}

_TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font=dict(family="Helvetica, Arial, sans-serif", size=13),
        colorway=list(COLORS.values())[1:],
        margin=dict(l=60, r=20, t=40, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        hovermode="x unified",
    )
)


def figure_html(fig: go.Figure | dict, div_id: str | None = None) -> str:
    """The HTML fragment of a figure: no plotly.js, a deterministic ``div`` id.

    The id defaults to ``fig-`` plus a hash of the figure's JSON, so the same figure gives
    the same bytes on every run.
    """
    fig_dict = fig.to_plotly_json() if isinstance(fig, go.Figure) else fig
    if div_id is None:
        payload = json.dumps(fig_dict, sort_keys=True, default=str).encode()
        div_id = "fig-" + hashlib.sha256(payload).hexdigest()[:12]
    return pio.to_html(
        fig_dict,
        include_plotlyjs=False,
        full_html=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
        validate=False,
    )


class _VolbookRenderer(pio.base_renderers.MimetypeRenderer):
    """Plotly renderer that emits :func:`figure_html` as ``text/html``."""

    def to_mimebundle(self, fig_dict: dict) -> dict:
        return {"text/html": figure_html(fig_dict)}


def use_volbook_theme() -> None:
    """Register and select the ``volbook`` renderer and plotly template."""
    pio.renderers["volbook"] = _VolbookRenderer()
    pio.renderers.default = "volbook"
    pio.templates["volbook"] = _TEMPLATE
    pio.templates.default = "plotly_white+volbook"


# ---------------------------------------------------------------------------------------
# Figures. Values are rounded to what the eye can see so committed notebooks stay small.


def _color(name: str) -> str | None:
    return COLORS.get(name)


def _ann_vol(variance_sum: pl.Expr, horizon: pl.Expr | int) -> pl.Expr:
    return (TRADING_DAYS * variance_sum / horizon).sqrt()


def _thin(frame: pl.DataFrame, every: int) -> pl.DataFrame:
    """Every ``every``-th origin (by date rank), for time-series figures of long samples."""
    dates = frame.select(pl.col("date").unique().sort()).to_series()
    keep = dates.gather_every(max(1, int(every)))
    return frame.filter(pl.col("date").is_in(keep.implode()))


def _dropdown(labels: Sequence[str], traces_per_label: Sequence[int], prefix: str) -> list[dict]:
    """Buttons that show one group of traces at a time."""
    total = sum(traces_per_label)
    buttons, start = [], 0
    for label, k in zip(labels, traces_per_label):
        visible = [start <= i < start + k for i in range(total)]
        buttons.append(dict(label=f"{prefix}{label}", method="update", args=[{"visible": visible}]))
        start += k
    return [dict(buttons=buttons, direction="down", x=1.0, xanchor="right", y=1.15, yanchor="top")]


def plot_price_and_returns(frame: pl.DataFrame) -> go.Figure:
    """Close price (log scale) and daily log returns; ``frame`` has date, close, ret."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("Close (log scale)", "Daily log return (%)"))
    fig.add_trace(go.Scatter(x=frame["date"], y=frame["close"].round(2), name="close",
                             line=dict(color=COLORS["realized"], width=1)), row=1, col=1)
    fig.add_trace(go.Scatter(x=frame["date"], y=(100 * frame["ret"]).round(3), name="return",
                             line=dict(color=COLORS["ewma"], width=0.7)), row=2, col=1)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(height=520, showlegend=False)
    return fig


def plot_rolling_vol(frame: pl.DataFrame, windows: Sequence[int]) -> go.Figure:
    """Annualized rolling volatility of ``ret`` for each window (each window ends at t)."""
    fig = go.Figure()
    for w in windows:
        vol = (frame["ret"] ** 2).rolling_mean(window_size=int(w)).sqrt() * np.sqrt(TRADING_DAYS)
        fig.add_trace(go.Scatter(x=frame["date"], y=vol.round(4), name=f"{w}-day",
                                 line=dict(width=1, color=_color(f"rolling_{w}"))))
    fig.update_layout(yaxis_title="annualized volatility", yaxis_tickformat=".0%", height=380)
    return fig


def plot_return_distribution(returns: np.ndarray, bins: int = 120) -> go.Figure:
    """Histogram of standardized daily returns against the standard normal density (log y)."""
    z = (returns - returns.mean()) / returns.std()
    counts, edges = np.histogram(z, bins=bins)
    mids = 0.5 * (edges[1:] + edges[:-1])
    density = counts / (counts.sum() * np.diff(edges))
    fig = go.Figure()
    fig.add_trace(go.Bar(x=mids.round(3), y=density.round(6), name="returns", marker_color=COLORS["ewma"]))
    grid = np.linspace(edges[0], edges[-1], 200)
    fig.add_trace(go.Scatter(x=grid.round(3), y=stats.norm.pdf(grid).round(6), name="normal",
                             line=dict(color=COLORS["garch"])))
    fig.update_layout(xaxis_title="standardized return", yaxis_title="density (log scale)",
                      yaxis_type="log", bargap=0, height=380)
    return fig


def plot_acf(acf_returns: np.ndarray, acf_squared: np.ndarray, band: float) -> go.Figure:
    """Autocorrelations of returns and of squared returns (lags 1..), with a +-band."""
    lags = np.arange(1, acf_returns.size + 1)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("returns", "squared returns"))
    for col, values in ((1, acf_returns), (2, acf_squared)):
        fig.add_trace(go.Bar(x=lags, y=np.round(values, 4), marker_color=COLORS["ewma"], showlegend=False), row=1, col=col)
        for sign in (1, -1):
            fig.add_hline(y=sign * band, line=dict(dash="dot", color="grey"), row=1, col=col)
    fig.update_xaxes(title_text="lag (days)")
    fig.update_layout(height=360)
    return fig


def plot_forecasts_over_time(evaluation: pl.DataFrame, horizons: Sequence[int], every: int = 5) -> go.Figure:
    """Realized vs forecast annualized vol per model, one horizon at a time (dropdown)."""
    ev = _thin(evaluation, every).sort("date")
    models = ev["model"].unique(maintain_order=True).to_list()
    fig = go.Figure()
    counts = []
    for i, h in enumerate(horizons):
        sub = ev.filter(pl.col("horizon") == h)
        real = sub.filter(pl.col("model") == models[0])
        fig.add_trace(go.Scatter(x=real["date"], y=real.select(_ann_vol(pl.col("target"), h)).to_series().round(4),
                                 name="realized", visible=i == 0, line=dict(color=COLORS["realized"], width=1)))
        for m in models:
            part = sub.filter(pl.col("model") == m)
            fig.add_trace(go.Scatter(x=part["date"], y=part.select(_ann_vol(pl.col("forecast"), h)).to_series().round(4),
                                     name=m, visible=i == 0, line=dict(width=1, color=_color(m))))
        counts.append(len(models) + 1)
    fig.update_layout(updatemenus=_dropdown([str(h) for h in horizons], counts, "h = "),
                      yaxis_title="annualized volatility", yaxis_tickformat=".0%", height=420)
    return fig


def plot_forecast_scatter(evaluation: pl.DataFrame, horizon: int, every: int = 3) -> go.Figure:
    """Realized against forecast annualized vol at one horizon, one panel per model."""
    ev = _thin(evaluation.filter(pl.col("horizon") == horizon), every)
    models = ev["model"].unique(maintain_order=True).to_list()
    cols = 3
    rows = -(-len(models) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=models, shared_xaxes=True, shared_yaxes=True)
    top = ev.select(_ann_vol(pl.max_horizontal("forecast", "target"), horizon).quantile(0.995)).item()
    for k, m in enumerate(models):
        part = ev.filter(pl.col("model") == m)
        fig.add_trace(go.Scattergl(
            x=part.select(_ann_vol(pl.col("forecast"), horizon)).to_series().round(4),
            y=part.select(_ann_vol(pl.col("target"), horizon)).to_series().round(4),
            mode="markers", marker=dict(size=3, opacity=0.4, color=_color(m)), showlegend=False),
            row=k // cols + 1, col=k % cols + 1)
        fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", line=dict(dash="dot", color="grey"),
                                 showlegend=False), row=k // cols + 1, col=k % cols + 1)
    fig.update_xaxes(range=[0, top], tickformat=".0%")
    fig.update_yaxes(range=[0, top], tickformat=".0%")
    fig.update_layout(height=280 * rows, hovermode="closest")
    return fig


def plot_error_histograms(evaluation: pl.DataFrame, horizons: Sequence[int], bins: int = 60) -> go.Figure:
    """Distribution of log(forecast / realized) per model, one horizon at a time (dropdown)."""
    models = evaluation["model"].unique(maintain_order=True).to_list()
    err = evaluation.with_columns((pl.col("forecast") / pl.col("target")).log().alias("err"))
    lo, hi = err.select(pl.col("err").quantile(0.005).alias("lo"), pl.col("err").quantile(0.995).alias("hi")).row(0)
    edges = np.linspace(lo, hi, bins + 1)
    mids = (0.5 * (edges[1:] + edges[:-1])).round(3)
    fig = go.Figure()
    for i, h in enumerate(horizons):
        for m in models:
            e = err.filter((pl.col("horizon") == h) & (pl.col("model") == m))["err"].to_numpy()
            counts, _ = np.histogram(np.clip(e, lo, hi), bins=edges)
            fig.add_trace(go.Scatter(x=mids, y=(counts / e.size).round(5), name=m, visible=i == 0,
                                     mode="lines", line=dict(shape="hvh", color=_color(m))))
    fig.update_layout(updatemenus=_dropdown([str(h) for h in horizons], [len(models)] * len(horizons), "h = "),
                      xaxis_title="log(forecast / realized variance)", yaxis_title="share of origins", height=400)
    return fig


def plot_surface(evaluation: pl.DataFrame, model: str, every: int = 5) -> go.Figure:
    """Time x horizon x annualized vol: realized, forecast and error surfaces (dropdown)."""
    ev = _thin(evaluation.filter(pl.col("model") == model), every).sort("date", "horizon")
    wide = ev.with_columns(
        _ann_vol(pl.col("target"), pl.col("horizon")).alias("realized"),
        _ann_vol(pl.col("forecast"), pl.col("horizon")).alias("forecast"),
    ).with_columns((pl.col("forecast") - pl.col("realized")).alias("error"))
    dates = wide["date"].unique(maintain_order=True)
    hs = wide["horizon"].unique(maintain_order=True).to_numpy()
    full = wide.group_by("date").len().filter(pl.col("len") == hs.size)["date"]
    wide = wide.filter(pl.col("date").is_in(full.implode()))
    dates = wide["date"].unique(maintain_order=True)
    fig = go.Figure()
    for i, name in enumerate(("realized", "forecast", "error")):
        z = wide[name].to_numpy().reshape(dates.len(), hs.size).T.round(4)
        fig.add_trace(go.Surface(x=dates.to_list(), y=hs, z=z, name=name, visible=i == 0, showscale=False,
                                 colorscale="RdBu_r" if name == "error" else "Viridis"))
    fig.update_layout(
        updatemenus=_dropdown(["realized", "forecast", "error (forecast - realized)"], [1, 1, 1], ""),
        scene=dict(xaxis_title="origin", yaxis_title="horizon (days)", zaxis_title="annualized vol",
                   zaxis_tickformat=".0%"),
        height=560, margin=dict(l=0, r=0, t=40, b=0),
    )
    return fig


def plot_equity(daily: pl.DataFrame, every: int = 5) -> go.Figure:
    """Equity curves (log scale) of backtests; ``daily`` has date, strategy, equity."""
    fig = go.Figure()
    for name in daily["strategy"].unique(maintain_order=True).to_list():
        part = _thin(daily.filter(pl.col("strategy") == name), every)
        fig.add_trace(go.Scatter(x=part["date"], y=part["equity"].round(4), name=name,
                                 line=dict(width=1.2, color=_color(name))))
    fig.update_layout(yaxis_type="log", yaxis_title="growth of 1", height=400)
    return fig


def plot_parameter_paths(params: pl.DataFrame, names: Sequence[str] = ("alpha", "beta", "persistence"),
                         every: int = 5) -> go.Figure:
    """Estimated GARCH-family parameters at every ``every``-th refit date, one line per model."""
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=list(names))
    for m in params["model"].unique(maintain_order=True).to_list():
        part = _thin(params.filter(pl.col("model") == m), every)
        for k, name in enumerate(names):
            if name in part.columns and part[name].null_count() < part.height:
                fig.add_trace(go.Scatter(x=part["date"], y=part[name].round(4), name=m, legendgroup=m,
                                         showlegend=k == 0, line=dict(width=1, color=_color(m))), row=1, col=k + 1)
    fig.update_layout(height=340)
    return fig
