"""The ``volbook`` command line: exit codes, messages, output; one real console-script call."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import types
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from volbook.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "toy-chapter.ipynb"
VOLBOOK = Path(sys.executable).parent / "volbook"


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A book with the toy chapter and fake committed results; cwd inside it."""
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    (root / "results" / "01-toy").mkdir(parents=True)
    (root / "_quarto.yml").write_text("project:\n  type: book\n")
    shutil.copyfile(FIXTURE, root / "chapters" / "01-toy.ipynb")
    (root / "results" / "01-toy" / "metrics.json").write_text('{"committed": 1}\n')
    monkeypatch.delenv("VOLBOOK_ROOT", raising=False)
    monkeypatch.chdir(root)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # runs' scratch folders
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("volbook: error: ")
    return err[len("volbook: error: ") : -1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "garch"], "unknown chapter 'garch'; chapters: 01-toy"),
        (["run", "toy", "-p", "lamda=0.9"], "unknown parameter 'lamda' for chapter 01-toy; did you mean 'lam'?"),
        (["run", "toy", "-p", "lam=high"], "parameter 'lam' of chapter 01-toy expects float, got str 'high'"),
        (["run", "toy", "-p", "lam"], "-p expects name=value, got 'lam'"),
        (["run", "toy", "-p", "lam=1", "-p", "lam=2"], "parameter 'lam' is given twice"),
        (["run", "toy", "-p", "results_dir=/tmp/x"], "parameter 'results_dir' of chapter 01-toy is set by the runner"),
        (["diff", "runs/none", "results/01-toy"], "no such run folder: runs/none"),
        (["diff", "none/1", "1"], "no such run folder: none/1"),
        (["diff", "garch", "toy"], "no folder 'garch', and unknown chapter 'garch'; chapters: 01-toy"),
        (["diff", "results/01-toy", "toy"], "is not a run or results folder"),
        # usage errors: one line too, naming the command's --help
        (["run"], "the following arguments are required: chapter (see 'volbook run --help')"),
        (["bogus"], "invalid choice: 'bogus'"),
        ([], "the following arguments are required: COMMAND (see 'volbook --help')"),
        (["run", "toy", "--bogus"], "unrecognized arguments: --bogus"),
        (["diff", "a"], "the following arguments are required: b (see 'volbook diff --help')"),
        (["diff", "toy", "toy", "--rtol", "x"], "argument --rtol: invalid float value: 'x'"),
        (["diff", "toy", "toy", "--atol", "-1"], "tolerances must be >= 0, got rtol=0.0001, atol=-1.0"),
    ],
)
def test_bad_input_exits_2_with_one_line(book, capsys, argv, message):
    before = snapshot(book)
    assert main(argv) == 2
    assert message in one_line_error(capsys)
    assert snapshot(book) == before


@pytest.mark.parametrize(
    ("path", "text", "argv", "message"),
    [
        ("results/01-toy/params.yaml", "- a\n- b\n", ["diff", "toy", "toy"],
         "params.yaml: expected a mapping with 'chapter' and 'parameters'"),
        ("results/01-toy/params.yaml", "chapter: [x\n", ["diff", "toy", "toy"], "params.yaml: invalid YAML (line 2)"),
        ("results/01-toy/metrics.json", '{"m": ', ["diff", "toy", "toy"], "metrics.json: invalid JSON (line 1)"),
        ("chapters/01-toy.ipynb", '{"cells', ["chapters"], "01-toy.ipynb: not a readable notebook (NotJSONError)"),
        ("chapters/01-toy.ipynb", "{}", ["run", "toy"], "01-toy.ipynb: not a readable notebook (ValidationError)"),
        ("chapters/01-toy.ipynb", None, ["chapters"], "Is a directory"),  # an OSError
    ],
)
def test_malformed_files_exit_2_with_one_line(book, capsys, path, text, argv, message):
    (book / "results" / "01-toy" / "params.yaml").write_text("chapter: 01-toy\nparameters: {}\n")
    target = book / path
    target.unlink()
    if text is None:
        target.mkdir()
    else:
        target.write_text(text)
    before = snapshot(book)
    assert main(argv) == 2
    assert message in one_line_error(capsys)
    assert snapshot(book) == before


