"""Packaging: pyproject and environment.yml agree, modules declare their exports, the console script exists."""

from __future__ import annotations

import importlib
import pkgutil
import re
import tomllib
from pathlib import Path

import quantkit

# conda-forge name -> PyPI distribution name, where they differ.
CONDA_TO_PYPI = {"pytables": "tables"}
# conda-only entries that are not Python dependencies of the package.
CONDA_ONLY = {"python", "pip"}


def _name(requirement: str) -> str:
    """The bare distribution name of a requirement string, normalised."""
    name = re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0]
    return name.lower().replace("_", "-")


def test_environment_yml_lists_the_pyproject_dependencies(repo_root: Path) -> None:
    """environment.yml names exactly pyproject's dependencies plus its test extra."""
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text())
    project = pyproject["project"]
    wanted = {_name(r) for r in project["dependencies"]} | {_name(r) for r in project["optional-dependencies"]["test"]}
    conda: set[str] = set()
    in_deps = False
    for line in (repo_root / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - ([A-Za-z0-9_.\-]+)", line)
        if in_deps and m:
            conda.add(CONDA_TO_PYPI.get(m.group(1), m.group(1)).lower())
    assert conda - CONDA_ONLY == wanted


def test_console_script_points_at_cli_main(repo_root: Path) -> None:
    """The `quantkit` console script is quantkit.cli:main."""
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["quantkit"] == "quantkit.cli:main"
    from quantkit.cli import main

    assert callable(main)


def _modules() -> list[str]:
    names = ["quantkit"]
    for info in pkgutil.walk_packages(quantkit.__path__, prefix="quantkit."):
        names.append(info.name)
    return names


def test_every_module_declares_all_and_its_names_exist() -> None:
    """Every quantkit module has __all__ and every name in it is defined."""
    for name in _modules():
        if name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), f"{name} has no __all__"
        for export in module.__all__:
            assert hasattr(module, export), f"{name}.__all__ lists {export!r}, which is not defined"


def test_package_ships_py_typed() -> None:
    """quantkit is marked as typed (PEP 561)."""
    assert (Path(quantkit.__file__).parent / "py.typed").exists()
