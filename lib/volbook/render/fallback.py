"""The fallback site: the book built from the same ``_quarto.yml`` with pandoc, without Quarto.

It repeats what Quarto does for this book, the same way:

- pages in the order of ``book.chapters``, each ``<source>.html`` at the same relative path;
  ``index.qmd`` is the unnumbered preface, a page whose title heading is ``{.unnumbered}`` is
  not numbered, the others are chapters 1, 2, ...; a page's title is its first ``# `` heading
  (or ``title:`` in a .qmd's front matter); sections are numbered N.k, N.k.m;
- code cells: the ``#|`` option lines are read and hidden; ``echo``, ``output``, ``include``,
  ``label``, ``fig-cap`` and ``tbl-cap`` are honoured and ``code-fold`` / ``code-summary`` are
  taken from ``format: html``; an output shows the first of text/html, text/markdown,
  image/svg+xml, image/png, image/jpeg, text/plain that it has;
- ``@fig-x``, ``@tbl-x`` and ``@sec-x`` (also ``[@fig-x]``, ``[-@fig-x]``) become links reading
  "Figure N.k", "Table N.k", "Section N.k" or "Chapter N"; figures get "Figure N.k: caption"
  below them, tables "Table N.k: caption" above them (Quarto's default placements);
- citations go through pandoc's citeproc with the book's bibliography: each page lists the
  works it cites at its end, and the page holding a ``::: {#refs}`` div lists every work the
  book cites.

Like Quarto, it turns each notebook into pandoc markdown and hands that to pandoc (from the
``pypandoc-binary`` wheel) for math (MathML), citations, highlighting and the table of contents.
Pandoc's own ipynb reader is not used: it parses markdown cells without citations or heading
attributes, shows text/markdown outputs as plain text and cannot hide a cell's source. The
navigation shell is ``template.html`` and ``style.css`` next to this module.
"""

from __future__ import annotations

import html
import importlib.resources
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pypandoc
import yaml

from volbook import _fs
from volbook.errors import DataError, VolbookError

