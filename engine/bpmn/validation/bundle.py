"""Validating a bundle: every problem of its files, in one run, layer by layer.

A bundle is checked in layers, each adding its problems and none stopping the others:
the manifest's schema, the files and XML safety (``xml_files``), the BPMN and DMN checks
(``engine.bpmn.checks``), the checks that need the manifest (``manifest_checks``),
SpiffWorkflow loading the definition as a deployment would (``loading``), and finally each
example run through the diagram (``engine.bpmn.simulation``: its route, an end reached,
conditions that agree with the branches).

May import: ``engine.bpmn`` (checks, definitions, manifest, simulation, xmlsafe),
``engine.bpmn.validation`` (its modules below this one), ``engine.errors``, ``forms``, lxml.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from lxml import etree

from engine.bpmn.checks.diagram import check_diagram
from engine.bpmn.checks.dmn import check_dmn
from engine.bpmn.checks.facts import DiagramFacts, DmnFacts, problem
from engine.bpmn.definitions import MANIFEST_NAME, BundleDefinition, read_bundle_dir
from engine.bpmn.manifest import Manifest, parse_manifest
from engine.bpmn.simulation import example_problems
from engine.bpmn.validation.departments import shipped_departments
from engine.bpmn.validation.loading import load_as_deployed, new_problems
from engine.bpmn.validation.manifest_checks import check_with_manifest
from engine.bpmn.validation.report import (
    CHECK_DIAGRAM,
    CHECK_DMN,
    CHECK_FILES,
    CHECK_LOAD,
    CHECK_MANIFEST,
    CHECK_ROUTES,
    CHECK_XML,
    Report,
    Run,
)
from engine.bpmn.validation.xml_files import parse_file
from engine.bpmn.xmlsafe import DEFAULT_MAX_BYTES
from engine.errors import DefinitionError
from forms.catalog import Catalog
from forms.merge import MergedForm


def validate_bundle_files(
    files: Mapping[str, bytes],
    source: str = "",
    *,
    catalog: Catalog | None = None,
    departments: Collection[str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Report:
    """Every problem of a bundle given as its files (name -> bytes), in one report.

    ``catalog`` and ``departments`` default to the shipped ones; the deploy path and the
    CLI use the defaults.
    """
    run = Run()
    manifest: Manifest | None = None
    with run.check(CHECK_MANIFEST, MANIFEST_NAME):
        if MANIFEST_NAME not in files:
            run.problems.append(
                problem(MANIFEST_NAME, "", "missing-file", "缺少 bundle.yaml", "bundle.yaml is missing")
            )
        else:
            try:
                manifest = parse_manifest(files[MANIFEST_NAME], MANIFEST_NAME)
            except DefinitionError as exc:
                run.problems.extend(replace(p, element=p.element or p.where) for p in exc.problems)
    known_departments: Collection[str] = ()
    with run.check(CHECK_FILES, "processes/departments.yaml"):
        known_departments = shipped_departments() if departments is None else departments
    bpmn_names = sorted(name for name in files if name.endswith(".bpmn"))
    process_name = (
        manifest.process if manifest else (bpmn_names[0] if len(bpmn_names) == 1 else "process.bpmn")
    )
    with run.check(CHECK_FILES):
        if process_name not in files:
            run.problems.append(
                problem(
                    process_name,
                    "",
                    "missing-file",
                    f"缺少流程图 {process_name}",
                    f"{process_name} is missing",
                )
            )
        for name in bpmn_names:
            if name != process_name:
                run.problems.append(
                    problem(
                        name,
                        "",
                        "unused-file",
                        f"事项包只运行 {process_name}，此文件不会被使用",
                        f"the bundle runs {process_name} only; this file is not used",
                    )
                )
    roots: dict[str, etree._Element | None] = {}
    with run.check(CHECK_XML):
        for name in sorted(files):
            if name == process_name or name.endswith(".dmn"):
                roots[name] = parse_file(name, files[name], run, max_bytes)
    root = roots.get(process_name)
    facts: DiagramFacts | None = None
    if root is not None:
        with run.check(CHECK_DIAGRAM, process_name):
            facts = check_diagram(root, process_name, known_departments)
            run.problems.extend(facts.problems)
            run.unsupported.extend(facts.unsupported)
    dmn_facts: dict[str, DmnFacts] = {}
    dmn_roots = {name: tree for name, tree in roots.items() if name.endswith(".dmn") and tree is not None}
    for name, tree in dmn_roots.items():
        with run.check(CHECK_DMN, name):
            dmn_facts[name] = check_dmn(tree, name)
            run.problems.extend(dmn_facts[name].problems)
            run.unsupported.extend(dmn_facts[name].unsupported)
    form: MergedForm | None = None
    invalid_examples: set[int] = set()
    if manifest is not None:
        form, invalid_examples = check_with_manifest(
            manifest, facts, dmn_facts, known_departments, catalog, run
        )
    runnable = False
    definition: BundleDefinition | None = None
    xml_ok = all(tree is not None for tree in roots.values()) and root is not None
    if xml_ok and root is not None and facts is not None and not run.unsupported:
        with run.check(CHECK_LOAD, process_name):
            load_problems, definition = load_as_deployed(
                files, manifest, facts, root, process_name, dmn_roots, max_bytes
            )
            run.problems.extend(new_problems(load_problems, facts))
            runnable = not load_problems and bool(facts.executable)
    # Examples run only on a diagram without problems: a broken one says nothing about routes.
    diagram_ok = not any(p.file == process_name or p.file in dmn_roots for p in run.problems)
    if definition is not None and form is not None and diagram_ok:
        with run.check(CHECK_ROUTES, MANIFEST_NAME):
            run.problems.extend(example_problems(definition, form, skip=invalid_examples))
    return run.report(source, runnable)


def validate_bundle_dir(path: Path, **options: Any) -> Report:
    """Every problem of a bundle folder; problem files are named with the folder's path."""
    try:
        files = read_bundle_dir(path)
    except OSError as exc:
        return Report(
            str(path),
            (problem(str(path), "", "path", f"无法读取文件夹: {exc}", f"cannot read the folder: {exc}"),),
            False,
            (),
            (),
        )
    report = validate_bundle_files(files, str(path), **options)
    problems = tuple(
        replace(p, file=str(path / p.file)) if p.file and "/" not in p.file else p for p in report.problems
    )
    return replace(report, problems=problems)
