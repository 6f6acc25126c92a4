"""The figures of the panel chapter, in the book's style (:mod:`volbook.plots` conventions).

Every function takes result frames (scores, forecasts, coefficients, ledgers) and returns a
plotly figure finished with :func:`volbook.plots.finish_figure`: legend below, buttons top
left, axis titles with units, one colour per model (:data:`PANEL_COLORS`), names from
:func:`volbook.labels.model_label`. Figures of many rows are *summarized before plotting*
(quantiles, 2-D histograms, every k-th date) so that a chapter stays small; each docstring
says what is summarized.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from volbook.labels import model_label
from volbook.plots import finish_figure, round_significant, trace_menu

__all__ = [
    "PANEL_COLORS",
    "panel_color",
    "plot_accuracy_and_sharpe",
    "plot_book_equity",
    "plot_coefficient_heatmap",
    "plot_forecast_density",
    "plot_regime_scores",
    "plot_scores",
    "plot_target_by_sector",
    "plot_window_sweep",
]

#: Colours of the panel models: baselines warm, per-asset/per-sector purple, global models
#: blue to green, the tree model brown, perfect foresight black.
PANEL_COLORS = {
    "vol_5": "#F0E442",
    "vol_21": "#E69F00",
    "vol_63": "#D55E00",
    "composite": "#CC79A7",
    "blend": "#B2182B",
    "per_asset": "#9467BD",
    "per_sector": "#6A3D9A",
    "global": "#56B4E9",
    "global_dummies": "#0072B2",
    "global_log_dummies": "#009E73",
    "market_vol_factor": "#7FBC41",
    "group_risk_factor": "#1B7837",
    "xgboost": "#8C564B",
    "target": "#222222",
}
_OTHER = ("#17BECF", "#BCBD22", "#7F7F7F")
_VOL_TICKS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def _finish(fig: go.Figure, *, x_title: str | None = None, y_title: str | None = None, **kw) -> go.Figure:
    """:func:`volbook.plots.finish_figure`, with the axis titles set on the first axes directly
    (its axis selector misses the axes of a figure not built with ``make_subplots``)."""
    finish_figure(fig, x_title=x_title, y_title=y_title, **kw)
    if x_title is not None:
        fig.update_layout(xaxis_title_text=x_title)
    if y_title is not None:
        fig.update_layout(yaxis_title_text=y_title)
    return fig


def panel_color(name: str) -> str:
    """The colour of a panel model (a fixed fallback for names it does not know)."""
    return PANEL_COLORS.get(name, _OTHER[sum(map(ord, name)) % len(_OTHER)])


def _log_vol_axis(lo: float, hi: float) -> dict:
    """A linear axis in log10 units labelled as percent volatility."""
    ticks = [v for v in _VOL_TICKS if lo <= v <= hi]
    return dict(tickvals=[float(np.log10(v)) for v in ticks], ticktext=[f"{v:.0%}" for v in ticks],
                range=[float(np.log10(lo)), float(np.log10(hi))])


def plot_target_by_sector(frame: pl.DataFrame) -> go.Figure:
    """Distribution of the forward volatility by sector: quantile boxes, sectors by median.

    ``frame`` has ``sector`` and ``target``. Each box spans the 25th to 75th percentile with
    the median inside; the whiskers end at the 5th and 95th percentiles (not at the extremes:
    the largest values, above 100%, would flatten the boxes); the dashed line is the mean.
    """
    q = (
        frame.drop_nulls("target")
        .group_by(pl.col("sector").cast(pl.String))
        .agg(*[pl.col("target").quantile(p, "linear").alias(f"q{int(p * 100)}") for p in (0.05, 0.25, 0.5, 0.75, 0.95)],
             pl.col("target").mean().alias("mean"), pl.len().alias("n"))
        .sort("q50")
    )
    fig = go.Figure(go.Box(
        x=q["sector"].to_list(), q1=q["q25"], median=q["q50"], q3=q["q75"], lowerfence=q["q5"], upperfence=q["q95"],
        mean=q["mean"], boxmean=True, marker_color="#0072B2", name="forward volatility", hoverinfo="y",
    ))
    fig.update_yaxes(tickformat=".0%", hoverformat=".1%", rangemode="tozero")
    return _finish(fig, height=420, y_title="forward volatility (annualized)", legend=False)


def plot_forecast_density(forecasts: pl.DataFrame, models: Sequence[str], *, bins: int = 50,
                          bounds: tuple[float, float] = (0.05, 2.0)) -> go.Figure:
    """Realized against forecast volatility as 2-D histograms on log axes, one panel per model.

    Every scored row counts; the colour is the share of rows in each cell (log colour scale).
    Values outside ``bounds`` are put in the edge cells (the caption should say so); the
    dotted line is the diagonal.
    """
    lo, hi = bounds
    edges = np.linspace(np.log10(lo), np.log10(hi), bins + 1)
    centers = 0.5 * (edges[1:] + edges[:-1])
    rows = forecasts.drop_nulls(["target", *models])
    fig = make_subplots(rows=1, cols=len(models), subplot_titles=[model_label(m) for m in models],
                        shared_yaxes=True, horizontal_spacing=0.05)
    y = np.log10(np.clip(rows["target"].to_numpy(), lo, hi))
    top = 0.0
    grids = []
    for m in models:
        x = np.log10(np.clip(rows[m].to_numpy(), lo, hi))
        counts, _, _ = np.histogram2d(x, y, bins=[edges, edges])
        share = counts.T / counts.sum()
        grids.append(share)
        top = max(top, share.max())
    floor = 1e-5
    for k, share in enumerate(grids, start=1):
        z = np.where(share > 0, np.log10(np.maximum(share, floor)), np.nan)
        fig.add_trace(go.Heatmap(
            x=centers, y=centers, z=round_significant(z, 3), zmin=np.log10(floor), zmax=float(np.log10(top)),
            colorscale="Blues", showscale=k == len(grids),
            colorbar=dict(title="share of rows", tickvals=[-5, -4, -3, -2], ticktext=["0.001%", "0.01%", "0.1%", "1%"]),
            hovertemplate="forecast %{x:.2f}, realized %{y:.2f} (log10)<extra></extra>",
        ), row=1, col=k)
        fig.add_trace(go.Scatter(x=edges[[0, -1]], y=edges[[0, -1]], mode="lines", line=dict(dash="dot", color="#555555"),
                                 showlegend=False, hoverinfo="skip"), row=1, col=k)
        fig.update_xaxes(title_text="forecast volatility", **_log_vol_axis(lo, hi), row=1, col=k)
    fig.update_yaxes(**_log_vol_axis(lo, hi))
    fig.update_yaxes(title_text="realized volatility", row=1, col=1)
    fig.update_layout(hovermode="closest")
    return finish_figure(fig, height=420, legend=False)


_METRICS = {"corr": "correlation", "rmse": "RMSE", "mae": "MAE", "mape": "MAPE"}


def plot_scores(scores: pl.DataFrame, published: Mapping[str, tuple[float, float]] | None = None, *,
                label: str = "this book") -> go.Figure:
    """Correlation, RMSE, MAE and MAPE of every model (bars), the study's numbers as diamonds.

    ``scores`` is :func:`volbook.panel.score_forecasts` output; ``published`` maps a model to
    its published (correlation, RMSE); ``label`` names the bars in the legend (drawn grey there:
    each bar has its model's colour).
    """
    models = scores["model"].to_list()
    labels = [model_label(m) for m in models]
    fig = make_subplots(rows=1, cols=4, subplot_titles=[_METRICS[k] for k in _METRICS], shared_yaxes=True,
                        horizontal_spacing=0.05)
    for k, metric in enumerate(_METRICS, start=1):
        fig.add_trace(go.Bar(y=labels, x=scores[metric], orientation="h", name=label,
                             marker_color=[panel_color(m) for m in models], showlegend=False, legendgroup="ours"), row=1, col=k)
        if published and metric in ("corr", "rmse"):
            i = 0 if metric == "corr" else 1
            pub = [published.get(m, (None, None))[i] for m in models]
            fig.add_trace(go.Scatter(y=labels, x=pub, mode="markers", name="published (Russell 1000)",
                                     marker=dict(symbol="diamond", size=9, color="#222222"), showlegend=k == 1,
                                     legendgroup="published"), row=1, col=k)
    fig.add_trace(go.Scatter(x=[None], y=labels[:1], mode="markers", name=label, legendgroup="ours", legendrank=1,
                             marker=dict(symbol="square", size=10, color="#888888")), row=1, col=1)
    fig.update_xaxes(tickformat=".2f", nticks=4, tickangle=0)  # four narrow panels: few, level tick labels
    fig.update_xaxes(tickformat=".0%", row=1, col=4)
    fig.update_yaxes(autorange="reversed", automargin=True, type="category")  # room for the longest model name
    fig.update_layout(hovermode="closest")
    return finish_figure(fig, height=480)


def plot_window_sweep(sweep: pl.DataFrame, published: Mapping[int, float] | None = None) -> go.Figure:
    """Correlation (left) and RMSE (right) against the training window, one line per model.

    ``sweep`` has ``window``, ``model``, ``corr`` and ``rmse``; ``published`` maps a window to
    the study's correlation of its final model (drawn as diamonds).
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=["correlation", "RMSE"], horizontal_spacing=0.1)
    for m in sweep["model"].unique(maintain_order=True):
        part = sweep.filter(pl.col("model") == m).sort("window")
        for k, metric in enumerate(("corr", "rmse"), start=1):
            fig.add_trace(go.Scatter(x=part["window"], y=part[metric], mode="lines+markers", name=model_label(m),
                                     legendgroup=m, showlegend=k == 1, line=dict(color=panel_color(m), width=1.5)),
                          row=1, col=k)
    if published:
        fig.add_trace(go.Scatter(x=list(published), y=list(published.values()), mode="markers",
                                 name="published (Russell 1000)", marker=dict(symbol="diamond", size=9, color="#222222")),
                      row=1, col=1)
    windows = sorted(sweep["window"].unique().to_list())
    fig.update_xaxes(title_text="training window (trading days)", tickvals=windows)
    fig.update_yaxes(tickformat=".3f")
    return finish_figure(fig, height=440)


