"""Result tables formatted for people, with great-tables; the conventions every chapter follows.

Result *files* (``results/<chapter>/*.csv``) stay raw and machine-readable; what a chapter
*shows* goes through this module. A table cell of a chapter ends with one call::

    tables.table(
        backtest,
        {"strategy": tables.model("Strategy"), "cagr": tables.percent("CAGR"),
         "sharpe": tables.number("Sharpe ratio", decimals=2), "n_days": tables.integer("Days")},
    )

or, for a long result with one row per (model, horizon), the model x horizon layout::

    tables.by_horizon(losses, {"qlike": tables.number("QLIKE", decimals=3),
                               "mse": tables.number("MSE", sig=3, scale=1e8)})

Conventions
-----------
* **Headers for people**, with units: :func:`percent` appends " (%)" and scales by 100,
  :func:`number` takes a ``scale`` (e.g. ``1e8`` for variances of percent returns);
  model and strategy names go through :func:`volbook.labels.model_label` (:func:`model`).
* **Stated precision**: every number column has ``decimals`` or significant digits
  (``sig``); p-values show three decimals and "< 0.001"; no dtype row, no quoted strings,
  missing values as "–".
* **Long tables pivoted**: a 15-24-row model x horizon listing becomes one row per model and
  one column per horizon under a spanner per measure (:func:`by_horizon`).
* **Deterministic HTML**: the table id comes from the cell's label (``tbl-x`` gives
  ``tbl-x-gt``, :mod:`volbook._cells`), never random; no timestamps; the HTML does not
  depend on the environment (great-tables' own display changes with VS Code or Positron);
  great-tables' page-wide CSS selectors are scoped to the table.
* **Fits the text column**: 14 px type, compact rows, full width of the column at most,
  scrolling sideways inside its box rather than overflowing it (both renderers).
* A table cell has ``#| label: tbl-...`` and ``#| tbl-cap:`` and is read out in the prose.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import polars as pl
from great_tables import GT, loc, style

from volbook._cells import element_id
from volbook.errors import DataError
from volbook.labels import horizon_label, model_label

__all__ = [
    "Column",
    "Table",
    "by_horizon",
    "date",
    "flag",
    "integer",
    "model",
    "number",
    "percent",
    "pvalue",
    "table",
    "text",
]

Kind = Literal["text", "model", "number", "integer", "pvalue", "flag", "date"]


@dataclass(frozen=True)
class Column:
    """How one column is shown: header ``label``, ``kind`` and precision.

    Build it with :func:`text`, :func:`model`, :func:`number`, :func:`percent`,
    :func:`integer`, :func:`pvalue`, :func:`flag` or :func:`date`.
    """

    label: str
    kind: Kind
    decimals: int | None = None
    sig: int | None = None
    scale: float = 1.0
    yes_no: tuple[str, str] = ("yes", "no")


def text(label: str) -> Column:
    """A text column shown as it is."""
    return Column(label, "text")


def model(label: str = "Model") -> Column:
    """Model or strategy names, shown as :func:`volbook.labels.model_label`."""
    return Column(label, "model")


def number(label: str, *, decimals: int | None = None, sig: int | None = None, scale: float = 1.0) -> Column:
    """A number with ``decimals`` decimals or ``sig`` significant digits, after multiplying by ``scale``."""
    if (decimals is None) == (sig is None):
        raise DataError(f"number column {label!r}: give exactly one of decimals and sig")
    return Column(label, "number", decimals=decimals, sig=sig, scale=scale)


def percent(label: str, *, decimals: int = 1) -> Column:
    """A fraction shown in percent (``0.123`` as ``12.3``); the header gets " (%)"."""
    return Column(f"{label} (%)", "number", decimals=decimals, scale=100.0)


def integer(label: str) -> Column:
    """A count, with thousands separators."""
    return Column(label, "integer")


def pvalue(label: str = "p-value") -> Column:
    """A p-value: three decimals, and "< 0.001" below that."""
    return Column(label, "pvalue")


def flag(label: str, yes: str = "yes", no: str = "no") -> Column:
    """A boolean shown as ``yes`` / ``no``."""
    return Column(label, "flag", yes_no=(yes, no))


def date(label: str) -> Column:
    """A date, ISO format."""
    return Column(label, "date")


class Table:
    """A formatted table: displays as deterministic HTML in a notebook, Quarto and the fallback.

    Attributes
    ----------
    gt
        The great-tables object, to add what this module does not cover
        (``Table(t.gt.tab_source_note("..."))`` keeps the deterministic display).
    """

    def __init__(self, gt: GT) -> None:
        self.gt = gt

    def to_html(self) -> str:
        """The table's HTML fragment (what the notebook stores)."""
        table_id = self.gt._options.table_id.value
        html = self.gt.as_raw_html(make_page=False, all_important=False)
        # great-tables writes a few selectors that apply to the whole page; scope them.
        html = html.replace(
            f"#{table_id} thead, tbody, tfoot, tr, td, th {{",
            ", ".join(f"#{table_id} {s}" for s in ("thead", "tbody", "tfoot", "tr", "td", "th")) + " {",
        )
        return re.sub(r"(?m)^ tr \{", f" #{table_id} tr {{", html)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        data = self.gt._tbl_data
        return f"<volbook table {self.gt._options.table_id.value}: {data.height} rows>"


