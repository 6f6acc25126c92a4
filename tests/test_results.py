"""volbook.results: precision, tolerances, keeping committed bytes, and committed results
that must agree with what their chapter computes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from volbook.results import (
    RTOL,
    ResultsMismatch,
    compare_metrics,
    compare_tables,
    diff_runs,
    format_metrics,
    format_table,
    keep_committed,
    save_results,
)
from volbook.runner import run_chapter

FIXTURE = Path(__file__).parent / "fixtures" / "toy-chapter.ipynb"


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.getbasetemp()))
    monkeypatch.delenv("VOLBOOK_CHECK_RESULTS", raising=False)
    monkeypatch.delenv("VOLBOOK_RESULTS_DIR", raising=False)


TABLE = pl.DataFrame(
    {
        "model": ["ewma", "garch", "gjr"],
        "qlike": [1.75638667, 0.62725444, 0.55985984],
        "mse": [2.2e-7, 2.63e-8, 1.9e-7],
        "change": [-2.2e-16, 0.0134, -0.4],
        "pvalue": [0.41, 3e-12, 0.9],
    }
)
METRICS = {"qlike": {"ewma": 1.75638667, "garch": 0.62725444}, "origins": 4528, "best": "gjr"}


def scaled(frame: pl.DataFrame, column: str, row: int, factor: float) -> pl.DataFrame:
    values = frame[column].to_list()
    values[row] *= factor
    return frame.with_columns(pl.Series(column, values))


def write_run(folder: Path, table: pl.DataFrame, metrics: dict) -> Path:
    save_results(folder / "results", tables={"t": table}, metrics=metrics)
    os.replace(folder / "results" / "metrics.json", folder / "metrics.json")
    (folder / "params.yaml").write_text(yaml.safe_dump({"chapter": "01-x", "parameters": {"a": 1}}))
    return folder


@pytest.mark.parametrize(("factor", "reported"), [(1 + 1e-9, False), (1 + 1e-6, False), (1 + 1e-3, True), (1 - 1e-3, True)])
def test_diff_ignores_noise_and_reports_a_real_change(tmp_path, factor, reported):
    """A 1e-9 relative change (another machine's noise) is no change; 1e-3 is one."""
    base = write_run(tmp_path / "a", TABLE, METRICS)
    for column, row in (("qlike", 1), ("mse", 1), ("pvalue", 0)):
        other = write_run(tmp_path / f"b-{column}", scaled(TABLE, column, row, factor), METRICS)
        report = diff_runs(base, other)
        assert report.has_differences is reported, (column, str(report))
        if reported:
            assert report.tables["t.csv"].startswith(f"differs: 1 value differs; largest in column '{column}', row {row + 1}: ")
    metrics = {**METRICS, "qlike": {**METRICS["qlike"], "garch": METRICS["qlike"]["garch"] * factor}}
    report = diff_runs(base, write_run(tmp_path / "m", TABLE, metrics))
    assert [c.name for c in report.metrics] == (["qlike.garch"] if reported else [])
    assert not report.tables


def test_tolerances_are_on_the_scale_of_the_column(tmp_path):
    # a near-zero entry moving by optimizer noise (1e-7 on a column of size 0.4) is no change,
    # a p-value of 3e-12 turning into 1e-9 beside p-values near 0.9 neither
    noisy = TABLE.with_columns(pl.Series("change", [1.1e-7, 0.0134, -0.4]), pl.Series("pvalue", [0.41, 1e-9, 0.9]))
    assert compare_tables(format_table(TABLE), format_table(noisy)) is None
    # but a 1e-3 change of the smallest mse (2.6e-8, in a column up to 2.2e-7) is reported
    assert compare_tables(format_table(TABLE), format_table(scaled(TABLE, "mse", 1, 1.001))) is not None
    # flags: --rtol 0 reports any change, a loose rtol hides a 1e-3 change
    assert compare_tables(format_table(TABLE), format_table(scaled(TABLE, "qlike", 0, 1 + 1e-5)), rtol=0) is not None
    assert compare_tables(format_table(TABLE), format_table(scaled(TABLE, "qlike", 0, 1.001)), rtol=1e-2) is None
    assert compare_tables("a\n0\n", "a\n1e-13\n", rtol=0) is None  # atol 1e-12
    assert compare_tables("a\n0\n", "a\n1e-13\n", rtol=0, atol=0) is not None


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        ("x,y\n1,a\n", "x,z\n1,a\n", "columns differ: x, y vs x, z"),
        ("x\n1\n", "x\n1\n2\n", "1 rows vs 2"),
        ("x,y\n1,a\n", "x,y\n1,b\n", "1 value differs; largest in column 'y', row 1: a -> b"),
        ("x\nnan\n", "x\n1\n", "1 value differs; largest in column 'x', row 1: nan -> 1"),
        ("d\n2020-01-01\n", "d\n2020-01-02\n", "1 value differs; largest in column 'd', row 1: 2020-01-01 -> 2020-01-02"),
    ],
)
def test_compare_tables_names_what_differs(a, b, why):
    assert compare_tables(a, b) == why


