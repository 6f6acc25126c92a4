"""Run chapters with parameters, keep their results, compare runs.

A chapter is a notebook ``chapters/NN-slug.ipynb`` with one code cell tagged ``parameters``
(simple assignments, one of them ``results_dir``) that ends by calling :func:`save_results`.
:func:`run_chapter` executes it with papermill and either refreshes the book (the chapter's
notebook and ``results/<stem>/``) or writes a *run folder*::

    DIR/params.yaml        every effective parameter, the chapter name, the volbook version
    DIR/metrics.json       the chapter's metrics
    DIR/results/*.csv      the chapter's tables
    DIR/<stem>.ipynb       the executed notebook

Nothing is replaced until the run has fully succeeded, and then by renames in the target's
own folder, so a failed run leaves the book and an earlier run folder as they were.

Outputs are byte-for-byte reproducible: tables and metrics are written with
``SIGNIFICANT_DIGITS`` significant digits, the kernel runs with one BLAS/OpenMP thread and
``PYTHONHASHSEED=0``, and the executed notebook is stripped of papermill's timestamps and
paths and of random cell ids.

Where results go: ``save_results(results_dir, ...)`` writes to ``results_dir`` unless the
environment variable ``VOLBOOK_RESULTS_DIR`` is set, which then wins. The runner sets it (for
the kernel only) to a scratch folder, so the notebook keeps its relative ``results_dir``
default and stays relocatable; tests set it so that executing a chapter (e.g. with nbval)
never writes into the book's committed results.
"""

from __future__ import annotations

import ast
import difflib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import polars as pl
import yaml

import volbook
from volbook import _fs
from volbook.errors import DataError, ParameterError, VolbookError

__all__ = [
    "SIGNIFICANT_DIGITS",
    "RESULTS_DIR_ENV",
    "RESULTS_DIR_PARAMETER",
    "Parameter",
    "RunReport",
    "ValueChange",
    "DiffReport",
    "ChapterExecutionError",
    "find_root",
    "list_chapters",
    "find_chapter",
    "chapter_parameters",
    "validate_parameters",
    "save_results",
    "run_chapter",
    "diff_runs",
]

#: Significant digits of every float written to a results CSV or to metrics.json.
SIGNIFICANT_DIGITS = 10
#: The parameter every chapter has and the runner, not the user, sets.
RESULTS_DIR_PARAMETER = "results_dir"
#: Environment variable that, when set, overrides the ``results_dir`` of :func:`save_results`.
RESULTS_DIR_ENV = "VOLBOOK_RESULTS_DIR"
#: Environment of the kernel (set around papermill; the kernel is a new process).
KERNEL_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
}
#: Relative tolerance under which two numbers count as equal in :func:`diff_runs`.
DIFF_RTOL = 1e-12

_CHAPTER_STEM = re.compile(r"^(\d+)-([a-z0-9][a-z0-9-]*)$")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SCALAR_KINDS = {"bool": bool, "int": int, "float": float, "str": str}


class ChapterExecutionError(VolbookError):
    """A chapter raised while it ran; the message names the cell, the exception and where
    the failed notebook was kept."""


@dataclass(frozen=True)
class Parameter:
    """One assignment of a chapter's ``parameters`` cell.

    ``type`` is derived from the default: ``"bool"``, ``"int"``, ``"float"`` (an int is
    accepted), ``"str"``, ``"list[X]"`` for a list of X (X from the elements; ints and floats
    mixed give ``float``), ``"list"`` for an empty list (any scalars), and ``"optional"`` for
    a ``None`` default: null, a number, or else the text as written.
    """

    name: str
    default: Any
    type: str


