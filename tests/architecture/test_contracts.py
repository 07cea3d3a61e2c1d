"""The dependency rules bite: ``lint-imports`` on a copy of the code passes, and one bad import fails it.

The contracts live in pyproject's ``[tool.importlinter]`` (see docs/architecture.md). Each
test copies ``engine/``, ``forms/``, ``api/`` and the pyproject into a fresh directory, runs
the real ``lint-imports`` there, and, for the failing cases, adds one import that a contract
forbids. Contracts are looked up by id in the pyproject, so a removed or renamed contract
fails here instead of passing silently (the layers would still catch most of these imports,
but not under the contract whose message gives the reason).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "forms", "api")
CONTRACTS: dict[str, str] = {
    contract["id"]: contract["name"]
    for contract in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"
    ]["contracts"]
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the three packages and the pyproject, where imports can be broken safely."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run the venv's ``lint-imports`` in ``tree``, importing the packages from there."""
    command = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--no-logo"]
    # Wide columns: a contract's name and its verdict stay on one line.
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "400"}
    return subprocess.run(
        command, cwd=tree, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def verdicts(output: str) -> dict[str, str]:
    """Each contract id's verdict (``KEPT`` or ``BROKEN``) as ``lint-imports`` printed it."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        for contract_id, name in CONTRACTS.items():
            for verdict in ("KEPT", "BROKEN"):
                if line.strip() == f"{name} {verdict}":
                    found[contract_id] = verdict
    return found


def add_import(tree: Path, module_file: str, statement: str) -> None:
    """Append ``statement`` to one module of the copy."""
    path = tree / module_file
    path.write_text(path.read_text(encoding="utf-8") + f"\n{statement}\n", encoding="utf-8")


def test_the_code_as_it_is_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert verdicts(result.stdout) == dict.fromkeys(CONTRACTS, "KEPT")


@pytest.mark.parametrize(
    ("module_file", "statement", "contract_id", "named"),
    [
        pytest.param(
            "engine/cases/visibility.py",
            "import engine.analytics.recording",
            "case-path-blind",
            "engine.cases.visibility -> engine.analytics.recording",
            id="case-path-imports-analytics",
        ),
        pytest.param(
            "engine/cases/store.py",
            "import engine.subscribers",
            "case-path-blind",
            "engine.cases.store -> engine.subscribers",
            id="case-path-imports-its-subscribers",
        ),
        pytest.param(
            "forms/errors.py", "import api.app", "top", "forms.errors -> api.app", id="forms-imports-api"
        ),
        pytest.param(
            "engine/errors.py",
            "import api.errors",
            "top",
            "engine.errors -> api.errors",
            id="engine-imports-api",
        ),
        pytest.param(
            "forms/render.py",
            "from fastapi import Request",
            "no-web-below-api",
            "forms.render -> fastapi",
            id="forms-imports-fastapi",
        ),
        pytest.param(
            "api/routes/cases.py",
            "from engine.storage.models import Case",
            "api-no-rows",
            "api.routes.cases -> engine.storage.models",
            id="api-reads-rows",
        ),
        pytest.param(
            "engine/people/actors.py",
            "import engine.bpmn.xmlsafe",
            "engine-layers",
            "engine.people.actors -> engine.bpmn.xmlsafe",
            id="people-imports-bpmn",
        ),
        pytest.param(
            "engine/time/clock.py",
            "import engine.storage.settings",
            "engine-layers",
            "engine.time.clock -> engine.storage.settings",
            id="time-imports-storage",
        ),
        pytest.param(
            "forms/errors.py",
            "import forms.merge",
            "no-cycles",
            "No cycles are allowed in forms",
            id="forms-circle",
        ),
    ],
)
def test_one_forbidden_import_breaks_the_contract_that_forbids_it(
    tree: Path, module_file: str, statement: str, contract_id: str, named: str
) -> None:
    add_import(tree, module_file, statement)
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert verdicts(result.stdout).get(contract_id) == "BROKEN", result.stdout
    assert named in result.stdout
