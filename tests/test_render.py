"""The book's configuration and the two renderers: Quarto (dispatch only) and the fallback site."""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pypandoc
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from volbook.errors import DataError, VolbookError
from volbook.render import RenderReport, copy_plotly_js, render_book

ROOT = Path(__file__).resolve().parents[1]
PLOTLY_JS = Path(__import__("plotly").__file__).parent / "package_data" / "plotly.min.js"
PAGES = ["index.html", "chapters/one.html", "chapters/two.html", "references.html"]
BANNER = (
    "This is volbook's fallback site, built without Quarto; install Quarto >= 1.7 "
    "(https://quarto.org/docs/get-started/) and run volbook render for the full book."
)
PLOT_HTML = (
    '<div id="fixed-plot-id" class="plotly-graph-div" style="height:300px;"></div>'
    '<script type="text/javascript">window.PLOTLYENV=window.PLOTLYENV || {};'
    'if (document.getElementById("fixed-plot-id")) {Plotly.newPlot("fixed-plot-id", [], {})};</script>'
)
BIB = """
@article{knuth1984,
  author = {Knuth, Donald E.},
  title = {Literate Programming},
  journal = {The Computer Journal},
  year = {1984},
  volume = {27},
  number = {2},
  pages = {97--111},
}
@book{uncited2000,
  author = {Nobody, Anne},
  title = {A Book Nobody Cites},
  publisher = {Nowhere Press},
  year = {2000},
}
"""


def _config(chapters: list[str]) -> dict:
    return {
        "project": {"type": "book", "output-dir": "_book"},
        "book": {"title": "Tiny Book", "chapters": chapters},
        "bibliography": "refs.bib",
        "format": {"html": {"toc": True, "code-fold": "show", "html-math-method": "mathml"}},
    }


def _write_book(root: Path) -> Path:
    """A small book shaped like volbook: a preface, two notebook chapters, references."""
    (root / "chapters").mkdir(parents=True)
    (root / "_quarto.yml").write_text(
        yaml.safe_dump(_config(["index.qmd", "chapters/one.ipynb", "chapters/two.ipynb", "references.qmd"]))
    )
    (root / "refs.bib").write_text(BIB)
    (root / "index.qmd").write_text(
        "# Preface {.unnumbered}\n\nThe first chapter is @sec-one; the second is [here](chapters/two.ipynb).\n"
    )
    (root / "references.qmd").write_text("# References {.unnumbered}\n\n::: {#refs}\n:::\n")
    one = new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})
    one.cells = [
        new_markdown_cell(
            "# First chapter {#sec-one}\n\n"
            "Math $x^2 + y$ and a citation [@knuth1984]. As @fig-a shows and [-@tbl-a] lists;"
            " see @sec-one-data and @fig-b. Mail me at someone@example.org.\n\n"
            "## Data {#sec-one-data}\n\nIn code `@fig-a` stays as it is."
        ),
        new_code_cell(
            '#| label: fig-a\n#| fig-cap: "A figure of $y$ over time."\nplot_something()',
            outputs=[new_output("display_data", data={"text/html": PLOT_HTML, "text/plain": "<Figure>"})],
        ),
        new_code_cell(
            '#| label: tbl-a\n#| tbl-cap: "A table of answers."\nframe',
            outputs=[new_output("execute_result", data={"text/html": "<table><tr><td>42</td></tr></table>",
                                                         "text/plain": "frame"}, execution_count=2)],
        ),
        new_code_cell(
            "#| echo: false\nhidden_source_marker()",
            outputs=[new_output("display_data", data={"text/markdown": "Computed over **7** days.",
                                                      "text/plain": "<Markdown>"})],
        ),
        new_code_cell("print('hello')", outputs=[new_output("stream", name="stdout", text="hello stdout\n")]),
    ]
    two = new_notebook()
    two.cells = [
        new_markdown_cell("# Second chapter\n\nBack to @fig-a and @tbl-a.\n\n## Method\n\n### Detail {#sec-detail}\n"),
        new_code_cell(
            '#| label: fig-b\n#| fig-cap: "Another figure."\nimage()',
            outputs=[new_output("display_data", data={"image/png": "iVBORw0KGgo=\n", "text/plain": "<img>"})],
        ),
    ]
    nbformat.write(one, root / "chapters" / "one.ipynb")
    nbformat.write(two, root / "chapters" / "two.ipynb")
    return root