def test_compare_metrics_names_the_first_difference():
    a = format_metrics(METRICS)
    assert compare_metrics(a, format_metrics({**METRICS, "origins": 4529})) == "1 differ; first 'origins': 4528 -> 4529"
    assert compare_metrics(a, format_metrics({**METRICS, "best": None})) == "1 differ; first 'best': gjr -> null"
    assert compare_metrics(a, format_metrics({**METRICS, "extra": 1})) == "1 differ; first 'extra': (missing) -> 1"
    assert compare_metrics(a, format_metrics({**METRICS, "qlike": {"ewma": 1.7563867, "garch": 0.62725444}})) is None


def test_keep_committed_keeps_bytes_within_tolerance_at_the_current_precision(tmp_path):
    committed, new = tmp_path / "committed", tmp_path / "new"
    for folder in (committed, new):
        folder.mkdir()
    # another machine: the last saved digit moved (within tolerance)
    (committed / "noise.csv").write_text(format_table(TABLE))
    (new / "noise.csv").write_text(format_table(scaled(TABLE, "qlike", 1, 1 + 2e-6)))
    # a real change
    (committed / "real.csv").write_text(format_table(TABLE))
    (new / "real.csv").write_text(format_table(scaled(TABLE, "qlike", 1, 1.001)))
    # committed at an older, higher precision: rewritten at the current one
    (committed / "old.csv").write_text("x\n0.6272544386\n")
    (new / "old.csv").write_text("x\n0.627254\n")
    (committed / "metrics.json").write_text(format_metrics(METRICS))
    (new / "metrics.json").write_text(format_metrics({**METRICS, "qlike": {"ewma": 1.75638, "garch": 0.62725444}}))
    (new / "params.yaml").write_text("x: 1\n")
    (new / "only_new.csv").write_text("x\n1\n")
    new_before = {p.name: p.read_bytes() for p in new.iterdir()}

    assert keep_committed(new, committed) == ["metrics.json", "noise.csv"]
    for name in ("metrics.json", "noise.csv"):
        assert (new / name).read_bytes() == (committed / name).read_bytes() != new_before[name]
    for name in ("real.csv", "old.csv", "params.yaml", "only_new.csv"):
        assert (new / name).read_bytes() == new_before[name]


# --------------------------------------------------------------------------- committed results


