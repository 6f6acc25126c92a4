"""The ``volbook`` command line.

::

    volbook run CHAPTER [-p name=value ...] [--out DIR] [--progress]
    volbook diff A B [--json] [--rtol R] [--atol A]
    volbook render [--output DIR] [--no-quarto]
    volbook data SOURCE [--path P] [--start DATE] [--end DATE] [--assets A,B]
    volbook chapters

Every command takes ``--root DIR`` (default: ``VOLBOOK_ROOT``, else the nearest folder
upwards holding ``_quarto.yml``; see :func:`volbook.runner.find_root`). Bad input
(a usage error, a :class:`volbook.errors.VolbookError`, or an ``OSError`` such as a missing
or unreadable file) prints ``volbook: error: <message>`` on one line to stderr and exits
with status 2; anything else is a bug and propagates. ``--help`` prints help and exits 0.
An interrupted run (Ctrl-C, SIGTERM) cleans up, prints ``volbook: interrupted`` and exits
with status 130.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from volbook import results, runner
from volbook.errors import ParameterError, VolbookError

__all__ = ["main"]

#: Exit status for bad input (the status argparse uses for usage errors).
EXIT_BAD_INPUT = 2
#: Exit status after Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``volbook`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on bad input (the message is printed to stderr).
    """
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        args = _build_parser().parse_args(argv)
        return args.command(args)
    except (_UsageError, VolbookError, OSError) as err:
        print(f"volbook: error: {' '.join(str(err).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        # nbclient's cell task dies with the kernel; asyncio would report it at exit
        logging.getLogger("asyncio").disabled = True
        print("volbook: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM handler: unwind like Ctrl-C, so that the kernel is shut down and the
    scratch and staged files are removed."""
    raise KeyboardInterrupt


class _UsageError(Exception):
    """A command line argparse rejects; :func:`main` prints it as one line."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, ``volbook: error: ...``.

    argparse prints the usage and ``<prog>: error: ...`` on two lines and exits; this one
    raises :class:`_UsageError` instead (naming the subcommand's ``--help``), which
    :func:`main` prints like every other error. Subcommand parsers are of this class too.
    """

    def error(self, message: str):  # type: ignore[override]
        raise _UsageError(f"{message} (see '{self.prog} --help')")


def _build_parser() -> argparse.ArgumentParser:
    """The argument parser of :func:`main`, one subcommand per task."""
    parser = _Parser(
        prog="volbook", description="Run, compare and render the chapters of the volbook."
    )
    parser.add_argument("--root", type=Path, default=None, help="the book's root folder")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root", type=Path, default=argparse.SUPPRESS, help="the book's root folder"
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    run = commands.add_parser("run", parents=[common], help="execute a chapter")
    run.add_argument("chapter", help="stem (01-garch-ewma), slug (garch-ewma) or number (1)")
    run.add_argument(
        "-p", dest="parameters", action="append", default=[], metavar="NAME=VALUE",
        help="set a parameter (value read as YAML); repeatable",
    )
    run.add_argument(
        "--out", type=Path, help="write a run folder here instead of refreshing the book"
    )
    run.add_argument("--progress", action="store_true", help="show a progress bar")
    run.set_defaults(command=_run_command)

    diff = commands.add_parser("diff", parents=[common], help="compare two runs")
    diff.add_argument("a", help="run folder, results folder or chapter (its committed results)")
    diff.add_argument("b", help="run folder, results folder or chapter (its committed results)")
    diff.add_argument("--json", action="store_true", help="print the differences as JSON")
    diff.add_argument(
        "--rtol", type=float, default=results.RTOL,
        help=f"relative tolerance, on the scale of each table column (default {results.RTOL:g})",
    )
    diff.add_argument(
        "--atol", type=float, default=results.ATOL,
        help=f"absolute tolerance (default {results.ATOL:g})",
    )
    diff.set_defaults(command=_diff_command)

    render = commands.add_parser("render", parents=[common], help="render the book")
    render.add_argument("--output", type=Path, help="output folder")
    render.add_argument(
        "--no-quarto", action="store_true", help="build the fallback site even if Quarto is installed"
    )
    render.set_defaults(command=_render_command)

    data = commands.add_parser(
        "data", parents=[common], help="load a data source and summarize it"
    )
    data.add_argument("source", help="data source name")
    data.add_argument("--path", type=Path, help="file to read (file sources)")
    data.add_argument("--start", help="first date, YYYY-MM-DD")
    data.add_argument("--end", help="last date, YYYY-MM-DD")
    data.add_argument("--assets", help="comma-separated asset names")
    data.set_defaults(command=_data_command)

    chapters = commands.add_parser(
        "chapters", parents=[common], help="list chapters and parameters"
    )
    chapters.set_defaults(command=_chapters_command)
    return parser


def _parse_assignments(items: Sequence[str]) -> dict[str, str]:
    """``["lam=0.9", "horizons=[1, 5]"]`` -> ``{"lam": "0.9", "horizons": "[1, 5]"}``."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"-p expects name=value, got '{item}'")
        if name in out:
            raise ParameterError(f"parameter '{name}' is given twice")
        out[name] = value
    return out


def _run_command(args: argparse.Namespace) -> int:
    """``volbook run``: execute a chapter into a run folder or the book."""
    report = runner.run_chapter(
        args.chapter,
        _parse_assignments(args.parameters),
        args.out,
        root=args.root,
        progress=args.progress,
    )
    print(report)
    return 0


def _diff_command(args: argparse.Namespace) -> int:
    """``volbook diff``: parameters, metrics and tables that differ between two runs."""
    report = runner.diff_runs(args.a, args.b, root=args.root, rtol=args.rtol, atol=args.atol)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return 0


def _render_command(args: argparse.Namespace) -> int:
    """``volbook render``: build the site from the stored notebooks (Quarto when on PATH)."""
    from volbook.render import render_book

    root = runner.find_root(args.root)
    print(render_book(root, output=args.output, use_quarto=False if args.no_quarto else None))
    return 0


def _data_command(args: argparse.Namespace) -> int:
    """``volbook data``: load a source and print rows, assets and each asset's date span."""
    import polars as pl

    from volbook.data import load

    options = {
        "path": args.path,
        "start": args.start,
        "end": args.end,
        "assets": None if args.assets is None else [a.strip() for a in args.assets.split(",")],
    }
    panel = load(args.source, **{k: v for k, v in options.items() if v is not None})
    spans = (
        panel.group_by("asset")
        .agg(pl.len().alias("rows"), pl.col("date").min().alias("first"), pl.col("date").max())
        .sort("asset")
    )
    columns = ", ".join(panel.columns)
    print(f"{args.source}: {panel.height} rows, {spans.height} assets, columns {columns}")
    width = max([len("asset"), *(len(a) for a in spans["asset"])])
    print(f"  {'asset'.ljust(width)}  {'rows':>6}  first       last")
    for asset, rows, first, last in spans.iter_rows():
        print(f"  {asset.ljust(width)}  {rows:>6}  {first}  {last}")
    return 0


def _chapters_command(args: argparse.Namespace) -> int:
    """``volbook chapters``: every chapter with its parameters, types, defaults and
    constraints."""
    root = runner.find_root(args.root)
    chapters = runner.list_chapters(root)
    if not chapters:
        print(f"no chapters in {root / 'chapters'}")
    for path in chapters:
        params = runner.chapter_parameters(path).values()
        params = [p for p in params if p.name != runner.RESULTS_DIR_PARAMETER]
        print(path.stem)
        rows = [(p.name, p.type, json.dumps(p.default), p.constraints) for p in params]
        widths = [max([0, *(len(r[i]) for r in rows)]) for i in range(3)]
        for name, kind, default, rules in rows:
            line = f"  {name.ljust(widths[0])}  {kind.ljust(widths[1])}  {default.ljust(widths[2])}  {rules}"
            print(line.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
