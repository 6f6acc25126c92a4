"""volbook.params: the constraints a chapter declares in its parameters cell, and their checks."""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest

from volbook.errors import DataError, ParameterError
from volbook.params import Rule, chapter_parameters, validate_parameters

CELL = """\
# a comment line may say anything, even a = b
source = "a"  # where; in {a, b, "c d"}
path = None  # a file; file
start = "2001-01-01"  # first day; date
end = "2002-01-01"  # last day; date, > start
horizons = [1, 5]  # horizons; each in [1, 250], unique, non-empty
lam = 0.9  # decay; in (0, 1)
lo = 0.0  # lower weight; in [0, hi]
hi = 2.0  # upper weight; > 0
k = 3  # count; in [1, inf)
chunk = 10  # no constraint here
note = None  # text with no constraint
results_dir = "../results/01-x"
"""


def notebook(tmp_path: Path, source: str = CELL) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source, id="p")])
    nb.cells[0].metadata["tags"] = ["parameters"]
    path = tmp_path / "01-x.ipynb"
    nbformat.write(nb, path)
    return path


def test_constraints_are_parsed_from_the_comments(tmp_path):
    params = chapter_parameters(notebook(tmp_path))
    assert params["lam"].description == "decay" and params["lam"].constraints == "in (0, 1)"
    assert params["lam"].rules == (Rule("in (0, 1)", "interval", False, 0, 1, (False, False)),)
    assert params["k"].rules[0].high == math.inf and params["k"].rules[0].closed == (True, False)
    assert params["hi"].rules == (Rule("> 0", "interval", False, 0, math.inf, (False, False)),)
    assert params["source"].rules[0].choices == ("a", "b", "c d")
    assert [r.kind for r in params["horizons"].rules] == ["interval", "unique", "non-empty"]
    assert params["horizons"].rules[0].each
    assert [r.kind for r in params["end"].rules] == ["date", "interval"]
    assert params["end"].rules[1].names() == {"start"} and params["lo"].rules[0].names() == {"hi"}
    assert params["chunk"].rules == () and params["chunk"].description == "no constraint here"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lam": "1"}, "parameter 'lam' of chapter 01-x: must be in (0, 1), got 1.0"),
        ({"lam": "0"}, "must be in (0, 1), got 0.0"),
        ({"horizons": "[0]"}, "parameter 'horizons' of chapter 01-x: every element must be in [1, 250], got 0"),
        ({"horizons": "[]"}, "parameter 'horizons' of chapter 01-x: must be a non-empty list, got []"),
        ({"horizons": "[1, 5, 1]"}, "must be free of repeats, got [1, 5, 1] (1 repeated)"),
        ({"hi": "-1"}, "parameter 'hi' of chapter 01-x: must be > 0, got -1.0"),
        ({"lo": "3"}, "parameter 'lo' of chapter 01-x: must be in [0, hi (2.0)], got 3.0"),
        ({"hi": "0.5", "lo": "1"}, "must be in [0, hi (0.5)], got 1.0"),
        ({"k": "0"}, "parameter 'k' of chapter 01-x: must be in [1, inf), got 0"),
        ({"source": "bb"}, "parameter 'source' of chapter 01-x: must be one of a, b, c d, got 'bb' (did you mean b?)"),
        ({"start": "yesterday"}, "parameter 'start' of chapter 01-x: must be a date YYYY-MM-DD, got 'yesterday'"),
        ({"start": "2001-02-30"}, "must be a date YYYY-MM-DD, got '2001-02-30'"),
        ({"end": "2000-06-30"}, "parameter 'end' of chapter 01-x: must be > start ('2001-01-01'), got '2000-06-30'"),
        ({"start": "2003-01-01"}, "parameter 'end' of chapter 01-x: must be > start ('2003-01-01'), got '2002-01-01'"),
    ],
)
def test_values_outside_the_constraints_are_refused(tmp_path, overrides, message):
    with pytest.raises(ParameterError) as info:
        validate_parameters(notebook(tmp_path), overrides)
    assert message in str(info.value)
    assert str(info.value).startswith("parameter '")


def test_values_inside_the_constraints_pass(tmp_path):
    path = notebook(tmp_path)
    got = validate_parameters(
        path,
        {"lam": "0.5", "horizons": "[1, 250]", "lo": "2", "k": "1000000", "source": "c d",
         "start": "2001-12-31", "chunk": "-5", "note": "=anything"},
    )
    assert got["lo"] == 2.0 and got["horizons"] == [1, 250] and got["source"] == "c d"


def test_file_parameters_resolve_against_the_callers_directory(tmp_path):
    path = notebook(tmp_path)
    caller = tmp_path / "elsewhere"
    caller.mkdir()
    (caller / "prices.csv").write_text("date,close\n")
    got = validate_parameters(path, {"path": "prices.csv"}, cwd=caller)
    assert got == {"path": str(caller / "prices.csv")}
    with pytest.raises(ParameterError, match=r"parameter 'path' of chapter 01-x: must be an existing file, got .*/elsewhere/missing\.csv \(no such file\)$"):
        validate_parameters(path, {"path": "missing.csv"}, cwd=caller)
    with pytest.raises(ParameterError, match=r"must be an existing file, got .*/elsewhere \(a directory\)$"):
        validate_parameters(path, {"path": str(caller)}, cwd=tmp_path)
    assert validate_parameters(path, {"path": "null"}) == {"path": None}


