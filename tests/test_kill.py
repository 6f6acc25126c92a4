"""A killed or failed run leaves nothing behind (issue 5 §4).

* SIGKILL to ``volbook run``'s process group kills the kernel and its children (two spawn
  pool workers and the multiprocessing resource tracker) too;
* a run killed while it swaps the new notebook and results into the book is completed by
  the next run, and git never sees a staged file;
* the transactions behind the swap are all-or-nothing at every crash point;
* scratch folders of killed runs are deleted by the next run, those of failed runs are
  bounded; temporary siblings left by older runners are cleaned;
* SIGTERM (and Ctrl-C) unwind: one line, exit 130, no kernel, no scratch folder.

The chapter is tests/fixtures/sleepy-chapter.ipynb (a kernel with pool workers that sleeps)
or the toy chapter, in a temporary book that is a git repository.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from volbook import _fs
from volbook.runner import KEEP_FAILED, _prune_scratch

FIXTURES = Path(__file__).parent / "fixtures"
VOLBOOK = Path(sys.executable).parent / "volbook"


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root,
                          capture_output=True, text=True, check=True)
    return done.stdout


def make_book(root: Path) -> Path:
    (root / "chapters").mkdir(parents=True)
    (root / "_quarto.yml").write_text("project:\n  type: book\n")
    shutil.copyfile(FIXTURES / "sleepy-chapter.ipynb", root / "chapters" / "01-sleepy.ipynb")
    shutil.copyfile(FIXTURES / "toy-chapter.ipynb", root / "chapters" / "02-toy.ipynb")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "book")
    return root


@pytest.fixture
def book(tmp_path):
    return make_book(tmp_path / "book")


@pytest.fixture
def env(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = dict(os.environ, TMPDIR=str(scratch), OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    out.pop("VOLBOOK_RESULTS_DIR", None)
    return out


def dead(pid: int) -> bool:
    """Gone, or a zombie waiting for a parent that will never reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.1)


