"""Render the book: with Quarto when it is installed, otherwise as a clearly labelled fallback site.

Both read the same ``_quarto.yml`` and write the same output folder (``_book`` by default).
Quarto is the real renderer; :mod:`volbook.render.fallback` rebuilds the book with pandoc
(from the ``pypandoc-binary`` wheel) so that a machine without Quarto still gets every chapter,
figure, table, equation, cross-reference and citation, offline.

Interactive figures are plotly HTML fragments without plotly.js; the site ships one local copy,
copied from the installed plotly package by :func:`copy_plotly_js` (Quarto's ``pre-render``
step runs it as ``lib/volbook/render/__main__.py assets``).
"""

from __future__ import annotations

import importlib.resources
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from volbook.errors import DataError, VolbookError

__all__ = ["RenderReport", "render_book", "copy_plotly_js", "QUARTO_MIN_VERSION", "QUARTO_INSTALL"]

#: The oldest Quarto whose behaviour the book relies on (pre-render, header includes, MathML).
QUARTO_MIN_VERSION = (1, 7)
#: How to get Quarto, for messages.
QUARTO_INSTALL = (
    f"install Quarto >= {'.'.join(map(str, QUARTO_MIN_VERSION))}"
    " (https://quarto.org/docs/get-started/, or the conda-forge package 'quarto')"
)
#: The reason of a fallback build that was asked for (``use_quarto=False``, ``--no-quarto``).
_NOT_ASKED = "use_quarto=False"


@dataclass(frozen=True)
class RenderReport:
    """What :func:`render_book` did.

    Attributes
    ----------
    engine
        ``"quarto"`` or ``"fallback"``.
    reason
        Why that engine was used, e.g. ``"Quarto not found"``.
    output
        The output folder.
    pages
        The HTML pages of the book, in the order of ``_quarto.yml``.
    """

    engine: Literal["quarto", "fallback"]
    reason: str
    output: Path
    pages: tuple[Path, ...]

    def __str__(self) -> str:
        kind = "Quarto book" if self.engine == "quarto" else "fallback site"
        index = self.output / "index.html"
        try:
            index = index.relative_to(Path.cwd())
        except ValueError:
            pass
        hint = ""
        if self.engine == "fallback" and self.reason != _NOT_ASKED:
            hint = f"; for the full book, {QUARTO_INSTALL}"
        if self.engine == "quarto":  # quarto.js is an ES module: browsers refuse it from file://
            hint = f"; browse it served, e.g. python -m http.server -d {index.parent} (opened as a file, Quarto's scripts do not load)"
        return f"{kind} ({self.reason}): {index}, {len(self.pages)} pages{hint}"


def copy_plotly_js(dest_dir: Path | str) -> Path:
    """Copy ``plotly.min.js`` from the installed plotly package into ``dest_dir``.

    Parameters
    ----------
    dest_dir
        Folder to copy into (created if missing).

    Returns
    -------
    Path
        The copied file, ``dest_dir / "plotly.min.js"``.
    """
    source = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    if not source.is_file():
        raise DataError(f"plotly.min.js not found in the installed plotly package ({source})")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "plotly.min.js"
    with importlib.resources.as_file(source) as path:
        shutil.copyfile(path, target)
    return target


def render_book(
    root: Path | str, *, output: Path | str | None = None, use_quarto: bool | None = None
) -> RenderReport:
    """Render the book in ``root`` with Quarto if possible, else build the fallback site.

    Parameters
    ----------
    root
        The folder holding ``_quarto.yml``.
    output
        Output folder; default the config's ``project.output-dir`` inside ``root``. A relative
        path is taken relative to the current directory.
    use_quarto
        ``None`` (default): Quarto when a ``quarto`` >= 1.7 is on ``PATH``, else the fallback.
        ``True``: Quarto or an error. ``False``: always the fallback.

    Returns
    -------
    RenderReport
        The engine used, why, the output folder and the pages written.
    """
    from volbook.render.fallback import book_pages, build_fallback_site, read_book_config

    root = Path(root).resolve()
    config = read_book_config(root)
    out = Path(output).resolve() if output is not None else root / config.output_dir
    quarto, reason = _find_quarto() if use_quarto is not False else (None, _NOT_ASKED)
    if quarto is None and use_quarto:
        raise VolbookError(f"{reason}: {QUARTO_INSTALL}, or render without use_quarto")
    if quarto is None:
        pages = build_fallback_site(config, out)
        return RenderReport("fallback", reason, out, pages)
    command = [quarto, "render"] + (["--output-dir", str(out)] if output is not None else [])
    env = {**os.environ, "QUARTO_PYTHON": sys.executable}
    done = subprocess.run(command, cwd=root, env=env, check=False)
    if done.returncode != 0:
        raise VolbookError(f"quarto render failed with exit code {done.returncode} in {root}")
    pages = tuple(p for p in (out / href for href in book_pages(config)) if p.exists())
    return RenderReport("quarto", reason, out, pages)


def _find_quarto() -> tuple[str | None, str]:
    """The ``quarto`` executable and its version if a recent enough one is on PATH, else why not."""
    quarto = shutil.which("quarto")
    if quarto is None:
        return None, "Quarto not found"
    version = _quarto_version(quarto)
    if version < QUARTO_MIN_VERSION:
        found = ".".join(map(str, version)) or "of unknown version"
        return None, f"Quarto {found} found, {'.'.join(map(str, QUARTO_MIN_VERSION))} needed"
    return quarto, f"Quarto {'.'.join(map(str, version))}"


def _quarto_version(quarto: str) -> tuple[int, ...]:
    done = subprocess.run([quarto, "--version"], capture_output=True, text=True, check=False)
    match = re.match(r"\s*(\d+)\.(\d+)", done.stdout)
    return tuple(int(x) for x in match.groups()) if match else ()
