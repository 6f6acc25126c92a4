"""volbook.runner: chapters, runs, book refreshes (with volbook.params and volbook.results).

The chapter is tests/fixtures/toy-chapter.ipynb (an EWMA of simulated returns, a second or
two per run), copied into a temporary book as chapters/01-toy.ipynb. Every test runs with
its own temporary folder (``tempfile.tempdir``), so the runner's scratch folders and their
pruning never touch the machine's /tmp.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from datetime import date
from pathlib import Path

import nbformat
import numpy as np
import polars as pl
import pytest
import yaml

import volbook
import volbook.results
from volbook import _fs
from volbook.errors import DataError, ParameterError
from volbook.runner import (
    ChapterExecutionError,
    chapter_parameters,
    diff_runs,
    find_chapter,
    find_root,
    list_chapters,
    run_chapter,
    save_results,
    validate_parameters,
)

FIXTURE = Path(__file__).parent / "fixtures" / "toy-chapter.ipynb"
SIG = volbook.results.SIGNIFICANT_DIGITS
ROUNDING = 0.5 * 10.0 ** (1 - SIG)  # largest relative error of rounding to SIG digits
TOY_DEFAULTS = {
    "fail": False,
    "horizons": [1, 5],
    "label": "toy",
    "lam": 0.94,
    "n_obs": 250,
    "note": None,
    "seed": 7,
    "weights": [0.5, 1.5],
}


def make_book(root: Path) -> Path:
    """A book with the toy chapter as chapters/01-toy.ipynb and an empty results/."""
    (root / "chapters").mkdir(parents=True)
    (root / "results").mkdir()
    (root / "_quarto.yml").write_text("project:\n  type: book\n")
    shutil.copyfile(FIXTURE, root / "chapters" / "01-toy.ipynb")
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch):
    """Scratch folders of runs go to a folder of this test session, not the shared /tmp,
    and save_results does not compare with committed results unless a test asks for it."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.getbasetemp()))
    monkeypatch.delenv("VOLBOOK_CHECK_RESULTS", raising=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One book and three run folders: defaults twice, and lam=0.9."""
    tempfile.tempdir = str(tmp_path_factory.getbasetemp())
    root = make_book(tmp_path_factory.mktemp("book"))
    out = root / "runs"
    reports = {
        "base": run_chapter("01-toy", {}, out / "base", root=root),
        "base2": run_chapter("toy", None, out / "base2", root=root),
        "lam": run_chapter("1", {"lam": "0.9"}, out / "lam", root=root),
    }
    return root, reports


# --------------------------------------------------------------------------- chapters


def test_chapter_parameters_reads_defaults_and_types():
    params = chapter_parameters(FIXTURE)
    assert {n: p.default for n, p in params.items() if n != "results_dir"} == TOY_DEFAULTS
    assert list(params) == [
        "lam", "n_obs", "seed", "label", "horizons", "weights", "fail", "note", "results_dir"
    ]
    types = {n: p.type for n, p in params.items()}
    assert types == {
        "lam": "float",
        "n_obs": "int",
        "seed": "int",
        "label": "str",
        "horizons": "list[int]",
        "weights": "list[float]",
        "fail": "bool",
        "note": "optional",
        "results_dir": "str",
    }


def write_parameters_cell(path: Path, source: str, tags: tuple[str, ...] = ("parameters",)) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source, id="p")])
    nb.cells[0].metadata["tags"] = list(tags)
    nbformat.write(nb, path)
    return path


def test_chapter_parameters_edge_types(tmp_path):
    path = write_parameters_cell(
        tmp_path / "01-x.ipynb",
        "# comment\nmixed = [1, 2.5]\nempty = []\nneg: float = -0.5\nnames = ['a', 'b']\n",
    )
    params = chapter_parameters(path)
    assert {n: p.type for n, p in params.items()} == {
        "mixed": "list[float]",
        "empty": "list",
        "neg": "float",
        "names": "list[str]",
    }
    assert params["neg"].default == -0.5


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("x = 1\nprint(x)\n", "line 2 is not an assignment to one name"),
        ("a = b = 1\n", "line 1 is not an assignment"),
        ("x = len([1])\n", "parameter 'x' .* is not a literal"),
        ("x = {'a': 1}\n", "parameter 'x' has a default of unsupported type dict"),
        ("x = [1, 'a']\n", "parameter 'x' has a default of unsupported type list"),
    ],
)
def test_chapter_parameters_rejects_non_literal_cells(tmp_path, source, match):
    path = write_parameters_cell(tmp_path / "01-x.ipynb", source)
    with pytest.raises(DataError, match=match):
        chapter_parameters(path)


def test_chapter_parameters_needs_one_tagged_cell(tmp_path):
    path = write_parameters_cell(tmp_path / "01-x.ipynb", "x = 1\n", tags=())
    with pytest.raises(DataError, match="expected one code cell tagged 'parameters', found 0"):
        chapter_parameters(path)


@pytest.mark.parametrize(
    "text", ['{"cells', "{}", "[]", '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": "x"}']
)
def test_chapter_parameters_of_a_corrupt_notebook_is_a_data_error(tmp_path, text):
    path = tmp_path / "01-x.ipynb"
    path.write_text(text)
    with pytest.raises(DataError, match=r"01-x\.ipynb: not a readable notebook"):
        chapter_parameters(path)


def test_find_chapter_by_stem_slug_number_and_file(tmp_path):
    root = make_book(tmp_path)
    shutil.copyfile(FIXTURE, root / "chapters" / "10-later-chapter.ipynb")
    (root / "chapters" / "notes.ipynb").write_text("{}")  # not a chapter name
    assert [p.stem for p in list_chapters(root)] == ["01-toy", "10-later-chapter"]
    toy = root / "chapters" / "01-toy.ipynb"
    for name in ("01-toy", "toy", "1", "01", "chapters/01-toy.ipynb"):
        assert find_chapter(name, root) == toy
    assert find_chapter("10", root).stem == "10-later-chapter"
    with pytest.raises(ParameterError, match=r"unknown chapter 'garch'; chapters: 01-toy, 10-later-chapter"):
        find_chapter("garch", root)


def test_find_root_walks_up_and_honours_env(tmp_path, monkeypatch):
    root = make_book(tmp_path / "book")
    monkeypatch.delenv("VOLBOOK_ROOT", raising=False)
    monkeypatch.chdir(root / "chapters")
    assert find_root() == root.resolve()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="no _quarto.yml"):
        find_root()
    monkeypatch.setenv("VOLBOOK_ROOT", str(root))
    assert find_root() == root.resolve()
    assert find_root(root / "chapters") == (root / "chapters").resolve()  # explicit wins
    with pytest.raises(DataError, match="is not a directory"):
        find_root(tmp_path / "missing")


# --------------------------------------------------------------------------- validation


def test_validate_parameters_parses_yaml_and_types():
    got = validate_parameters(
        FIXTURE,
        {
            "lam": "0.5",
            "n_obs": "300",
            "label": "2020-01-01",  # a str parameter takes the text as written
            "horizons": "[1, 22]",
            "weights": "[1, 2]",  # ints are accepted for floats, and become floats
            "fail": "true",
            "note": "1e-3",
            "seed": 11,  # non-string values are checked as they are
        },
    )
    assert got == {
        "fail": True,
        "horizons": [1, 22],
        "label": "2020-01-01",
        "lam": 0.5,
        "n_obs": 300,
        "note": "1e-3",
        "seed": 11,
        "weights": [1.0, 2.0],
    }
    assert all(type(w) is float for w in got["weights"])
    assert list(got) == sorted(got)
    assert validate_parameters(FIXTURE, {"lam": "1e-3"})["lam"] == 1e-3  # YAML 1.1 reads a string
    assert validate_parameters(FIXTURE, {"note": "null"})["note"] is None
    assert validate_parameters(FIXTURE, {"note": "2.5"})["note"] == 2.5
    assert validate_parameters(FIXTURE, {"note": "yes"})["note"] == "yes"  # not YAML's True
    assert validate_parameters(FIXTURE, {"label": "[x: y"})["label"] == "[x: y"  # not YAML
    assert validate_parameters(FIXTURE, {}) == {}


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"lamda": "0.9"}, r"unknown parameter 'lamda' for chapter toy-chapter; did you mean 'lam'\? known: lam, n_obs,"),
        ({"zzz": "1"}, r"unknown parameter 'zzz' for chapter toy-chapter; known: lam, n_obs, seed"),
        ({"lam": "abc"}, r"parameter 'lam' of chapter toy-chapter expects float, got str 'abc'"),
        ({"n_obs": "2.5"}, r"parameter 'n_obs' .* expects int, got float '2.5'"),
        ({"fail": "1"}, r"parameter 'fail' .* expects bool, got int '1'"),
        ({"horizons": "5"}, r"parameter 'horizons' .* expects list\[int\], got int '5'"),
        ({"horizons": "[1, x]"}, r"parameter 'horizons' .* expects list\[int\], got list '\[1, x\]'"),
        ({"weights": "[1, true]"}, r"expects list\[float\], got list"),
        ({"lam": "null"}, r"parameter 'lam' .* expects float, got null 'null'"),
        ({"horizons": "[1, 5"}, r"parameter 'horizons' .* expects list\[int\], got str '\[1, 5'"),
        ({"results_dir": "/tmp/x"}, r"parameter 'results_dir' of chapter toy-chapter is set by the runner"),
    ],
)
def test_validate_parameters_errors(overrides, match):
    with pytest.raises(ParameterError, match=match):
        validate_parameters(FIXTURE, overrides)


# --------------------------------------------------------------------------- save_results


def test_save_results_writes_fixed_formats(tmp_path, monkeypatch):
    monkeypatch.delenv("VOLBOOK_RESULTS_DIR", raising=False)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(50) * 10.0 ** rng.integers(-8, 4, 50)
    frame = pl.DataFrame(
        {
            "date": pl.date_range(date(2021, 3, 1), date(2021, 4, 19), eager=True),
            "x": x,
            "n": np.arange(50),
            "name": ["a"] * 50,
        }
    ).with_columns(y=pl.when(pl.col("n") == 3).then(None).otherwise(pl.col("x") / 3))
    metrics = {
        "b": {"third": 1 / 3, "nan": float("nan"), "np": np.float64(2.0) / 3, "count": np.int64(5)},
        "a": "text",
        "flag": np.bool_(True),
        "inf": float("inf"),
        "list": [0.1 + 0.2, None],
    }
    save_results(tmp_path / "out", tables={"t": frame}, metrics=metrics)

    text = (tmp_path / "out" / "t.csv").read_text()
    lines = text.splitlines()
    assert lines[0] == "date,x,n,name,y"
    assert lines[1].startswith("2021-03-01,")
    assert lines[4].endswith(",a,")  # null -> empty field
    back = pl.read_csv(tmp_path / "out" / "t.csv", try_parse_dates=True)
    assert back["date"].to_list() == frame["date"].to_list()
    np.testing.assert_allclose(back["x"].to_numpy(), x, rtol=ROUNDING, atol=0)
    digits = []
    for field in (line.split(",")[1] for line in lines[1:]):
        mantissa = field.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
        digits.append(len(mantissa))
    assert max(digits) == SIG

    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved == {
        "a": "text",
        "b": {"count": 5, "nan": None, "np": 0.666667, "third": 0.333333},
        "flag": True,
        "inf": None,
        "list": [0.3, None],
    }
    raw = (tmp_path / "out" / "metrics.json").read_text()
    assert raw == json.dumps(saved, indent=2, sort_keys=True) + "\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metrics.json", "t.csv"]

    # same inputs, same bytes
    first = snapshot(tmp_path / "out")
    save_results(tmp_path / "out", tables={"t": frame}, metrics=metrics)
    assert snapshot(tmp_path / "out") == first


def test_save_results_env_overrides_results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VOLBOOK_RESULTS_DIR", str(tmp_path / "elsewhere"))
    save_results(tmp_path / "given", tables={"t": pl.DataFrame({"a": [1.5]})}, metrics={"m": 1})
    assert not (tmp_path / "given").exists()
    assert (tmp_path / "elsewhere" / "t.csv").read_text() == "a\n1.5\n"
    assert json.loads((tmp_path / "elsewhere" / "metrics.json").read_text()) == {"m": 1}


@pytest.mark.parametrize(
    ("tables", "metrics", "match"),
    [
        ({"../x": pl.DataFrame({"a": [1]})}, {}, "table name '../x' is not a plain file name"),
        ({"x": [1, 2]}, {}, "table 'x' is a list, not a polars DataFrame"),
        ({}, {"a": {"b": np.arange(3)}}, "metric 'a.b' has unsupported type ndarray"),
        ({}, {"a": {1: 2.0}}, "metrics key 1 under 'a' is not a string"),
    ],
)
def test_save_results_rejects_bad_input(tmp_path, monkeypatch, tables, metrics, match):
    monkeypatch.delenv("VOLBOOK_RESULTS_DIR", raising=False)
    with pytest.raises(ParameterError, match=match):
        save_results(tmp_path, tables=tables, metrics=metrics)


# --------------------------------------------------------------------------- runs


def test_run_folder_has_all_four_parts(runs):
    root, reports = runs
    folder = root / "runs" / "lam"
    assert sorted(p.name for p in folder.iterdir()) == ["01-toy.ipynb", "metrics.json", "params.yaml", "results"]
    assert sorted(p.name for p in (folder / "results").iterdir()) == ["ewma.csv", "returns.csv"]
    params = yaml.safe_load((folder / "params.yaml").read_text())
    assert params == {
        "chapter": "01-toy",
        "parameters": {**TOY_DEFAULTS, "lam": 0.9},
        "volbook_version": volbook.__version__,
    }
    report = reports["lam"]
    assert report.out == folder and report.notebook == folder / "01-toy.ipynb"
    assert report.overrides == {"lam": 0.9} and report.tables == ["ewma.csv", "returns.csv"]
    assert "01-toy (lam=0.9): 2 tables -> run folder" in str(report)
    # nothing was written into the book, and no temporary folders were left behind
    assert list((root / "results").iterdir()) == []
    assert sorted(p.name for p in (root / "runs").iterdir()) == ["base", "base2", "lam"]
    assert (root / "chapters" / "01-toy.ipynb").read_bytes() == FIXTURE.read_bytes()


def test_override_reaches_the_kernel(runs):
    """Recompute the chapter's EWMA from its saved returns with lam=0.9."""
    root, _ = runs
    folder = root / "runs" / "lam" / "results"
    returns = pl.read_csv(folder / "returns.csv")["ret"].to_numpy()
    saved = pl.read_csv(folder / "ewma.csv")["variance"].to_numpy()
    expected = np.empty_like(returns)
    expected[0] = returns[:20].var()
    for t in range(1, len(returns)):
        expected[t] = 0.9 * expected[t - 1] + 0.1 * returns[t - 1] ** 2
    np.testing.assert_allclose(saved, expected, rtol=volbook.results.RTOL)  # from rounded returns
    metrics = json.loads((root / "runs" / "lam" / "metrics.json").read_text())
    assert metrics["kernel"] == {"OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    assert math.isclose(metrics["forecast"]["h5"], 5 * expected[-1], rel_tol=volbook.results.RTOL)


def test_same_parameters_give_identical_bytes(runs):
    root, _ = runs
    first, second = snapshot(root / "runs" / "base"), snapshot(root / "runs" / "base2")
    assert sorted(first) == ["01-toy.ipynb", "metrics.json", "params.yaml", "results/ewma.csv", "results/returns.csv"]
    assert first == second


def test_executed_notebook_has_no_run_dependent_metadata(runs):
    root, _ = runs
    text = (root / "runs" / "lam" / "01-toy.ipynb").read_text()
    for needle in ("start_time", "end_time", "duration", "\"papermill\"", "iopub", str(root), "/tmp"):
        assert needle not in text
    nb = nbformat.read(root / "runs" / "lam" / "01-toy.ipynb", as_version=4)
    nbformat.validate(nb)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and injected[0].source == "# Parameters\nlam = 0.9\n"
    assert injected[0].id == "injected-parameters"
    assert [c.id for c in nb.cells] == ["intro", "parameters", "injected-parameters", "imports", "ewma", "save"]
    assert nb.cells[4].outputs[0].text.startswith("mean EWMA variance")
    base = nbformat.read(root / "runs" / "base" / "01-toy.ipynb", as_version=4)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in base.cells)


def test_out_refuses_a_folder_that_is_not_a_run(tmp_path):
    root = make_book(tmp_path)
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ParameterError, match="precious exists and is not a volbook run folder"):
        run_chapter("toy", {}, other, root=root)
    assert (other / "notes.txt").read_text() == "keep me"
    with pytest.raises(ParameterError, match="did you mean 'lam'"):
        run_chapter("toy", {"lamb": "1"}, tmp_path / "new", root=root)
    assert not (tmp_path / "new").exists()