def _text(page: str) -> str:
    """The visible text of a page, whitespace collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _prefix(href: str) -> str:
    return "../" * href.count("/")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, RenderReport, dict[str, str]]:
    root = _write_book(tmp_path_factory.mktemp("book"))
    report = render_book(root, use_quarto=False)
    pages = {href: (root / "_book" / href).read_text(encoding="utf-8") for href in PAGES}
    return root, report, pages


def test_pages_follow_the_config_order_with_titles(site):
    root, report, pages = site
    assert report.engine == "fallback" and report.reason == "use_quarto=False"
    assert report.pages == tuple(root / "_book" / p for p in PAGES)
    assert str(report).startswith("fallback site (use_quarto=False): ") and str(report).endswith(", 4 pages")
    titles = [_text(re.search(r'<h1 class="title">(.*?)</h1>', pages[p], re.DOTALL).group(1)) for p in PAGES]
    assert titles == ["Preface", "1 First chapter", "2 Second chapter", "References"]
    sidebar = _text(re.search(r'<nav class="sidebar".*?</nav>', pages["index.html"], re.DOTALL).group(0))
    assert sidebar == "Tiny Book Preface 1 First chapter 2 Second chapter References"


def test_every_relative_link_resolves(site):
    root, _, pages = site
    for href, page in pages.items():
        for link in re.findall(r'href="([^"]+)"', page):
            if link.startswith(("http://", "https://", "#")):
                continue
            target = (root / "_book" / href).parent / html.unescape(link).split("#")[0]
            assert target.is_file(), f"{href} links to missing {link}"
    one = pages["chapters/one.html"]
    prev_next = re.search(r'<nav class="page-navigation".*?</nav>', one, re.DOTALL).group(0)
    assert 'href="../index.html"' in prev_next and 'href="two.html"' in prev_next


def test_cross_references_and_captions(site):
    _, _, pages = site
    one, two, index = pages["chapters/one.html"], pages["chapters/two.html"], pages["index.html"]
    nbsp = "\u00a0"
    assert re.search(rf'<a href="#fig-a" class="quarto-xref">Figure{nbsp}1\.1</a>', one)
    assert re.search(r'<a href="#tbl-a" class="quarto-xref">1\.1</a>', one)  # [-@tbl-a]
    assert re.search(rf'<a href="#sec-one-data" class="quarto-xref">Section{nbsp}1\.1</a>', one)
    assert re.search(rf'<a href="two.html#fig-b" class="quarto-xref">Figure{nbsp}2\.1</a>', one)
    assert re.search(rf'<a href="one.html#tbl-a" class="quarto-xref">Table{nbsp}1\.1</a>', two)
    assert re.search(rf'<a href="chapters/one.html" class="quarto-xref">Chapter{nbsp}1</a>', index)
    assert 'href="chapters/two.html"' in index  # a link to a notebook points at its page
    assert 'id="fig-a"' in one and 'id="tbl-a"' in one and 'id="fig-b"' in two
    text = _text(one)
    assert "Figure 1.1: A figure of" in text and "Table 1.1: A table of answers." in text
    assert "Figure 2.1: Another figure." in _text(two)
    figure = one[one.index('id="fig-a"'):]
    assert figure.index("fixed-plot-id") < figure.index("Figure 1.1:")  # caption below the figure
    table = one[one.index('id="tbl-a"'):]
    assert table.index("Table 1.1:") < table.index("<td>42</td>")  # caption above the table
    assert "<code>@fig-a</code>" in one  # code spans are left alone
    assert "2.1 Method" in _text(two) and "2.1.1 Detail" in _text(two)


def test_math_citations_and_bibliography(site):
    _, _, pages = site
    one, refs = pages["chapters/one.html"], pages["references.html"]
    assert one.count("<math") >= 2 and "$x^2" not in _text(one)  # prose and caption math
    assert re.search(r'<span class="citation" data-cites="knuth1984">.*Knuth 1984', one)
    assert "Literate Programming" in _text(one) and "Literate Programming" in _text(refs)
    assert "A Book Nobody Cites" not in _text(refs)  # only works the book cites
    assert "someone@example.org" in _text(one)  # an e-mail address is not a citation


def test_code_cells_outputs_and_options(site):
    _, _, pages = site
    one = pages["chapters/one.html"]
    for page in pages.values():
        assert "#|" not in page
    assert "hidden_source_marker" not in one  # echo: false
    assert "Computed over <strong>7</strong> days." in one  # text/markdown output as markdown
    assert "hello stdout" in one and "plot_something()" in _text(one)
    assert '<details class="code-fold" open><summary>Code</summary>' in one
    assert PLOT_HTML in one  # raw HTML output kept verbatim
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in pages["chapters/two.html"]


def test_one_local_plotly_and_no_remote_loads(site):
    root, _, pages = site
    assert [p.relative_to(root / "_book") for p in (root / "_book").rglob("plotly*.js")] == [
        Path("assets/plotly.min.js")
    ]
    assert (root / "_book" / "assets" / "plotly.min.js").read_bytes() == PLOTLY_JS.read_bytes()
    for href, page in pages.items():  # plotly.js (4.8 MB) only on pages with figures
        loads = f'<script src="{_prefix(href)}assets/plotly.min.js"></script>' in page
        assert loads == (href == "chapters/one.html"), href
        assert not re.search(r'<(script|link|img|iframe)\b[^>]*\b(src|href)="(https?:)?//', page), href
        banner = re.search(r'<div class="fallback-banner".*?</div>', page, re.DOTALL).group(0)
        assert html.unescape(re.sub(r"<[^>]+>", "", banner)) == BANNER


def test_builds_are_deterministic(site, tmp_path):
    root, _, pages = site
    render_book(root, output=tmp_path / "again", use_quarto=False)
    for href, page in pages.items():
        assert (tmp_path / "again" / href).read_text(encoding="utf-8") == page


def test_site_has_normal_permissions(site, tmp_path):
    """Folders 0755 and files 0644 under umask 022, like any build (not mkdtemp's 0700)."""
    root, _, _ = site
    old = os.umask(0o022)
    try:
        for _ in range(2):  # a fresh output, then one replacing an earlier build
            render_book(root, output=tmp_path / "out", use_quarto=False)
            modes = {stat.S_IMODE(p.stat().st_mode) for p in [tmp_path / "out", *(tmp_path / "out").rglob("*")]
                     if p.is_dir()}
            assert modes == {0o755}
            files = {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").rglob("*") if p.is_file()}
            assert files == {0o644}
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failed_build_leaves_previous_output_untouched(tmp_path, monkeypatch):
    root = _write_book(tmp_path / "book")
    render_book(root, use_quarto=False)
    before = (root / "_book" / "index.html").read_bytes()
    (root / "_book" / "marker.txt").write_text("previous build")
    failing = tmp_path / "pandoc"
    failing.write_text("#!/bin/sh\necho 'simulated pandoc crash' >&2\nexit 3\n")
    failing.chmod(failing.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(pypandoc, "get_pandoc_path", lambda: str(failing))
    with pytest.raises(VolbookError, match=r"pandoc failed on index\.qmd \(exit code 3\): simulated pandoc crash"):
        render_book(root, use_quarto=False)
    assert (root / "_book" / "index.html").read_bytes() == before
    assert (root / "_book" / "marker.txt").read_text() == "previous build"
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("_book")) == ["_book"]


def test_bad_books_are_refused(tmp_path):
    root = _write_book(tmp_path / "book")
    config = _config(["index.qmd", "chapters/missing.ipynb"])
    (root / "_quarto.yml").write_text(yaml.safe_dump(config))
    with pytest.raises(DataError, match=r"_quarto.yml: chapter chapters/missing.ipynb does not exist"):
        render_book(root, use_quarto=False)
    (root / "_quarto.yml").write_text(yaml.safe_dump({**config, "project": {"type": "website"}}))
    with pytest.raises(DataError, match=r"project.type must be 'book', got 'website'"):
        render_book(root, use_quarto=False)
    config = _config(["index.qmd", "chapters/one.ipynb", "chapters/one_again.ipynb"])
    (root / "_quarto.yml").write_text(yaml.safe_dump(config))
    (root / "chapters" / "one_again.ipynb").write_bytes((root / "chapters" / "one.ipynb").read_bytes())
    with pytest.raises(DataError, match=r"one_again.ipynb: cross-reference label sec-one is defined twice"):
        render_book(root, use_quarto=False)
    nb = new_notebook(cells=[new_markdown_cell("# Bad"), new_code_cell("#| label: [unclosed\nx")])
    nbformat.write(nb, root / "chapters" / "one_again.ipynb")
    with pytest.raises(DataError, match=r"one_again.ipynb cell 1: invalid '#\|' cell options"):
        render_book(root, use_quarto=False)
    (root / "chapters" / "one_again.ipynb").write_text('{"cells')
    with pytest.raises(DataError, match=r"one_again.ipynb: not a readable notebook \(NotJSONError\)"):
        render_book(root, use_quarto=False)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ("project: [book\n", r"_quarto\.yml: invalid YAML \(line 2\)"),
        ("- project\n", r"_quarto\.yml: expected a mapping of Quarto options"),
        ("project: book\n", r"_quarto\.yml: project must be a mapping"),
        ("project: {type: book}\nbook: {chapters: [index.qmd]}\nformat: {html: true}\n",
         r"_quarto\.yml: format\.html must be a mapping"),
        ("project: {type: book}\nbook: {chapters: [index.qmd]}\nbibliography: {a: 1}\n",
         r"_quarto\.yml: bibliography must be a file path or a list of them"),
    ],
)
def test_malformed_config_is_a_data_error(tmp_path, config, match):
    root = _write_book(tmp_path / "book")
    (root / "_quarto.yml").write_text(config)
    with pytest.raises(DataError, match=match):
        render_book(root, use_quarto=False)
    assert not (root / "_book").exists()


