"""The figures of the regime chapter, in the book's style (:mod:`volbook.plots` conventions:
rounded data, ids from cell labels, legend below, one colour per model).

* :func:`plot_periods` -- annualized realized volatility with the evaluation periods shaded;
* :func:`plot_regime_weights` -- the regime weights each forecaster used at every origin
  (stacked, calmest regime left out), under the realized volatility;
* :func:`plot_hindsight` -- smoothed against filtered probabilities of one Markov-switching fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from volbook.labels import model_label
from volbook.plots import COLORS, finish_figure
from volbook.timing import TRADING_DAYS

__all__ = ["PERIOD_FILLS", "REGIME_COLORS", "plot_hindsight", "plot_periods", "plot_regime_weights"]

#: Fill colours of the shaded periods, in turn (light, so lines stay readable).
PERIOD_FILLS = ("#E8F1FA", "#FBE9DD", "#EAF5EE", "#F3EAF4", "#F7F3DC")
#: Colours of regimes 1, 2, ... above the calmest (regime 0 is left out of stacked figures).
REGIME_COLORS = ("#D55E00", "#E69F00", "#CC79A7")


def _rolling_vol(frame: pl.DataFrame, window: int) -> pl.Series:
    """Annualized volatility of the mean ``rv`` over the last ``window`` days (ending at each date)."""
    return (TRADING_DAYS * frame["rv"].rolling_mean(window_size=int(window))).sqrt()


def _vol_ticks(vol: pl.Series) -> list[float] | None:
    """Ticks at 1, 2, 5 times powers of ten inside the range of ``vol`` (plotly's own log ticks
    label every integer percent on a short panel, and the labels overlap); every integer
    multiple when the range holds fewer than two of those; None (plotly's choice) when even
    that gives fewer than two."""
    values = vol.drop_nans().drop_nulls()
    lo, hi = float(values.min()), float(values.max())
    powers = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    for mantissas in ((1, 2, 5), range(1, 10)):
        ticks = [m * 10.0**e for e in powers for m in mantissas if lo <= m * 10.0**e <= hi]
        if len(ticks) >= 2:
            return ticks
    return None


def _shade(fig: go.Figure, periods: pl.DataFrame, rows: Sequence[int]) -> None:
    """One shaded band per period on every subplot row in ``rows``."""
    for i, (first, last) in enumerate(periods.select("first", "last").iter_rows()):
        for row in rows:
            fig.add_vrect(x0=first, x1=last, fillcolor=PERIOD_FILLS[i % len(PERIOD_FILLS)], opacity=1.0,
                          layer="below", line_width=0, row=row, col=1)


def plot_periods(frame: pl.DataFrame, periods: pl.DataFrame, window: int = 21, vix: pl.DataFrame | None = None) -> go.Figure:
    """Realized volatility (daily and its ``window``-day mean, annualized, log scale) with the
    periods shaded; optionally the VIX (in volatility points / 100) where it exists.

    ``frame`` has ``date`` and ``rv`` (daily variance); ``vix`` has ``date`` and ``vix``.
    """
    fig = make_subplots(rows=1, cols=1)
    fig.add_trace(go.Scatter(x=frame["date"], y=(TRADING_DAYS * frame["rv"]).sqrt(), name="daily",
                             line=dict(color="#BBBBBB", width=0.6)))
    fig.add_trace(go.Scatter(x=frame["date"], y=_rolling_vol(frame, window), name=f"{window}-day mean",
                             line=dict(color=COLORS["realized"], width=1.2)))
    if vix is not None:
        fig.add_trace(go.Scatter(x=vix["date"], y=vix["vix"] / 100.0, name="VIX / 100",
                                 line=dict(color="#0072B2", width=1.0)))
    _shade(fig, periods, [1])
    for name, first in periods.select("period", "first").iter_rows():
        fig.add_annotation(x=first, y=1.0, xref="x", yref="paper", text=name, showarrow=False, xanchor="left",
                           yanchor="top", font=dict(size=11))
    fig.update_yaxes(type="log", tickformat=".0%", hoverformat=".1%")
    return finish_figure(fig, height=400, y_title="annualized volatility (log scale)")


def plot_regime_weights(states: pl.DataFrame, frame: pl.DataFrame, periods: pl.DataFrame,
                        models: Sequence[str], *, every: int = 2, window: int = 21) -> go.Figure:
    """The regime weights of each forecaster at every ``every``-th origin, one panel per model.

    Each panel stacks the weights of regimes 1 .. K-1 (regime 0, the calmest, is the rest up
    to 1); the top panel is the realized volatility (``window``-day mean) for reference.
    ``states`` is ``WalkForward.states`` (``regime_k`` rows are used).
    """
    fig = make_subplots(rows=len(models) + 1, cols=1, shared_xaxes=True, vertical_spacing=0.03,
                        row_heights=[1.3] + [1.0] * len(models),
                        subplot_titles=["realized volatility, annualized"] + [model_label(m) for m in models])
    vol = _rolling_vol(frame, window)
    fig.add_trace(go.Scatter(x=frame["date"], y=vol, name=f"realized ({window}-day mean)",
                             line=dict(color=COLORS["realized"], width=1.0)), row=1, col=1)
    shown: set[int] = set()
    for row, model in enumerate(models, start=2):
        part = states.filter((pl.col("model") == model) & pl.col("name").str.starts_with("regime_"))
        wide = part.pivot(on="name", index="date", values="value").sort("date").gather_every(max(1, int(every)))
        names = sorted((c for c in wide.columns if c != "date"), key=lambda c: int(c.rsplit("_", 1)[1]))
        for name in names[1:]:
            k = int(name.rsplit("_", 1)[1])
            fig.add_trace(go.Scatter(x=wide["date"], y=wide[name], name=f"regime {k}", legendgroup=f"regime {k}",
                                     showlegend=k not in shown, stackgroup=model, mode="lines",
                                     line=dict(width=0.5, color=REGIME_COLORS[(k - 1) % len(REGIME_COLORS)])),
                          row=row, col=1)
            shown.add(k)
        fig.update_yaxes(range=[0, 1], tickvals=[0, 0.5, 1], title_text="weight", row=row, col=1)
    _shade(fig, periods, list(range(1, len(models) + 2)))
    fig.update_yaxes(type="log", tickformat=".0%", tickvals=_vol_ticks(vol), title_text="volatility", row=1, col=1)
    return finish_figure(fig, height=170 * len(models) + 220)


def plot_hindsight(probabilities: pl.DataFrame, used: pl.DataFrame | None = None,
                   zoom: tuple[Any, Any] | None = None) -> go.Figure:
    """Probability of the most stressed regime: smoothed (hindsight) and filtered, one fit.

    Parameters
    ----------
    probabilities
        :attr:`volbook.regime_analysis.Hindsight.probabilities` (``date``, ``smoothed``,
        ``filtered``, ``rv``).
    used
        Optionally ``date`` and ``weight``: the walk-forward forecaster's filtered probability
        of the most stressed regime at each origin (``filtered_{K-1}`` of its states: its own
        refits, data up to the origin), comparable with ``filtered`` day by day.
    zoom
        ``(first, last)``: show only these dates.
    """
    p = probabilities
    if zoom is not None:
        p = p.filter(pl.col("date").is_between(pl.lit(zoom[0]).cast(pl.Date), pl.lit(zoom[1]).cast(pl.Date)))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.35, 0.65])
    vol = (TRADING_DAYS * p["rv"]).sqrt()
    fig.add_trace(go.Scatter(x=p["date"], y=vol, name="realized volatility (daily)",
                             line=dict(color=COLORS["realized"], width=0.8)), row=1, col=1)
    fig.add_trace(go.Scatter(x=p["date"], y=p["smoothed"], name="smoothed: uses later days",
                             line=dict(color="#D55E00", width=1.6)), row=2, col=1)
    fig.add_trace(go.Scatter(x=p["date"], y=p["filtered"], name="filtered: days up to the date",
                             line=dict(color="#0072B2", width=1.2)), row=2, col=1)
    if used is not None:
        u = used.filter(pl.col("date").is_between(p["date"].min(), p["date"].max()))
        fig.add_trace(go.Scatter(x=u["date"], y=u["weight"], name="walk-forward filtered (rolling refits)",
                                 line=dict(color="#009E73", width=1.0, dash="dot")), row=2, col=1)
    fig.add_hline(y=0.5, line=dict(color="grey", dash="dot", width=0.8), row=2, col=1)
    fig.update_yaxes(type="log", tickformat=".0%", tickvals=_vol_ticks(vol), title_text="annualized", row=1, col=1)
    fig.update_yaxes(range=[0, 1], title_text="Pr(stressed regime)", row=2, col=1)
    fig.update_layout(hovermode="x unified")
    return finish_figure(fig, height=520)