def test_refresh_book_replaces_chapter_and_results(runs, tmp_path):
    root = make_book(tmp_path / "book")
    stale = root / "results" / "01-toy"
    stale.mkdir()
    (stale / "old-table.csv").write_text("x\n1\n")

    report = run_chapter("toy", {"lam": "0.9"}, None, root=root)
    assert report.out is None and report.notebook == root / "chapters" / "01-toy.ipynb"
    assert sorted(p.name for p in stale.iterdir()) == ["ewma.csv", "metrics.json", "params.yaml", "returns.csv"]
    lam_run = snapshot(runs[0] / "runs" / "lam")
    assert (root / "chapters" / "01-toy.ipynb").read_bytes() == lam_run["01-toy.ipynb"]
    book = snapshot(stale)
    assert {k: book[k] for k in ("ewma.csv", "returns.csv", "metrics.json", "params.yaml")} == {
        "ewma.csv": lam_run["results/ewma.csv"],
        "returns.csv": lam_run["results/returns.csv"],
        "metrics.json": lam_run["metrics.json"],
        "params.yaml": lam_run["params.yaml"],
    }
    text = (root / "chapters" / "01-toy.ipynb").read_text()
    assert 'results_dir = \\"../results/01-toy\\"' in text and "volbook-01-toy" not in text

    # a default run removes the injected cell again and matches the default run folder
    run_chapter("01", {}, None, root=root)
    base_run = snapshot(runs[0] / "runs" / "base")
    assert (root / "chapters" / "01-toy.ipynb").read_bytes() == base_run["01-toy.ipynb"]
    assert (stale / "metrics.json").read_bytes() == base_run["metrics.json"]
    assert sorted(p.name for p in (root / "chapters").iterdir()) == ["01-toy.ipynb"]
    assert sorted(p.name for p in (root / "results").iterdir()) == ["01-toy"]
    assert sorted(p.name for p in root.iterdir()) == ["_quarto.yml", "chapters", "results"]

    # diff by chapter name reads the committed results
    assert not diff_runs("toy", runs[0] / "runs" / "base", root=root).has_differences
    changed = diff_runs("toy", runs[0] / "runs" / "lam", root=root)
    assert [c.name for c in changed.parameters] == ["lam"]


