"""The book's own chapters: what is committed, and rerunning them through ``volbook``.

nbval (``--nbval`` over ``chapters/``) re-executes every chapter at its defaults, compares
the outputs, and (through ``conftest.py``'s VOLBOOK_CHECK_RESULTS) fails the chapter's last
cell when the results it computes differ from its committed ``results/<stem>/``. The tests
here check the rest: every chapter listed in ``_quarto.yml`` is committed executed, small,
labelled and cross-referenced, with its results beside it; and two real runs of each chapter
with small parameters, the second with another value of a run-control parameter that moves
numbers only at the optimizer's tolerance (``DRIFT``), show exactly the same outputs and save
the same results within volbook.results' tolerances: what another machine's last float bits
would do, made visible on this one. They also refuse a mistyped parameter without touching
the book. Each chapter is executed three times in all (nbval once at its defaults, twice
here on a short sample).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from volbook.runner import chapter_parameters

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_quarto.yml").read_text())
CHAPTERS = [ROOT / c for c in CONFIG["book"]["chapters"] if c.endswith(".ipynb")]
MAX_BYTES = 3_000_000

#: Small parameters for a quick real run of each chapter (every chapter needs an entry).
QUICK = {
    "01-garch-ewma": {
        "start": "2015-01-01", "end": "2019-12-31", "horizons": "[1, 5]", "garch_window": "500",
        "garch_refit_every": "20", "robust_refit_every": "40", "n_jobs": "1",
    },
    "02-har-stes": {
        "start": "2010-01-01", "train_size": "1000", "rolling_window": "500", "refit_every": "500",
        "stes_l2_grid": "[0.0, 1.0]", "xgb_learning_rates": "[0.1]", "xgb_reg_lambdas": "[1.0]",
        "xgb_rounds": "20", "cv_folds": "2", "stes_starts": "1",
    },
    "03-regime": {
        "start": "2011-01-01", "window": "400", "refit_every": "126", "horizons": "[1, 5]", "vix_window": "400",
        "period_names": '["2013-2014", "2015-2016", "2017-2018"]',
        "period_starts": '["2013-01-01", "2015-01-01", "2017-01-01"]',
    },
    "04-panel": {
        "start": "2008-01-01", "end": "2014-12-31", "evaluate_from": "2010-01-01", "window": "252",
        "sweep_windows": "[252, 504]", "reps": "200", "xgboost_refit_every": "250",
    },
}
#: A run-control parameter of each chapter and a second value for it that changes no result
#: beyond the optimizer's tolerance (chapter 1: GARCH warm-start chains of 7 refits, not 250).
DRIFT = {
    "01-garch-ewma": ("garch_chunk_size", "7"),
    # chapter 2 has no optimizer-tolerance knob: its drift run checks that one process gives
    # what two give (models pickled to a spawn pool at the default n_jobs = 2)
    "02-har-stes": ("n_jobs", "1"),
    # chapter 3: the regime walk-forwards in one process, not two
    "03-regime": ("n_jobs", "1"),
    # chapter 4: the tree model's threads
    "04-panel": ("n_jobs", "2"),
}


def cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def options(cell) -> dict[str, str]:
    """The cell's ``#| key: value`` options."""
    found = re.findall(r"^#\|\s*([\w-]+):\s*(.*)$", cell.source, flags=re.M)
    return {k: v.strip() for k, v in found}


def test_the_book_has_chapters():
    assert CHAPTERS and all(p.is_file() for p in CHAPTERS)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_committed_chapter_is_executed_clean_and_small(path):
    assert path.stat().st_size < MAX_BYTES
    nb = cells(path)
    code = [c for c in nb if c.cell_type == "code"]
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    assert "volbook.setup()" in code[0].source
    for c in code:
        assert c.execution_count is not None, f"cell not executed: {c.source[:60]!r}"
        for out in c.outputs:
            assert out.output_type != "error"
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text[:200]
            data = out.get("data", {})
            assert "application/vnd.plotly.v1+json" not in data  # Quarto cannot show it
            assert "plotly.min.js" not in data.get("text/html", "") and len(data.get("text/html", "")) < 600_000


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_figures_tables_and_references(path):
    nb = cells(path)
    labels, refs = set(), set()
    for c in nb:
        if c.cell_type == "markdown":
            labels |= set(re.findall(r"\{#((?:sec|fig|tbl)-[\w-]+)\}", c.source))
            refs |= set(re.findall(r"@((?:sec|fig|tbl)-[\w-]*\w)", c.source))
            continue
        opts = options(c)
        label = opts.get("label", "")
        if label:
            labels.add(label)
            kind = label.split("-")[0]
            assert kind in ("fig", "tbl") and f"{kind}-cap" in opts, f"{label}: needs {kind}-cap"
            assert c.outputs, f"{label}: no output"
        if any("plotly-graph-div" in o.get("data", {}).get("text/html", "") for o in c.outputs):
            assert label.startswith("fig-"), f"figure without a fig- label: {c.source[:60]!r}"
        for o in c.outputs:
            refs |= set(re.findall(r"@((?:sec|fig|tbl)-[\w-]*\w)", o.get("data", {}).get("text/markdown", "")))
    assert refs - labels == set()
    assert labels - refs - {lab for lab in labels if lab.startswith("sec-")} == set(), "unreferenced figure or table"
    prose = "\n".join(c.source for c in nb if c.cell_type == "markdown")
    assert re.search(r"^## Key takeaways", prose, flags=re.M) and re.search(r"^## Exercises", prose, flags=re.M)