def test_help_still_prints_help(capsys):
    for argv, usage in ((["--help"], "usage: volbook "), (["run", "--help"], "usage: volbook run ")):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
        out = capsys.readouterr()
        assert out.out.startswith(usage) and out.err == ""


def test_no_book_root_is_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VOLBOOK_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["chapters"]) == 2
    assert "no _quarto.yml" in one_line_error(capsys)


def test_chapters_lists_parameters(book, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside the book: --root after the command, then before it
    for argv in (["chapters", "--root", str(book)], ["--root", str(book), "chapters"]):
        assert main(argv) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "01-toy"
        assert [line.split() for line in lines[1:]] == [
            ["lam", "float", "0.94", "in", "(0,", "1)"],
            ["n_obs", "int", "250", "in", "[30,", "100000]"],
            ["seed", "int", "7"],
            ["label", "str", '"toy"'],
            ["horizons", "list[int]", "[1,", "5]", "each", "in", "[1,", "n_obs),", "unique,", "non-empty"],
            ["weights", "list[float]", "[0.5,", "1.5]"],
            ["fail", "bool", "false"],
            ["note", "optional", "null"],
        ]
        assert lines[1].index("float") == lines[5].index("list[int]")  # aligned
        assert lines[1].index("in (0, 1)") == lines[2].index("in [30, 100000]")


def test_run_diff_and_failed_run(book, capsys):
    committed = snapshot(book)
    assert main(["run", "toy", "--out", "runs/base"]) == 0
    assert "run folder" in capsys.readouterr().out
    assert main(["run", "1", "-p", "seed=8", "-p", "label=other", "--out", "runs/seed8"]) == 0
    capsys.readouterr()
    run_folder = snapshot(book / "runs" / "base")
    assert sorted(run_folder) == ["01-toy.ipynb", "metrics.json", "params.yaml", "results/ewma.csv", "results/returns.csv"]

    assert main(["diff", "runs/base", "runs/seed8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(p["name"], p["a"], p["b"]) for p in report["parameters"]] == [("label", "toy", "other"), ("seed", 7, 8)]
    names = [m["name"] for m in report["metrics"]]
    assert "label" in names and "data.n_obs" not in names and "kernel.PYTHONHASHSEED" not in names
    assert [t["name"] for t in report["tables"]] == ["ewma.csv", "returns.csv"]
    assert all(t["status"].startswith("differs: ") for t in report["tables"])

    assert main(["diff", "runs/base", "runs/base"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no differences (rtol 0.0001, atol 1e-12)"

    # a failing run: exit 2, one line naming cell and exception; nothing changes
    assert main(["run", "toy", "-p", "fail=true", "--out", "runs/base"]) == 2
    message = one_line_error(capsys)
    assert "chapter 01-toy failed in cell In [4]: ValueError: toy chapter asked to fail" in message
    kept = Path(message.rsplit("failed notebook and kernel log kept in ", 1)[1])
    assert (kept / "01-toy.ipynb").is_file()
    shutil.rmtree(kept)
    assert snapshot(book / "runs" / "base") == run_folder
    after = snapshot(book)
    assert {k: v for k, v in after.items() if not k.startswith("runs/")} == committed
    assert sorted(p.name for p in (book / "runs").iterdir()) == ["base", "seed8"]


def test_diff_tolerance_flags(book, capsys):
    """--rtol/--atol reach the comparison: a 0.5% change is a difference by default and
    none with --rtol 0.01."""
    assert main(["run", "toy", "--out", "runs/a"]) == 0
    capsys.readouterr()
    shutil.copytree(book / "runs" / "a", book / "runs" / "b")
    metrics = json.loads((book / "runs" / "b" / "metrics.json").read_text())
    metrics["ewma"]["mean_variance"] *= 1.005
    (book / "runs" / "b" / "metrics.json").write_text(json.dumps(metrics))
    assert main(["diff", "runs/a", "runs/b", "--json"]) == 0
    assert [m["name"] for m in json.loads(capsys.readouterr().out)["metrics"]] == ["ewma.mean_variance"]
    assert main(["diff", "runs/a", "runs/b", "--rtol", "0.01"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no differences (rtol 0.01, atol 1e-12)"


def test_render_calls_render_book(book, capsys, monkeypatch):
    calls = []

    def render_book(root, *, output, use_quarto):
        calls.append((root, output, use_quarto))
        return "rendered 1 chapter"

    module = types.ModuleType("volbook.render")
    module.render_book = render_book
    monkeypatch.setitem(sys.modules, "volbook.render", module)
    assert main(["render", "--no-quarto", "--output", "site"]) == 0
    assert main(["render"]) == 0
    assert calls == [(book.resolve(), Path("site"), False), (book.resolve(), None, None)]
    assert capsys.readouterr().out == "rendered 1 chapter\nrendered 1 chapter\n"


def test_data_prints_rows_assets_and_spans(capsys, monkeypatch):
    calls = []

    def load(source, **options):
        calls.append((source, options))
        return pl.DataFrame(
            {
                "date": [date(2020, 1, 2), date(2020, 1, 3), date(2020, 1, 3)],
                "asset": ["AAPL", "AAPL", "MSFT"],
                "close": [1.0, 2.0, 3.0],
            }
        )

    module = types.ModuleType("volbook.data")
    module.load = load
    monkeypatch.setitem(sys.modules, "volbook.data", module)
    assert main(["data", "stocks", "--start", "2020-01-01", "--assets", "AAPL, MSFT"]) == 0
    assert calls == [("stocks", {"start": "2020-01-01", "assets": ["AAPL", "MSFT"]})]
    lines = capsys.readouterr().out.splitlines()
    assert main(["data", "stocks", "--root", "."]) == 0  # every command takes --root
    assert main(["--root", ".", "data", "stocks"]) == 0
    assert capsys.readouterr().out.splitlines() == lines + lines
    assert calls[1:] == [("stocks", {}), ("stocks", {})]
    assert lines[0] == "stocks: 3 rows, 2 assets, columns date, asset, close"
    assert [line.split() for line in lines[2:]] == [
        ["AAPL", "2", "2020-01-02", "2020-01-03"],
        ["MSFT", "1", "2020-01-03", "2020-01-03"],
    ]


def test_data_with_the_real_loader(capsys):
    from volbook.data import load

    assert main(["data", "synthetic", "--start", "2001-01-01", "--end", "2001-06-30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    panel = load("synthetic", start="2001-01-01", end="2001-06-30")
    assets = sorted(set(panel["asset"]))
    assert lines[0] == f"synthetic: {panel.height} rows, {len(assets)} assets, columns {', '.join(panel.columns)}"
    first = panel.filter(pl.col("asset") == assets[0])["date"]
    assert lines[2].split() == [assets[0], str(first.len()), str(first.min()), str(first.max())]
    assert len(lines) == 2 + len(assets)
    assert main(["data", "nowhere"]) == 2
    assert "unknown data source 'nowhere'" in one_line_error(capsys)


def test_console_script_entry_point(book):
    ok = subprocess.run([str(VOLBOOK), "chapters", "--root", str(book)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[:2] == ["01-toy", "  lam       float        0.94        in (0, 1)"]
    bad = subprocess.run([str(VOLBOOK), "run", "nope", "--root", str(book)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr == "volbook: error: unknown chapter 'nope'; chapters: 01-toy\n"
    usage = subprocess.run([str(VOLBOOK), "run"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and usage.stdout == ""
    assert usage.stderr == (
        "volbook: error: the following arguments are required: chapter (see 'volbook run --help')\n"
    )