def test_malformed_front_matter_is_a_data_error(tmp_path):
    root = _write_book(tmp_path / "book")
    (root / "index.qmd").write_text("---\ntitle: [x\n---\n\n# Preface\n")
    with pytest.raises(DataError, match=r"index\.qmd front matter: invalid YAML"):
        render_book(root, use_quarto=False)
    (root / "index.qmd").write_text("---\n- x\n---\n\n# Preface\n")
    with pytest.raises(DataError, match=r"index\.qmd: front matter must be 'key: value' lines"):
        render_book(root, use_quarto=False)


def _fake_quarto(bin_dir: Path, version: str) -> None:
    """A ``quarto`` on PATH that records how it was called."""
    bin_dir.mkdir()
    script = bin_dir / "quarto"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo {version}; exit 0; fi\n'
        'mkdir -p _book/chapters\necho "$QUARTO_PYTHON|$*|$(pwd)" > _book/index.html\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_quarto_is_used_when_installed(tmp_path, monkeypatch):
    root = _write_book(tmp_path / "book")
    _fake_quarto(tmp_path / "bin", "1.7.31")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    report = render_book(root)
    assert report.engine == "quarto" and report.reason == "Quarto 1.7"
    assert report.pages == (root / "_book" / "index.html",)
    assert (root / "_book" / "index.html").read_text().strip() == f"{sys.executable}|render|{root}"
    assert str(report).endswith(f"python -m http.server -d {root / '_book'} (opened as a file, Quarto's scripts do not load)")