@dataclass(frozen=True)
class RunReport:
    """What :func:`run_chapter` produced.

    ``notebook`` and ``results`` are the final locations (inside the run folder ``out``, or
    the book's ``chapters/<stem>.ipynb`` and ``results/<stem>/`` when ``out`` is None).
    """

    chapter: str
    parameters: dict[str, Any]
    overrides: dict[str, Any]
    notebook: Path
    results: Path
    tables: list[str]
    out: Path | None

    def __str__(self) -> str:
        given = ", ".join(f"{k}={_show(v)}" for k, v in self.overrides.items()) or "defaults"
        where = (
            f"run folder {self.out}"
            if self.out is not None
            else f"book: {self.notebook} and {self.results}/"
        )
        return f"{self.chapter} ({given}): {len(self.tables)} tables -> {where}"


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
    """Differences between two runs: parameters, metrics and result tables (CSV bytes).

    ``str()`` gives aligned plain-text tables; :meth:`to_dict` the JSON form.
    """

    a: str
    b: str
    a_chapter: str
    b_chapter: str
    parameters: list[ValueChange]
    metrics: list[ValueChange]
    tables: dict[str, str]
    identical_tables: list[str] = field(default_factory=list)

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
            "parameters": [c.to_dict() for c in self.parameters],
            "metrics": [c.to_dict() for c in self.metrics],
            "tables": [{"name": n, "status": s} for n, s in self.tables.items()],
            "identical_tables": self.identical_tables,
        }

    def __str__(self) -> str:
        lines = [f"a: {self.a} ({self.a_chapter})", f"b: {self.b} ({self.b_chapter})", ""]
        if not self.has_differences:
            return "\n".join([*lines, "no differences"])
        if self.parameters:
            lines.append(f"parameters ({len(self.parameters)} differ)")
            rows = [[c.name, _side(c, "a"), _side(c, "b")] for c in self.parameters]
            lines += _format_rows(["name", "a", "b"], rows) + [""]
        if self.metrics:
            lines.append(f"metrics ({len(self.metrics)} differ)")
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
                f"tables ({len(self.tables)} differ, {len(self.identical_tables)} identical)"
            )
            lines += _format_rows(["table", "status"], [[n, s] for n, s in self.tables.items()])
        return "\n".join(lines).rstrip("\n")


# --------------------------------------------------------------------------- the book


def find_root(root: str | Path | None = None) -> Path:
    """The book's root folder.

    Parameters
    ----------
    root : str or Path, optional
        Taken as is when given. Otherwise the environment variable ``VOLBOOK_ROOT``, else
        the first of the current directory and its parents that holds ``_quarto.yml``.

    Returns
    -------
    Path
        The absolute root folder.
    """
    given = root if root is not None else os.environ.get("VOLBOOK_ROOT")
    if given is not None:
        path = Path(given).resolve()
        if not path.is_dir():
            raise DataError(f"book root {path} is not a directory")
        return path
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "_quarto.yml").is_file():
            return folder
    raise DataError(
        f"no book root: no _quarto.yml in {cwd} or its parents; pass --root or set VOLBOOK_ROOT"
    )


def list_chapters(root: Path) -> list[Path]:
    """The chapter notebooks ``chapters/NN-slug.ipynb`` of the book at ``root``, in order."""
    folder = Path(root) / "chapters"
    found = [p for p in folder.glob("*.ipynb") if _CHAPTER_STEM.match(p.stem)]
    return sorted(found, key=lambda p: (int(_CHAPTER_STEM.match(p.stem).group(1)), p.stem))


def find_chapter(chapter: str, root: Path) -> Path:
    """The notebook of ``chapter``, named by stem (``01-garch-ewma``), slug
    (``garch-ewma``), number (``1`` or ``01``) or file name (``chapters/01-garch-ewma.ipynb``).
    """
    name = Path(chapter).name.removesuffix(".ipynb")
    chapters = list_chapters(root)
    for path in chapters:
        number, slug = _CHAPTER_STEM.match(path.stem).groups()
        if name in (path.stem, slug) or (name.isdigit() and int(name) == int(number)):
            return path
    known = ", ".join(p.stem for p in chapters) or f"none in {Path(root) / 'chapters'}"
    raise ParameterError(f"unknown chapter '{chapter}'; chapters: {known}")


# --------------------------------------------------------------------------- parameters