def _fmt_pvalue(x: float) -> str:
    return "< 0.001" if x < 0.0005 else f"{x:.3f}"


def _prepare(frame: pl.DataFrame, columns: Mapping[str, Column]) -> pl.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"table: frame lacks columns {missing} (has {frame.columns})")
    exprs = []
    for name, spec in columns.items():
        col = pl.col(name)
        if spec.kind == "model":
            col = col.cast(pl.String).map_elements(model_label, return_dtype=pl.String)
        elif spec.kind == "flag":
            yes, no = spec.yes_no
            col = pl.when(col).then(pl.lit(yes)).when(col.not_()).then(pl.lit(no)).otherwise(None)
        elif spec.kind == "date":
            col = col.cast(pl.Date).dt.strftime("%Y-%m-%d")
        elif spec.kind == "pvalue":  # formatted here, so that great-tables escapes the "<"
            col = col.cast(pl.Float64).map_elements(_fmt_pvalue, return_dtype=pl.String)
        elif spec.kind == "number":
            col = col.cast(pl.Float64)
        exprs.append(col.alias(name))
    return frame.select(exprs)


def _format(gt: GT, columns: Mapping[str, Column]) -> GT:
    for name, spec in columns.items():
        if spec.kind == "number":
            gt = gt.fmt_number(columns=name, decimals=spec.decimals or 0, n_sigfig=spec.sig, scale_by=spec.scale)
        elif spec.kind == "integer":
            gt = gt.fmt_integer(columns=name)
    align = {"text": "left", "model": "left", "date": "left", "flag": "center"}
    for side in ("left", "center", "right"):
        names = [n for n, s in columns.items() if align.get(s.kind, "right") == side]
        if names:
            gt = gt.cols_align(side, columns=names)
    return gt.sub_missing(missing_text="–")


# Tables of this many columns (row labels included) or more are set one pixel smaller: at 14 px
# chapter 4's portfolio tables (10 and 11 columns) cannot shrink to Quarto's text column (about
# 670 px wide on a desktop screen) and scrolled sideways by a few pixels.
WIDE_TABLE_COLUMNS = 10


def _style(gt: GT, n_columns: int) -> GT:
    return gt.tab_options(
        table_font_size="13px" if n_columns >= WIDE_TABLE_COLUMNS else "14px",
        column_labels_font_weight="bold",
        data_row_padding="3px",
        table_margin_left="0px",
        table_margin_right="0px",
        container_width="100%",
        container_overflow_x="auto",
        quarto_disable_processing=True,
    )


