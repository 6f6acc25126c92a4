"""Filesystem helpers shared by the runner and the renderer.

Replacing outputs (:func:`begin`, :func:`commit`, :func:`recover`): the new versions are
built in a *transaction folder* ``<parent>/.volbook-tmp/<label>-<pid>-<random>/`` next to
their targets (same file system, so renames are atomic), a folder that holds a
``.gitignore`` ignoring everything, so git never sees a staged or left-over file. Writing
the plan ``commit.json`` is the commit point; the targets are then swapped in by renames
(the old versions moved into the transaction folder first). A Python error during the swap
rolls it back; a killed process leaves the transaction for :func:`recover`, which the next
run calls first: it finishes a committed transaction (all new) or undoes a rolled-back one
(all old), and deletes uncommitted ones. So several targets change together or not at all,
once the next run has looked.

Reading inputs: :func:`read_yaml`, :func:`read_json` and :func:`read_notebook` turn a file
that cannot be parsed into a one-line :class:`~volbook.errors.DataError` naming the file.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import yaml

from volbook.errors import DataError

__all__ = [
    "STAGING",
    "begin",
    "commit",
    "abandon",
    "recover",
    "process_alive",
    "temp_sibling",
    "remove",
    "swap_in",
    "restore",
    "replace",
    "parse_yaml",
    "read_text",
    "read_yaml",
    "read_json",
    "read_notebook",
]


#: Name of the folder, next to the targets, that holds transactions (ignored by git).
STAGING = ".volbook-tmp"
_PLAN, _ROLLBACK = "commit.json", "rollback.json"
_TXN_NAME = re.compile(r"^(?P<label>.+)-(?P<pid>\d+)-[0-9a-f]{8}$")


def process_alive(pid: int) -> bool:
    """True while a process with this id exists (a zombie counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def begin(parent: Path, label: str) -> Path:
    """A new, empty transaction folder under ``parent / STAGING`` (created, git-ignored)."""
    area = Path(parent) / STAGING
    area.mkdir(parents=True, exist_ok=True)
    while True:
        txn = area / f"{label}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            txn.mkdir()
            break
        except FileExistsError:
            continue
    ignore = area / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# volbook's transactions: never part of the book\n*\n", encoding="utf-8")
    return txn


def commit(txn: Path, moves: list[tuple[Path, Path]]) -> None:
    """Move every staged path (a child of ``txn``) to its target, all or none.

    Raises what the swap raised after rolling it back; the transaction folder is removed
    either way (unless the process dies, see :func:`recover`).
    """
    plan = []
    for staged, target in moves:
        if staged.parent != txn:
            raise ValueError(f"{staged} is not staged in {txn}")
        plan.append([staged.name, str(Path(target).absolute())])
    tmp = txn / f"{_PLAN}.tmp"
    tmp.write_text(json.dumps(plan), encoding="utf-8")
    os.replace(tmp, txn / _PLAN)  # the commit point
    try:
        _roll_forward(txn, plan)
    except BaseException:
        os.replace(txn / _PLAN, txn / _ROLLBACK)
        _roll_back(txn, plan)
        _remove_transaction(txn)
        raise
    _remove_transaction(txn)


def abandon(txn: Path) -> None:
    """Remove a transaction folder that was never committed (a committed one stays)."""
    if txn.is_dir() and not (txn / _PLAN).exists() and not (txn / _ROLLBACK).exists():
        _remove_transaction(txn)


def recover(parent: Path) -> list[str]:
    """Settle the transactions under ``parent / STAGING`` whose process is gone.

    A committed one is finished, a rolled-back one undone, an uncommitted one deleted.
    Returns the names of the transactions finished or undone.
    """
    area = Path(parent) / STAGING
    if not area.is_dir():
        return []
    settled = []
    for txn in sorted(area.iterdir()):
        match = _TXN_NAME.match(txn.name)
        if not txn.is_dir() or match is None:
            continue
        pid = int(match["pid"])
        if pid != os.getpid() and process_alive(pid):
            continue
        for name, action in ((_PLAN, _roll_forward), (_ROLLBACK, _roll_back)):
            if (txn / name).is_file():
                action(txn, read_json(txn / name))
                settled.append(txn.name)
        _remove_transaction(txn)
    return settled


def _roll_forward(txn: Path, plan: list[list[str]]) -> None:
    """Move each staged path to its target (idempotent). An old folder is moved into ``txn``
    first; an old file gets a second name (hard link, else a copy) in ``txn`` and is then
    replaced in one atomic rename."""
    for i, (name, target) in enumerate(plan):
        staged, target, old = txn / name, Path(target), txn / f"old-{i}"
        if not os.path.lexists(staged):
            continue  # already in place
        if os.path.lexists(target) and not os.path.lexists(old):
            if target.is_dir() and not target.is_symlink():
                os.replace(target, old)
            else:
                _link_or_copy(target, old)
        os.replace(staged, target)


def _roll_back(txn: Path, plan: list[list[str]]) -> None:
    """Undo :func:`_roll_forward` step by step, whatever part of it was done (idempotent)."""
    for i, (name, target) in reversed(list(enumerate(plan))):
        staged, target, old, new = txn / name, Path(target), txn / f"old-{i}", txn / f"new-{i}"
        if not os.path.lexists(staged) and not os.path.lexists(new) and os.path.lexists(target):
            os.replace(target, new)  # the new version had been moved in
        if os.path.lexists(old) and not (os.path.lexists(target) and os.path.samefile(old, target)):
            os.replace(old, target)


def _link_or_copy(src: Path, dst: Path) -> None:
    tmp = dst.with_name(dst.name + ".part")
    remove(tmp)  # left by a run killed here
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def _remove_transaction(txn: Path) -> None:
    remove(txn)
    area = txn.parent
    if area.is_dir() and {p.name for p in area.iterdir()} <= {".gitignore"}:
        remove(area / ".gitignore")
        try:
            area.rmdir()
        except OSError:
            pass  # another run began a transaction meanwhile


def temp_sibling(path: Path) -> Path:
    """A path next to ``path`` that does not exist yet: ``<name>.tmp-<8 hex digits>``."""
    while True:
        candidate = path.with_name(f"{path.name}.tmp-{secrets.token_hex(4)}")
        if not os.path.lexists(candidate):
            return candidate


def remove(path: Path | None) -> None:
    """Remove a file or folder if it exists; best effort (used for cleanup)."""
    if path is None:
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


def swap_in(staged: Path, target: Path) -> Path | None:
    """Move ``staged`` to ``target`` (same folder); return where the old ``target`` went.

    The old ``target`` (file or folder) is renamed to a temporary sibling first, because a
    non-empty folder cannot be renamed over. If moving ``staged`` in then fails, the old
    ``target`` is renamed back and the error raised. Returns None when there was no
    ``target``. Pass the result to :func:`restore` to undo, or to :func:`remove` to keep the
    new version.
    """
    if not os.path.lexists(target):
        os.replace(staged, target)
        return None
    backup = temp_sibling(target)
    os.replace(target, backup)
    try:
        os.replace(staged, target)
    except BaseException:
        os.replace(backup, target)
        raise
    return backup


def restore(target: Path, backup: Path | None) -> None:
    """Undo :func:`swap_in`: put ``backup`` back at ``target`` (None: remove ``target``)."""
    discarded = temp_sibling(target)
    os.replace(target, discarded)
    try:
        if backup is not None:
            os.replace(backup, target)
    except BaseException:
        os.replace(discarded, target)
        raise
    remove(discarded)


def replace(staged: Path, target: Path) -> None:
    """Put the file or folder ``staged`` at ``target`` (same folder), removing what was there.

    On failure ``target`` is left as it was.
    """
    remove(swap_in(staged, target))


# --------------------------------------------------------------------------- reading


def read_text(path: Path) -> str:
    """The UTF-8 text file ``path`` (a DataError naming it if it is not UTF-8)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None


def parse_yaml(text: str, where: str | Path) -> Any:
    """``text`` read as YAML; invalid YAML is a DataError naming ``where`` and the line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise DataError(f"{where}: invalid YAML{line}: {problem}") from None


def read_yaml(path: Path) -> Any:
    """The YAML file ``path`` (a DataError naming it if it is not valid YAML)."""
    return parse_yaml(read_text(path), path)


def read_json(path: Path) -> Any:
    """The JSON file ``path`` (a DataError naming it if it is not valid JSON)."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: invalid JSON (line {err.lineno}): {err.msg}") from None


def read_notebook(path: Path) -> Any:
    """The notebook ``path`` as nbformat version 4 (a DataError naming it if unreadable)."""
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except OSError:
        raise
    except Exception as err:  # nbformat raises several unrelated types on bad files
        raise DataError(f"{path}: not a readable notebook ({type(err).__name__})") from None
