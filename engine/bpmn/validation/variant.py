"""Validating a regional variant: its overrides against the base, then the merged bundle like any other.

A variant folder lives at ``processes/<key>/variants/<division>/``; its base is the bundle
folder two levels up. A variant elsewhere has no base at hand: the report says so (deploying
it checks it against the newest deployed base instead).

May import: ``engine.bpmn`` (checks.facts, definitions, manifest, variants), ``engine.bpmn.validation``
(bundle, report), ``engine.errors``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.bpmn.checks.facts import problem
from engine.bpmn.definitions import MANIFEST_NAME, read_bundle_dir
from engine.bpmn.manifest import Manifest, parse_manifest
from engine.bpmn.validation.bundle import validate_bundle_files
from engine.bpmn.validation.report import CHECK_MANIFEST, CHECK_VARIANT, Report, Run
from engine.bpmn.variants import VARIANTS_DIR, VariantOverlay, apply_variant, parse_variant, variant_problems
from engine.errors import DefinitionError, Problem


def validate_variant_files(
    base_files: Mapping[str, bytes],
    variant_files: Mapping[str, bytes],
    source: str = "",
    *,
    known_division: Callable[[str], bool] | None = None,
    **options: Any,
) -> Report:
    """Every problem of a variant: what it may not override, then the merged bundle's own checks."""
    run = Run()
    overlay: VariantOverlay | None = None
    base: Manifest | None = None
    with run.check(CHECK_MANIFEST, MANIFEST_NAME):
        try:
            overlay = parse_variant(variant_files[MANIFEST_NAME])
        except DefinitionError as exc:
            run.problems.extend(replace(p, element=p.element or p.where) for p in exc.problems)
        try:
            base = parse_manifest(base_files[MANIFEST_NAME])
        except DefinitionError:
            run.problems.append(
                problem(
                    "",
                    "variant_of",
                    "variant-base",
                    "基础事项包的 bundle.yaml 无效，请先校验基础事项包",
                    "the base's bundle.yaml is invalid: validate the base first",
                )
            )
    if overlay is None or base is None:
        return run.report(source, False)
    found: list[Problem] = []
    with run.check(CHECK_VARIANT, MANIFEST_NAME):
        found = variant_problems(base, overlay, base_files, variant_files, known_division=known_division)
        run.problems.extend(found)
    if found:
        return run.report(source, False)
    try:
        _manifest, merged = apply_variant(base, overlay, base_files, variant_files)
    except DefinitionError as exc:
        run.problems.extend(exc.problems)
        return run.report(source, False)
    report = validate_bundle_files(merged, source, **options)
    run.problems.extend(report.problems)
    run.checked.extend(c for c in report.checked if c not in run.checked)
    run.unsupported.extend(report.unsupported)
    return run.report(source, report.runnable)


def validate_variant_dir(path: Path, **options: Any) -> Report:
    """A variant folder checked against its base folder (``../..``); problem files named with their paths."""
    base_dir = path.parent.parent
    if path.parent.name != VARIANTS_DIR or not (base_dir / MANIFEST_NAME).is_file():
        return Report(
            str(path),
            (
                problem(
                    str(path / MANIFEST_NAME),
                    "variant_of",
                    "variant-base",
                    f"找不到基础事项包：变体应位于 processes/<键>/{VARIANTS_DIR}/<区划代码>/ 下"
                    "（或直接部署，服务器以最新部署的基础版本校验它）",
                    f"no base at hand: a variant lives in processes/<key>/{VARIANTS_DIR}/<division>/ "
                    "(or deploy it: the server checks it against the newest deployed base)",
                ),
            ),
            False,
            (),
            (),
        )
    try:
        variant_files = read_bundle_dir(path)
        base_files = read_bundle_dir(base_dir)
    except OSError as exc:
        return Report(
            str(path),
            (problem(str(path), "", "path", f"无法读取文件夹: {exc}", f"cannot read the folder: {exc}"),),
            False,
            (),
            (),
        )
    report = validate_variant_files(base_files, variant_files, str(path), **options)
    problems = [_placed(p, path, base_dir, variant_files) for p in report.problems]
    overlay_division = _declared_division(variant_files)
    if overlay_division is not None and path.name != overlay_division:
        problems.append(
            problem(
                str(path / MANIFEST_NAME),
                "division",
                "variant-division",
                f"变体的区划代码 {overlay_division} 与所在文件夹 {path.name} 不一致",
                f"the variant's division {overlay_division} differs from its folder {path.name}",
            )
        )
    return replace(report, problems=tuple(problems))


def _placed(p: Problem, path: Path, base_dir: Path, variant_files: Mapping[str, bytes]) -> Problem:
    """The problem's file as a path: the variant's own files in its folder, the rest in the base's."""
    if not p.file or "/" in p.file:
        return p
    return replace(p, file=str((path if p.file in variant_files else base_dir) / p.file))


def _declared_division(variant_files: Mapping[str, bytes]) -> str | None:
    try:
        return parse_variant(variant_files[MANIFEST_NAME]).division
    except DefinitionError:
        return None
