"""Run chapters with parameters and keep their notebook and results.

A chapter is a notebook ``chapters/NN-slug.ipynb`` with one code cell tagged ``parameters``
(see :mod:`volbook.params` for how a chapter declares its parameters and their constraints)
that ends by calling :func:`volbook.results.save_results`. :func:`run_chapter` executes it
with papermill and either refreshes the book (the chapter's notebook and
``results/<stem>/``) or writes a *run folder*::

    DIR/params.yaml        every effective parameter, the chapter name, the volbook version
    DIR/metrics.json       the chapter's metrics
    DIR/results/*.csv      the chapter's tables
    DIR/<stem>.ipynb       the executed notebook

Before the kernel starts, everything that can be checked is: the parameters (names, types,
declared constraints, relations), and the data request of a chapter with a ``source``
parameter (:func:`check_data`: the data parameters and the cell's ``# data:`` line). Bad
input is one :class:`~volbook.errors.VolbookError` line, and nothing has run. A chapter
declares both in its parameters cell (full syntax in :mod:`volbook.params`)::

    # data: columns=["close"], min_rows=garch_window + max(horizons) + 250
    horizons = [1, 5, 10]  # forecast horizons; each in [1, 250], unique, non-empty
    ewma_lambda = 0.94  # RiskMetrics decay; in (0, 1)
    weight_min = 0.0  # smallest weight; in [0, weight_max]
    end = "2022-12-31"  # last date; date, > start
    source = "sp500"  # data source; in {sp500, file}
    path = None  # the user's file; file

Constraints follow the last ``;`` of a parameter's comment: intervals ``in [a, b]`` /
``(a, b)`` / ``> x`` / ``< x`` whose bounds may name other parameters, choices
``in {a, b}``, ``each ...`` for list elements, ``unique``, ``non-empty``, ``date``, ``file``
(resolved against the caller's directory). No ``=`` in such a comment (papermill).

While the chapter runs, the kernel's own output (warnings, worker tracebacks) goes to
``kernel.log`` in the run's scratch folder ``$TMPDIR/volbook-<stem>-<pid>-*``, not to the
terminal; a failed cell is one :class:`ChapterExecutionError` line naming the cell and the
exception, and the scratch folder with the failed notebook and the log is kept (the newest
``KEEP_FAILED`` of them; scratch folders of killed runs are deleted by the next run). The
kernel dies with the runner, children included, even on SIGKILL (see :mod:`volbook._kernel`).

Nothing is replaced until the run has fully succeeded. The new notebook and results are
staged in a git-ignored transaction folder next to their targets and swapped in together
(see :func:`volbook._fs.commit`): a Python error rolls the swap back, and a run killed in
the middle of it is completed by the next ``volbook run``, before it does anything else.
When the book is refreshed, a result file that equals the committed one within the
tolerances of :mod:`volbook.results` keeps its committed bytes (another machine's optimizer
noise does not show in ``git status``).

Outputs are reproducible: the kernel runs with one BLAS/OpenMP thread and
``PYTHONHASHSEED=0``, results are saved at :data:`~volbook.results.SIGNIFICANT_DIGITS`
significant digits, and the executed notebook is stripped of papermill's timestamps and
paths, of random cell ids and of the Python version.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import yaml

import volbook
from volbook import _fs
from volbook._kernel import RUNNER_PID_ENV
from volbook.errors import DataError, ParameterError, VolbookError
from volbook.params import (
    RESULTS_DIR_PARAMETER,
    DataRequest,
    Parameter,
    chapter_parameters,
    data_request,
    effective_parameters,
    validate_parameters,
)
from volbook.results import (
    CHECK_RESULTS_ENV,
    RESULTS_DIR_ENV,
    SIGNIFICANT_DIGITS,
    DiffReport,
    ValueChange,
    diff_runs,
    keep_committed,
    save_results,
)

__all__ = [
    "SIGNIFICANT_DIGITS",
    "RESULTS_DIR_ENV",
    "RESULTS_DIR_PARAMETER",
    "KEEP_FAILED",
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
    "check_data",
    "save_results",
    "run_chapter",
    "diff_runs",
]

#: Environment of the kernel (set around papermill; the kernel is a new process). None unsets.
KERNEL_ENV: dict[str, str | None] = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    CHECK_RESULTS_ENV: None,  # a run computes new results; only the tests compare them
}
#: Scratch folders of failed runs kept for the user (the oldest beyond this are deleted).
KEEP_FAILED = 5

_CHAPTER_STEM = re.compile(r"^(\d+)-([a-z0-9][a-z0-9-]*)$")
_SCRATCH = re.compile(r"^volbook-(?:.+-(?P<pid>\d+)|\d+-[a-z0-9-]+)-[a-z0-9_]{8}$")


class ChapterExecutionError(VolbookError):
    """A chapter raised while it ran; the message names the cell, the exception and where
    the failed notebook was kept."""


@dataclass(frozen=True)
class RunReport:
    """What :func:`run_chapter` produced.

    ``notebook`` and ``results`` are the final locations (inside the run folder ``out``, or
    the book's ``chapters/<stem>.ipynb`` and ``results/<stem>/`` when ``out`` is None).
    ``kept`` names the result files whose committed bytes were kept (book refresh only).
    """

    chapter: str
    parameters: dict[str, Any]
    overrides: dict[str, Any]
    notebook: Path
    results: Path
    tables: list[str]
    out: Path | None
    kept: tuple[str, ...] = ()

    def __str__(self) -> str:
        given = ", ".join(f"{k}={v}" for k, v in self.overrides.items()) or "defaults"
        where = (
            f"run folder {self.out}"
            if self.out is not None
            else f"book: {self.notebook} and {self.results}/"
        )
        return f"{self.chapter} ({given}): {len(self.tables)} tables -> {where}"


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


# --------------------------------------------------------------------------- data


def check_data(stem: str, values: Mapping[str, Any], request: DataRequest | None = None) -> None:
    """Load the data a chapter will ask for, before its kernel starts.

    Does nothing for a chapter without a ``source`` parameter. A chapter with an ``asset``
    parameter works on one asset: :func:`volbook.data.load_asset` checks the source holds
    exactly that one (or, with ``asset`` null, only one) and has ``request.rows`` rows. Other
    chapters get :func:`volbook.data.load` with ``assets``. Both get ``path``, ``start``,
    ``end`` (where the chapter has them and they are not null), ``request.columns``, and the
    source's options that the chapter has as parameters of the same names
    (:func:`volbook.data.source_options`).
    A :class:`~volbook.errors.DataWarning` (a gap in a column the run does not use) is
    printed as one ``volbook: note:`` line on stderr.

    Raises
    ------
    VolbookError
        Whatever the data layer raises (bad file, unknown asset, too few rows, ...).
    """
    if values.get("source") is None:
        return
    from volbook.data import load, load_asset, source_options
    from volbook.errors import DataWarning

    request = request or DataRequest()
    common = {k: values[k] for k in ("path", "start", "end") if values.get(k) is not None}
    common |= source_options(values["source"], values)  # e.g. bar_label for an intraday file
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        if "asset" in values:
            load_asset(values["source"], asset=values["asset"], columns=request.columns,
                       min_rows=request.rows(values), why=request.min_rows, **common)
        else:
            load(values["source"], assets=values.get("assets"), columns=request.columns, **common)
    for warning in caught:
        if issubclass(warning.category, DataWarning):
            print(f"volbook: note: chapter {stem}: {warning.message}", file=sys.stderr)


# --------------------------------------------------------------------------- running


def run_chapter(
    chapter: str,
    overrides: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    *,
    root: str | Path | None = None,
    progress: bool = False,
    cwd: str | Path | None = None,
) -> RunReport:
    """Execute a chapter with papermill and keep its notebook and results.

    Parameters
    ----------
    chapter : str
        Chapter name (see :func:`find_chapter`).
    overrides : mapping, optional
        Parameter values (see :func:`volbook.params.validate_parameters`); the rest keep
        their defaults.
    out : str or Path, optional
        Run folder to write (replacing an earlier run folder there; any other non-empty
        path is refused). None refreshes the book: ``chapters/<stem>.ipynb`` and
        ``results/<stem>/``.
    root : str or Path, optional
        Book root (see :func:`find_root`).
    progress : bool
        Show papermill's progress bar.
    cwd : str or Path, optional
        Where relative ``file`` parameters are resolved (default: the current directory).

    Returns
    -------
    RunReport

    Raises
    ------
    VolbookError
        Bad parameters or data (nothing ran), or :class:`ChapterExecutionError`: a cell
        raised or the kernel died. Nothing of the book or of ``out`` changed then.

    Notes
    -----
    The kernel (``python3``) runs in ``chapters/`` with ``KERNEL_ENV``, talks over IPC
    sockets in the scratch folder (loopback TCP when that folder's path is too long for a
    socket), and has ``VOLBOOK_RESULTS_DIR`` pointing to that folder, so ``results_dir``
    keeps its relative default in the notebook. Only the overrides are injected
    (papermill's ``injected-parameters`` cell, left out when there are none).
    """
    book = find_root(root)
    source = find_chapter(chapter, book)
    stem = source.stem
    target = None if out is None else Path(out).resolve()
    _fs.recover(book)
    if target is not None:
        _fs.recover(target.parent)
    _remove_stale_siblings(book)

    given = validate_parameters(source, overrides or {}, cwd=cwd)
    values = effective_parameters(chapter_parameters(source), given)
    effective = {n: values[n] for n in sorted(values) if n != RESULTS_DIR_PARAMETER}
    if target is not None:
        _check_out(target)
    check_data(stem, values, data_request(source))

    tmp = Path(tempfile.gettempdir())
    _prune_scratch(tmp)
    scratch = Path(tempfile.mkdtemp(prefix=f"volbook-{stem}-{os.getpid()}-", dir=tmp))
    executed, saved = scratch / f"{stem}.ipynb", scratch / "results"
    failed = False  # a failed run keeps its notebook and kernel log for the user
    try:
        try:
            _execute(source, executed, given, scratch, book, progress)
        except ChapterExecutionError:
            failed = True
            raise
        if not (saved / "metrics.json").is_file():
            raise DataError(
                f"chapter {stem} saved no results;"
                " end it with volbook.results.save_results(results_dir, ...)"
            )
        _normalize_notebook(executed, {c.get("id") for c in _fs.read_notebook(source).cells} - {None})
        params_text = _params_yaml(stem, effective)
        tables = sorted(p.name for p in saved.glob("*.csv"))
        if target is None:
            notebook, results = source, book / "results" / stem
            kept = _swap_into_book(saved, executed, params_text, notebook, results)
        else:
            notebook, results, kept = target / f"{stem}.ipynb", target / "results", []
            _swap_into_run_folder(saved, executed, params_text, target)
    finally:
        if failed:
            for path in scratch.iterdir():
                if path.name not in (executed.name, "kernel.log"):
                    _fs.remove(path)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return RunReport(stem, effective, given, notebook, results, tables, target, tuple(kept))


def _execute(source: Path, executed: Path, given: dict[str, Any], scratch: Path, book: Path, progress: bool) -> None:
    """Run the chapter with papermill into ``executed``; one-line errors."""
    import papermill
    from traitlets.config import Config

    stem = source.stem
    clean = _fs.read_notebook(source)
    clean.cells = [c for c in clean.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nbformat.write(clean, scratch / "input.ipynb")
    sockets = str(scratch / "kernel")  # IPC socket paths must stay short (AF_UNIX: ~104 bytes)
    transport = {"transport": "ipc", "ip": sockets} if len(sockets) <= 90 else {"transport": "tcp", "ip": "127.0.0.1"}
    config = Config(
        KernelManager={**transport, "connection_file": str(scratch / "kernel.json")},
        NotebookClient={
            "kernel_manager_class": _kernel_manager_class(),
            "extra_arguments": ["--IPKernelApp.extensions=volbook._kernel"],
        },
        VolbookKernelManager={"log_file": str(scratch / "kernel.log")},
    )
    env = {**KERNEL_ENV, RESULTS_DIR_ENV: str(scratch / "results"), RUNNER_PID_ENV: str(os.getpid())}
    kept = f"failed notebook and kernel log kept in {scratch}"
    try:
        with _environment(env), _quiet_papermill():
            papermill.execute_notebook(
                scratch / "input.ipynb",
                executed,
                parameters=given or None,
                kernel_name="python3",
                cwd=book / "chapters",
                log_output=False,
                progress_bar=progress,
                config=config,
            )
    except papermill.PapermillExecutionError as err:
        message = (err.evalue or "").strip().splitlines()
        raise ChapterExecutionError(
            f"chapter {stem} failed in cell In [{err.exec_count}]: {err.ename}: "
            f"{message[0] if message else ''}; {kept}"
        ) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:  # the kernel died, timed out or could not start
        first = (str(err).strip().splitlines() or [""])[0]
        raise ChapterExecutionError(
            f"chapter {stem}: the kernel failed ({type(err).__name__}: {first}); {kept}"
        ) from None


def _kernel_manager_class() -> type:
    """AsyncKernelManager whose kernel writes stdout/stderr to ``log_file``, not the terminal."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Unicode

    class VolbookKernelManager(AsyncKernelManager):
        log_file = Unicode("", help="file for the kernel's stdout and stderr").tag(config=True)

        async def start_kernel(self, **kw: Any) -> None:
            if self.log_file:
                with open(self.log_file, "ab") as log:  # the kernel keeps its own copy
                    kw.setdefault("stdout", log)
                    kw.setdefault("stderr", log)
                    return await super().start_kernel(**kw)
            return await super().start_kernel(**kw)

    return VolbookKernelManager


@contextmanager
def _quiet_papermill() -> Iterator[None]:
    """Silence papermill's logger: the runner has checked the parameters itself, and its
    warnings would add lines to the one-line error of a failed run."""
    logger = logging.getLogger("papermill")  # papermill.translators etc. inherit its level
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)


def _swap_into_book(saved: Path, executed: Path, params_text: str, notebook: Path, results: Path) -> list[str]:
    """Stage the new results folder and notebook, keep committed bytes that are still
    right, and swap both into the book in one transaction."""
    book = notebook.parent.parent
    txn = _fs.begin(book, notebook.stem)
    try:
        staged_results, staged_notebook = txn / "results", txn / "notebook.ipynb"
        shutil.copytree(saved, staged_results)
        (staged_results / "params.yaml").write_text(params_text, encoding="utf-8")
        kept = keep_committed(staged_results, results) if results.is_dir() else []
        shutil.copyfile(executed, staged_notebook)
        results.parent.mkdir(parents=True, exist_ok=True)
        _fs.commit(txn, [(staged_results, results), (staged_notebook, notebook)])
    finally:
        _fs.abandon(txn)
    return kept


def _swap_into_run_folder(saved: Path, executed: Path, params_text: str, target: Path) -> None:
    txn = _fs.begin(target.parent, target.name)
    try:
        staged = txn / "run"
        shutil.copytree(saved, staged / "results")
        os.replace(staged / "results" / "metrics.json", staged / "metrics.json")
        (staged / "params.yaml").write_text(params_text, encoding="utf-8")
        shutil.copyfile(executed, staged / executed.name)
        _fs.commit(txn, [(staged, target)])
    finally:
        _fs.abandon(txn)


def _remove_stale_siblings(book: Path) -> None:
    """Delete ``<name>.tmp-XXXXXXXX`` siblings that runners before transactions left in
    ``chapters/`` and ``results/`` when killed (a results folder is kept while it is the
    only copy of a chapter's results)."""
    sibling = re.compile(r"^(?P<name>.+)\.tmp-[0-9a-f]{8}$")
    for folder in (book / "chapters", book / "results"):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            match = sibling.match(path.name)
            if match and (folder / match["name"]).exists():
                _fs.remove(path)


def _prune_scratch(tmp: Path) -> None:
    """Delete scratch folders of finished runs: those of killed runs (they still hold the
    input notebook) at once, those of failed runs beyond the newest ``KEEP_FAILED - 1``."""
    failed = []
    for path in tmp.glob("volbook-*"):
        match = _SCRATCH.match(path.name)
        if match is None or not path.is_dir():
            continue
        pid = match["pid"]
        if pid is not None and _fs.process_alive(int(pid)):
            continue
        if (path / "input.ipynb").exists():
            if pid is not None:  # an older runner's folder without a pid may still be running
                _fs.remove(path)
        else:
            failed.append(path)
    failed.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for path in failed[KEEP_FAILED - 1 :]:
        _fs.remove(path)


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
def _environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (None: unset) environment variables for the duration; the kernel inherits them."""
    before = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, old in before.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _normalize_notebook(path: Path, source_ids: set[str]) -> None:
    """Drop run-dependent metadata (papermill's, timings, the Python version) and give
    every cell a deterministic id."""
    nb = _fs.read_notebook(path)
    nb.metadata.pop("papermill", None)
    nb.metadata.get("language_info", {}).pop("version", None)
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