def book_with_results_and_run(runs, tmp_path):
    """A toy book with committed results, and a copy of a finished run folder beside it."""
    root = make_book(tmp_path / "book")
    run_folder = tmp_path / "run"
    shutil.copytree(runs[0] / "runs" / "base", run_folder)
    (root / "results" / "01-toy").mkdir()
    (root / "results" / "01-toy" / "metrics.json").write_text("{}\n")
    return root, run_folder


def test_failed_run_changes_nothing(runs, tmp_path):
    root, run_folder = book_with_results_and_run(runs, tmp_path)
    before_book, before_run = snapshot(root), snapshot(run_folder)

    for out in (None, run_folder):
        with pytest.raises(ChapterExecutionError) as info:
            run_chapter("toy", {"fail": "true"}, out, root=root)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith("chapter 01-toy failed in cell In [4]: ValueError: toy chapter asked to fail;")
        kept = Path(message.rsplit("failed notebook and kernel log kept in ", 1)[1])
        assert "toy chapter asked to fail" in (kept / "01-toy.ipynb").read_text()
        assert sorted(p.name for p in kept.iterdir()) == ["01-toy.ipynb", "kernel.log"]
        shutil.rmtree(kept)
    assert snapshot(root) == before_book
    assert snapshot(run_folder) == before_run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book", "run"]


