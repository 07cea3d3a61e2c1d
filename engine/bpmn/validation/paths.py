"""What ``onething validate PATH...`` may name: a bundle folder, a folder of bundles, a ``.bpmn`` file,
a ``bundle.yaml``, a variant folder, the department table or the division files; a report for each,
and one for a path it cannot check. A bundle folder's variants (``variants/<division>/``) are
checked with it.

Bundles of one folder are also checked against each other: no two may share a key.

May import: ``engine.bpmn.checks.facts``, ``engine.bpmn.definitions``, ``engine.bpmn.yaml_bounds``,
``engine.bpmn.variants``, ``engine.bpmn.validation`` (bundle, bpmn_file, departments, report, variant),
``engine.regions.loading``, ``engine.errors``, yaml.
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
from engine.bpmn.validation.report import CHECK_FILES, Report
from engine.bpmn.validation.variant import validate_variant_dir
from engine.bpmn.variants import VARIANTS_DIR, overlay_text
from engine.bpmn.yaml_bounds import load_bounded
from engine.errors import DefinitionError
from engine.regions.loading import read_division_file

DIVISIONS_DIR = "divisions"  # processes/divisions/*.yaml: the division tree, not bundles


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
        if _is_variant(folder):  # processes/<key>/variants/ given itself: its folders are variants
            reports.append(validate_variant_dir(folder))
            continue
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


def _is_variant(folder: Path) -> bool:
    """Whether a folder's ``bundle.yaml`` is a variant overlay (it says ``variant_of``)."""
    try:
        return overlay_text({MANIFEST_NAME: (folder / MANIFEST_NAME).read_bytes()}) is not None
    except OSError:
        return False


def _variant_folders(bundle: Path) -> list[Path]:
    """The variants shipped with a bundle folder (``variants/<division>/``)."""
    variants = bundle / VARIANTS_DIR
    if not variants.is_dir():
        return []
    return sorted(p for p in variants.iterdir() if p.is_dir() and (p / MANIFEST_NAME).is_file())


def _validate_bundle_or_variant(folder: Path) -> list[Report]:
    """A variant against its base; a bundle, then each of its variants (a base change may break one)."""
    if _is_variant(folder):
        return [validate_variant_dir(folder)]
    return [validate_bundle_dir(folder), *(validate_variant_dir(v) for v in _variant_folders(folder))]


def validate_paths(paths: Sequence[Path]) -> list[Report]:
    """Reports for bundle folders (with their variants), variant folders, folders of bundle folders
    (``processes/``) and ``.bpmn`` files."""
    reports: list[Report] = []
    for path in paths:
        if path.is_file() and path.suffix == ".bpmn":
            reports.append(validate_bpmn_file(path))
        elif path.is_file() and path.name == DEPARTMENTS_NAME:
            reports.append(validate_departments_file(path))
        elif path.is_file() and path.parent.name == DIVISIONS_DIR and path.suffix == ".yaml":
            reports.append(_validate_division_file(path))
        elif path.is_dir() and path.name == DIVISIONS_DIR:
            reports.extend(_validate_division_file(p) for p in sorted(path.glob("*.yaml")))
        elif path.is_file() and path.name == MANIFEST_NAME:
            reports.extend(_validate_bundle_or_variant(path.parent))
        elif path.is_dir() and (path / MANIFEST_NAME).is_file():
            reports.extend(_validate_bundle_or_variant(path))
        elif path.is_dir():
            children = sorted(p for p in path.iterdir() if p.is_dir() and (p / MANIFEST_NAME).is_file())
            lone = sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".bpmn")
            reports.extend(_validate_folder_of_bundles(children))
            reports.extend(validate_variant_dir(v) for child in children for v in _variant_folders(child))
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


def _validate_division_file(path: Path) -> Report:
    """A shipped division file (``processes/divisions/*.yaml``), read as the start loads it."""
    try:
        read_division_file(path)
    except DefinitionError as exc:
        problems = tuple(replace(p, file=str(path)) for p in exc.problems)
        return Report(str(path), problems, False, (), (CHECK_FILES,))
    except OSError as exc:
        return _path_report(path, f"无法读取文件: {exc}", f"cannot read the file: {exc}")
    return Report(str(path), (), False, (), (CHECK_FILES,))


def _path_report(path: Path, zh: str, en: str) -> Report:
    return Report(str(path), (problem(str(path), "", "path", zh, en),), False, (), ())