def chapter_parameters(notebook: str | Path) -> dict[str, Parameter]:
    """The parameters of a chapter, read from its one cell tagged ``parameters``.

    The cell is parsed with :mod:`ast`: every statement must be an assignment of a literal
    to one name (comments are ignored). Types follow the defaults (see :class:`Parameter`).

    Parameters
    ----------
    notebook : str or Path
        The chapter notebook.

    Returns
    -------
    dict of str to Parameter
        In the order of the cell.
    """
    path = Path(notebook)
    cells = [
        c
        for c in _fs.read_notebook(path).cells
        if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])
    ]
    if len(cells) != 1:
        raise DataError(f"{path}: expected one code cell tagged 'parameters', found {len(cells)}")
    try:
        module = ast.parse(cells[0].source)
    except SyntaxError as err:
        raise DataError(f"{path}: parameters cell line {err.lineno}: {err.msg}") from None
    out: dict[str, Parameter] = {}
    for stmt in module.body:
        target = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target = stmt.target
        if not isinstance(target, ast.Name):
            raise DataError(
                f"{path}: parameters cell line {stmt.lineno} is not an assignment to one name"
            )
        try:
            default = ast.literal_eval(stmt.value)
        except ValueError:
            raise DataError(
                f"{path}: parameter '{target.id}' (line {stmt.lineno}) is not a literal"
            ) from None
        out[target.id] = Parameter(target.id, default, _kind_of(default, target.id, path))
    return out