def plot_regime_scores(scores: pl.DataFrame, metric: str = "corr") -> go.Figure:
    """One bar per model in each market-volatility regime (``regime``, ``model``, ``metric``, ``n``)."""
    fig = go.Figure()
    regimes = scores["regime"].cast(pl.String).unique(maintain_order=True).to_list()
    counts = scores.group_by(pl.col("regime").cast(pl.String)).agg(pl.col("n").first())
    n = dict(zip(counts["regime"], counts["n"]))
    ticks = [f"{r}<br>({n[r]:,} rows)" for r in regimes]
    for m in scores["model"].unique(maintain_order=True):
        part = scores.filter(pl.col("model") == m)
        fig.add_trace(go.Bar(x=ticks, y=part[metric], name=model_label(m), marker_color=panel_color(m)))
    fig.update_layout(barmode="group", bargap=0.15)
    fig.update_yaxes(tickformat=".2f", range=[float(scores[metric].min()) * 0.9, float(scores[metric].max()) * 1.02])
    return _finish(fig, height=460, x_title="market volatility (21-day, equal-weighted market)",
                         y_title=_METRICS.get(metric, metric))


def plot_coefficient_heatmap(coefficients: pl.DataFrame, models: Sequence[str]) -> go.Figure:
    """Ridge coefficients at every refit date: terms by date, red positive, blue negative.

    One heatmap per model in ``models`` (buttons choose), from the walk-forward's
    ``coefficients`` (``model``, ``date``, ``group`` = ``"all"``, ``term``, ``coef``); rows are
    the union of the models' terms (a term a model lacks is blank). The colour scale is
    centred at zero and symmetric, clipped at the largest absolute coefficient other than the
    intercept (the intercept's own values are in the hover text).
    """
    fig = go.Figure()
    for i, m in enumerate(models):
        part = coefficients.filter(pl.col("model") == m, pl.col("group") == "all")
        terms = part["term"].unique(maintain_order=True).to_list()
        wide = part.pivot(on="term", index="date", values="coef").sort("date")
        z = np.column_stack([wide[t].to_numpy() for t in terms]).T
        scale = float(np.nanmax(np.abs(z[1:]))) if len(terms) > 1 else float(np.nanmax(np.abs(z)))
        fig.add_trace(go.Heatmap(
            x=wide["date"], y=[model_label(t) for t in terms], z=round_significant(z, 3), zmid=0.0, zmin=-scale,
            zmax=scale, colorscale="RdBu_r", visible=i == 0, colorbar=dict(title="coefficient"), name=model_label(m),
            hovertemplate="%{x}<br>%{y}: %{z:.3f}<extra></extra>",
        ))
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    fig.update_layout(hovermode="closest")
    # a drop-down: a row of buttons starts right of the terms' labels and runs under the mode bar
    menu = trace_menu([model_label(m) for m in models], [1] * len(models)) | {"type": "dropdown", "direction": "down"}
    return _finish(fig, height=520, x_title="refit date", legend=False, menu=menu)


