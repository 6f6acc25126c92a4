"""environment.yml (conda) and pyproject.toml (pip) must list the same packages."""

import re
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
