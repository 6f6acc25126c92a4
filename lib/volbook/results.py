"""A chapter's results: saved at a stated precision, compared with stated tolerances.

Precision
    Every float in a results CSV or in ``metrics.json`` is saved with
    ``SIGNIFICANT_DIGITS`` = 6 significant digits. The GARCH family's estimates move at the
    optimizer's tolerance when anything upstream changes in the last bits (another machine's
    BLAS or package versions, about 1e-8 relative; another ``garch_chunk_size``, up to 3e-5
    relative on a p-value): six digits keep every figure the book discusses (the smallest
    difference it reads is about 1e-3 relative) and drop most of that noise.

Tolerances
    Two saved results are "the same" when every number agrees within

        ``|a - b| <= atol + rtol * scale``

    where ``scale`` is, for a table, the largest magnitude in that column (on either side;
    a p-value of 1e-9 beside p-values near 0.5 is compared on the scale of 0.5, and a
    near-zero difference of two losses on the scale of its column), and for a metric the
    larger of ``|a|`` and ``|b|``. Defaults: ``RTOL`` = 1e-4 (ten times the largest
    column-relative change measured when ``garch_chunk_size`` changes, 7e-6, plus the
    rounding step of six digits, 1e-5) and ``ATOL`` = 1e-12 (below any value the chapters
    save). Text, dates, integers written as text and the set of rows and columns must match
    exactly. ``volbook diff --rtol/--atol`` changes them.

Where results go
    ``save_results(results_dir, ...)`` writes to ``results_dir`` unless the environment
    variable ``VOLBOOK_RESULTS_DIR`` is set, which then wins (the runner and the tests set it
    so that executing a chapter never writes into the book's committed results).

Committed results agree with the chapter
    When ``VOLBOOK_CHECK_RESULTS=1`` (set by the test suite's ``conftest.py``, so during
    nbval's re-execution of every chapter), :func:`save_results` also compares what it
    writes with the committed folder ``results_dir`` and raises :class:`ResultsMismatch`
    naming the first file and value that differ beyond the tolerances: a number edited by
    hand in ``results/``, or results not refreshed with their chapter, fail the tests.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from volbook import _fs
from volbook.errors import DataError, ParameterError, VolbookError

__all__ = [
    "SIGNIFICANT_DIGITS",
    "RTOL",
    "ATOL",
    "RESULTS_DIR_ENV",
    "CHECK_RESULTS_ENV",
    "ResultsMismatch",
    "ValueChange",
    "DiffReport",
    "save_results",
    "format_table",
    "format_metrics",
    "compare_tables",
    "compare_metrics",
    "keep_committed",
    "diff_runs",
]

#: Significant digits of every float written to a results CSV or to metrics.json.
SIGNIFICANT_DIGITS = 6
#: Default relative tolerance of every comparison of saved results (see the module notes).
RTOL = 1e-4
#: Default absolute tolerance of every comparison of saved results.
ATOL = 1e-12
#: Environment variable that, when set, overrides the ``results_dir`` of :func:`save_results`.
RESULTS_DIR_ENV = "VOLBOOK_RESULTS_DIR"
#: Environment variable that, when ``1``, makes :func:`save_results` check the committed results.
CHECK_RESULTS_ENV = "VOLBOOK_CHECK_RESULTS"

_TABLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


class ResultsMismatch(VolbookError):
    """The results a chapter computes differ from its committed ``results/<stem>/``."""


# --------------------------------------------------------------------------- saving


def save_results(
    results_dir: str | Path,
    *,
    tables: Mapping[str, pl.DataFrame],
    metrics: Mapping[str, Any],
) -> None:
    """Write a chapter's tables and metrics; the last call of every chapter.

    Parameters
    ----------
    results_dir : str or Path
        Folder to write to (created if needed), relative to the kernel's working directory
        (``chapters/``). The environment variable ``VOLBOOK_RESULTS_DIR``, when set,
        overrides it.
    tables : mapping of str to polars.DataFrame
        Written as ``<name>.csv`` by :func:`format_table`.
    metrics : mapping
        Nested dicts of numbers, strings, bools, None and lists, written as
        ``metrics.json`` by :func:`format_metrics`.

    Raises
    ------
    ParameterError
        A table name that is no plain file name, a table that is no polars DataFrame, a
        metric of another type.
    ResultsMismatch
        Only when ``VOLBOOK_CHECK_RESULTS=1``: the results differ from the committed ones in
        ``results_dir`` beyond the tolerances (nothing is written then).

    Every file is written to a temporary name in the target folder and renamed into place.
    """
    texts: dict[str, str] = {}
    for name, frame in tables.items():
        if not _TABLE_NAME.match(name):
            raise ParameterError(f"table name '{name}' is not a plain file name")
        if not isinstance(frame, pl.DataFrame):
            raise ParameterError(f"table '{name}' is a {type(frame).__name__}, not a polars DataFrame")
        texts[f"{name}.csv"] = format_table(frame)
    texts["metrics.json"] = format_metrics(metrics)
    if os.environ.get(CHECK_RESULTS_ENV) == "1":
        _check_committed(Path(results_dir).resolve(), texts)
    folder = Path(os.environ.get(RESULTS_DIR_ENV) or results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        _write_atomic(folder / name, text)


def format_table(frame: pl.DataFrame) -> str:
    """A table as CSV text: floats with ``SIGNIFICANT_DIGITS`` significant digits
    (``format(x, ".6g")``), dates ISO ``YYYY-MM-DD``, nulls empty."""
    spec = f".{SIGNIFICANT_DIGITS}g"
    rounded = frame.with_columns(
        pl.Series(
            name,
            [None if v is None else format(v, spec) for v in frame[name].to_list()],
            dtype=pl.String,
        )
        for name, dtype in frame.schema.items()
        if dtype.is_float()
    )
    return rounded.write_csv(date_format="%Y-%m-%d")


def format_metrics(metrics: Mapping[str, Any]) -> str:
    """Metrics as JSON text: keys sorted, indent 2, floats rounded to ``SIGNIFICANT_DIGITS``
    significant digits, numpy scalars as Python values, NaN and infinities as null."""
    payload = json.dumps(_clean_metrics(metrics, ""), indent=2, sort_keys=True, allow_nan=False)
    return payload + "\n"


def _clean_metrics(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        for k in value:
            if not isinstance(k, str):
                raise ParameterError(f"metrics key {k!r} under '{key}' is not a string")
        return {k: _clean_metrics(v, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_metrics(v, f"{key}.{i}") for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return float(format(value, f".{SIGNIFICANT_DIGITS}g")) if math.isfinite(value) else None
    raise ParameterError(f"metric '{key}' has unsupported type {type(value).__name__}")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _check_committed(folder: Path, texts: Mapping[str, str]) -> None:
    """Raise ResultsMismatch unless ``folder`` holds results equal to ``texts`` within the
    default tolerances."""
    stem = folder.name
    fix = f"rerun 'volbook run {stem}' and commit the chapter with its results"
    if not folder.is_dir():
        raise ResultsMismatch(f"no committed results at {folder}: {fix}")
    committed = {p.name for p in folder.iterdir() if p.suffix == ".csv" or p.name == "metrics.json"}
    for name in sorted(committed ^ set(texts)):
        where = "only in the committed results" if name in committed else "not in the committed results"
        raise ResultsMismatch(f"results/{stem}/{name} is {where}: {fix}")
    for name in sorted(texts):
        old = _fs.read_text(folder / name)
        change = compare_metrics(old, texts[name]) if name == "metrics.json" else compare_tables(old, texts[name])
        if change is not None:
            raise ResultsMismatch(
                f"results/{stem}/{name} differs from what the chapter computes ({change}): {fix}"
            )


# --------------------------------------------------------------------------- comparing


@dataclass(frozen=True)
class _Tolerance:
    rtol: float = RTOL
    atol: float = ATOL

    def same(self, a: float, b: float, scale: float) -> bool:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a == b
        return abs(a - b) <= self.atol + self.rtol * max(abs(a), abs(b), scale)


def _number(text: str) -> float | None:
    return float(text) if _NUMBER.match(text) else None


def _significant_digits(text: str) -> int:
    """Significant digits of a number written as text (``"0.012300"`` -> 3)."""
    mantissa = re.split(r"[eE]", text.lstrip("+-"))[0].replace(".", "")
    return len(mantissa.strip("0")) or 1


def _read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def compare_tables(a: str, b: str, *, rtol: float = RTOL, atol: float = ATOL) -> str | None:
    """None when two CSV texts hold the same table within the tolerances, else why not.

    Headers, row counts and every non-numeric field must match exactly; numbers must agree
    within ``atol + rtol * (largest magnitude in their column)``.

    Returns
    -------
    str or None
        E.g. ``"3 values differ; largest in column 'qlike', row 2: 0.627254 -> 0.6282"``.
    """
    ra, rb = _read_csv(a), _read_csv(b)
    if not ra or not rb or ra[0] != rb[0]:
        head_a, head_b = (", ".join(r[0]) if r else "nothing" for r in (ra, rb))
        return f"columns differ: {head_a} vs {head_b}"
    header, ra, rb = ra[0], ra[1:], rb[1:]
    if len(ra) != len(rb):
        return f"{len(ra)} rows vs {len(rb)}"
    if any(len(row) != len(header) for row in ra + rb):
        return "a row has a different number of fields than the header"
    tol = _Tolerance(rtol, atol)
    scale = [0.0] * len(header)
    for row in ra + rb:
        for j, text in enumerate(row):
            x = _number(text)
            if x is not None and math.isfinite(x):
                scale[j] = max(scale[j], abs(x))
    bad: list[tuple[float, int, int]] = []
    for i, (row_a, row_b) in enumerate(zip(ra, rb)):
        for j, (x, y) in enumerate(zip(row_a, row_b)):
            if x == y:
                continue
            nx, ny = _number(x), _number(y)
            if nx is None or ny is None:
                bad.append((math.inf, i, j))
            elif not tol.same(nx, ny, scale[j]):
                bad.append((abs(nx - ny) / (max(abs(nx), abs(ny), scale[j]) or 1.0), i, j))
    if not bad:
        return None
    _, i, j = max(bad)
    what = "value differs" if len(bad) == 1 else "values differ"
    return f"{len(bad)} {what}; largest in column '{header[j]}', row {i + 1}: {ra[i][j]} -> {rb[i][j]}"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _values_equal(a: Any, b: Any, tol: _Tolerance | None) -> bool:
    """Equal values; numbers within ``tol`` (None: exactly, an int equals the same float)."""
    if _is_number(a) and _is_number(b):
        return a == b if tol is None else tol.same(float(a), float(b), 0.0)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_values_equal(x, y, tol) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def compare_metrics(a: str, b: str, *, rtol: float = RTOL, atol: float = ATOL) -> str | None:
    """None when two metrics.json texts agree within the tolerances, else the first name
    that differs (numbers within ``atol + rtol * max(|a|, |b|)``)."""
    fa, fb = _flatten(json.loads(a)), _flatten(json.loads(b))
    changes = _diff_values(fa, fb, _Tolerance(rtol, atol))
    if not changes:
        return None
    first = changes[0]
    sides = " -> ".join("(missing)" if m else _show(v) for v, m in ((first.a, first.a_missing), (first.b, first.b_missing)))
    return f"{len(changes)} differ; first '{first.name}': {sides}"


def keep_committed(saved: Path, committed: Path, *, rtol: float = RTOL, atol: float = ATOL) -> list[str]:
    """Put the committed bytes back wherever a new result file equals the committed one.

    For every ``*.csv`` and ``metrics.json`` in ``saved`` that also exists in ``committed``
    and holds the same results within the tolerances, and whose committed numbers are saved at
    the current precision, the committed file is copied over the new one, so that refreshing
    the book on another machine (whose optimizer noise moves the last digits) leaves
    ``git status`` clean. Returns the names kept.
    """
    kept = []
    for path in sorted(saved.iterdir()):
        old_path = committed / path.name
        if not (path.suffix == ".csv" or path.name == "metrics.json") or not old_path.is_file():
            continue
        old, new = _fs.read_text(old_path), _fs.read_text(path)
        if old == new:
            kept.append(path.name)
            continue
        compare = compare_metrics if path.name == "metrics.json" else compare_tables
        numbers = re.findall(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", old)
        current = all(_significant_digits(n) <= SIGNIFICANT_DIGITS for n in numbers if re.search(r"[.eE]", n))
        if current and compare(old, new, rtol=rtol, atol=atol) is None:
            path.write_bytes(old_path.read_bytes())
            kept.append(path.name)
    return kept


# --------------------------------------------------------------------------- diffs


@dataclass(frozen=True)
class ValueChange:
    """A parameter or metric that differs; ``a`` / ``b`` are absent (``missing``) on one side
    when the name exists only on the other. Numeric pairs carry ``abs_change = b - a`` and
    ``rel_change = (b - a) / |a|`` (None when ``a`` is 0)."""

    name: str
    a: Any
    b: Any
    a_missing: bool = False
    b_missing: bool = False
    abs_change: float | None = None
    rel_change: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; a side missing on one run has no ``a`` / ``b`` key."""
        out: dict[str, Any] = {"name": self.name}
        if not self.a_missing:
            out["a"] = self.a
        if not self.b_missing:
            out["b"] = self.b
        if self.abs_change is not None:
            out["abs_change"] = self.abs_change
            out["rel_change"] = self.rel_change
        return out