MEMBER_CELL = """\
models = ["a", "b", "c"]  # models; each in {a, b, c, d}, unique, non-empty
baseline = "a"  # compared against; in models
pair = ["a", "b"]  # a subset; each in models
results_dir = "../results/01-x"
"""


def test_a_value_must_be_an_element_of_a_list_parameter(tmp_path):
    """``in name``: one of the values the list parameter ``name`` has in the same run."""
    path = notebook(tmp_path, MEMBER_CELL)
    params = chapter_parameters(path)
    assert params["baseline"].rules == (Rule("in models", "member", within="models"),)
    assert params["baseline"].rules[0].names() == {"models"} and params["pair"].rules[0].each
    assert validate_parameters(path, {"models": "[b, d]", "baseline": "d", "pair": "[d]"}) == {
        "baseline": "d", "models": ["b", "d"], "pair": ["d"]}
    with pytest.raises(ParameterError, match=r"^parameter 'baseline' of chapter 01-x: must be one of models "
                                             r"\(\['b', 'd'\]\), got 'a'$"):
        validate_parameters(path, {"models": "[b, d]", "pair": "[b]"})  # the default baseline left out
    with pytest.raises(ParameterError, match=r"parameter 'pair' of chapter 01-x: every element must be one of models"):
        validate_parameters(path, {"pair": "[a, d]"})


def test_the_panel_chapter_refuses_a_baseline_outside_its_models():
    """A one-model run of chapter 4 must name that model as the baseline, before anything runs."""
    path = Path(__file__).resolve().parents[1] / "chapters" / "04-panel.ipynb"
    with pytest.raises(ParameterError, match=r"parameter 'baseline' of chapter 04-panel: must be one of models"):
        validate_parameters(path, {"models": "[global]"})
    assert validate_parameters(path, {"models": "[global]", "baseline": "global"})["baseline"] == "global"


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("x = 1  # when source = 'file'\n", r"line 1: the comment contains '=', which papermill misreads"),
        ("x = 1  # about x; >= 0\n", r"the comment contains '='"),
        ("x = 1  # about x; positive\n", r"parameter 'x': unknown constraint 'positive' \(known: in \[a, b\]"),
        ("x = 1  # about x; in [0, y]\n", r"parameter 'x': constraint 'in \[0, y\]' names no parameter 'y'"),
        ("x = 1  # about x; in [0, 1 + 2]\n", r"constraint 'in \[0, 1 \+ 2\]': '1 \+ 2' is no number, date or parameter name"),
        ("x = 1  # about x; unique\n", r"parameter 'x': 'unique' applies to lists only"),
        ("x = 5  # about x; in [0, 1]\n", r"the default breaks its own constraint: parameter 'x' of chapter 01-x: must be in \[0, 1\], got 5"),
        ("x = 'a'  # about x; > 0\n", r"constraint '> 0' compares 'a' with > 0: types differ"),
        ("x = 'a'  # about x; in y\n", r"parameter 'x': constraint 'in y' names no parameter 'y'"),
        ("y = 1  # a number\nx = 1  # about x; in y\n", r"parameter 'x': constraint 'in y' needs a list, but 'y' is int"),
    ],
)
def test_badly_declared_constraints_are_chapter_errors(tmp_path, source, match):
    with pytest.raises(DataError, match=match):
        chapter_parameters(notebook(tmp_path, source))


def test_the_book_chapters_declare_valid_constraints():
    """Every chapter's parameters cell parses, and its defaults satisfy its constraints."""
    root = Path(__file__).resolve().parents[1]
    chapters = sorted((root / "chapters").glob("[0-9]*.ipynb"))
    assert chapters
    for path in chapters:
        params = chapter_parameters(path)
        assert validate_parameters(path, {}) == {}
        declared = [p.name for p in params.values() if p.rules]
        assert declared, f"{path.name} declares no constraints"


def test_the_data_line_declares_columns_and_rows(tmp_path):
    from volbook.params import DataRequest, data_request

    assert data_request(notebook(tmp_path)) is None
    cell = "# data: columns=['open', 'close'], min_rows=k * max(horizons) + 250 - len(horizons) // 2\n" + CELL
    request = data_request(notebook(tmp_path, cell))
    assert request == DataRequest(("open", "close"), "k * max(horizons) + 250 - len(horizons) // 2")
    assert request.rows({"k": 3, "horizons": [1, 5]}) == 3 * 5 + 250 - 1
    assert DataRequest().rows({}) == 0


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("# data: columns", r"expected key=value, \.\.\. \(columns=\[\.\.\.\], min_rows=\.\.\.\), got 'columns'"),
        ("# data: columns='close'", r"columns must be a list of column names"),
        ("# data: rows=5", r"unknown key 'rows' \(known: columns, min_rows\)"),
        ("# data: min_rows=windows + 1", r"min_rows names no parameter windows"),
        ("# data: min_rows=k ** 2", r"'k \*\* 2' is not allowed"),
        ("# data: min_rows=sum(horizons)", r"min_rows names no parameter sum"),
        ("# data: min_rows=lam * 10", r"'lam \* 10' is not a whole number of rows"),
        ("# data: min_rows=1\n# data: min_rows=2", r"appears 2 times"),
    ],
)
def test_a_bad_data_line_is_a_chapter_error(tmp_path, line, match):
    from volbook.params import data_request

    with pytest.raises(DataError, match=match):
        data_request(notebook(tmp_path, line + "\n" + CELL))
