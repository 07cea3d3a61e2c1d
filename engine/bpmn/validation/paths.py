"""What ``onething validate PATH...`` may name: a bundle folder, a folder of bundles, a ``.bpmn`` file,
a ``bundle.yaml`` or the department table; a report for each, and one for a path it cannot check.

Bundles of one folder are also checked against each other: no two may share a key.

May import: ``engine.bpmn.checks.facts``, ``engine.bpmn.definitions``, ``engine.bpmn.yaml_bounds``,
``engine.bpmn.validation`` (bundle, bpmn_file, departments, report), yaml.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import yaml

from engine.bpmn.checks.facts import problem
from engine.bpmn.definitions import MANIFEST_NAME
from engine.bpmn.validation.bpmn_file import validate_bpmn_file
from engine.bpmn.validation.bundle import validate_bundle_dir
from engine.bpmn.validation.departments import DEPARTMENTS_NAME, validate_departments_file
from engine.bpmn.validation.report import Report
from engine.bpmn.yaml_bounds import load_bounded


def _bundle_key(folder: Path) -> str | None:
    try:
        raw = load_bounded((folder / MANIFEST_NAME).read_bytes())
    except (OSError, yaml.YAMLError):
        return None
    key = raw.get("key") if isinstance(raw, dict) else None
    return key if isinstance(key, str) else None


def _validate_folder_of_bundles(folders: Sequence[Path]) -> list[Report]:
    reports: list[Report] = []
    seen: dict[str, Path] = {}
    for folder in folders:
        report = validate_bundle_dir(folder)
        key = _bundle_key(folder)
        if key is not None and key in seen:
            duplicate = problem(
                str(folder / MANIFEST_NAME),
                key,
                "duplicate-key",
                f"事项包键 {key!r} 已由 {seen[key]} 使用",
                f"bundle key {key!r} is already used by {seen[key]}",
            )
            report = replace(report, problems=(*report.problems, duplicate))
        elif key is not None:
            seen[key] = folder
        reports.append(report)
    return reports


def validate_paths(paths: Sequence[Path]) -> list[Report]:
    """Reports for bundle folders, folders of bundle folders (``processes/``) and ``.bpmn`` files."""
    reports: list[Report] = []
    for path in paths:
        if path.is_file() and path.suffix == ".bpmn":
            reports.append(validate_bpmn_file(path))
        elif path.is_file() and path.name == DEPARTMENTS_NAME:
            reports.append(validate_departments_file(path))
        elif path.is_file() and path.name == MANIFEST_NAME:
            reports.append(validate_bundle_dir(path.parent))
        elif path.is_dir() and (path / MANIFEST_NAME).is_file():
            reports.append(validate_bundle_dir(path))
        elif path.is_dir():
            children = sorted(p for p in path.iterdir() if p.is_dir() and (p / MANIFEST_NAME).is_file())
            lone = sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".bpmn")
            reports.extend(_validate_folder_of_bundles(children))
            reports.extend(validate_bpmn_file(p) for p in lone)
            if not children and not lone:
                reports.append(
                    _path_report(
                        path, "文件夹中没有事项包或 .bpmn 文件", "no bundle folder or .bpmn file here"
                    )
                )
        elif path.exists():
            reports.append(
                _path_report(
                    path,
                    "只能校验事项包文件夹或 .bpmn 文件",
                    "only bundle folders and .bpmn files can be validated",
                )
            )
        else:
            reports.append(_path_report(path, "路径不存在", "no such file or folder"))
    return reports


def _path_report(path: Path, zh: str, en: str) -> Report:
    return Report(str(path), (problem(str(path), "", "path", zh, en),), False, (), ())