def test_save_results_checks_the_committed_results_when_asked(tmp_path, monkeypatch):
    committed = tmp_path / "results" / "01-x"
    save_results(committed, tables={"t": TABLE}, metrics=METRICS)
    monkeypatch.setenv("VOLBOOK_CHECK_RESULTS", "1")
    monkeypatch.setenv("VOLBOOK_RESULTS_DIR", str(tmp_path / "scratch"))
    save_results(committed, tables={"t": scaled(TABLE, "qlike", 0, 1 + 1e-9)}, metrics=METRICS)  # noise: fine
    assert (tmp_path / "scratch" / "t.csv").read_text() == (committed / "t.csv").read_text()

    cases = [
        ({"t": scaled(TABLE, "qlike", 0, 1.001)}, METRICS, r"results/01-x/t\.csv differs from what the chapter computes \(1 value differs; largest in column 'qlike', row 1: 1\.75639 -> 1\.75814\)"),
        ({"t": TABLE}, {**METRICS, "origins": 1}, r"results/01-x/metrics\.json differs .*first 'origins': 4528 -> 1\)"),
        ({"t": TABLE, "u": TABLE}, METRICS, r"results/01-x/u\.csv is not in the committed results"),
        ({}, METRICS, r"results/01-x/t\.csv is only in the committed results"),
    ]
    for tables, metrics, match in cases:
        with pytest.raises(ResultsMismatch, match=match + r": rerun 'volbook run 01-x' and commit"):
            save_results(committed, tables=tables, metrics=metrics)
    with pytest.raises(ResultsMismatch, match="no committed results at .*/results/01-y"):
        save_results(tmp_path / "results" / "01-y", tables={"t": TABLE}, metrics=METRICS)


def test_conftest_turns_the_check_on_for_nbval():
    import conftest  # noqa: F401  (imported by pytest already; the variables are set)

    assert os.environ.get("VOLBOOK_CHECK_RESULTS", "1") == "1"
    assert Path(conftest.__file__).read_text().count('os.environ.setdefault("VOLBOOK_CHECK_RESULTS", "1")') == 1


def test_nbval_fails_when_a_committed_result_is_edited_by_hand(tmp_path):
    """The chain the test suite relies on: nbval re-executes a chapter whose results were
    edited by hand, save_results compares, the last cell fails."""
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    (root / "_quarto.yml").write_text("project:\n  type: book\n")
    shutil.copyfile(FIXTURE, root / "chapters" / "01-toy.ipynb")
    run_chapter("toy", {}, None, root=root)
    env = dict(os.environ, VOLBOOK_CHECK_RESULTS="1", VOLBOOK_RESULTS_DIR=str(tmp_path / "scratch"),
               OMP_NUM_THREADS="1", PYTHONHASHSEED="0")

    def nbval() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
             "--rootdir", str(root), str(root / "chapters" / "01-toy.ipynb")],
            cwd=root, env=env, capture_output=True, text=True, timeout=300,
        )

    clean = nbval()
    assert clean.returncode == 0, clean.stdout[-3000:]
    metrics_path = root / "results" / "01-toy" / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics["ewma"]["mean_variance"] *= 1.01
    metrics_path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    edited = nbval()
    assert edited.returncode == 1
    assert "ResultsMismatch" in edited.stdout and "first 'ewma.mean_variance'" in edited.stdout


def test_refresh_keeps_committed_bytes_that_are_still_right(tmp_path):
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    (root / "_quarto.yml").write_text("project:\n  type: book\n")
    shutil.copyfile(FIXTURE, root / "chapters" / "01-toy.ipynb")
    run_chapter("toy", {}, None, root=root)
    results = root / "results" / "01-toy"
    # as if committed on another machine: the last digit of one variance differs
    ewma = (results / "ewma.csv").read_text().splitlines()
    date, value = ewma[5].split(",")
    digits = value.split("e")
    last = int(digits[0][-1])
    ewma[5] = f"{date},{digits[0][:-1]}{(last + 1) % 10 if last < 9 else 8}e{digits[1]}"
    noisy = "\n".join(ewma) + "\n"
    (results / "ewma.csv").write_text(noisy)
    report = run_chapter("toy", {}, None, root=root)
    assert (results / "ewma.csv").read_text() == noisy
    assert "ewma.csv" in report.kept and "returns.csv" in report.kept
    assert RTOL > 1e-5  # one step in the sixth digit is within the tolerance