@dataclass(frozen=True)
class DiffReport:
    """Differences between two runs: parameters, metrics and result tables.

    ``tables`` maps each table that differs to why (``"only in a"``, ``"only in b"``, or
    ``"differs: ..."`` from :func:`compare_tables`). ``str()`` gives aligned plain-text
    tables; :meth:`to_dict` the JSON form.
    """

    a: str
    b: str
    a_chapter: str
    b_chapter: str
    parameters: list[ValueChange]
    metrics: list[ValueChange]
    tables: dict[str, str]
    identical_tables: list[str] = field(default_factory=list)
    rtol: float = RTOL
    atol: float = ATOL

    @property
    def has_differences(self) -> bool:
        """True when any parameter, metric or table differs."""
        return bool(self.parameters or self.metrics or self.tables)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the report."""
        return {
            "a": self.a,
            "b": self.b,
            "a_chapter": self.a_chapter,
            "b_chapter": self.b_chapter,
            "rtol": self.rtol,
            "atol": self.atol,
            "parameters": [c.to_dict() for c in self.parameters],
            "metrics": [c.to_dict() for c in self.metrics],
            "tables": [{"name": n, "status": s} for n, s in self.tables.items()],
            "identical_tables": self.identical_tables,
        }

    def __str__(self) -> str:
        lines = [f"a: {self.a} ({self.a_chapter})", f"b: {self.b} ({self.b_chapter})", ""]
        if not self.has_differences:
            return "\n".join([*lines, f"no differences (rtol {self.rtol:g}, atol {self.atol:g})"])
        if self.parameters:
            lines.append(f"parameters ({len(self.parameters)} differ)")
            rows = [[c.name, _side(c, "a"), _side(c, "b")] for c in self.parameters]
            lines += _format_rows(["name", "a", "b"], rows) + [""]
        if self.metrics:
            lines.append(f"metrics ({len(self.metrics)} differ beyond rtol {self.rtol:g}, atol {self.atol:g})")
            rows = [
                [
                    c.name,
                    _side(c, "a"),
                    _side(c, "b"),
                    "" if c.abs_change is None else f"{c.abs_change:+.6g}",
                    "" if c.rel_change is None else f"{100 * c.rel_change:+.4g}%",
                ]
                for c in self.metrics
            ]
            lines += _format_rows(["name", "a", "b", "abs change", "rel change"], rows)
            lines.append("")
        if self.tables:
            lines.append(
                f"tables ({len(self.tables)} differ, {len(self.identical_tables)} the same)"
            )
            lines += _format_rows(["table", "status"], [[n, s] for n, s in self.tables.items()])
        return "\n".join(lines).rstrip("\n")


def diff_runs(
    a: str | Path,
    b: str | Path,
    *,
    root: str | Path | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> DiffReport:
    """Compare two runs: parameters, metrics and result tables.

    Parameters
    ----------
    a, b : str or Path
        A run folder, a book results folder (``results/<stem>/``), or a chapter name
        without a path separator (see :func:`volbook.runner.find_chapter`), meaning the
        book's committed results of that chapter. A path that does not exist is an error.
    root : str or Path, optional
        Book root for chapter names (see :func:`volbook.runner.find_root`).
    rtol, atol : float
        Tolerances for numbers in metrics and tables (see the module notes); parameters
        are compared exactly.

    Returns
    -------
    DiffReport
        Parameters and metrics (nested metrics flattened to dotted names) that differ, and
        tables that differ or exist on one side only.
    """
    if not (rtol >= 0 and atol >= 0):
        raise ParameterError(f"tolerances must be >= 0, got rtol={rtol}, atol={atol}")
    left, right = _load_side(a, root), _load_side(b, root)
    tables: dict[str, str] = {}
    identical: list[str] = []
    for name in sorted(left["tables"].keys() | right["tables"].keys()):
        pa, pb = left["tables"].get(name), right["tables"].get(name)
        if pa is None or pb is None:
            tables[name] = "only in b" if pa is None else "only in a"
            continue
        change = compare_tables(_fs.read_text(pa), _fs.read_text(pb), rtol=rtol, atol=atol)
        if change is None:
            identical.append(name)
        else:
            tables[name] = f"differs: {change}"
    tol = _Tolerance(rtol, atol)
    return DiffReport(
        a=str(a),
        b=str(b),
        a_chapter=left["chapter"],
        b_chapter=right["chapter"],
        parameters=_diff_values(left["parameters"], right["parameters"], None),
        metrics=_diff_values(_flatten(left["metrics"]), _flatten(right["metrics"]), tol),
        tables=tables,
        identical_tables=identical,
        rtol=rtol,
        atol=atol,
    )


def _load_side(side: str | Path, root: str | Path | None) -> dict[str, Any]:
    """Parameters, metrics and tables of one side of :func:`diff_runs`.

    An existing folder is read as it is. A name without a path separator that is no
    existing path is a chapter, read from the book's committed results; anything else is
    an error (a mistyped folder must not silently compare against the book).
    """
    from volbook.runner import find_chapter, find_root

    folder = Path(side)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{side} is a file, not a run or results folder")
    if not folder.is_dir():
        if any(sep in str(side) for sep in {"/", os.sep, os.altsep} - {None}):
            raise DataError(f"no such run folder: {side}")
        book = find_root(root)
        try:
            folder = book / "results" / find_chapter(str(side), book).stem
        except ParameterError as err:
            raise ParameterError(f"no folder '{side}', and {err}") from None
        if not folder.is_dir():
            raise DataError(f"chapter {folder.name} has no committed results in {folder}")
    if not (folder / "metrics.json").is_file() or not (folder / "params.yaml").is_file():
        raise DataError(f"{folder} is not a run or results folder (no metrics.json / params.yaml)")
    params = _fs.read_yaml(folder / "params.yaml") or {}
    if not isinstance(params, dict) or not isinstance(params.get("parameters") or {}, dict):
        raise DataError(
            f"{folder / 'params.yaml'}: expected a mapping with 'chapter' and 'parameters'"
        )
    metrics = _fs.read_json(folder / "metrics.json")
    if not isinstance(metrics, dict):
        raise DataError(f"{folder / 'metrics.json'}: expected a JSON object")
    csv_folder = folder / "results" if (folder / "results").is_dir() else folder
    return {
        "chapter": str(params.get("chapter", "?")),
        "parameters": params.get("parameters") or {},
        "metrics": metrics,
        "tables": {p.name: p for p in csv_folder.glob("*.csv")},
    }


def _diff_values(a: Mapping[str, Any], b: Mapping[str, Any], tol: _Tolerance | None) -> list[ValueChange]:
    changes = []
    for name in sorted(a.keys() | b.keys()):
        if name in a and name in b and _values_equal(a[name], b[name], tol):
            continue
        va, vb = a.get(name), b.get(name)
        abs_change = rel_change = None
        if name in a and name in b and _is_number(va) and _is_number(vb):
            abs_change = vb - va
            rel_change = abs_change / abs(va) if va != 0 else None
        changes.append(
            ValueChange(name, va, vb, name not in a, name not in b, abs_change, rel_change)
        )
    return changes


def _show(value: Any) -> str:
    if isinstance(value, float):
        return format(value, f".{SIGNIFICANT_DIGITS}g")
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _side(change: ValueChange, side: str) -> str:
    return "(missing)" if getattr(change, f"{side}_missing") else _show(getattr(change, side))


def _format_rows(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]
    ]
