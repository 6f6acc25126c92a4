"""environment.yml (conda) and pyproject.toml (pip) list the same packages, requirements.lock
pins each of them within both ranges, and the README's commands install from the lock."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from the PyPI ones
CONDA_TO_PYPI = {"arch-py": "arch", "quarto": "quarto-cli"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_and_pyproject_list_the_same_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        pip_side |= {_name(r) for r in extra}

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_side = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            conda_side |= {_name(r) for r in dep["pip"] if not r.startswith("-e")}
        elif _name(dep) not in {"python", "pip"}:
            conda_side.add(CONDA_TO_PYPI.get(_name(dep), _name(dep)))
    assert conda_side == pip_side, (
        f"only in environment.yml: {sorted(conda_side - pip_side)}; only in pyproject.toml: {sorted(pip_side - conda_side)}"
    )


def test_ci_runs_the_readme_test_command_and_nothing_else():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(bash scripts/\S+\.sh)", readme, flags=re.M)
    assert commands[:2] == ["bash scripts/book.sh", "bash scripts/test.sh"]
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert ci[-1] == "bash scripts/test.sh"


# --------------------------------------------------------------------------- the lock file

LOCK = ROOT / "requirements.lock"


def _lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version and not re.search(r"[;\s]", version), f"requirements.lock: not name==version: {line!r}"
        key = _name(name)
        assert key not in pins, f"requirements.lock pins {key} twice"
        pins[key] = version
    return pins


def _requirements() -> dict[str, list[str]]:
    """name -> every range pyproject.toml (dependencies and the test extra) and
    environment.yml give it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out: dict[str, list[str]] = {}
    for req in project["dependencies"] + project["optional-dependencies"]["test"]:
        out.setdefault(_name(req), []).append(req)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    for dep in env["dependencies"]:
        for req in dep["pip"] if isinstance(dep, dict) else [dep]:
            name = CONDA_TO_PYPI.get(_name(req), _name(req))
            if name in out:  # conda-only (python, pip) and optional extras are not locked
                out[name].append(name + req[len(_name(req)):])
    return out


def test_lock_pins_every_dependency_within_the_declared_ranges():
    from packaging.requirements import Requirement

    pins = _lock()
    for name, reqs in _requirements().items():
        assert name in pins, f"{name} is not in requirements.lock: run scripts/lock.sh"
        for req in reqs:
            spec = Requirement(req).specifier
            assert spec.contains(pins[name], prereleases=True), (
                f"requirements.lock has {name}=={pins[name]}, outside '{req}': run scripts/lock.sh"
            )


def test_the_environment_is_installed_from_the_lock():
    """scripts/_venv.sh installs with the lock as constraints, so the test environment has
    exactly its versions (a failure here: `source scripts/_venv.sh` to reinstall)."""
    from importlib.metadata import distributions

    installed = {_name(d.metadata["Name"]): d.version for d in distributions()}
    wrong = {n: (v, installed.get(n)) for n, v in _lock().items() if installed.get(n) != v}
    assert not wrong, f"installed versions differ from requirements.lock (locked, installed): {wrong}"


def test_venv_script_reinstalls_when_the_lock_changes(tmp_path):
    """_venv.sh with a stand-in Python that records what it is asked to do."""
    for name in ("scripts/_venv.sh", "scripts/_python.sh", "pyproject.toml", "requirements.lock"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copyfile(ROOT / name, tmp_path / name)
    log = tmp_path / "calls.log"
    fake = tmp_path / "fake-python"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        f'if [ "$1" = "-m" ]; then echo "$*" >> {log}\n'
        '  if [ "$2" = "venv" ]; then mkdir -p .venv/bin && cp "$0" .venv/bin/python; fi\n'
        "  exit 0\nfi\n"
        f'exec {sys.executable} "$@"\n'
    )
    fake.chmod(0o755)

    def source() -> list[str]:
        log.write_text("")
        done = subprocess.run(["bash", "-c", "source scripts/_venv.sh"], cwd=tmp_path,
                              env=dict(os.environ, PYTHON=str(fake)), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return log.read_text().splitlines()

    first = source()
    assert first[0] == "-m venv --clear .venv"
    assert first[-1] == "-m pip install --quiet -c requirements.lock -e .[test]"
    assert source() == []  # nothing changed: nothing installed
    with (tmp_path / "requirements.lock").open("a") as lock:
        lock.write("six==1.17.0\n")
    assert source() == first  # the lock changed: a clean reinstall from it
    assert source() == []
    (tmp_path / "pyproject.toml").write_text((tmp_path / "pyproject.toml").read_text() + "\n")
    assert source() == first


def test_readme_documents_the_lock_refresh():
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/lock.sh" in readme and "requirements.lock" in readme
    assert (ROOT / "scripts" / "lock.sh").is_file()