__all__ = ["BookConfig", "read_book_config", "book_pages", "build_fallback_site"]

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_HEADING_ATTRS = re.compile(r"^(.*?)[ \t]*\{([^{}]*)\}$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)[\s\S]*?(?<!`)\1(?!`)")
_XREF_LABEL = r"(?:fig|tbl|sec)-[\w-]*\w"
_XREF_GROUP = re.compile(rf"\[(-?@{_XREF_LABEL}(?:\s*;\s*-?@{_XREF_LABEL})*)\]", re.IGNORECASE)
_XREF = re.compile(rf"(?<![\w@\\-])@({_XREF_LABEL})", re.IGNORECASE)
_CITATION = re.compile(r"(?<![\w\\])@(\w(?:[\w:.#$%&+?<>~/-]*\w)?)")
_SOURCE_LINK = re.compile(r"\]\((?![a-z]+:)([^()\s#]+)\.(?:qmd|ipynb)((?:#[^()\s]*)?)\)")
_REFS_DIV = re.compile(r"^:::+\s*\{#refs\}", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_OPTION_LINE = re.compile(r"^#\|\s?(.*)$")
_MIME_ORDER = ("text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg", "text/plain")
_XREF_NAMES = {"fig": "Figure", "tbl": "Table"}


@dataclass(frozen=True)
class BookConfig:
    """The parts of ``_quarto.yml`` the renderers use.

    Attributes
    ----------
    root
        The book's folder.
    title
        ``book.title``.
    chapters
        ``book.chapters``: source files relative to ``root``, in order.
    bibliography
        Absolute paths of the bibliography files.
    output_dir
        ``project.output-dir`` (default ``_book``).
    html
        ``format.html`` options.
    """

    root: Path
    title: str
    chapters: tuple[str, ...]
    bibliography: tuple[Path, ...]
    output_dir: str
    html: dict[str, Any]


@dataclass
class _Cell:
    options: dict[str, Any]
    code: str
    outputs: list[Any]
    xref: str = ""  # "Figure 1.2" / "Table 1.1" when labelled


@dataclass
class _Page:
    source: str
    href: str
    title: str
    number: int | None
    language: str
    blocks: list[str | _Cell]
    cites: set[str] = field(default_factory=set)
    markdown: str = ""
    lists_all_refs: bool = False  # the page holds the book's ``::: {#refs}`` (references.qmd)


def read_book_config(root: Path) -> BookConfig:
    """Read and check ``root/_quarto.yml`` (a Quarto book whose chapters all exist)."""
    path = root / "_quarto.yml"
    if not path.is_file():
        raise DataError(f"{path}: not found")
    raw = _fs.read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a mapping of Quarto options")
    project, book, formats = (raw.get(key) or {} for key in ("project", "book", "format"))
    html_format = (formats.get("html") or {}) if isinstance(formats, dict) else {}
    for key, value in (("project", project), ("book", book), ("format", formats),
                       ("format.html", html_format)):
        if not isinstance(value, dict):
            raise DataError(f"{path}: {key} must be a mapping")
    if project.get("type") != "book":
        raise DataError(f"{path}: project.type must be 'book', got {project.get('type')!r}")
    chapters = book.get("chapters") or []
    if not chapters or not all(isinstance(c, str) for c in chapters):
        raise DataError(f"{path}: book.chapters must be a non-empty list of file paths")
    for chapter in chapters:
        if not (root / chapter).is_file():
            raise DataError(f"{path}: chapter {chapter} does not exist")
    bib = raw.get("bibliography") or []
    bib = [bib] if isinstance(bib, str) else bib
    if not isinstance(bib, list) or not all(isinstance(b, str) for b in bib):
        raise DataError(f"{path}: bibliography must be a file path or a list of them")
    for b in bib:
        if not (root / b).is_file():
            raise DataError(f"{path}: bibliography {b} does not exist")
    return BookConfig(
        root=root,
        title=str(book.get("title", root.name)),
        chapters=tuple(chapters),
        bibliography=tuple((root / b).resolve() for b in bib),
        output_dir=str(project.get("output-dir", "_book")),
        html=dict(html_format),
    )


def book_pages(config: BookConfig) -> list[str]:
    """The output page of every chapter, relative to the output folder, in book order."""
    return [str(PurePosixPath(c).with_suffix(".html")) for c in config.chapters]


def build_fallback_site(config: BookConfig, output: Path) -> tuple[Path, ...]:
    """Build the fallback site into ``output``, replacing it only if the whole build succeeds.

    Parameters
    ----------
    config
        The book (:func:`read_book_config`).
    output
        The output folder. The site is built in a temporary folder next to it, which then
        replaces it; on any error the previous ``output`` is left untouched.

    Returns
    -------
    tuple of Path
        The pages written, in book order.
    """
    from volbook.render import copy_plotly_js

    pages, labels = _read_pages(config)
    for page in pages:
        page.markdown = _page_markdown(page, labels, config)
    cited = sorted(set().union(*(page.cites for page in pages)))
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = _fs.temp_sibling(output)
    staging.mkdir()  # not tempfile.mkdtemp: its 0700 would become the site's permissions
    try:
        copy_plotly_js(staging / "assets")
        package = importlib.resources.files(__package__)
        css = (package / "style.css").read_text(encoding="utf-8")
        (staging / "assets" / "volbook.css").write_text(css, encoding="utf-8")
        with importlib.resources.as_file(package / "template.html") as template, \
                tempfile.TemporaryDirectory() as scratch:
            for i, page in enumerate(pages):
                defaults = _pandoc_defaults(pages, i, config, template, staging)
                _run_pandoc(page, defaults, cited, config.root, Path(scratch))
        _fs.replace(staging, output)
    finally:
        _fs.remove(staging)  # gone already after the replace
    return tuple(output / page.href for page in pages)


# ----------------------------------------------------------------------------- reading


def _read_pages(config: BookConfig) -> tuple[list[_Page], dict[str, tuple[str, str, str]]]:
    """Load every page; number chapters, sections, figures and tables; collect the labels.

    Labels map ``fig-x`` / ``tbl-x`` / ``sec-x`` to (link text, page href, anchor).
    """
    labels: dict[str, tuple[str, str, str]] = {}
    pages: list[_Page] = []
    chapter = 0
    for source in config.chapters:
        path = config.root / source
        blocks, front_title, language = _read_blocks(path)
        heading, ident, classes, blocks = _pop_title(blocks)
        title = front_title or heading or path.stem
        number = None
        if path.stem != "index" and not {"unnumbered", "-"} & classes:
            chapter += 1
            number = chapter
        href = str(PurePosixPath(source).with_suffix(".html"))
        page = _Page(source, href, title, number, language, blocks)
        if ident:
            _add_label(labels, ident, (f"Chapter {number}" if number else title, href, ""), source)
        _number_headings(page, labels)
        _number_floats(page, labels)
        pages.append(page)
    return pages, labels


def _read_blocks(path: Path) -> tuple[list[str | _Cell], str | None, str]:
    """A page as prose blocks and cells, its front-matter title, and its code language."""
    if path.suffix == ".ipynb":
        nb = _fs.read_notebook(path)
        meta = nb.metadata
        language = (meta.get("kernelspec") or {}).get("language") or (
            meta.get("language_info") or {}
        ).get("name") or "python"
        blocks: list[str | _Cell] = []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                blocks.append(cell.source)
            elif cell.cell_type == "code":
                options, code = _cell_options(cell.source, f"{path} cell {index}")
                blocks.append(_Cell(options, code, list(cell.get("outputs", []))))
        return blocks, None, language
    text = path.read_text(encoding="utf-8")
    front: dict[str, Any] = {}
    match = re.match(r"---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|$)", text, re.DOTALL)
    if match:
        front = _fs.parse_yaml(match.group(1), f"{path} front matter") or {}
        if not isinstance(front, dict):
            raise DataError(f"{path}: front matter must be 'key: value' lines")
        text = text[match.end():]
    title = front.get("title")
    return [text], None if title is None else str(title), "python"


def _cell_options(source: str, where: str) -> tuple[dict[str, Any], str]:
    """Split a code cell into its ``#|`` options (YAML) and the code shown."""
    lines = source.splitlines()
    option_lines = []
    while lines and (match := _OPTION_LINE.match(lines[0])):
        option_lines.append(match.group(1))
        lines.pop(0)
    try:
        options = (yaml.safe_load("\n".join(option_lines)) or {}) if option_lines else {}
    except yaml.YAMLError as exc:
        raise DataError(f"{where}: invalid '#|' cell options ({exc.__class__.__name__})") from exc
    if not isinstance(options, dict):
        raise DataError(f"{where}: '#|' cell options must be 'key: value' lines")
    return options, "\n".join(lines).strip("\n")


def _headings(text: str):
    """Yield (line index, level, title, attribute string) of the ATX headings outside fences."""
    fence = ""
    for i, line in enumerate(text.split("\n")):
        opener = _FENCE.match(line)
        if fence:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = ""
            continue
        if opener:
            fence = opener.group(1)
            continue
        match = _HEADING.match(line)
        if match:
            title, attrs = match.group(2), ""
            with_attrs = _HEADING_ATTRS.match(title)
            if with_attrs:
                title, attrs = with_attrs.groups()
            yield i, len(match.group(1)), title, attrs


def _parse_attrs(attrs: str) -> tuple[str, set[str]]:
    """The id and classes of a pandoc attribute string such as ``#sec-x .unnumbered``."""
    ident = next((t[1:] for t in attrs.split() if t.startswith("#")), "")
    classes = {t[1:] if t.startswith(".") else t for t in attrs.split() if t[0] in ".-"}
    return ident, classes


def _pop_title(blocks: list[str | _Cell]) -> tuple[str | None, str, set[str], list[str | _Cell]]:
    """Remove the first level-1 heading; return its title, id, classes and the rest."""
    for b, block in enumerate(blocks):
        if not isinstance(block, str):
            continue
        for i, level, title, attrs in _headings(block):
            if level == 1:
                lines = block.split("\n")
                rest = "\n".join(lines[:i] + lines[i + 1:])
                ident, classes = _parse_attrs(attrs)
                return title, ident, classes, blocks[:b] + [rest] + blocks[b + 1:]
    return None, "", set(), blocks


def _add_label(labels: dict, label: str, target: tuple[str, str, str], source: str) -> None:
    if label in labels:
        raise DataError(f"{source}: cross-reference label {label} is defined twice")
    labels[label] = target


def _number_headings(page: _Page, labels: dict) -> None:
    """Number the section headings (N.k, N.k.m) of a numbered page and register their ids."""
    counters = [0] * 7
    for b, block in enumerate(page.blocks):
        if not isinstance(block, str):
            continue
        lines = block.split("\n")
        for i, level, title, attrs in _headings(block):
            ident, classes = _parse_attrs(attrs)
            text = title
            if page.number is not None and level >= 2 and not {"unnumbered", "-"} & classes:
                counters[level] += 1
                counters[level + 1:] = [0] * (6 - level)
                number = ".".join([str(page.number)] + [str(c) for c in counters[2:level + 1]])
                lines[i] = f"{'#' * level} [{number}]{{.header-section-number}} {title}" + (
                    f" {{{attrs}}}" if attrs else ""
                )
                text = f"Section {number}"
            if ident:
                _add_label(labels, ident, (text, page.href, ident), page.source)
        page.blocks[b] = "\n".join(lines)


def _number_floats(page: _Page, labels: dict) -> None:
    """Number the labelled figure and table cells of a page: Figure N.k, Table N.k."""
    counts = {"fig": 0, "tbl": 0}
    for cell in page.blocks:
        if isinstance(cell, str):
            continue
        label = str(cell.options.get("label", ""))
        kind = label.split("-", 1)[0]
        if kind in counts and "-" in label:
            counts[kind] += 1
            prefix = f"{page.number}." if page.number is not None else ""
            cell.xref = f"{_XREF_NAMES[kind]} {prefix}{counts[kind]}"
            _add_label(labels, label, (cell.xref, page.href, label), page.source)


# ----------------------------------------------------------------------------- writing markdown


def _page_markdown(page: _Page, labels: dict, config: BookConfig) -> str:
    """The page as pandoc markdown (without its title, which goes to the metadata)."""

    def resolve(text: str) -> str:
        return _resolve_prose(text, page, labels)

    fold = config.html.get("code-fold", False)
    summary = str(config.html.get("code-summary", "Code"))
    parts = [
        resolve(block) if isinstance(block, str) else _cell_markdown(block, page.language, fold, summary, resolve)
        for block in page.blocks
    ]
    body = "\n\n".join(p for p in parts if p.strip())
    page.lists_all_refs = bool(_REFS_DIV.search(body))
    if page.cites and not page.lists_all_refs:
        body += "\n\n## References {.unnumbered}\n\n::: {#refs}\n:::\n"
    return body


def _outside_code(text: str, transform: Callable[[str], str]) -> str:
    """Apply ``transform`` to the parts of markdown ``text`` outside code spans and blocks."""
    out, start = [], 0
    for match in _CODE_SPAN.finditer(text):
        out += [transform(text[start:match.start()]), match.group(0)]
        start = match.end()
    return "".join(out + [transform(text[start:])])


def _resolve_prose(text: str, page: _Page, labels: dict) -> str:
    """Resolve cross-references, point links to .qmd/.ipynb sources at their pages, note citations."""

    def link(label: str, bare_number: bool = False) -> str:
        key = label.split("-", 1)[0].lower() + "-" + label.split("-", 1)[1]
        if key not in labels:
            print(f"WARNING: {page.source}: unknown cross-reference @{label}", file=sys.stderr)
            return f"**?\\@{label}**"
        name, href, anchor = labels[key]
        if bare_number:
            name = name.split(" ", 1)[-1]
        target = "" if href == page.href else os.path.relpath(href, os.path.dirname(page.href) or ".")
        target = target.replace(os.sep, "/") + (f"#{anchor}" if anchor else "")
        return f"[{name.replace(' ', chr(0xA0))}]({target or '#'}){{.quarto-xref}}"

    def group(match: re.Match) -> str:
        refs = [r.strip() for r in match.group(1).split(";")]
        return ", ".join(link(r.lstrip("-")[1:], r.startswith("-")) for r in refs)

    def transform(segment: str) -> str:
        segment = _XREF_GROUP.sub(group, segment)
        segment = _XREF.sub(lambda m: link(m.group(1)), segment)
        segment = _SOURCE_LINK.sub(r"](\1.html\2)", segment)
        page.cites.update(_CITATION.findall(segment))
        return segment

    return _outside_code(text, transform)


def _fenced(text: str, info: str = "") -> str:
    """A fenced block whose fence is longer than any backtick run inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}"


def _raw_html(text: str) -> str:
    return _fenced(text, "{=html}")


def _div(body: str, classes: str) -> str:
    return f"::: {{{' '.join('.' + c for c in classes.split())}}}\n\n{body}\n\n:::"


def _cell_markdown(
    cell: _Cell, language: str, fold: bool | str, summary: str, resolve: Callable[[str], str]
) -> str:
    """A code cell as Quarto lays it out: (folded) code, outputs, captioned figure or table."""
    options = cell.options
    if options.get("include", True) is False:
        return ""
    parts = []
    if cell.code and options.get("echo", True) is not False:
        code = _fenced(cell.code, f"{{.{language} .cell-code}}")
        if fold in (True, "show"):
            opened = " open" if fold == "show" else ""
            code = "\n\n".join([
                _raw_html(f'<details class="code-fold"{opened}><summary>{html.escape(summary)}</summary>'),
                code,
                _raw_html("</details>"),
            ])
        parts.append(code)
    outputs = [] if options.get("output", True) is False else [_output_markdown(o, resolve) for o in cell.outputs]
    if cell.xref:
        kind, label = str(options["label"]).split("-", 1)[0], str(options["label"])
        caption_text = options.get(f"{kind}-cap")
        caption = cell.xref + (f": {resolve(str(caption_text))}" if caption_text else "")
        caption_blocks = [_raw_html("<figcaption>"), caption, _raw_html("</figcaption>")]
        inner = outputs + caption_blocks if kind == "fig" else caption_blocks + outputs
        outputs = [
            _raw_html(f'<figure id="{html.escape(label)}" class="quarto-float quarto-float-{kind}">'),
            *inner,
            _raw_html("</figure>"),
        ]
    parts += outputs
    if not parts:
        return ""
    return ":::: {.cell}\n\n" + "\n\n".join(parts) + "\n\n::::"


def _output_markdown(output: Any, resolve: Callable[[str], str]) -> str:
    """One notebook output as markdown, in a ``cell-output`` div."""
    if output.output_type == "stream":
        return _div(_fenced(output.text), f"cell-output cell-output-{output.name}")
    if output.output_type == "error":
        traceback = _ANSI.sub("", "\n".join(output.traceback))
        return _div(_fenced(traceback), "cell-output cell-output-error")
    data = output.get("data", {})
    mime = next((m for m in _MIME_ORDER if m in data), None)
    value = data.get(mime, "")
    if mime in ("text/html", "image/svg+xml"):
        body = _raw_html(value)
    elif mime == "text/markdown":
        body = resolve(value)
    elif mime in ("image/png", "image/jpeg"):
        body = f"![](data:{mime};base64,{''.join(value.split())})"
    elif mime == "text/plain":
        body = _fenced(value)
    else:
        body = f"*Output not shown here: {', '.join(sorted(data)) or 'empty'}.*"
    return _div(body, "cell-output cell-output-display")


# ----------------------------------------------------------------------------- pandoc


def _nav_entry(page: _Page, current: _Page) -> dict[str, Any]:
    """A page as the template's navigation shows it (strings are HTML, escaped here)."""
    href = os.path.relpath(page.href, os.path.dirname(current.href) or ".").replace(os.sep, "/")
    title = html.escape(re.sub(r"[*`]", "", page.title))
    label = f'<span class="chapter-title">{title}</span>'
    if page.number is not None:
        label = f'<span class="chapter-number">{page.number}</span> {label}'
    return {"href": html.escape(href), "label": label, "current": page is current}


def _pandoc_defaults(
    pages: list[_Page], i: int, config: BookConfig, template: Path, staging: Path
) -> dict[str, Any]:
    """Pandoc's options for page ``i``: template, MathML, citeproc, table of contents, nav."""
    page = pages[i]
    depth = PurePosixPath(page.href).parent.parts
    variables: dict[str, Any] = {
        "book-title": html.escape(config.title),
        "root": "../" * len(depth),
        "nav": [_nav_entry(p, page) for p in pages],
        "document-css": False,
        "plotly": "plotly-graph-div" in page.markdown,  # plotly.js only where there are figures
    }
    if i > 0:
        variables["prev"] = _nav_entry(pages[i - 1], page)
    if i + 1 < len(pages):
        variables["next"] = _nav_entry(pages[i + 1], page)
    return {
        "from": "markdown",
        "to": "html5",
        "standalone": True,
        "template": str(template),
        "output-file": str(staging / page.href),
        "html-math-method": {"method": "mathml"},
        "citeproc": bool(config.bibliography),
        "table-of-contents": bool(config.html.get("toc", True)),
        "toc-depth": int(config.html.get("toc-depth", 3)),
        "wrap": "none",
        "metadata": {
            "bibliography": [str(b) for b in config.bibliography],
            "link-citations": True,
        },
        "variables": variables,
    }


def _run_pandoc(page: _Page, defaults: dict, cited: list[str], root: Path, scratch: Path) -> None:
    """Write one page with pandoc; its title (markdown) and ``nocite`` go in a YAML header."""
    title = page.title if page.number is None else (
        f"[{page.number}]{{.chapter-number}} [{page.title}]{{.chapter-title}}"
    )
    meta: dict[str, Any] = {"title": title}
    if page.lists_all_refs and cited:
        meta["nocite"] = ", ".join(f"@{key}" for key in cited)
    document = "---\n" + yaml.safe_dump(meta, allow_unicode=True) + "---\n\n" + page.markdown
    defaults_file = scratch / f"{page.href.replace('/', '__')}.yaml"
    defaults_file.write_text(yaml.safe_dump(defaults, allow_unicode=True), encoding="utf-8")
    Path(defaults["output-file"]).parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [pypandoc.get_pandoc_path(), "--defaults", str(defaults_file)],
        input=document, capture_output=True, text=True, encoding="utf-8", cwd=root, check=False,
    )
    if done.returncode != 0:
        detail = next((line for line in done.stderr.splitlines() if line.strip()), "no message")
        raise VolbookError(f"pandoc failed on {page.source} (exit code {done.returncode}): {detail}")
    for line in done.stderr.splitlines():
        if line.strip():
            print(f"{page.source}: {line}", file=sys.stderr)

