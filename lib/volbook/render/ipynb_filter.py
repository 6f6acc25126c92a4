"""Quarto ``ipynb-filters`` step: keep chapter pages free of off-site requests.

Quarto (1.7, ``src/core/jupyter/widgets.ts``) puts require.js and jQuery from a CDN
(cdn.jsdelivr.net) into the head of every notebook page that has *any* ``text/html`` or
``application/javascript`` display output: it assumes such output is a JavaScript widget.
Offline that is two failed requests and a page error. Our HTML outputs (plotly figures
without plotly.js, great-tables tables) need neither.

Quarto runs this script on each chapter notebook before converting it to markdown
(``chapters/_metadata.yml``: ``ipynb-filters``); it reads the notebook JSON on stdin and
writes the filtered notebook to stdout. The committed notebooks are not changed:

* every ``text/html`` display output becomes a ``text/markdown`` output holding the same HTML
  in a raw ``{=html}`` block, which Quarto passes through untouched (the same markdown it
  writes for ``text/html`` itself), so no output triggers the widget scripts;
* a notebook with plotly figures gets ``<script src=".../assets/plotly.min.js">`` in front of
  its first figure, so the 4.8 MB plotly.js loads on pages with figures only (the path is
  relative to the project root, the folder of ``_quarto.yml`` above the notebook).

It uses the standard library only: Quarto runs it with ``QUARTO_PYTHON``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["filter_notebook", "main"]

_HTML_KEYS = ("text/html", "application/javascript")


def _raw_html_block(html: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", html)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{{=html}}\n{html.rstrip()}\n{fence}\n"


def _project_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / "_quarto.yml").is_file():
            return folder
    return None


def filter_notebook(nb: dict[str, Any], plotly_src: str | None) -> dict[str, Any]:
    """Turn HTML display outputs into raw-HTML markdown; load plotly.js before the first figure.

    Parameters
    ----------
    nb
        The notebook as parsed JSON (changed in place and returned).
    plotly_src
        ``src`` of the local plotly.min.js, or None to add no script tag.
    """
    need_plotly = plotly_src is not None
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data") or {}
            if output.get("output_type") not in ("display_data", "execute_result") or "text/html" not in data:
                continue
            html = data["text/html"]
            html = "".join(html) if isinstance(html, list) else str(html)
            if need_plotly and "plotly-graph-div" in html:
                html = f'<script src="{plotly_src}"></script>\n{html}'
                need_plotly = False
            kept = {k: v for k, v in data.items() if k not in _HTML_KEYS and k != "text/markdown"}
            output["data"] = {**kept, "text/markdown": _raw_html_block(html)}
    return nb


def main() -> int:
    """Filter the notebook on stdin to stdout (Quarto runs this in the notebook's folder)."""
    nb = json.loads(sys.stdin.read())
    root = _project_root(Path.cwd())
    src = None
    if root is not None:
        src = os.path.relpath(root / "assets" / "plotly.min.js", Path.cwd()).replace(os.sep, "/")
    sys.stdout.write(json.dumps(filter_notebook(nb, src)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