def start(book: Path, env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([str(VOLBOOK), "run", *args, "--root", str(book)], env=env, cwd=book,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def sleeping_kernel(book: Path, env: dict, tmp_path: Path, *args: str) -> tuple[subprocess.Popen, list[int]]:
    """A ``volbook run`` of the sleepy chapter, once its kernel has started its children."""
    pid_file = tmp_path / "pids.json"
    proc = start(book, env, "sleepy", "-p", f"pid_file={pid_file}", *args)
    wait_for(lambda: pid_file.exists() or proc.poll() is not None, 240, "the kernel's process ids")
    assert proc.poll() is None, proc.communicate()
    pids = json.loads(pid_file.read_text())
    everyone = [pids["kernel"], *pids["workers"], pids["tracker"]]
    assert len(everyone) == 4 and not any(dead(p) for p in everyone)
    return proc, everyone


def test_sigkill_to_the_process_group_takes_the_kernel_and_its_children(book, env, tmp_path):
    before = git(book, "status", "--porcelain", "--untracked-files=all")
    proc, everyone = sleeping_kernel(book, env, tmp_path)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    try:
        wait_for(lambda: all(dead(p) for p in everyone), 10, f"processes {everyone} to die")
    finally:
        for pid in everyone:
            if not dead(pid):
                os.kill(pid, signal.SIGKILL)
    assert git(book, "status", "--porcelain", "--untracked-files=all") == before
    # the killed run's scratch folder is deleted by the next run that starts a kernel
    scratch = [p for p in Path(env["TMPDIR"]).iterdir() if p.name.startswith("volbook-01-sleepy-")]
    assert len(scratch) == 1 and (scratch[0] / "input.ipynb").exists()
    done = subprocess.run([str(VOLBOOK), "run", "sleepy", "-p", "seconds=0", "--out", str(tmp_path / "ok"),
                           "--root", str(book)], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert [p for p in Path(env["TMPDIR"]).iterdir() if p.name.startswith("volbook-")] == []


def test_sigterm_unwinds_with_one_line(book, env, tmp_path):
    proc, everyone = sleeping_kernel(book, env, tmp_path)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err == "volbook: interrupted\n"
    wait_for(lambda: all(dead(p) for p in everyone), 10, "the kernel and its children to die")
    assert [p for p in Path(env["TMPDIR"]).iterdir() if p.name.startswith("volbook-")] == []
    assert git(book, "status", "--porcelain", "--untracked-files=all") == ""


SLOW_RENAME = """
import os, time
_replace = os.replace
def replace(src, dst, *args, **kwargs):
    if os.fspath(dst) == os.environ.get("SLOW_RENAME_TARGET"):
        open(os.environ["SLOW_RENAME_MARK"], "w").close()
        time.sleep(120)
    return _replace(src, dst, *args, **kwargs)
os.replace = replace
"""


def test_a_run_killed_between_results_and_notebook_is_completed_by_the_next(book, env, tmp_path):
    """Reproduces the issue's slowed rename: the results are in, the notebook not yet."""
    refreshed = subprocess.run([str(VOLBOOK), "run", "toy", "--root", str(book)], env=env,
                               capture_output=True, text=True, timeout=240)
    assert refreshed.returncode == 0, refreshed.stderr
    git(book, "add", "-A")
    git(book, "commit", "-q", "-m", "toy results")
    expected = subprocess.run([str(VOLBOOK), "run", "toy", "-p", "lam=0.9", "--out", str(tmp_path / "expected"),
                               "--root", str(book)], env=env, capture_output=True, text=True, timeout=240)
    assert expected.returncode == 0, expected.stderr

    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(textwrap.dedent(SLOW_RENAME))
    mark = tmp_path / "renaming"
    notebook = book / "chapters" / "02-toy.ipynb"
    slow = dict(env, PYTHONPATH=str(inject), SLOW_RENAME_TARGET=str(notebook), SLOW_RENAME_MARK=str(mark))
    proc = start(book, slow, "toy", "-p", "lam=0.9")
    wait_for(lambda: mark.exists() or proc.poll() is not None, 240, "the notebook rename")
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    # killed half-way: nothing git could pick up, and the old notebook still in place
    status = git(book, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert status and all(not line.startswith("??") for line in status), status
    assert git(book, "diff", "--name-only", "--", "chapters") == ""
    # the next run, even one refused for a bad parameter, first completes the swap
    refused = subprocess.run([str(VOLBOOK), "run", "toy", "-p", "lam=7", "--root", str(book)], env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "must be in (0, 1)" in refused.stderr
    assert notebook.read_bytes() == (tmp_path / "expected" / "02-toy.ipynb").read_bytes()
    for name in ("ewma.csv", "returns.csv"):
        assert (book / "results" / "02-toy" / name).read_bytes() == (tmp_path / "expected" / "results" / name).read_bytes()
    assert not (book / _fs.STAGING).exists()
    assert all(line[3:].startswith(("chapters/02-toy", "results/02-toy")) for line in git(book, "status", "--porcelain").splitlines())


# --------------------------------------------------------------------------- transactions


def crash_at(step: int, txn: Path, moves: list, *, fail: bool = False) -> int:
    """Run ``_fs.commit`` in a child process that dies (or raises) at its ``step``-th rename
    or link; returns the child's exit status."""
    pid = os.fork()
    if pid == 0:  # the child
        calls = {"n": 0}
        real_replace, real_link = os.replace, os.link

        def counted(real):
            def call(*args, **kwargs):
                calls["n"] += 1
                if calls["n"] == step:
                    if fail:
                        raise OSError(5, "I/O error (simulated)")
                    os._exit(9)  # as a SIGKILL would: no cleanup at all
                return real(*args, **kwargs)
            return call

        os.replace, os.link = counted(real_replace), counted(real_link)
        try:
            _fs.commit(txn, moves)
        except OSError:
            os._exit(3)
        os._exit(0)
    return os.waitpid(pid, 0)[1] >> 8


def stage(root: Path) -> tuple[Path, list]:
    """A folder target and a file target with old versions, and a transaction with new ones."""
    (root / "results" / "x").mkdir(parents=True, exist_ok=True)
    (root / "results" / "x" / "t.csv").write_text("old")
    (root / "chapters").mkdir(exist_ok=True)
    (root / "chapters" / "x.ipynb").write_text("old")
    txn = _fs.begin(root, "x")
    (txn / "results").mkdir()
    (txn / "results" / "t.csv").write_text("new")
    (txn / "notebook").write_text("new")
    return txn, [(txn / "results", root / "results" / "x"), (txn / "notebook", root / "chapters" / "x.ipynb")]


def state(root: Path) -> tuple[str | None, str | None]:
    csv, nb = root / "results" / "x" / "t.csv", root / "chapters" / "x.ipynb"
    return (csv.read_text() if csv.exists() else None, nb.read_text() if nb.exists() else None)


@pytest.mark.parametrize("fail", [False, True], ids=["killed", "error"])
def test_commit_is_all_or_nothing_at_every_step(tmp_path, fail):
    outcomes = set()
    for step in range(1, 12):
        root = tmp_path / f"{step}"
        txn, moves = stage(root)
        status = crash_at(step, txn, moves, fail=fail)
        if status == 0:
            assert state(root) == ("new", "new") and not (root / _fs.STAGING).exists()
            outcomes.add("done")
            continue
        assert status == (3 if fail else 9)
        after_crash = state(root)
        settled = _fs.recover(root)  # what the next run does first
        final = state(root)
        assert final in {("new", "new"), ("old", "old")}, (step, after_crash, final)
        if fail:
            assert final == ("old", "old") and after_crash == final and settled == []  # rolled back at once
        assert not (root / _fs.STAGING).exists()
        outcomes.add(final)
    assert outcomes == ({"done", ("old", "old")} if fail else {"done", ("old", "old"), ("new", "new")})


def test_recover_leaves_live_transactions_alone(tmp_path):
    txn, moves = stage(tmp_path)
    (txn / "commit.json").write_text(json.dumps([[s.name, str(t)] for s, t in moves]))
    assert _fs.recover(tmp_path) == [txn.name]  # our own pid: not running, so finished
    assert state(tmp_path) == ("new", "new")
    other = _fs.begin(tmp_path, "y")
    live = other.with_name(f"y-{os.getppid()}-{other.name[-8:]}")
    other.rename(live)
    assert _fs.recover(tmp_path) == [] and live.is_dir()
    assert (tmp_path / _fs.STAGING / ".gitignore").read_text().endswith("*\n")


# --------------------------------------------------------------------------- scratch folders


def test_scratch_folders_are_bounded(tmp_path):
    def folder(name: str, *files: str, age: float = 0) -> Path:
        path = tmp_path / name
        path.mkdir()
        for f in files:
            (path / f).write_text("x")
        os.utime(path, (time.time() - age, time.time() - age))
        return path

    dead_pid = 2**22 + 12345  # above pid_max's default: no such process
    killed = folder(f"volbook-01-x-{dead_pid}-abcdefgh", "input.ipynb", "01-x.ipynb")
    live = folder(f"volbook-01-x-{os.getpid()}-abcdefgh", "input.ipynb")
    failed = [folder(f"volbook-01-x-{dead_pid}-fail{i:04d}", "01-x.ipynb", "kernel.log", age=i) for i in range(8)]
    legacy_failed = folder("volbook-01-x-zzzzzzzz", "01-x.ipynb", age=100)
    legacy_running = folder("volbook-01-x-yyyyyyyy", "input.ipynb", age=100)
    other = folder("volbook-nbval-results-abcdefgh", "metrics.json", age=100)
    _prune_scratch(tmp_path)
    assert not killed.exists() and live.exists() and legacy_running.exists() and other.exists()
    assert [p.exists() for p in failed] == [True] * (KEEP_FAILED - 1) + [False] * (8 - KEEP_FAILED + 1)
    assert not legacy_failed.exists()


def test_stale_siblings_of_older_runners_are_removed(book, env):
    (book / "results" / "02-toy").mkdir(parents=True)
    stale = [book / "chapters" / "02-toy.ipynb.tmp-0123abcd", book / "results" / "02-toy.tmp-89abcdef"]
    stale[0].write_text("x")
    stale[1].mkdir()
    orphan = book / "results" / "03-gone.tmp-00000000"  # the only copy of a chapter's results
    orphan.mkdir()
    refused = subprocess.run([str(VOLBOOK), "run", "toy", "-p", "lam=2", "--root", str(book)], env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert not any(p.exists() for p in stale) and orphan.exists()


def test_a_long_temporary_folder_still_runs(book, env, tmp_path):
    """IPC socket paths are limited to about 104 bytes; a long TMPDIR falls back to TCP."""
    deep = Path(env["TMPDIR"]) / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    done = subprocess.run([str(VOLBOOK), "run", "toy", "--out", str(tmp_path / "run"), "--root", str(book)],
                          env=dict(env, TMPDIR=str(deep)), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
