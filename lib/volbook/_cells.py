"""Deterministic HTML ids for what a chapter cell displays, derived from the cell's label.

A figure or table shown by a cell labelled ``#| label: fig-vol`` gets the id
``fig-vol-plotly`` (tables: ``tbl-x-gt``); a second one from the same cell gets ``-2``. The
label is read from the code of the cell being executed (the kernel's parent message, which
papermill, nbval and Jupyter all send). Outside a labelled cell the id is
``volbook-<kind>-<n>``, counted per process. Never a content hash (it changes with the last
bits of a float) and never a random id (every run would be a diff).
"""

from __future__ import annotations

import itertools
import re

__all__ = ["element_id", "cell_label"]

_LABEL = re.compile(r"^#\|\s*label:\s*([\w-]+)\s*$", re.MULTILINE)
_unlabelled = itertools.count(1)
_per_cell: dict[tuple[str, str], int] = {}


def _parent_header() -> dict:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with jupyter
        return {}
    shell = get_ipython()
    return getattr(shell, "parent_header", None) or {}


def cell_label() -> str | None:
    """The ``#| label:`` of the notebook cell being executed, if any."""
    code = (_parent_header().get("content") or {}).get("code", "")
    match = _LABEL.search(code) if isinstance(code, str) else None
    return match.group(1) if match else None


def element_id(kind: str) -> str:
    """A deterministic id for the next ``kind`` ("plotly", "gt") element the current cell shows."""
    label = cell_label()
    if label is None:
        return f"volbook-{kind}-{next(_unlabelled)}"
    msg_id = (_parent_header().get("header") or {}).get("msg_id", "")
    key = (msg_id, kind)
    _per_cell[key] = _per_cell.get(key, 0) + 1
    count = _per_cell[key]
    return f"{label}-{kind}" + (f"-{count}" if count > 1 else "")