@pytest.mark.parametrize("path", CHAPTERS + [ROOT / "index.qmd"], ids=lambda p: p.stem)
def test_markdown_reads_as_meant(path):
    """Pandoc reads a line starting with ``@x)`` or ``(@x)`` as an example list, inline code
    broken across lines keeps the indentation as spaces, and ``\\overline{...}`` becomes a
    MathML accent that Chromium draws as one short bar in the middle of the expression (in
    real Quarto ``y/f - \\ln(y/f) - 1`` with a bar after "ln"): no prose may do any of these."""
    if path.suffix == ".qmd":
        texts = [path.read_text(encoding="utf-8")]
    else:
        texts = [c.source for c in cells(path) if c.cell_type == "markdown"] + [
            o.get("data", {}).get("text/markdown", "") for c in cells(path) if c.cell_type == "code" for o in c.outputs]
    for text in texts:
        fenced = False
        for line in text.splitlines():
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if fenced:
                continue
            assert not re.match(r"\s*(?:[*+-]\s+|\d+\.\s+)?\(?@", line), f"line starts with @: {line!r}"
            assert line.count("`") % 2 == 0, f"inline code broken across lines: {line!r}"
            assert "\\overline" not in line, f"write 'the mean of' instead of \\overline: {line!r}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_what_the_reader_sees(path):
    """Formatted tables, label-derived ids, rounded figure data, hidden bookkeeping (README conventions)."""
    for c in cells(path):
        if c.cell_type != "code":
            continue
        label = options(c).get("label", "")
        if "save_results(" in c.source:
            assert options(c).get("include") == "false", "the save_results cell must be hidden: #| include: false"
        for out in c.outputs:
            page = out.get("data", {}).get("text/html", "")
            assert "<table" not in page or "gt_table" in page, f"{label or c.source[:40]!r}: a raw frame, not a table"
            assert "shape: (" not in out.get("data", {}).get("text/plain", "") or "text/html" not in out.get("data", {})
            if "plotly-graph-div" in page:
                assert re.search(rf'<div id="{label}-plotly(-\d+)?"', page), f"{label}: figure id not from its label"
                assert '"bdata"' not in page, f"{label}: unrounded binary figure data"
                numbers = re.findall(r"(?<![\w#-])(\d+)\.(\d+)", page[page.index("Plotly.newPlot"):])
                long = [f"{i}.{f}" for i, f in numbers if len((i + f).lstrip("0")) > 6]
                assert not long, f"{label}: unrounded numbers {long[:3]}"
            if "gt_table" in page:
                assert page.startswith(f'<div id="{label}-gt"'), f"{label}: table id not from its label"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_committed_results_belong_to_the_committed_chapter(path):
    results = ROOT / "results" / path.stem
    params = yaml.safe_load((results / "params.yaml").read_text())["parameters"]
    defaults = {name: p.default for name, p in chapter_parameters(path).items() if name != "results_dir"}
    assert {k: v for k, v in params.items() if k in defaults} == defaults
    assert json.loads((results / "metrics.json").read_text())
    assert sorted(results.glob("*.csv"))


def volbook(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    env.pop("VOLBOOK_RESULTS_DIR", None)
    return subprocess.run([sys.executable, "-m", "volbook.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def displayed(notebook: Path) -> dict[str, list]:
    """What a reader sees of every code cell: its outputs, by cell id (the injected
    parameters cell left out), without execution counts."""
    shown = {}
    for cell in cells(notebook):
        if cell.cell_type != "code" or cell.get("id") == "injected-parameters":
            continue
        shown[options(cell).get("label") or cell.get("id")] = [
            {k: v for k, v in out.items() if k != "execution_count"} for out in cell.outputs
        ]
    return shown


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_real_runs_show_and_save_the_same_across_run_control(path, tmp_path):
    quick = QUICK[path.stem]  # a new chapter needs small parameters here, and a DRIFT entry
    name, value = DRIFT[path.stem]
    flags = [arg for key, val in quick.items() for arg in ("-p", f"{key}={val}")]
    book_before = snapshot(path.parent) | {f"results/{k}": v for k, v in snapshot(ROOT / "results" / path.stem).items()}

    for run, extra in (("a", []), ("b", ["-p", f"{name}={value}"])):
        done = volbook("run", path.stem, *flags, *extra, "--out", str(tmp_path / run), "--root", str(ROOT), cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
    assert any(p.suffix == ".csv" for p in (tmp_path / "a" / "results").iterdir())

    a, b = (displayed(tmp_path / run / f"{path.stem}.ipynb") for run in ("a", "b"))
    assert list(a) == list(b)
    moved = [cell for cell in a if a[cell] != b[cell]]
    assert not moved, f"{name}={value} changes what these cells show: {moved}"

    same = volbook("diff", str(tmp_path / "a"), str(tmp_path / "b"), "--json", cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    report = json.loads(same.stdout)
    assert [p["name"] for p in report["parameters"]] == [name]
    assert report["metrics"] == [] and report["tables"] == [], f"{name}={value} changes saved results: {report}"

    versus_book = volbook("diff", str(tmp_path / "a"), path.stem, "--root", str(ROOT), "--json", cwd=tmp_path)
    assert versus_book.returncode == 0, versus_book.stderr
    assert {p["name"] for p in json.loads(versus_book.stdout)["parameters"]} == set(quick)

    typo = volbook("run", path.stem, "-p", "horizon=[1]", "--root", str(ROOT), cwd=tmp_path)
    assert typo.returncode == 2
    assert len(typo.stderr.strip().splitlines()) == 1 and "horizon" in typo.stderr
    book_after = snapshot(path.parent) | {f"results/{k}": v for k, v in snapshot(ROOT / "results" / path.stem).items()}
    assert book_after == book_before