def test_old_or_missing_quarto_falls_back(tmp_path, monkeypatch):
    root = _write_book(tmp_path / "book")
    _fake_quarto(tmp_path / "bin", "1.3.450")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    report = render_book(root)
    assert report.engine == "fallback" and report.reason == "Quarto 1.3 found, 1.7 needed"
    hint = (
        "; for the full book, install Quarto >= 1.7 (https://quarto.org/docs/get-started/,"
        " or the conda-forge package 'quarto')"
    )
    assert str(report).endswith(", 4 pages" + hint) and "\n" not in str(report)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    report = render_book(root)
    assert str(report).startswith("fallback site (Quarto not found): ") and str(report).endswith(hint)
    assert not str(render_book(root, use_quarto=False)).endswith(hint)  # asked for: no advice
    with pytest.raises(VolbookError, match=r"^Quarto not found: install Quarto >= 1\.7 \(https://quarto\.org/"):
        render_book(root, use_quarto=True)


def test_copy_plotly_js(tmp_path):
    target = copy_plotly_js(tmp_path / "a" / "b")
    assert target == tmp_path / "a" / "b" / "plotly.min.js"
    assert target.read_bytes() == PLOTLY_JS.read_bytes()


def test_repo_quarto_config():
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text())
    assert config["project"]["type"] == "book" and config["project"]["output-dir"] == "_book"
    chapters = config["book"]["chapters"]
    assert chapters[0] == "index.qmd" and chapters[-1] == "references.qmd"
    assert all((ROOT / c).is_file() for c in chapters)
    assert [c for c in chapters if c.startswith("chapters/")] == sorted(
        c for c in chapters if c.startswith("chapters/")
    )
    assert all((ROOT / b).is_file() for b in [config["bibliography"]])
    html_format = config["format"]["html"]
    assert html_format["html-math-method"] == "mathml"
    assert "include-in-header" not in html_format  # plotly.js: chapter pages with figures only
    metadata = yaml.safe_load((ROOT / "chapters" / "_metadata.yml").read_text())
    assert metadata["execute"]["enabled"] is False
    assert [(ROOT / "chapters" / f).resolve() for f in metadata["ipynb-filters"]] == [
        ROOT / "lib" / "volbook" / "render" / "ipynb_filter.py"
    ]


