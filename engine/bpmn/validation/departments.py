"""The department table every lane name refers to: the shipped keys, and the file's own checks.

``processes/departments.yaml`` maps department keys to zh/en names and a kind; a lane's
name must be one of its keys.

May import: ``engine.bpmn.yaml_bounds``, ``engine.bpmn.checks.facts``, ``engine.bpmn.validation.report``,
``engine.storage.settings`` (where the shipped processes are), yaml.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from engine.bpmn.checks.facts import problem
from engine.bpmn.validation.report import CHECK_FILES, Report, Run
from engine.bpmn.yaml_bounds import load_bounded
from engine.storage.settings import shipped_processes_dir

DEPARTMENTS_NAME = "departments.yaml"
_DEPARTMENT_KEY = re.compile(r"[a-z][a-z0-9-]*")
_DEPARTMENT_KINDS = frozenset({"government", "enterprise", "public-institution", "court"})


def shipped_departments() -> frozenset[str]:
    """Department keys from ``processes/departments.yaml`` (a lane's name must be one of them)."""
    raw = yaml.safe_load((shipped_processes_dir() / "departments.yaml").read_text(encoding="utf-8")) or {}
    return frozenset(str(key) for key in raw)


def validate_departments_file(path: Path) -> Report:
    """The department table every lane name refers to: keys, zh/en names and kinds.

    It sits beside the bundle folders, so ``onething validate processes/*`` meets it too.
    """
    run = Run()
    name = str(path)
    with run.check(CHECK_FILES, name):
        try:
            raw = load_bounded(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raw = None
            run.problems.append(
                problem(name, "", "yaml", f"不是有效的 YAML: {exc}", f"not valid YAML: {exc}")
            )
        if raw is not None and not isinstance(raw, dict):
            run.problems.append(problem(name, "", "schema", "部门表须为映射", "the table must be a mapping"))
        for key, entry in (raw or {}).items() if isinstance(raw, dict) else ():
            where = str(key)
            if not isinstance(key, str) or not _DEPARTMENT_KEY.fullmatch(key):
                run.problems.append(
                    problem(
                        name,
                        where,
                        "department-key",
                        "部门键须为小写字母、数字和连字符",
                        "keys are lower-case-with-dashes",
                    )
                )
            if not isinstance(entry, dict) or not entry.get("zh") or not entry.get("en"):
                run.problems.append(
                    problem(
                        name,
                        where,
                        "department-name",
                        "部门须有中文名 zh 和英文名 en",
                        "a department needs zh and en names",
                    )
                )
            elif entry.get("kind", "government") not in _DEPARTMENT_KINDS:
                run.problems.append(
                    problem(
                        name,
                        where,
                        "department-kind",
                        f"未知的部门类型 {entry.get('kind')!r}",
                        f"unknown kind {entry.get('kind')!r} (one of {', '.join(sorted(_DEPARTMENT_KINDS))})",
                    )
                )
    return run.report(name, runnable=not run.problems)