def validate_parameters(notebook: str | Path, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``-p name=value`` overrides against a chapter's parameters and type them.

    Parameters
    ----------
    notebook : str or Path
        The chapter notebook (see :func:`find_chapter`).
    overrides : mapping of str to str or value
        String values are parsed with ``yaml.safe_load`` (``0.9``, ``true``, ``[1, 5]``,
        ``null``); a ``str`` parameter takes the text as written, and so does an
        ``optional`` one unless the text reads as null or a number. Other values are checked
        as they are.

    Returns
    -------
    dict
        The typed overrides, sorted by name (ints given for floats become floats).

    Raises
    ------
    ParameterError
        Unknown name (with the closest known one), a value of the wrong type, or
        ``results_dir``, which the runner sets.
    """
    stem = Path(notebook).stem
    params = chapter_parameters(notebook)
    known = [n for n in params if n != RESULTS_DIR_PARAMETER]
    out: dict[str, Any] = {}
    for name in sorted(overrides):
        raw = overrides[name]
        if name == RESULTS_DIR_PARAMETER:
            raise ParameterError(
                f"parameter '{name}' of chapter {stem} is set by the runner; use --out DIR"
            )
        if name not in params:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ParameterError(
                f"unknown parameter '{name}' for chapter {stem}; {hint}known: {', '.join(known)}"
            )
        out[name] = _coerce(_parse_yaml(raw), raw, params[name].type, name, stem)
    return out


def _parse_yaml(raw: Any) -> Any:
    """A ``-p`` value read as YAML; text that is not valid YAML stays text."""
    if not isinstance(raw, str):
        return raw
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _kind_of(default: Any, name: str, path: Path) -> str:
    kind = "optional" if default is None else _scalar_kind(default)
    if isinstance(default, list):
        kinds = {_scalar_kind(v) for v in default}
        if not kinds:
            kind = "list"
        elif kinds <= {"int", "float"}:
            kind = "list[float]" if "float" in kinds else "list[int]"
        elif len(kinds) == 1 and None not in kinds:
            kind = f"list[{kinds.pop()}]"
    if kind is None:
        raise DataError(
            f"{path}: parameter '{name}' has a default of unsupported type"
            f" {type(default).__name__} (use str, int, float, bool, None or a list of one of them)"
        )
    return kind


def _scalar_kind(value: Any) -> str | None:
    return next((k for k, cls in _SCALAR_KINDS.items() if type(value) is cls), None)


def _coerce(value: Any, raw: Any, kind: str, name: str, stem: str) -> Any:
    """``value`` as a ``kind`` parameter, or a ParameterError naming what was expected."""
    if kind == "str" and isinstance(raw, str) and not isinstance(value, str):
        return raw
    if kind == "optional":
        if value is None or isinstance(value, str) or _is_number(value):
            return value
        if isinstance(raw, str):
            return raw
    elif kind.startswith("list"):
        element = kind[5:-1] or None
        if isinstance(value, list):
            items = [_coerce_scalar(v, element) for v in value]
            if all(item is not _INVALID for item in items):
                return items
    else:
        item = _coerce_scalar(value, kind)
        if item is not _INVALID:
            return item
    got = f"{_type_label(value)} {raw!r}" if isinstance(raw, str) else _type_label(value)
    raise ParameterError(f"parameter '{name}' of chapter {stem} expects {kind}, got {got}")


_INVALID = object()


def _coerce_scalar(value: Any, kind: str | None) -> Any:
    """``value`` as a scalar of ``kind`` (None: any scalar), else ``_INVALID``."""
    if kind is None:
        scalar = value is None or isinstance(value, str | bool) or _is_number(value)
        return value if scalar else _INVALID
    if kind == "float":
        if _is_number(value):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                return _INVALID
        return _INVALID
    if kind == "int":
        return value if _is_number(value) and isinstance(value, int) else _INVALID
    return value if type(value) is _SCALAR_KINDS[kind] else _INVALID


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_label(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# --------------------------------------------------------------------------- results


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
        Written as ``<name>.csv``: floats with ``SIGNIFICANT_DIGITS`` significant digits
        (``format(x, ".10g")``), dates ISO ``YYYY-MM-DD``, nulls empty.
    metrics : mapping
        Nested dicts of numbers, strings, bools, None and lists, written as
        ``metrics.json``: keys sorted, indent 2, floats rounded to ``SIGNIFICANT_DIGITS``
        significant digits, NaN and infinities as null.

    Every file is written to a temporary name in ``results_dir`` and renamed into place.
    """
    folder = Path(os.environ.get(RESULTS_DIR_ENV) or results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if not _TABLE_NAME.match(name):
            raise ParameterError(f"table name '{name}' is not a plain file name")
        if not isinstance(frame, pl.DataFrame):
            kind = type(frame).__name__
            raise ParameterError(f"table '{name}' is a {kind}, not a polars DataFrame")
        text = _format_floats(frame).write_csv(date_format="%Y-%m-%d")
        _write_atomic(folder / f"{name}.csv", text)
    payload = json.dumps(
        _clean_metrics(metrics, ""), indent=2, sort_keys=True, allow_nan=False
    )
    _write_atomic(folder / "metrics.json", payload + "\n")


def _format_floats(frame: pl.DataFrame) -> pl.DataFrame:
    spec = f".{SIGNIFICANT_DIGITS}g"
    return frame.with_columns(
        pl.Series(
            name,
            [None if v is None else format(v, spec) for v in frame[name].to_list()],
            dtype=pl.String,
        )
        for name, dtype in frame.schema.items()
        if dtype.is_float()
    )


def _clean_metrics(value: Any, key: str) -> Any:
    """JSON-ready metrics: numpy scalars to Python, floats rounded, NaN/inf to None."""
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


# --------------------------------------------------------------------------- running


def run_chapter(
    chapter: str,
    overrides: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    *,
    root: str | Path | None = None,
    progress: bool = False,
) -> RunReport:
    """Execute a chapter with papermill and keep its notebook and results.

    Parameters
    ----------
    chapter : str
        Chapter name (see :func:`find_chapter`).
    overrides : mapping, optional
        Parameter values (see :func:`validate_parameters`); the rest keep their defaults.
    out : str or Path, optional
        Run folder to write (replacing an earlier run folder there; any other non-empty
        path is refused). None refreshes the book: ``chapters/<stem>.ipynb`` and
        ``results/<stem>/``.
    root : str or Path, optional
        Book root (see :func:`find_root`).
    progress : bool
        Show papermill's progress bar.

    Returns
    -------
    RunReport

    Raises
    ------
    ChapterExecutionError
        A cell raised. Nothing of the book or of ``out`` changed; the message names the
        cell and the exception and where the failed notebook was kept.

    Notes
    -----
    The kernel (``python3``) runs in ``chapters/`` with ``KERNEL_ENV``, talks over IPC
    sockets in a private scratch folder (not TCP), and has
    ``VOLBOOK_RESULTS_DIR`` pointing to that scratch folder, so ``results_dir`` keeps its
    relative default in the notebook. Only the overrides are injected (papermill's
    ``injected-parameters`` cell, left out when there are none). Papermill's metadata
    (times, paths), nbclient's timings and random cell ids are removed, so the same
    parameters give a byte-identical notebook.
    """
    import papermill
    from traitlets.config import Config

    book = find_root(root)
    source = find_chapter(chapter, book)
    stem = source.stem
    given = validate_parameters(source, overrides or {})
    params = chapter_parameters(source)
    effective = {
        name: given.get(name, p.default)
        for name, p in sorted(params.items())
        if name != RESULTS_DIR_PARAMETER
    }
    target = None if out is None else Path(out).resolve()
    if target is not None:
        _check_out(target)

    scratch = Path(tempfile.mkdtemp(prefix=f"volbook-{stem}-"))
    executed, saved = scratch / f"{stem}.ipynb", scratch / "results"
    keep_scratch = False  # True after a failed cell: the failed notebook stays for the user
    staged: list[Path] = []  # temporary paths next to the targets, removed whatever happens
    try:
        clean = _fs.read_notebook(source)
        source_ids = {c.get("id") for c in clean.cells} - {None}
        clean.cells = [
            c for c in clean.cells if "injected-parameters" not in c.metadata.get("tags", [])
        ]
        nbformat.write(clean, scratch / "input.ipynb")
        try:
            with _environment({**KERNEL_ENV, RESULTS_DIR_ENV: str(saved)}):
                papermill.execute_notebook(
                    scratch / "input.ipynb",
                    executed,
                    parameters=given or None,
                    kernel_name="python3",
                    cwd=book / "chapters",
                    log_output=False,
                    progress_bar=progress,
                    config=Config(
                        KernelManager={"transport": "ipc", "ip": str(scratch / "kernel")}
                    ),
                )
        except papermill.PapermillExecutionError as err:
            for path in scratch.iterdir():
                if path != executed:
                    _fs.remove(path)
            keep_scratch = True
            message = (err.evalue or "").strip().splitlines()
            raise ChapterExecutionError(
                f"chapter {stem} failed in cell In [{err.exec_count}]: {err.ename}: "
                f"{message[0] if message else ''}; failed notebook kept at {executed}"
            ) from None
        if not (saved / "metrics.json").is_file():
            raise DataError(
                f"chapter {stem} saved no results;"
                " end it with volbook.runner.save_results(results_dir, ...)"
            )
        _normalize_notebook(executed, source_ids)
        params_text = _params_yaml(stem, effective)
        tables = sorted(p.name for p in saved.glob("*.csv"))

        # Stage everything next to its target (the scratch folder may be on another file
        # system), then swap it in by renames.
        if target is not None:
            staged.append(_fs.temp_sibling(target))
            shutil.copytree(saved, staged[0] / "results")
            os.replace(staged[0] / "results" / "metrics.json", staged[0] / "metrics.json")
            (staged[0] / "params.yaml").write_text(params_text, encoding="utf-8")
            shutil.copyfile(executed, staged[0] / f"{stem}.ipynb")
            _fs.replace(staged[0], target)
            notebook, results = target / f"{stem}.ipynb", target / "results"
        else:
            notebook, results = source, book / "results" / stem
            staged += [_fs.temp_sibling(results), _fs.temp_sibling(notebook)]
            shutil.copytree(saved, staged[0])
            (staged[0] / "params.yaml").write_text(params_text, encoding="utf-8")
            shutil.copyfile(executed, staged[1])
            _swap_book(staged[0], results, staged[1], notebook)
    finally:
        for path in staged:
            _fs.remove(path)  # nothing left to remove after a successful swap
        if not keep_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return RunReport(stem, effective, given, notebook, results, tables, target)


def _swap_book(staged_results: Path, results: Path, staged_notebook: Path, notebook: Path) -> None:
    """Put a fully staged results folder and notebook into the book, both or neither.

    The results folder goes first (old one moved aside), then the notebook by one atomic
    rename; if that fails, the old results folder is put back. Two paths in two folders
    cannot be swapped in one atomic step on POSIX, so this is all-or-nothing for errors
    Python sees, not for a crash: a process killed (or a power cut) between the two
    renames leaves the new results with the old notebook, and one killed inside
    :func:`volbook._fs.swap_in` leaves the old results at ``results/<stem>.tmp-*`` with no
    ``results/<stem>/``. Rerunning the chapter repairs either.
    """
    backup = _fs.swap_in(staged_results, results)
    try:
        os.replace(staged_notebook, notebook)
    except BaseException:
        _fs.restore(results, backup)
        raise
    _fs.remove(backup)


def _check_out(target: Path) -> None:
    if not target.exists() or _is_run_folder(target):
        return
    if target.is_dir() and not any(target.iterdir()):
        return
    raise ParameterError(
        f"--out {target} exists and is not a volbook run folder"
        " (params.yaml, metrics.json, results/); choose another path"
    )


def _is_run_folder(path: Path) -> bool:
    return (
        (path / "params.yaml").is_file()
        and (path / "metrics.json").is_file()
        and (path / "results").is_dir()
    )


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration (the kernel inherits them)."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in before.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _normalize_notebook(path: Path, source_ids: set[str]) -> None:
    """Drop run-dependent metadata and give every cell a deterministic id."""
    nb = _fs.read_notebook(path)
    nb.metadata.pop("papermill", None)
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        tags = cell.metadata.get("tags")
        if tags == []:
            del cell.metadata["tags"]
        if "id" in cell:
            if tags and "injected-parameters" in tags:
                cell.id = "injected-parameters"
            elif cell.id not in source_ids:
                cell.id = f"cell-{index}"
    nbformat.write(nb, path)


def _params_yaml(stem: str, parameters: Mapping[str, Any]) -> str:
    document = {
        "chapter": stem,
        "parameters": dict(parameters),
        "volbook_version": volbook.__version__,
    }
    return yaml.safe_dump(document, sort_keys=True, default_flow_style=None, allow_unicode=True)


# --------------------------------------------------------------------------- diffs


def diff_runs(a: str | Path, b: str | Path, *, root: str | Path | None = None) -> DiffReport:
    """Compare two runs: parameters, metrics and result tables.

    Parameters
    ----------
    a, b : str or Path
        A run folder, a book results folder (``results/<stem>/``), or a chapter name
        without a path separator (see :func:`find_chapter`), meaning the book's committed
        results of that chapter. A path that does not exist is an error.
    root : str or Path, optional
        Book root for chapter names (see :func:`find_root`).

    Returns
    -------
    DiffReport
        Parameters and metrics (nested metrics flattened to dotted names) that differ,
        numbers compared with relative tolerance ``DIFF_RTOL``; tables (CSV files)
        that differ byte for byte or exist on one side only.
    """
    left, right = _load_side(a, root), _load_side(b, root)
    tables: dict[str, str] = {}
    identical: list[str] = []
    for name in sorted(left["tables"].keys() | right["tables"].keys()):
        pa, pb = left["tables"].get(name), right["tables"].get(name)
        if pa is None or pb is None:
            tables[name] = "only in b" if pa is None else "only in a"
        elif pa.read_bytes() != pb.read_bytes():
            tables[name] = "differs"
        else:
            identical.append(name)
    return DiffReport(
        a=str(a),
        b=str(b),
        a_chapter=left["chapter"],
        b_chapter=right["chapter"],
        parameters=_diff_values(left["parameters"], right["parameters"]),
        metrics=_diff_values(_flatten(left["metrics"]), _flatten(right["metrics"])),
        tables=tables,
        identical_tables=identical,
    )


def _load_side(side: str | Path, root: str | Path | None) -> dict[str, Any]:
    """Parameters, metrics and tables of one side of :func:`diff_runs`.

    An existing folder is read as it is. A name without a path separator that is no
    existing path is a chapter, read from the book's committed results; anything else is
    an error (a mistyped folder must not silently compare against the book).
    """
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


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _diff_values(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[ValueChange]:
    changes = []
    for name in sorted(a.keys() | b.keys()):
        if name in a and name in b and _values_equal(a[name], b[name]):
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


def _values_equal(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return math.isclose(a, b, rel_tol=DIFF_RTOL, abs_tol=0.0)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_values_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


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