def test_repo_pre_render_copies_plotly(tmp_path):
    """Quarto runs a .py pre-render entry as ``$QUARTO_PYTHON script args`` in the project."""
    command = yaml.safe_load((ROOT / "_quarto.yml").read_text())["project"]["pre-render"]
    script, *args = shlex.split(command)
    assert script.endswith(".py") and (ROOT / script).is_file() and args == ["assets"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, str(ROOT / script), *args], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    assert (tmp_path / "assets" / "plotly.min.js").read_bytes() == PLOTLY_JS.read_bytes()
    usage = subprocess.run([sys.executable, "-m", "volbook.render"], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage: python -m volbook.render assets [DIR]" in usage.stderr


def test_ipynb_filter_leaves_quarto_no_reason_to_load_widget_scripts(tmp_path):
    """Quarto loads require.js and jQuery from a CDN for any text/html display output; the filter leaves none."""
    from volbook.render.ipynb_filter import filter_notebook

    nb = new_notebook(cells=[
        new_code_cell("table", outputs=[new_output("execute_result", execution_count=1,
                                                    data={"text/html": "<table>```</table>", "text/plain": "t"})]),
        new_code_cell("fig", outputs=[new_output("display_data", data={"text/html": PLOT_HTML})]),
        new_code_cell("fig2", outputs=[new_output("display_data", data={"text/html": PLOT_HTML})]),
        new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="1\n")]),
    ])
    raw = json.loads(nbformat.writes(nb))
    out = filter_notebook(raw, "../assets/plotly.min.js")
    datas = [o.get("data", {}) for c in out["cells"] for o in c["outputs"]]
    assert not any(k in d for d in datas for k in ("text/html", "application/javascript"))
    assert datas[0] == {"text/plain": ["t"], "text/markdown": "````{=html}\n<table>```</table>\n````\n"}
    figures = [d["text/markdown"] for d in datas[1:3]]
    assert figures[0].startswith('```{=html}\n<script src="../assets/plotly.min.js"></script>\n<div id="fixed-plot-id"')
    assert "<script src" not in figures[1]  # once per page
    assert out["cells"][3]["outputs"][0]["text"] == ["1\n"]

    (tmp_path / "_quarto.yml").write_text("project: {type: book}\n")
    (tmp_path / "chapters").mkdir()
    script = ROOT / "lib" / "volbook" / "render" / "ipynb_filter.py"
    done = subprocess.run([sys.executable, str(script)], input=nbformat.writes(nb), capture_output=True, text=True,
                          cwd=tmp_path / "chapters", check=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert '<script src=\\"../assets/plotly.min.js\\"></script>' in done.stdout


# ----------------------------------------------------------------------------- the book itself


def _git_status() -> str | None:
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> tuple[RenderReport, dict[str, str]]:
    """The real book, rendered with whichever renderer is present (Quarto if installed)."""
    before = _git_status()
    report = render_book(ROOT, output=tmp_path_factory.mktemp("book") / "_book")
    assert _git_status() == before, "rendering changed the working tree (git status)"
    pages = {str(p.relative_to(report.output)): p.read_text(encoding="utf-8") for p in report.pages}
    return report, pages


def test_the_book_renders_every_page(book):
    report, pages = book
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text())
    assert list(pages) == [str(Path(c).with_suffix(".html")) for c in config["book"]["chapters"]], report


