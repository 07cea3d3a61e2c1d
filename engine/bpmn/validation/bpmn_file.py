"""Validating a lone ``.bpmn`` file from any modeller: every check that needs no manifest.

The file is read (bounded), parsed safely, checked by ``engine.bpmn.checks`` and, when
nothing in it is unsupported, loaded by SpiffWorkflow for a runnable verdict. Without a
manifest no item can bind a plain service task, so there it must say
``camunda:type="external"`` with a topic.

May import: ``engine.bpmn.checks``, ``engine.bpmn.xmlsafe``, ``engine.bpmn.validation``
(report, xml_files, loading, departments), lxml.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from lxml import etree

from engine.bpmn.checks.diagram import check_diagram
from engine.bpmn.checks.dmn import dmn_namespace
from engine.bpmn.checks.facts import DiagramFacts, problem
from engine.bpmn.validation.departments import shipped_departments
from engine.bpmn.validation.loading import new_problems, spiff_load
from engine.bpmn.validation.report import CHECK_DIAGRAM, CHECK_FILES, CHECK_LOAD, CHECK_XML, Report, Run
from engine.bpmn.validation.xml_files import parse_file
from engine.bpmn.xmlsafe import DEFAULT_MAX_BYTES


def _read_limited(path: Path, max_bytes: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(max_bytes + 1)


def validate_bpmn_file(
    path: Path, *, departments: Collection[str] | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> Report:
    """A lone ``.bpmn`` from any modeller: every check that needs no manifest, and a runnable verdict."""
    name = str(path)
    run = Run()
    data = b""
    with run.check(CHECK_FILES, name):
        data = _read_limited(path, max_bytes)
    known_departments: Collection[str] | None = None
    with run.check(CHECK_FILES, "processes/departments.yaml"):
        known_departments = shipped_departments() if departments is None else departments
    root: etree._Element | None = None
    with run.check(CHECK_XML, name):
        root = parse_file(name, data, run, max_bytes) if CHECK_FILES in run.checked else None
    facts: DiagramFacts | None = None
    if root is not None:
        with run.check(CHECK_DIAGRAM, name):
            if dmn_namespace(root) is not None:
                run.problems.append(
                    problem(
                        name,
                        "",
                        "bpmn-root",
                        "这是 DMN 文件，请与其事项包一起校验",
                        "a DMN file: validate its bundle",
                    )
                )
            else:
                facts = check_diagram(root, name, known_departments)
                run.problems.extend(facts.problems)
                run.unsupported.extend(facts.unsupported)
                run.problems.extend(
                    problem(
                        name,
                        task_id,
                        "service-unbound",
                        '服务任务没有 camunda:type="external" 与 camunda:topic；'
                        "只有事项包中 handled_by: system 的事项才能绑定它",
                        'the service task has no camunda:type="external" with camunda:topic; '
                        "only an item with handled_by: system in a bundle can bind it",
                    )
                    for task_id in sorted(facts.plain_service_tasks)
                )
    runnable = False
    if root is not None and facts is not None and facts.executable and not run.unsupported:
        with run.check(CHECK_LOAD, name):
            load_problems = spiff_load(root, name, {}, facts.executable)
            run.problems.extend(new_problems(load_problems, facts))
            runnable = not load_problems
    return run.report(name, runnable)