def plot_book_equity(ledgers: pl.DataFrame, books: Mapping[str, str], every: int = 5) -> go.Figure:
    """Growth of one unit (log scale) of each book sized by each forecast; buttons choose the book.

    ``ledgers`` is the stacked output of :func:`volbook.panel.portfolio.backtest_books` with
    ``strategy = "<book>:<sigma>"``; ``books`` maps a book's name to its button label. Every
    ``every``-th day is drawn.
    """
    fig = go.Figure()
    counts = []
    strategies = ledgers["strategy"].unique(maintain_order=True).to_list()
    lo, hi = float(ledgers["equity"].min()), float(ledgers["equity"].max())
    for i, book in enumerate(books):
        mine = [s for s in strategies if s.split(":")[0] == book]
        for s in mine:
            sigma = s.split(":", 1)[1]
            part = ledgers.filter(pl.col("strategy") == s).gather_every(every)
            fig.add_trace(go.Scatter(x=part["date"], y=part["equity"], name=model_label(sigma), visible=i == 0,
                                     line=dict(color=panel_color(sigma), width=1.6 if sigma == "target" else 1.1,
                                               dash="dash" if sigma == "target" else None)))
        counts.append(len(mine))
    ticks = [v for v in (0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 50) if lo / 1.5 <= v <= hi * 1.5]
    fig.update_yaxes(type="log", tickvals=ticks)
    return _finish(fig, height=480, y_title="growth of 1 (log scale)", menu=trace_menu(list(books.values()), counts))


