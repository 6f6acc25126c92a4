"""Figures of smooth-transition gates and of variance proxies (chapter 2), in the book's style.

The conventions of :mod:`volbook.plots` hold (rounded data, ids from cell labels, legend
below, axis titles with units, no figure title); the layout helpers come from there. Feature
groups have fixed colours (:data:`GROUP_COLORS`), the same in every figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from volbook.gate_analysis import GROUPS
from volbook.labels import model_label
from volbook.plots import COLORS, finish_figure, line_style
from volbook.timing import TRADING_DAYS

__all__ = [
    "GROUP_COLORS",
    "FEATURE_LABELS",
    "plot_alpha_paths",
    "plot_gate_coefficients",
    "plot_logit_decomposition",
    "plot_variance_proxies",
]

#: Colours of the feature groups of :data:`volbook.gate_analysis.GROUPS`.
GROUP_COLORS = {
    "Constant": "#7F7F7F",
    "Returns": "#0072B2",
    "HAR": "#E69F00",
    "Calendar": "#009E73",
    "Events": "#CC79A7",
}

#: Reader's names of the gate feature columns (:mod:`volbook.features`).
FEATURE_LABELS = {
    "ret": "r",
    "abs_ret": "|r|",
    "ret2": "r²",
    "rv5": "5-day variance",
    "rv20": "20-day variance",
    "har_diff": "5-day minus 20-day variance",
    "dow_1": "Tuesday",
    "dow_2": "Wednesday",
    "dow_3": "Thursday",
    "dow_4": "Friday",
    "month": "month (1-12)",
    **{f"{kind}_{event}": f"{label} {name}" for event, name in (("fomc", "FOMC"), ("opex", "opex"), ("imm", "IMM"))
       for kind, label in (("is", "is"), ("days_to", "days to"), ("is_near", "near"))},
}


def _split_line(fig: go.Figure, split: Any, rows: int = 1, cols: int = 1) -> None:
    """A dotted vertical line at the first test date, in every panel."""
    for r in range(1, rows + 1):
        for c in range(1, cols + 1):
            fig.add_vline(x=split, line=dict(color="#555555", width=1, dash="dot"), row=r, col=c)


def plot_variance_proxies(frame: pl.DataFrame, proxies: Mapping[str, str], split: Any) -> go.Figure:
    """Daily variance proxies as annualized volatility, one panel each, log scale.

    Parameters
    ----------
    frame
        ``date`` and one column per proxy (daily variance, decimal units).
    proxies
        Column -> panel title (e.g. ``{"ret2": "squared return", "rv": "range-based"}``).
    split
        First date of the test sample (a dotted line). Days with a proxy of zero (an unchanged
        close) cannot be drawn on a log scale and are left out.
    """
    names = list(proxies)
    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[proxies[n] for n in names])
    vols = frame.select(pl.when(pl.col(n) > 0).then((TRADING_DAYS * pl.col(n)).sqrt()).alias(n) for n in names)
    for k, name in enumerate(names):
        fig.add_trace(go.Scatter(x=frame["date"], y=vols[name], name=proxies[name], mode="lines",
                                 line=dict(color=COLORS["realized"], width=0.6)), row=k + 1, col=1)
    _split_line(fig, split, rows=len(names))
    lo, hi = vols.min().min_horizontal().item(), vols.max().max_horizontal().item()
    fig.update_yaxes(type="log", range=[np.log10(lo) - 0.05, np.log10(hi) + 0.05], tickformat=".2~%",
                     hoverformat=".2%", title_text="annualized volatility (log)")
    return finish_figure(fig, height=260 * len(names) + 60, legend=False)


def plot_gate_coefficients(coefficients: pl.DataFrame, models: Sequence[str]) -> go.Figure:
    """Gate coefficients on standardized features, one panel per model, bars coloured by group.

    ``coefficients`` is :func:`volbook.gate_analysis.gate_coefficients`; the constant is left
    out (it sets the level of alpha, reported in the text). Features keep their order.
    """
    data = coefficients.filter(pl.col("model").is_in(list(models)) & (pl.col("feature") != "const"))
    features = data["feature"].unique(maintain_order=True).to_list()[::-1]
    fig = make_subplots(rows=1, cols=len(models), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[model_label(m) for m in models])
    for c, m in enumerate(models):
        part = data.filter(pl.col("model") == m)
        for group in GROUPS:
            g = part.filter(pl.col("group") == group)
            if g.height:
                fig.add_trace(go.Bar(x=g["coef"], y=[FEATURE_LABELS.get(f, f) for f in g["feature"]], orientation="h",
                                     name=group, legendgroup=group, showlegend=c == 0,
                                     marker_color=GROUP_COLORS[group]), row=1, col=c + 1)
    fig.update_yaxes(categoryorder="array", categoryarray=[FEATURE_LABELS.get(f, f) for f in features])
    fig.update_xaxes(zeroline=True, zerolinecolor="#444444", title_text="coefficient (per standard deviation)")
    return finish_figure(fig, height=max(320, 22 * len(features) + 160))


def plot_logit_decomposition(contributions: pl.DataFrame, every: str = "1mo") -> go.Figure:
    """The gate logit over time split into feature groups, with alpha on a second axis.

    Parameters
    ----------
    contributions
        :func:`volbook.gate_analysis.contributions_by` at the group level: ``date``, ``alpha``
        and one column per group (``Constant`` is drawn as its deviation from its mean, which
        is zero for a linear gate, so that the bars show what moves alpha).
    every
        Averaging period of the bars (a polars duration, ``"1w"``, ``"1mo"``); alpha is
        averaged over the same periods.
    """
    groups = [g for g in GROUPS if g in contributions.columns]
    means = (contributions.sort("date").group_by_dynamic("date", every=every)
             .agg(pl.col("alpha").mean(), *[pl.col(g).mean() for g in groups]))
    if "Constant" in groups:
        means = means.with_columns(pl.col("Constant") - contributions["Constant"].mean())
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for g in groups:
        if g == "Constant" and not np.any(np.abs(means["Constant"].to_numpy()) > 1e-12):
            continue
        fig.add_trace(go.Bar(x=means["date"], y=means[g], name=g if g != "Constant" else "Constant (deviation)",
                             marker_color=GROUP_COLORS[g], marker_line_width=0), secondary_y=False)
    fig.add_trace(go.Scatter(x=means["date"], y=means["alpha"], name="alpha (right axis)",
                             line=dict(color=COLORS["realized"], width=1.5)), secondary_y=True)
    fig.update_layout(barmode="relative", bargap=0.05)
    fig.update_yaxes(title_text="contribution to the logit", secondary_y=False)
    # tickmode "auto": plotly.js 4 would otherwise sync this overlaying axis's ticks to the left
    # axis's grid, at steps such as 1/60 that the ".2f" labels show unevenly
    fig.update_yaxes(title_text="alpha", rangemode="tozero", secondary_y=True, showgrid=False, tickformat=".2f",
                     tickmode="auto", nticks=8)
    return finish_figure(fig, height=440)


def plot_alpha_paths(paths: Mapping[str, pl.DataFrame], split: Any, every: int = 2) -> go.Figure:
    """alpha_t of several gated models over the whole sample, one panel each, shared axes.

    ``paths`` maps model names to frames with ``date`` and ``alpha``; ``split`` is the first
    test date (a dotted line); every ``every``-th day is drawn.
    """
    names = list(paths)
    cols = 2 if len(names) > 1 else 1
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes=True, shared_yaxes=True, vertical_spacing=0.1,
                        horizontal_spacing=0.04, subplot_titles=[model_label(n) for n in names])
    for k, name in enumerate(names):
        part = paths[name].gather_every(max(1, int(every)))
        fig.add_trace(go.Scatter(x=part["date"], y=part["alpha"], name=model_label(name), showlegend=False,
                                 line=dict(color=line_style(name)["color"], width=0.7)),
                      row=k // cols + 1, col=k % cols + 1)
    _split_line(fig, split, rows=rows, cols=cols)
    top = max(float(p["alpha"].max()) for p in paths.values())
    fig.update_yaxes(range=[0.0, 1.05 * top])
    fig.update_yaxes(title_text="alpha", col=1)
    return finish_figure(fig, height=250 * rows + 60, legend=False)