def failing_copies(monkeypatch):
    """Make every file copy into a transaction (``.volbook-tmp``) fail, as on a full disk."""
    real = shutil.copyfile

    def copyfile(src, dst, *args, **kwargs):
        if _fs.STAGING in str(dst):
            raise OSError(28, "No space left on device (simulated)")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", copyfile)


def test_failure_after_execution_leaves_no_temporary_files(runs, tmp_path, monkeypatch):
    """A run that fails while staging its outputs removes its scratch folder and its staged
    copies, and changes neither the book nor the run folder."""
    root, run_folder = book_with_results_and_run(runs, tmp_path)
    before_book, before_run = snapshot(root), snapshot(run_folder)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    failing_copies(monkeypatch)
    for out in (None, run_folder, tmp_path / "new-run"):
        with pytest.raises(OSError, match="simulated"):
            run_chapter("toy", {"lam": "0.9"}, out, root=root)
        assert list(scratch.iterdir()) == []
        assert snapshot(root) == before_book and snapshot(run_folder) == before_run
        assert [p for p in tmp_path.rglob("*") if ".tmp" in p.name] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book", "run", "tmp"]


def test_refresh_updates_notebook_and_results_together(tmp_path, monkeypatch):
    """If the notebook cannot be replaced, the results folder is put back as it was."""
    root = make_book(tmp_path / "book")
    committed = root / "results" / "01-toy"
    committed.mkdir()
    (committed / "metrics.json").write_text('{"committed": 1}\n')
    notebook = root / "chapters" / "01-toy.ipynb"
    before = snapshot(root)
    real = os.replace

    def replace(src, dst):
        if Path(dst) == notebook:
            raise PermissionError(13, "Permission denied (simulated)", str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(PermissionError, match="simulated"):
        run_chapter("toy", {"lam": "0.9"}, None, root=root)
    assert snapshot(root) == before
    assert sorted(p.name for p in (root / "results").iterdir()) == ["01-toy"]
    assert sorted(p.name for p in (root / "chapters").iterdir()) == ["01-toy.ipynb"]
    assert not (root / _fs.STAGING).exists()


# --------------------------------------------------------------------------- _fs


@pytest.mark.parametrize("kind", ["folder", "file", "none"])
def test_replace_puts_the_new_version_in_place(tmp_path, kind):
    target = tmp_path / "target"
    if kind == "folder":
        (target / "sub").mkdir(parents=True)
        (target / "sub" / "old.txt").write_text("old")
    elif kind == "file":
        target.write_text("old")
    staged = _fs.temp_sibling(target)
    assert staged.parent == tmp_path and staged.name.startswith("target.tmp-") and not staged.exists()
    staged.mkdir()
    (staged / "new.txt").write_text("new")
    _fs.replace(staged, target)
    assert snapshot(target) == {"new.txt": b"new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_replace_rolls_back_when_the_move_in_fails(tmp_path, monkeypatch):
    target = tmp_path / "target"
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "old.txt").write_text("old")
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "new.txt").write_text("new")
    real = os.replace

    def replace(src, dst):
        if Path(src) == staged:
            raise OSError(5, "I/O error (simulated)")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="simulated"):
        _fs.replace(staged, target)
    assert snapshot(target) == {"sub/old.txt": b"old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["staged", "target"]


def test_restore_undoes_swap_in(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "old.txt").write_text("old")
    for staged_name, had_target in (("a", True), ("b", False)):
        if not had_target:
            shutil.rmtree(target)
        staged = tmp_path / staged_name
        staged.mkdir()
        (staged / "new.txt").write_text("new")
        backup = _fs.swap_in(staged, target)
        assert snapshot(target) == {"new.txt": b"new"} and not staged.exists()
        _fs.restore(target, backup)
        if had_target:
            assert snapshot(target) == {"old.txt": b"old"}
        else:
            assert backup is None and not target.exists()
        assert [p.name for p in tmp_path.iterdir()] == (["target"] if had_target else [])


# --------------------------------------------------------------------------- diffs


def test_diff_shows_exactly_the_changed_parameter_and_metrics(runs):
    root, _ = runs
    a, b = root / "runs" / "base", root / "runs" / "lam"
    report = diff_runs(a, b)
    assert [(c.name, c.a, c.b) for c in report.parameters] == [("lam", 0.94, 0.9)]
    assert [c.name for c in report.metrics] == [
        "ewma.last_variance", "ewma.mean_variance", "forecast.h1", "forecast.h5"
    ]
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    change = report.metrics[1]
    assert (change.a, change.b) == (ma["ewma"]["mean_variance"], mb["ewma"]["mean_variance"])
    assert change.abs_change == mb["ewma"]["mean_variance"] - ma["ewma"]["mean_variance"]
    assert change.rel_change == change.abs_change / ma["ewma"]["mean_variance"]
    assert list(report.tables) == ["ewma.csv"]
    assert report.tables["ewma.csv"].startswith("differs: 249 values differ; largest in column 'variance', row ")
    assert report.identical_tables == ["returns.csv"]

    text = str(report).splitlines()
    assert text[:3] == [f"a: {a} (01-toy)", f"b: {b} (01-toy)", ""]
    assert "parameters (1 differ)" in text and "metrics (4 differ beyond rtol 0.0001, atol 1e-12)" in text
    assert "tables (1 differ, 1 the same)" in text
    lam_line = next(line for line in text if line.lstrip().startswith("lam "))
    assert lam_line.split() == ["lam", "0.94", "0.9"]
    header = next(line for line in text if line.lstrip().startswith("name") and "abs change" in line)
    row = next(line for line in text if "ewma.mean_variance" in line)
    assert row.index(f"{change.abs_change:+.6g}") == header.index("abs change")  # aligned
    as_json = json.loads(json.dumps(report.to_dict()))
    assert as_json["parameters"] == [
        {"name": "lam", "a": 0.94, "b": 0.9, "abs_change": 0.9 - 0.94, "rel_change": (0.9 - 0.94) / 0.94}
    ]
    assert as_json["tables"] == [{"name": "ewma.csv", "status": report.tables["ewma.csv"]}]
    assert (as_json["rtol"], as_json["atol"]) == (volbook.results.RTOL, volbook.results.ATOL)


def test_diff_of_identical_runs_says_no_differences(runs):
    root, _ = runs
    report = diff_runs(root / "runs" / "base", root / "runs" / "base2")
    assert not report.has_differences
    assert str(report).splitlines()[-1] == "no differences (rtol 0.0001, atol 1e-12)"


def test_diff_tolerance_missing_keys_and_tables(tmp_path):
    def write_run(folder, params, metrics, tables):
        (folder / "results").mkdir(parents=True)
        (folder / "params.yaml").write_text(yaml.safe_dump({"chapter": "01-x", "parameters": params}))
        (folder / "metrics.json").write_text(json.dumps(metrics))
        for name, text in tables.items():
            (folder / "results" / name).write_text(text)

    write_run(tmp_path / "a", {"k": 1, "s": "x"}, {"m": {"v": 1.0, "w": 0.0, "gone": 1}, "s": "a"}, {"t.csv": "1\n", "only_a.csv": ""})
    write_run(tmp_path / "b", {"k": 1, "s": "y"}, {"m": {"v": 1.0 + 1e-13, "w": 2.0, "new": [1]}, "s": "a"}, {"t.csv": "1\n"})
    report = diff_runs(tmp_path / "a", tmp_path / "b")
    assert [(c.name, c.a, c.b) for c in report.parameters] == [("s", "x", "y")]
    by_name = {c.name: c for c in report.metrics}
    assert sorted(by_name) == ["m.gone", "m.new", "m.w"]  # 1e-13 relative is within tolerance
    assert by_name["m.gone"].b_missing and by_name["m.new"].a_missing
    assert by_name["m.w"].abs_change == 2.0 and by_name["m.w"].rel_change is None
    assert by_name["m.new"].to_dict() == {"name": "m.new", "b": [1]}
    assert report.tables == {"only_a.csv": "only in a"}
    assert "(missing)" in str(report)

    with pytest.raises(DataError, match="is not a run or results folder"):
        diff_runs(tmp_path / "a" / "results", tmp_path / "b")


def test_diff_never_replaces_a_missing_folder_by_a_chapter(runs, tmp_path):
    """Only a bare name is a chapter; a path that does not exist is an error."""
    root = make_book(tmp_path / "book")
    shutil.copytree(runs[0] / "runs" / "base", root / "results" / "01-toy")
    base = runs[0] / "runs" / "base"
    for missing in (tmp_path / "nonexist" / "1", "nonexist/1", "runs/toy", "./toy"):
        message = f"^no such run folder: {re.escape(str(missing))}$"
        with pytest.raises(DataError, match=message):
            diff_runs(missing, "1", root=root)
        with pytest.raises(DataError, match=message):
            diff_runs(base, missing, root=root)
    with pytest.raises(DataError, match="params.yaml is a file, not a run or results folder"):
        diff_runs(base / "params.yaml", base)
    assert not diff_runs("1", base, root=root).has_differences  # a bare name still works


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("metrics.json", '{"m": 1', r"metrics\.json: invalid JSON \(line 1\)"),
        ("metrics.json", "[1, 2]", r"metrics\.json: expected a JSON object"),
        ("metrics.json", b"\xff\xfe", r"metrics\.json: not UTF-8 text"),
        ("params.yaml", "- 1\n- 2\n", r"params\.yaml: expected a mapping with 'chapter' and 'parameters'"),
        ("params.yaml", "parameters: [1]\n", r"params\.yaml: expected a mapping"),
        ("params.yaml", "chapter: [x\n", r"params\.yaml: invalid YAML \(line 2\)"),
    ],
)
def test_diff_of_malformed_files_is_a_data_error(runs, tmp_path, name, text, match):
    bad = tmp_path / "bad"
    shutil.copytree(runs[0] / "runs" / "base", bad)
    if isinstance(text, bytes):
        (bad / name).write_bytes(text)
    else:
        (bad / name).write_text(text)
    with pytest.raises(DataError, match=match):
        diff_runs(bad, runs[0] / "runs" / "base")
