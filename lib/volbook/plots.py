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

import plotly.graph_objects as go
import plotly.io as pio

__all__ = ["COLORS", "use_volbook_theme", "figure_html"]

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
