"""Every figure of the book, in one style, and the conventions every chapter's figures follow.

Figures are plotly objects. Inside a chapter they display through the ``volbook`` renderer
(selected by :func:`use_volbook_theme`, which :func:`volbook.setup` calls) as an HTML
fragment without plotly.js; the rendered site loads one local copy of ``plotly.min.js``.

Conventions (for the figures of every chapter)
----------------------------------------------
* **Deterministic HTML.** The ``div`` id comes from the cell's label (``fig-vol`` gives
  ``fig-vol-plotly``, see :mod:`volbook._cells`), never from a random UUID or a content
  hash, so a rerun on another machine writes the same bytes.
* **Rounded data.** :func:`figure_html` rounds every number before it is embedded, to what a
  reader can see: on a linear axis to :data:`FIGURE_DIGITS` significant digits of the
  trace's largest value (one step is about a pixel), on a log axis to one more significant
  digit per value; other floats (layout) to 6 significant digits. What a figure shows then
  does not depend on the last bits of a float (BLAS, optimizer and package versions move
  GARCH estimates by ~1e-8 relative), and committed chapters stay small. A value can still
  flip where it lies within the drift of a rounding boundary: measured on 30,000 vol-like
  values, a 1e-6 relative drift flipped none in 20 draws, 1e-5 about 2, 1e-4 about 40.
* **Layout** (:func:`finish_figure`): legends sit below the plot, never over subplot titles
  or data; a menu (:func:`trace_menu`) sits at the top left, clear of plotly's mode bar at
  the top right; value axes have titles with units; a figure has no title of its own (the
  chapter's ``fig-cap`` is its title).
* **Colours**: :data:`COLORS`, one per model, the same in every figure; a variant of a model
  (``garch_no_costs``, ``garch_refit_5``) has the model's colour and a dashed line. Names
  shown are :func:`volbook.labels.model_label`.
* In a chapter, a figure cell has ``#| label: fig-...``, ``#| fig-cap:`` and ``#| fig-alt:``
  and its last line returns the figure.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.subplots import make_subplots
from scipy import stats

from volbook._cells import element_id
from volbook.labels import horizon_label, model_label
from volbook.timing import TRADING_DAYS

__all__ = [
    "COLORS",
    "FIGURE_DIGITS",
    "use_volbook_theme",
    "figure_html",
    "round_to_scale",
    "round_significant",
    "finish_figure",
    "trace_menu",
    "line_style",
    "plot_price_and_returns",
    "plot_rolling_vol",
    "plot_return_distribution",
    "plot_acf",
    "plot_forecasts_over_time",
    "plot_forecast_scatter",
    "plot_error_histograms",
    "error_range",
    "clipped_errors",
    "plot_surface",
    "plot_equity",
    "plot_drawdowns",
    "plot_parameter_paths",
]

#: Model colours (Okabe-Ito and neighbours: distinguishable with common colour-vision
#: deficiencies), fixed so that a model keeps its colour across every figure.
COLORS = {
    "realized": "#222222",
    "rolling_20": "#E69F00",
    "rolling_60": "#CC79A7",
    "ewma": "#009E73",
    "garch": "#0072B2",
    "gjr_garch": "#D55E00",
    "t_garch": "#56B4E9",
    "buy_and_hold": "#7F7F7F",
    "har": "#8C564B",
    "es": "#9467BD",
    "stes": "#1F4E9C",
    "xgbstes": "#C98A00",
    # chapter 3 (Tableau 10: distinct from the colours above)
    "har_log": "#555555",
    "har_log_vix": "#F28E2B",
    "har_log_logvix": "#9C755F",
    "soft_markov_har": "#E15759",
    "ms_har": "#4E79A7",
    "distributional_har": "#59A14F",
    "coefficient_har": "#B07AA1",
}
_FALLBACK_COLORS = ("#8C564B", "#9467BD", "#BCBD22", "#17BECF", "#F0E442")

#: Significant digits of a linear-axis trace's largest value that figures keep.
FIGURE_DIGITS = 3
_LAYOUT_DIGITS = 6
_LEGEND_MARGIN = 96  # px below the plot for the x-axis labels and a one- or two-row legend
_MENU_MARGIN = 48  # px above the plot for a menu

_TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font=dict(family="Helvetica, Arial, sans-serif", size=13),
        colorway=list(_FALLBACK_COLORS),
        margin=dict(l=64, r=16, t=24, b=48),
        hovermode="x unified",
    )
)
_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
# plotly's "responsive" redraws a figure when the window is resized, not when its own box is. In
# a real Quarto page the text column narrows by a scroll bar's width once the page grows longer
# than the window, after the first figures are drawn: they stayed 15 px too wide, with a
# horizontal scroll bar under each. Redraw whenever the figure's box changes width.
_REFIT_SCRIPT = (
    "var gd = document.getElementById('{plot_id}');"
    " if (window.ResizeObserver) { new ResizeObserver(function () { Plotly.Plots.resize(gd); }).observe(gd); }"
)


# ---------------------------------------------------------------------------------------
# Rounding and the HTML fragment


def round_to_scale(values: Any, digits: int = FIGURE_DIGITS) -> np.ndarray:
    """Round all values to the same decimal place: ``digits`` significant digits of the largest.

    For data on a linear axis: the step is 1/1000 to 1/100 of the largest value (about a
    pixel), also for values near zero, whose own significant digits would be noise.

    >>> round_to_scale([0.123456, 0.00012345, -0.5])
    array([ 0.123,  0.   , -0.5  ])
    """
    a = np.asarray(values, dtype=float)
    finite = np.isfinite(a)
    top = float(np.abs(a[finite]).max()) if finite.any() else 0.0
    if top == 0.0:
        return a
    return np.round(a, digits - 1 - math.floor(math.log10(top)))


def round_significant(values: Any, digits: int = FIGURE_DIGITS + 1) -> np.ndarray:
    """Round each value to ``digits`` significant digits of its own (data on a log axis).

    >>> round_significant([123456.0, 0.000123456], 3)
    array([1.23e+05, 1.23e-04])
    """
    a = np.asarray(values, dtype=float)
    out = a.copy()
    ok = np.isfinite(a) & (a != 0)
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(a[ok]))))
    out[ok] = np.round(a[ok] * scale) / scale
    return out


def _decode(value: Any) -> Any:
    """A plotly typed array (``{"dtype", "bdata", "shape"}``) as a numpy array; else ``value``."""
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            array = array.reshape([int(s) for s in str(shape).split(",")])
        return array
    return value


def _as_float_array(value: Any) -> np.ndarray | None:
    """``value`` as a float array if it is a numeric (non-integer, non-bool) array, else None."""
    value = _decode(value)
    if isinstance(value, np.ndarray):
        return value.astype(float) if value.dtype.kind == "f" else None
    if isinstance(value, list | tuple) and value:
        flat = np.asarray(value, dtype=object).ravel()
        if all(v is None or isinstance(v, float) for v in flat) and any(isinstance(v, float) for v in flat):
            return np.asarray([np.nan if v is None else v for v in flat], dtype=float).reshape(np.shape(value))
    return None


def _to_json_list(a: np.ndarray) -> list:
    """Floats as a (nested) list with NaN and infinities as None (JSON null)."""
    if a.ndim > 1:
        return [_to_json_list(row) for row in a]
    return [v if math.isfinite(v) else None for v in a.tolist()]


def _is_log_axis(layout: dict, trace: dict, letter: str) -> bool:
    ref = trace.get(f"{letter}axis", letter)
    name = f"{letter}axis" + ref[1:]
    return (layout.get(name) or {}).get("type") == "log"


def _round_scalars(node: Any) -> Any:
    if isinstance(node, float):
        return float(round_significant([node], _LAYOUT_DIGITS)[0]) if math.isfinite(node) else node
    if isinstance(node, dict):
        decoded = _decode(node)
        if decoded is not node:
            a = _as_float_array(decoded)
            return _to_json_list(round_significant(a, _LAYOUT_DIGITS)) if a is not None else decoded.tolist()
        return {k: _round_scalars(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_round_scalars(v) for v in node]
    if isinstance(node, np.ndarray):
        return _round_scalars(node.tolist())
    return node


def round_figure(fig: go.Figure | dict, digits: int = FIGURE_DIGITS) -> dict:
    """The figure as a plotly dict with every number rounded as the module docstring says."""
    fig_dict = fig.to_plotly_json() if isinstance(fig, go.Figure) else fig
    layout = fig_dict.get("layout") or {}
    data = []
    for trace in fig_dict.get("data") or []:
        trace = dict(trace)
        for key in ("x", "y", "z"):
            a = _as_float_array(trace.get(key))
            if a is None:
                continue
            log = key in ("x", "y") and _is_log_axis(layout, trace, key)
            trace[key] = _to_json_list(round_significant(a, digits + 1) if log else round_to_scale(a, digits))
        data.append(_round_scalars(trace))
    return {**fig_dict, "data": data, "layout": _round_scalars(layout)}


def figure_html(fig: go.Figure | dict, div_id: str | None = None) -> str:
    """The HTML fragment of a figure: rounded data, no plotly.js, a deterministic ``div`` id.

    The id defaults to the displaying cell's label plus ``-plotly`` (:mod:`volbook._cells`).
    """
    return pio.to_html(
        round_figure(fig),
        include_plotlyjs=False,
        full_html=False,
        div_id=div_id or element_id("plotly"),
        config=_CONFIG,
        post_script=_REFIT_SCRIPT,
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
# Layout helpers


def line_style(name: str, width: float = 1.0) -> dict:
    """Line colour and dash of a model or strategy: its own colour; variants dashed."""
    for suffix in ("_no_costs", "_refit_", "_window_", "_predicted"):
        if suffix in name:
            base = name.split(suffix)[0]
            return dict(color=COLORS.get(base), width=width, dash="dash")
    if name.startswith("ewma_"):
        return dict(color=COLORS["ewma"], width=width, dash="dash")
    for base in ("xgbstes", "stes"):  # gate variants of chapter 2 (stes_hardiff_seasonal)
        if name.startswith(f"{base}_"):
            return dict(color=COLORS[base], width=width, dash="dash")
    return dict(color=COLORS.get(name), width=width)


def trace_menu(labels: Sequence[str], traces_per_label: Sequence[int], prefix: str = "") -> dict:
    """Buttons (top left, clear of the mode bar) that show one group of traces at a time.

    Traces are grouped in order: the first ``traces_per_label[0]`` belong to ``labels[0]``...
    Pass the result to :func:`finish_figure` as ``menu``.
    """
    total = sum(traces_per_label)
    buttons, start = [], 0
    for label, k in zip(labels, traces_per_label, strict=True):
        visible = [start <= i < start + k for i in range(total)]
        buttons.append(dict(label=f"{prefix}{label}", method="update", args=[{"visible": visible}]))
        start += k
    return dict(type="buttons", direction="right", buttons=buttons, showactive=True, active=0,
                x=0.0, xanchor="left", y=1.0, yanchor="bottom", pad=dict(t=0, b=6, l=0, r=0))


def finish_figure(
    fig: go.Figure,
    *,
    height: int,
    x_title: str | None = None,
    y_title: str | None = None,
    legend: bool = True,
    menu: dict | None = None,
    y_percent: bool = False,
) -> go.Figure:
    """Apply the book's layout: legend below, menu top left, axis titles, height, margins.

    Parameters
    ----------
    fig
        The figure (changed in place and returned).
    height
        Height in pixels (the width follows the text column).
    x_title, y_title
        Titles of the first x and y axes, with units (e.g. ``"annualized volatility"``).
    legend
        Show the legend (below the plot, left-aligned, horizontal).
    menu
        A :func:`trace_menu`, shown above the plot on the left.
    y_percent
        Show the y values (fractions) as percent: whole percent on the ticks, one decimal
        when hovering.
    """
    top = _MENU_MARGIN if menu else 24
    if any(a.yref == "paper" and (a.y or 0) >= 1.0 for a in fig.layout.annotations or ()):
        top = max(top, 60)  # subplot titles, clear of the mode bar
    fig.update_layout(
        height=height,
        showlegend=legend,
        legend=dict(orientation="h", yref="container", yanchor="bottom", y=0.0, xanchor="left", x=0.0),
        margin=dict(t=top, b=_LEGEND_MARGIN if legend else 48),
        updatemenus=[menu] if menu else [],
    )
    # layout.xaxis / layout.yaxis are the first axes both of a plain figure and of a subplot
    # grid (a selector such as anchor="y" matches nothing in a plain figure, whose axes have no anchor)
    if x_title is not None:
        fig.update_layout(xaxis_title_text=x_title)
    if y_title is not None:
        fig.update_layout(yaxis_title_text=y_title)
    if y_percent:
        fig.update_yaxes(tickformat=".0%", hoverformat=".1%")
    return fig


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Tick values 1, 1.2, 1.5, 2, 3, 5, 7 (times powers of ten) between ``lo`` and ``hi``, at most ~8."""
    steps = (1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 7.0)
    ticks = [m * 10.0**e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1) for m in steps]
    inside = [t for t in ticks if lo <= t <= hi]
    return inside[:: max(1, -(-len(inside) // 8))]


def _thin(frame: pl.DataFrame, every: int) -> pl.DataFrame:
    """Every ``every``-th origin (by date rank), for time-series figures of long samples."""
    dates = frame.select(pl.col("date").unique().sort()).to_series()
    keep = dates.gather_every(max(1, int(every)))
    return frame.filter(pl.col("date").is_in(keep.implode()))


def _ann_vol(variance_sum: pl.Expr, horizon: pl.Expr | int) -> pl.Expr:
    return (TRADING_DAYS * variance_sum / horizon).sqrt()


def _models(frame: pl.DataFrame, column: str = "model") -> list[str]:
    return frame[column].unique(maintain_order=True).to_list()


# ---------------------------------------------------------------------------------------
# Figures


def plot_price_and_returns(frame: pl.DataFrame) -> go.Figure:
    """Close price (log scale) and daily log returns in percent; ``frame`` has date, close, ret."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=frame["date"], y=frame["close"], name="close",
                             line=dict(color=COLORS["realized"], width=1)), row=1, col=1)
    fig.add_trace(go.Scatter(x=frame["date"], y=100 * frame["ret"], name="return (%)",
                             line=dict(color=COLORS["garch"], width=0.7)), row=2, col=1)
    fig.update_yaxes(type="log", title_text="index level (log scale)", row=1, col=1)
    fig.update_yaxes(title_text="daily log return (%)", row=2, col=1)
    return finish_figure(fig, height=520, legend=False)


def plot_rolling_vol(frame: pl.DataFrame, windows: Sequence[int], every: int = 1) -> go.Figure:
    """Annualized rolling volatility of ``ret`` for each window (each window ends at t), every ``every``-th day."""
    fig = go.Figure()
    for w in windows:
        vol = frame.select("date", ((pl.col("ret") ** 2).rolling_mean(window_size=int(w)) * TRADING_DAYS).sqrt().alias("vol"))
        vol = vol.gather_every(max(1, int(every)))
        fig.add_trace(go.Scatter(x=vol["date"], y=vol["vol"], name=f"{w}-day window", line=line_style(f"rolling_{w}")))
    return finish_figure(fig, height=380, y_title="annualized volatility", y_percent=True)


def plot_return_distribution(returns: np.ndarray, bins: int = 120) -> go.Figure:
    """Histogram of standardized daily returns against the standard normal density (log y)."""
    z = (returns - returns.mean()) / returns.std()
    counts, edges = np.histogram(z, bins=bins)
    mids = 0.5 * (edges[1:] + edges[:-1])
    density = counts / (counts.sum() * np.diff(edges))
    fig = go.Figure()
    fig.add_trace(go.Bar(x=mids, y=np.where(counts > 0, density, np.nan), name="daily returns",
                         marker_color=COLORS["garch"]))
    grid = np.linspace(edges[0], edges[-1], 200)
    pdf = stats.norm.pdf(grid)
    fig.add_trace(go.Scatter(x=grid, y=np.where(pdf > 1e-7, pdf, np.nan), name="standard normal density",
                             line=dict(color=COLORS["gjr_garch"])))
    fig.update_yaxes(type="log", exponentformat="power", dtick=1)
    fig.update_layout(bargap=0, hovermode="closest")
    return finish_figure(fig, height=400, x_title="standardized daily return (standard deviations)",
                         y_title="density (log scale)")


def plot_acf(acf_returns: np.ndarray, acf_squared: np.ndarray, band: float) -> go.Figure:
    """Autocorrelations of returns and of squared returns (lags 1..), with a +-band."""
    lags = np.arange(1, acf_returns.size + 1)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("returns", "squared returns"))
    for col, values in ((1, acf_returns), (2, acf_squared)):
        fig.add_trace(go.Bar(x=lags, y=np.asarray(values, dtype=float), marker_color=COLORS["garch"],
                             name="autocorrelation"), row=1, col=col)
        for sign in (1, -1):
            fig.add_hline(y=sign * band, line=dict(dash="dot", color="grey"), row=1, col=col)
    fig.update_xaxes(title_text="lag (days)")
    fig.update_layout(hovermode="closest")
    return finish_figure(fig, height=360, y_title="autocorrelation", legend=False)


def plot_forecasts_over_time(
    evaluation: pl.DataFrame,
    horizons: Sequence[int],
    every: int = 5,
    zoom: tuple[Any, Any] | None = None,
    zoom_models: Sequence[str] | None = None,
) -> go.Figure:
    """Realized vs forecast annualized vol per model, one horizon at a time (buttons).

    Parameters
    ----------
    evaluation
        ``date`` (origin), ``model``, ``horizon``, ``forecast`` and ``target`` (variance sums).
    horizons
        Horizons, one button each.
    every
        Plot every ``every``-th origin in the full-sample panel.
    zoom
        ``(first, last)`` dates of a second panel that shows every origin in that window, so
        that how fast each model reacts can be seen.
    zoom_models
        Models drawn in the zoom panel (default all).
    """
    models = _models(evaluation)
    zoom_models = list(zoom_models or models)
    panels = [(1, _thin(evaluation, every), models)]
    if zoom is not None:
        window = evaluation.filter(pl.col("date").is_between(pl.lit(zoom[0]).cast(pl.Date), pl.lit(zoom[1]).cast(pl.Date)))
        panels.append((2, window, zoom_models))
    fig = make_subplots(rows=len(panels), cols=1, vertical_spacing=0.1,
                        row_heights=[0.55, 0.45] if zoom is not None else None)
    counts = []
    for i, h in enumerate(horizons):
        count = 0
        for row, frame, shown in panels:
            sub = frame.filter(pl.col("horizon") == h).sort("date")
            real = sub.filter(pl.col("model") == models[0])
            fig.add_trace(go.Scatter(x=real["date"], y=real.select(_ann_vol(pl.col("target"), h)).to_series(),
                                     name=model_label("realized"), legendgroup="realized", showlegend=row == 1,
                                     visible=i == 0, line=dict(color=COLORS["realized"], width=1)), row=row, col=1)
            for m in shown:
                part = sub.filter(pl.col("model") == m)
                fig.add_trace(go.Scatter(x=part["date"], y=part.select(_ann_vol(pl.col("forecast"), h)).to_series(),
                                         name=model_label(m), legendgroup=m, showlegend=row == 1, visible=i == 0,
                                         line=line_style(m, width=1.3 if row == 2 else 1.0)), row=row, col=1)
            count += len(shown) + 1
        counts.append(count)
    fig.update_yaxes(title_text="annualized volatility", tickformat=".0%", hoverformat=".1%")
    menu = trace_menu([horizon_label(h) for h in horizons], counts, "next ") if len(horizons) > 1 else None
    return finish_figure(fig, height=640 if zoom is not None else 440, menu=menu)


def plot_forecast_scatter(evaluation: pl.DataFrame, horizon: int, every: int = 3) -> go.Figure:
    """Realized against forecast annualized vol at one horizon, one panel per model, log axes.

    Log axes show every point (nothing is cut); the dotted line is the diagonal.
    """
    ev = _thin(evaluation.filter(pl.col("horizon") == horizon), every).with_columns(
        _ann_vol(pl.col("forecast"), horizon).alias("f"), _ann_vol(pl.col("target"), horizon).alias("y")
    )
    models = _models(ev)
    cols = 3
    rows = -(-len(models) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[model_label(m) for m in models],
                        shared_xaxes=True, shared_yaxes=True, horizontal_spacing=0.04, vertical_spacing=0.12)
    lo = float(round_significant([ev.select(pl.min_horizontal(pl.col("f").min(), pl.col("y").min())).item()], 1)[0]) / 2
    hi = float(round_significant([ev.select(pl.max_horizontal(pl.col("f").max(), pl.col("y").max())).item()], 1)[0]) * 2
    for k, m in enumerate(models):
        part = ev.filter(pl.col("model") == m)
        row, col = k // cols + 1, k % cols + 1
        fig.add_trace(go.Scattergl(x=part["f"], y=part["y"], mode="markers", name=model_label(m),
                                   marker=dict(size=3, opacity=0.4, color=COLORS.get(m))), row=row, col=col)
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="diagonal",
                                 line=dict(dash="dot", color="grey")), row=row, col=col)
    axes = dict(type="log", dtick=1, tickformat="~%", range=[math.log10(lo), math.log10(hi)])
    fig.update_xaxes(**axes)
    fig.update_yaxes(**axes)
    for col in range(1, cols + 1):
        fig.update_xaxes(title_text="forecast", row=rows, col=col)
    for row in range(1, rows + 1):
        fig.update_yaxes(title_text="realized", row=row, col=1)
    fig.update_layout(hovermode="closest")
    return finish_figure(fig, height=300 * rows + 40, legend=False)


_LOG_ERROR = (pl.col("forecast") / pl.col("target")).log()


def error_range(evaluation: pl.DataFrame, tail: float = 0.005) -> tuple[int, int]:
    """The x range of :func:`plot_error_histograms`: the ``tail`` and ``1 - tail`` quantiles of
    log(forecast / realized) over every model and horizon, rounded outward to whole numbers."""
    lo, hi = evaluation.select(_LOG_ERROR.quantile(tail).alias("lo"), _LOG_ERROR.quantile(1 - tail).alias("hi")).row(0)
    return math.floor(lo), math.ceil(hi)


def clipped_errors(evaluation: pl.DataFrame, tail: float = 0.005) -> pl.DataFrame:
    """Share of each model's errors, per horizon, beyond the left (``below``) and right
    (``above``) end of :func:`error_range`: what the end bins of the histograms hold besides
    their own bin."""
    lo, hi = error_range(evaluation, tail)
    return (evaluation.group_by("horizon", "model", maintain_order=True)
            .agg((_LOG_ERROR < lo).mean().alias("below"), (_LOG_ERROR > hi).mean().alias("above"))
            .sort("horizon", maintain_order=True))


def plot_error_histograms(evaluation: pl.DataFrame, horizons: Sequence[int], bins: int = 60,
                          tail: float = 0.005) -> go.Figure:
    """Distribution of log(forecast / realized) per model, one horizon at a time (buttons).

    The range shown is :func:`error_range` (all horizons share it); errors beyond it are
    counted in the two end bins, which are marked with a dot (they hold the clipped tails,
    so every line sums to 1). :func:`clipped_errors` says how many each end bin took in.
    """
    models = _models(evaluation)
    err = evaluation.with_columns(_LOG_ERROR.alias("err"))
    lo, hi = error_range(evaluation, tail)
    edges = np.linspace(lo, hi, bins + 1)
    mids = 0.5 * (edges[1:] + edges[:-1])
    fig = go.Figure()
    for i, h in enumerate(horizons):
        for m in models:
            e = err.filter((pl.col("horizon") == h) & (pl.col("model") == m))["err"].to_numpy()
            counts, _ = np.histogram(np.clip(e, lo, hi), bins=edges)
            share = counts / e.size
            ends = np.zeros(bins, dtype=bool)
            ends[[0, -1]] = True
            fig.add_trace(go.Scatter(x=mids, y=share, name=model_label(m), legendgroup=m, visible=i == 0,
                                     mode="lines+markers", line=dict(shape="hvh", **line_style(m)),
                                     marker=dict(size=np.where(ends, 7, 0), color=COLORS.get(m))))
    menu = trace_menu([horizon_label(h) for h in horizons], [len(models)] * len(horizons), "next ")
    fig.update_layout(hovermode="closest")
    return finish_figure(fig, height=420, menu=menu, x_title="log(forecast / realized variance)",
                         y_title="share of origins")


def plot_surface(evaluation: pl.DataFrame, model: str, every: int = 5) -> go.Figure:
    """Realized and forecast annualized vol over origin x horizon (two 3-D surfaces), and the error.

    The realized surface (top) and the forecast surface (middle) are drawn on the same
    vertical scale; the bottom panel is the forecast minus realized as a heat map.
    """
    ev = _thin(evaluation.filter(pl.col("model") == model), every).sort("date", "horizon")
    wide = ev.with_columns(
        _ann_vol(pl.col("target"), pl.col("horizon")).alias("realized"),
        _ann_vol(pl.col("forecast"), pl.col("horizon")).alias("forecast"),
    ).with_columns((pl.col("forecast") - pl.col("realized")).alias("error"))
    hs = wide["horizon"].unique(maintain_order=True).to_numpy()
    full = wide.group_by("date").len().filter(pl.col("len") == hs.size)["date"]
    wide = wide.filter(pl.col("date").is_in(full.implode()))
    dates = wide["date"].unique(maintain_order=True)
    grid = {name: wide[name].to_numpy().reshape(dates.len(), hs.size).T for name in ("realized", "forecast", "error")}
    top = float(round_significant([np.nanquantile(grid["realized"], 0.999)], 2)[0])
    fig = make_subplots(rows=3, cols=1, row_heights=[0.4, 0.4, 0.2], vertical_spacing=0.04,
                        specs=[[{"type": "scene"}], [{"type": "scene"}], [{"type": "xy"}]],
                        subplot_titles=("realized over the next h days", f"forecast by {model_label(model)}",
                                        "forecast minus realized"))
    for row, name in ((1, "realized"), (2, "forecast")):
        fig.add_trace(go.Surface(x=dates.to_list(), y=hs, z=grid[name], name=name, showscale=False,
                                 colorscale="Viridis", cmin=0, cmax=top), row=row, col=1)
    limit = float(round_significant([np.nanquantile(np.abs(grid["error"]), 0.99)], 2)[0])
    fig.add_trace(go.Heatmap(x=dates.to_list(), y=hs, z=grid["error"], colorscale="RdBu_r", zmin=-limit, zmax=limit,
                             colorbar=dict(title="error", tickformat=".0%", len=0.2, y=0.1, thickness=12)),
                  row=3, col=1)
    scene = dict(xaxis_title="origin", yaxis_title="horizon (days)", zaxis_title="annualized vol",
                 zaxis=dict(tickformat=".0%", range=[0, top]), aspectmode="manual",
                 aspectratio=dict(x=1.8, y=0.8, z=0.7), camera=dict(eye=dict(x=0.8, y=-1.8, z=0.75), center=dict(x=0, y=0, z=-0.2)),
                 yaxis=dict(tick0=int(hs.min()), dtick=max(1, round((hs.max() - hs.min()) / 3))))
    fig.update_layout(scene=scene, scene2=scene)
    fig.update_yaxes(title_text="horizon (days)", row=3, col=1)
    fig.update_layout(hovermode="closest")
    return finish_figure(fig, height=1000, legend=False)


def plot_equity(daily: pl.DataFrame, every: int = 5) -> go.Figure:
    """Equity curves (log scale) of backtests; ``daily`` has date, strategy, equity."""
    fig = go.Figure()
    for name in _models(daily, "strategy"):
        part = _thin(daily.filter(pl.col("strategy") == name), every)
        fig.add_trace(go.Scatter(x=part["date"], y=part["equity"], name=model_label(name),
                                 line=line_style(name, width=1.2)))
    fig.update_yaxes(type="log", tickvals=_log_ticks(daily["equity"].min(), daily["equity"].max()))
    return finish_figure(fig, height=420, y_title="growth of 1 (log scale)")


def plot_drawdowns(daily: pl.DataFrame, every: int = 1) -> go.Figure:
    """Drawdown from the running peak (the start counts as a peak) of each backtest."""
    fig = go.Figure()
    for name in _models(daily, "strategy"):
        part = _thin(daily.filter(pl.col("strategy") == name), every).with_columns(
            (pl.col("equity") / pl.max_horizontal(pl.col("equity").cum_max(), pl.lit(1.0)) - 1).alias("drawdown")
        )
        fig.add_trace(go.Scatter(x=part["date"], y=part["drawdown"], name=model_label(name),
                                 line=line_style(name, width=1.0)))
    return finish_figure(fig, height=400, y_title="drawdown from the previous peak", y_percent=True)


def plot_parameter_paths(params: pl.DataFrame, names: Sequence[str] = ("alpha", "beta", "persistence"),
                         every: int = 5) -> go.Figure:
    """Estimated GARCH-family parameters at every ``every``-th refit date, one line per model."""
    titles = {"alpha": "α (reaction)", "beta": "β (memory)", "gamma": "γ (bad news)", "persistence": "persistence"}
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[titles.get(n, n) for n in names],
                        horizontal_spacing=0.06)
    for m in _models(params):
        part = _thin(params.filter(pl.col("model") == m), every)
        for k, name in enumerate(names):
            if name in part.columns and part[name].null_count() < part.height:
                fig.add_trace(go.Scatter(x=part["date"], y=part[name], name=model_label(m), legendgroup=m,
                                         showlegend=k == 0, line=line_style(m)), row=1, col=k + 1)
    fig.update_xaxes(nticks=4)
    return finish_figure(fig, height=380, y_title="estimate")
