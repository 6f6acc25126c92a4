"""Filesystem helpers shared by the runner and the renderer.

Replacing outputs: build the new version at a temporary sibling (:func:`temp_sibling`, same
folder, so renames stay on one file system), then :func:`replace` it into place. What was
there is moved aside first and removed only after the new version is in place; if the move
in fails, the old version is put back.

Reading inputs: :func:`read_yaml`, :func:`read_json` and :func:`read_notebook` turn a file
that cannot be parsed into a one-line :class:`~volbook.errors.DataError` naming the file.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import yaml

from volbook.errors import DataError

__all__ = [
    "temp_sibling",
    "remove",
    "swap_in",
    "restore",
    "replace",
    "parse_yaml",
    "read_yaml",
    "read_json",
    "read_notebook",
]


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


def _read_text(path: Path) -> str:
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
    return parse_yaml(_read_text(path), path)


def read_json(path: Path) -> Any:
    """The JSON file ``path`` (a DataError naming it if it is not valid JSON)."""
    try:
        return json.loads(_read_text(path))
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