def plot_accuracy_and_sharpe(points: pl.DataFrame, x: str = "rmse") -> go.Figure:
    """Each model's forecast error (x) against the Sharpe ratio of the book it sizes (y).

    ``points`` has ``model``, ``book`` (label), ``x`` and ``sharpe``. One legend entry and
    colour per model, one marker symbol per book (grey in the legend). Rows without a score on
    ``x`` (perfect foresight, whose error is zero) are drawn as a horizontal line per book at
    their Sharpe ratio, across the models' range of ``x``, so the axis spans the models' errors.
    """
    fig = go.Figure()
    symbols = ("circle", "square", "diamond", "triangle-up")
    dashes = ("dash", "dot", "dashdot", "longdash")
    books = points["book"].unique(maintain_order=True).to_list()
    scored = points.filter(pl.col(x).is_not_null())
    span = [float(scored[x].min()), float(scored[x].max())] if scored.height else [0.0, 1.0]
    for m in scored["model"].unique(maintain_order=True):
        for k, book in enumerate(books):
            part = scored.filter(pl.col("model") == m, pl.col("book") == book)
            fig.add_trace(go.Scatter(
                x=part[x], y=part["sharpe"], mode="markers", name=model_label(m), legendgroup=m, showlegend=k == 0,
                marker=dict(symbol=symbols[k % len(symbols)], size=10, color=panel_color(m), line=dict(width=1, color="#333333")),
                hovertemplate=f"{model_label(m)}, {book}: %{{x:.3f}}, Sharpe %{{y:.2f}}<extra></extra>",
            ))
    for k, book in enumerate(books):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=book, legendgroup=f"book:{book}",
                                 marker=dict(symbol=symbols[k % len(symbols)], size=10, color="#BBBBBB",
                                             line=dict(width=1, color="#333333"))))
        for row in points.filter(pl.col(x).is_null(), pl.col("book") == book).iter_rows(named=True):
            fig.add_trace(go.Scatter(
                x=span, y=[row["sharpe"]] * 2, mode="lines", name=f"{model_label(row['model'])}, {book}",
                line=dict(color=panel_color(row["model"]), dash=dashes[k % len(dashes)], width=1.5),
                hovertemplate=f"{model_label(row['model'])}, {book}: Sharpe %{{y:.2f}}<extra></extra>",
            ))
    fig.update_layout(hovermode="closest")
    return _finish(fig, height=480, x_title=f"forecast {_METRICS.get(x, x)} (annualized volatility)",
                   y_title="Sharpe ratio of the book (after costs)")