def test_the_book_has_no_unresolved_references_or_citations(book):
    _, pages = book
    from test_bibliography import parse_bib  # the same small BibTeX reader

    keys = {e["key"] for e in parse_bib((ROOT / "references.bib").read_text(encoding="utf-8"))}
    cited = set()
    for href, page in pages.items():
        text = _text(page)
        assert "?@" not in text, f"{href}: unresolved cross-reference near {text[text.index('?@') - 60:][:120]!r}"
        for spans in re.findall(r'<span class="citation" data-cites="([^"]+)"[^>]*>(.*?)</span>', page, re.S):
            cites, shown = spans
            cited |= set(cites.split())
            assert set(cites.split()) <= keys, f"{href}: unknown citation {cites}"
            assert "?" not in _text(shown), f"{href}: unresolved citation {cites}: {_text(shown)!r}"
        assert "n.d." not in text, f"{href}: a citation without a date"
    references = pages["references.html"]
    assert cited and all(f'id="ref-{k}"' in references for k in cited), sorted(
        k for k in cited if f'id="ref-{k}"' not in references)


def test_the_book_requests_nothing_off_site(book):
    _, pages = book
    for href, page in pages.items():
        scripts = re.findall(r"<script\b[^>]*\bsrc=[\"']([^\"']+)", page)
        styles = re.findall(r"<link\b[^>]*\bhref=[\"']([^\"']+)", page)
        imports = re.findall(r"@import\s+(?:url\()?[\"']?([^\"');]+)", page)
        remote = [u for u in scripts + styles + imports if re.match(r"(https?:)?//", u)]
        assert not remote, f"{href} requests {remote}"
        has_figures = "plotly-graph-div" in page
        loads_plotly = any(u.endswith("assets/plotly.min.js") for u in scripts)
        assert loads_plotly == has_figures, f"{href}: plotly.js {'missing' if has_figures else 'without figures'}"


def test_the_book_shows_every_figure_and_table(book):
    _, pages = book
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text())
    for chapter in (c for c in config["book"]["chapters"] if c.endswith(".ipynb")):
        page = pages[str(Path(chapter).with_suffix(".html"))]
        nb = nbformat.read(ROOT / chapter, as_version=4)
        labels = [m.group(1) for c in nb.cells if c.cell_type == "code"
                  for m in [re.search(r"^#\|\s*label:\s*((?:fig|tbl)-[\w-]+)", c.source, re.M)] if m]
        assert labels
        for label in labels:
            assert f'id="{label}"' in page, f"{chapter}: {label} missing"
            inner = f'id="{label}-plotly"' if label.startswith("fig-") else f'id="{label}-gt"'
            assert inner in page, f"{chapter}: the content of {label} is missing"
        assert "save_results(" not in page  # the bookkeeping cell is hidden