def table(
    frame: pl.DataFrame,
    columns: Mapping[str, Column],
    *,
    stub: str | None = None,
    groups: str | None = None,
    spanners: Mapping[str, Sequence[str]] | None = None,
    notes: Sequence[str] = (),
    bold: Mapping[str, Sequence[int]] | None = None,
    table_id: str | None = None,
) -> Table:
    """Show ``frame`` for readers: the columns of ``columns``, in its order, formatted.

    Parameters
    ----------
    frame
        The result (raw numbers, machine names); columns not in ``columns`` are not shown.
    columns
        Column name -> :class:`Column` (header and format).
    stub
        A column shown as row labels on the left (e.g. the model).
    groups
        A column whose values become row-group headings.
    spanners
        Header -> columns it spans.
    notes
        Source notes under the table (e.g. units, what a mark means).
    bold
        Column -> row numbers (0-based, in ``frame``'s order) whose cells are set in bold,
        e.g. the best model of each column.
    table_id
        The HTML id; default from the cell's label (``tbl-x`` gives ``tbl-x-gt``).
    """
    shown = _prepare(frame, columns)
    gt = GT(shown, rowname_col=stub, groupname_col=groups, id=table_id or element_id("gt"))
    gt = _format(gt, {k: v for k, v in columns.items() if k not in (stub, groups)})
    gt = gt.cols_label(**{name: spec.label for name, spec in columns.items() if name not in (stub, groups)})
    if stub is not None:
        gt = gt.tab_stubhead(label=columns[stub].label)
    for label, spanned in (spanners or {}).items():
        gt = gt.tab_spanner(label=label, columns=list(spanned))
    for note in notes:
        gt = gt.tab_source_note(note)
    for name, rows in (bold or {}).items():
        if rows:
            gt = gt.tab_style(style.text(weight="bold"), loc.body(columns=name, rows=list(rows)))
    return Table(_style(gt, len([c for c in columns if c != groups])))


def by_horizon(
    frame: pl.DataFrame,
    values: Mapping[str, Column],
    *,
    row: str = "model",
    horizon: str = "horizon",
    row_column: Column | None = None,
    column_label: Callable[[Any], str] = horizon_label,
    groups: str | None = None,
    notes: Sequence[str] = (),
    table_id: str | None = None,
) -> Table:
    """A long (row x horizon) result as one row per ``row`` and one column per horizon.

    Each measure of ``values`` gets a spanner (its label) over one column per horizon
    (``column_label(h)``: "1 day", "5 days", ...). Rows keep their order of first appearance.

    Parameters
    ----------
    frame
        One row per (``row``, ``horizon``) pair, e.g. :func:`volbook.evaluate.loss_table`.
    values
        Measures to show -> their :class:`Column`.
    row, horizon
        The row and column keys.
    row_column
        How the row key is shown (default :func:`model`).
    groups
        A column whose values become row-group headings (e.g. ``"period"``): one row per
        (group, ``row``) pair, groups and rows in their order of first appearance.
    """
    index = [groups, row] if groups else [row]
    keys = frame.select(*index, horizon)
    if keys.is_duplicated().any():
        raise DataError(f"by_horizon: more than one row per ({', '.join(index)}, {horizon})")
    horizons = frame[horizon].unique(maintain_order=True).sort().to_list()
    wide = frame.select(index).unique(maintain_order=True)
    columns: dict[str, Column] = ({groups: text(groups)} if groups else {}) | {row: row_column or model()}
    spanners: dict[str, list[str]] = {}
    for value, spec in values.items():
        part = frame.pivot(on=horizon, index=index, values=value)
        names = {str(h): f"{value}__{h}" for h in horizons}
        wide = wide.join(part.rename(names), on=index, how="left", maintain_order="left")
        spanners[spec.label] = list(names.values())
        for h in horizons:
            columns[names[str(h)]] = replace(spec, label=column_label(h))
    return table(wide, columns, stub=row, groups=groups, spanners=spanners, notes=notes, table_id=table_id)
