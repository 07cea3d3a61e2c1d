"""Deploy-time validation: every problem of a bundle or a BPMN file, in one run.

``onething validate PATH...``, the deploy path and the studio page ask the same question:
can the engine run this, and if not, what exactly is wrong? The answer is a ``Report``
listing every problem with its file and element id (never only the first), whether the
engine can run the diagram, and which elements it cannot run.

A bundle is checked in layers, each adding its problems and none stopping the others:
files and XML safety (``engine.bpmn.xmlsafe``, plus a DOCTYPE and encoding check after it, and
no markup a browser would run: ``engine.bpmn.foreign_content``), the
BPMN and DMN schemas, the elements the engine runs, lanes, expressions and the shape of
the flow (``engine.bpmn.checks``), then the manifest: its schema, items bound to user
tasks in their department's lane, the catalog and the merged form (``forms``), the
examples as real applications, the names conditions read, SpiffWorkflow loading the
definition as a deployment would, and finally each example run through the diagram
(``engine.bpmn.simulation``: its route, an end reached, conditions that agree with the
branches). A lone ``.bpmn`` file gets every check that needs no manifest.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import yaml
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine.bpmn.analyst_texts import text_problems
from engine.bpmn.checks import (
    DiagramFacts,
    DmnFacts,
    Expression,
    check_diagram,
    check_dmn,
    dmn_namespace,
    kind_label,
    problem,
    vet,
)
from engine.bpmn.definitions import (
    MANIFEST_NAME,
    BundleDefinition,
    build_parser,
    load_definition,
    read_bundle_dir,
)
from engine.bpmn.foreign_content import foreign_content_problems
from engine.bpmn.manifest import KEY_PATTERN, Manifest, form_request, outcome_key, parse_manifest
from engine.bpmn.simulation import example_problems
from engine.bpmn.xmlsafe import DEFAULT_MAX_BYTES, parse_xml
from engine.bpmn.yaml_bounds import load_bounded
from engine.errors import DefinitionError, Problem, UnsafeXml
from engine.storage.settings import shipped_processes_dir
from forms.catalog import Catalog, load_catalog
from forms.errors import CatalogError, FormConflict
from forms.merge import MergedForm, merge_form
from forms.spec import FormRequest

# The names of the checks, as a report lists the ones that ran.
CHECK_FILES = "files"
CHECK_XML = "xml"
CHECK_DIAGRAM = "diagram"
CHECK_DMN = "dmn"
CHECK_MANIFEST = "manifest"
CHECK_BINDINGS = "bindings"
CHECK_FORM = "form"
CHECK_EXAMPLES = "examples"
CHECK_NAMES = "names"
CHECK_LOAD = "load"
CHECK_ROUTES = "routes"


@dataclass(frozen=True)
class Report:
    """The verdict on one bundle or BPMN file.

    ``runnable``: SpiffWorkflow loads the diagram and the engine supports every element in
    it (problems elsewhere, e.g. in the manifest, still block a deployment);
    ``unsupported``: each element the engine cannot run, as ``id (what)``;
    ``checked``: the checks that ran to the end (a lone ``.bpmn`` has no manifest checks).
    """

    path: str
    problems: tuple[Problem, ...]
    runnable: bool
    unsupported: tuple[str, ...]
    checked: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when there is nothing to fix."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form for the CLI and the API."""
        return {
            "path": self.path,
            "ok": self.ok,
            "runnable": self.runnable,
            "unsupported": list(self.unsupported),
            "checked": list(self.checked),
            "problems": [p.as_dict() for p in self.problems],
        }


class _Run:
    """Problems and finished checks of one report; a check that crashes becomes a problem."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.checked: list[str] = []
        self.unsupported: list[str] = []

    @contextmanager
    def check(self, name: str, file: str = "") -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # a bug in one check must not hide the other problems
            self.problems.append(
                Problem(
                    f"校验器内部错误 ({name}): {exc!r}",
                    file=file,
                    rule="internal",
                    message_en=f"internal error in the {name} check: {exc!r}",
                )
            )
        else:
            if name not in self.checked:
                self.checked.append(name)

    def report(self, path: str, runnable: bool) -> Report:
        unique = list({(p.file, p.element, p.rule, p.message, p.where): p for p in self.problems}.values())
        unique.sort(key=lambda p: p.file)
        return Report(
            path, tuple(unique), runnable, tuple(dict.fromkeys(self.unsupported)), tuple(self.checked)
        )


def shipped_departments() -> frozenset[str]:
    """Department keys from ``processes/departments.yaml`` (a lane's name must be one of them)."""
    raw = yaml.safe_load((shipped_processes_dir() / "departments.yaml").read_text(encoding="utf-8")) or {}
    return frozenset(str(key) for key in raw)


def _known_only(catalog: Catalog, request: FormRequest) -> FormRequest:
    """The request without the keys the catalog does not know (to check examples despite them)."""
    elements, kinds = catalog.elements, catalog.materials
    items = {
        item.key: replace(
            item,
            fields=tuple(f for f in item.fields if f in elements),
            decision_fields=tuple(f for f in item.decision_fields if f in elements),
            materials=tuple(m for m in item.materials if m in kinds),
            outputs=tuple(m for m in item.outputs if m in kinds and kinds[m].certificate is not None),
        )
        for item in request.items
    }
    fields = {f for item in items.values() for f in (*item.fields, *item.decision_fields)}
    materials = {m for item in items.values() for m in item.materials}
    issued = {m for item in items.values() for m in item.outputs}
    conditions = {
        key: rule
        for key, rule in request.conditions.items()
        if key in fields | materials and isinstance(rule, Mapping) and set(rule) <= fields - {key}
    }
    exemptions = {k: why for k, why in request.exemptions.items() if k in materials}
    promises = {k: d for k, d in request.promises.items() if k in materials - set(exemptions) - issued}
    return replace(
        request, items=tuple(items.values()), conditions=conditions, exemptions=exemptions, promises=promises
    )


# --- files and XML ---------------------------------------------------------------------


def _parse(name: str, data: bytes, run: _Run, max_bytes: int) -> etree._Element | None:
    """Parse one XML file safely; every refusal becomes a problem of that file."""
    try:
        root = parse_xml(data, name, max_bytes)
    except UnsafeXml as exc:
        run.problems.extend(replace(p, file=p.file or name) for p in exc.problems)
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        run.problems.append(
            problem(name, "", "encoding", f"文件须为 UTF-8 编码: {exc}", f"the file must be UTF-8: {exc}")
        )
        return None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        # xmlsafe looks for DOCTYPE in the first bytes only; one further in (or in UTF-16)
        # parses without expanding anything, and is refused here all the same.
        run.problems.append(
            problem(
                name,
                "",
                "xml-dtd",
                "不允许 DOCTYPE 或 ENTITY 声明 (实体扩展/外部实体)",
                "DOCTYPE and ENTITY declarations are not allowed (entity expansion, XXE)",
            )
        )
        return None
    run.problems.extend(foreign_content_problems(data, name))
    return root


def _spiff_load(
    root: etree._Element, name: str, dmns: Mapping[str, etree._Element], process_ids: Sequence[str]
) -> list[Problem]:
    """Whether SpiffWorkflow builds specs for these processes, its refusals as problems."""
    problems: list[Problem] = []
    try:
        parser = build_parser(copy.deepcopy(root), name, {n: copy.deepcopy(t) for n, t in dmns.items()})
    except Exception as exc:  # SpiffWorkflow raises anything from ValidationException to AttributeError
        return [_load_problem(name, exc)]
    for process_id in process_ids:
        try:
            parser.get_spec(process_id)
            parser.get_subprocess_specs(process_id)
        except Exception as exc:  # as above
            problems.append(_load_problem(name, exc, process_id))
    return problems


def _load_problem(name: str, exc: Exception, element: str = "") -> Problem:
    if isinstance(exc, ValidationException):
        element = str(getattr(exc, "id", "") or element)
        name = str(getattr(exc, "file_name", "") or name)
    return problem(
        name,
        element,
        "bpmn-parse",
        f"SpiffWorkflow 无法加载流程图: {exc}",
        f"SpiffWorkflow cannot load the diagram: {exc}",
    )


# --- the manifest against the diagram, the catalog and the form ----------------------------


class _BundleChecker:
    """The checks that need the manifest, over the facts the diagram checks gathered."""

    def __init__(
        self,
        manifest: Manifest,
        facts: DiagramFacts | None,
        dmns: Mapping[str, DmnFacts],
        departments: Collection[str],
        run: _Run,
    ) -> None:
        self.manifest = manifest
        self.facts = facts
        self.dmns = dmns
        self.departments = departments
        self.run = run
        # Examples that are no valid application: not run through the diagram (already named).
        self.invalid_examples: set[int] = set()

    def add(self, element: str, rule: str, zh: str, en: str, file: str = MANIFEST_NAME) -> None:
        self.run.problems.append(problem(file, element, rule, zh, en))

    def check_manifest(self) -> None:
        manifest = self.manifest
        tasks: dict[str, str] = {}
        for item in manifest.items:
            where = f"items[{item.key}]"
            if not KEY_PATTERN.match(item.key):
                self.add(
                    where,
                    "item-key",
                    "事项键须为小写字母、数字和连字符 (用于 <键>_outcome 变量)",
                    "item keys are lower-case letters, digits and hyphens (used in <key>_outcome)",
                )
            if item.department not in self.departments:
                self.add(
                    where,
                    "item-department",
                    f"部门 {item.department!r} 不在 processes/departments.yaml 中",
                    f"department {item.department!r} is not in processes/departments.yaml",
                )
            if item.task in tasks:
                self.add(
                    where,
                    "duplicate-task",
                    f"任务 {item.task!r} 已绑定到事项 {tasks[item.task]}",
                    f"task {item.task!r} is already bound to item {tasks[item.task]}",
                )
            tasks.setdefault(item.task, item.key)
            for kind in sorted(set(item.materials) & set(item.outputs)):
                self.add(
                    where,
                    "material-self-output",
                    f"事项既需要材料 {kind!r} 又签发它",
                    f"the item needs {kind!r}, which it issues itself",
                )

    def check_bindings(self) -> None:
        facts, manifest = self.facts, self.manifest
        if facts is None:
            return
        process = facts.processes.get(manifest.key)
        if process is None or manifest.key not in facts.executable:
            found = ", ".join(facts.executable) or "无 none"
            facts_file = facts.file
            self.add(
                manifest.key,
                "process-id",
                f"流程图中没有 id 为事项包键 {manifest.key!r} 的可执行流程 (现有: {found})",
                f"no executable process has the bundle key {manifest.key!r} as its id (found: {found})",
                facts_file,
            )
        bound = {item.task for item in manifest.items}
        for item in manifest.items:
            where = f"items[{item.key}]"
            task = facts.human_tasks.get(item.task)
            if task is None:
                tag = facts.tags.get(item.task)
                self.add(
                    where,
                    "item-task-missing",
                    f"任务 {item.task!r} 不是流程图中的用户任务" + (f" (它是 {tag})" if tag else ""),
                    f"task {item.task!r} is not a user task of the diagram"
                    + (f" (it is a {tag})" if tag else ""),
                )
            elif task.lane is not None and task.lane != item.department:
                self.add(
                    where,
                    "item-lane",
                    f"事项部门 {item.department!r} 与任务 {item.task} 所在泳道 {task.lane!r} 不一致",
                    f"the item's department {item.department!r} differs from "
                    f"the lane {task.lane!r} of {item.task}",
                )
        for task_id, task in facts.human_tasks.items():
            if task_id not in bound:
                self.add(
                    task_id,
                    "task-unbound",
                    f"{task.tag} 没有绑定到任何事项 (bundle.yaml items[].task)",
                    f"the {task.tag} is bound to no item (bundle.yaml items[].task)",
                    facts.file,
                )
        for task_id, ref in facts.decision_refs.items():
            if not any(ref in dmn.outputs for dmn in self.dmns.values()):
                self.add(
                    task_id,
                    "dmn-missing",
                    f"事项包中没有 id 为 {ref!r} 的决策 (DMN)",
                    f"no decision (DMN) with id {ref!r} in the bundle",
                    facts.file,
                )

    def check_form(self, catalog: Catalog) -> MergedForm | None:
        """Merge the items into one form; on conflicts, report them and merge what is known.

        The second merge leaves out the keys already reported, so the examples can still
        be checked in the same run.
        """
        request = form_request(self.manifest)
        try:
            return merge_form(catalog, request)
        except FormConflict as exc:
            for p in exc.problems:
                prefix = f"{p.where}: "
                self.run.problems.append(
                    Problem(
                        p.message.removeprefix(prefix),
                        file=MANIFEST_NAME,
                        element=p.where,
                        rule=f"form-{p.rule}",
                        message_en=p.message_en.removeprefix(prefix),
                    )
                )
        try:
            return merge_form(catalog, _known_only(catalog, request))
        except FormConflict:
            return None

    def check_examples(self, form: MergedForm) -> None:
        items = {item.key for item in self.manifest.items}
        for index, example in enumerate(self.manifest.examples):
            where = f"examples[{index}]"
            before = len(self.run.problems)
            for bad in form.validate(example.data, example.materials):
                self.add(
                    f"{where}.{'materials' if bad.kind == 'material' else 'data'}.{bad.field}",
                    "example-invalid",
                    f"示例不是有效的申请: {bad.message}",
                    f"the example is not a valid application: {bad.message_en}",
                )
            for item_key, decision in example.decisions.items():
                if item_key not in items:
                    self.add(
                        f"{where}.decisions.{item_key}",
                        "example-invalid",
                        f"没有事项 {item_key!r}",
                        f"no item {item_key!r}",
                    )
                    continue
                for bad in form.validate_decision(item_key, decision, example.data):
                    self.add(
                        f"{where}.decisions.{item_key}.{bad.field}",
                        "example-invalid",
                        f"示例的审批数据无效: {bad.message}",
                        f"the example's decision data is invalid: {bad.message_en}",
                    )
            for step in example.route:
                if step not in items:
                    self.add(
                        f"{where}.route",
                        "example-invalid",
                        f"路线中的 {step!r} 不是事项键",
                        f"{step!r} in the route is not an item key",
                    )
            if len(self.run.problems) > before:
                self.invalid_examples.add(index)

    def known_names(self) -> set[str]:
        manifest = self.manifest
        names = set(manifest.fields)
        for item in manifest.items:
            names.update(item.decision_fields)
            names.add(outcome_key(item.key))
        if self.facts is not None:
            names |= self.facts.assigned
            refs = set(self.facts.decision_refs.values())
            for dmn in self.dmns.values():
                for decision, outputs in dmn.outputs.items():
                    if decision in refs:
                        names.update(outputs)
        return names

    def check_names(self) -> None:
        expressions: list[Expression] = list(self.facts.expressions) if self.facts else []
        for dmn in self.dmns.values():
            expressions.extend(dmn.expressions)
        for index, follow in enumerate(self.manifest.follow_on):
            for key, source in (("when", follow.when), *((f"data.{k}", v) for k, v in follow.data.items())):
                vetted = vet(
                    MANIFEST_NAME, f"follow_on[{index}].{key}", "follow-on", source, self.run.problems
                )
                if vetted is not None:
                    expressions.append(vetted)
        known = self.known_names()
        for expression in expressions:
            unknown = sorted(expression.reads - known)
            if unknown:
                self.add(
                    expression.element,
                    "unknown-name",
                    f"{kind_label(expression.kind)} 读取未知名称 {', '.join(unknown)} "
                    "(不是本事项包的字段、审批字段、<事项>_outcome，也不是流程中赋值的变量)",
                    f"{expression.kind} reads unknown name(s) {', '.join(unknown)} (not a field, decision "
                    "field or <item>_outcome of this bundle, nor a variable the diagram sets)",
                    expression.file,
                )


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
    run = _Run()
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
                roots[name] = _parse(name, files[name], run, max_bytes)
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
        form, invalid_examples = _check_with_manifest(
            manifest, facts, dmn_facts, known_departments, catalog, run
        )
    runnable = False
    definition: BundleDefinition | None = None
    xml_ok = all(tree is not None for tree in roots.values()) and root is not None
    if xml_ok and root is not None and facts is not None and not run.unsupported:
        with run.check(CHECK_LOAD, process_name):
            load_problems, definition = _load(
                files, manifest, facts, root, process_name, dmn_roots, max_bytes
            )
            run.problems.extend(load_problems)
            runnable = not load_problems and bool(facts.executable)
    # Examples run only on a diagram without problems: a broken one says nothing about routes.
    diagram_ok = not any(p.file == process_name or p.file in dmn_roots for p in run.problems)
    if definition is not None and form is not None and diagram_ok:
        with run.check(CHECK_ROUTES, MANIFEST_NAME):
            run.problems.extend(example_problems(definition, form, skip=invalid_examples))
    return run.report(source, runnable)


def _check_with_manifest(
    manifest: Manifest,
    facts: DiagramFacts | None,
    dmns: Mapping[str, DmnFacts],
    departments: Collection[str],
    catalog: Catalog | None,
    run: _Run,
) -> tuple[MergedForm | None, set[int]]:
    """The manifest's checks; the merged form and the examples found invalid, for the route check."""
    checker = _BundleChecker(manifest, facts, dmns, departments, run)
    with run.check(CHECK_MANIFEST, MANIFEST_NAME):
        checker.check_manifest()
    with run.check(CHECK_BINDINGS, MANIFEST_NAME):
        checker.check_bindings()
    form: MergedForm | None = None
    with run.check(CHECK_FORM, MANIFEST_NAME):
        try:
            form = checker.check_form(catalog if catalog is not None else load_catalog())
        except CatalogError as exc:
            run.problems.extend(
                Problem(
                    p.message,
                    file="forms/catalog",
                    element=p.where,
                    rule=f"catalog-{p.rule}",
                    message_en=p.message_en,
                )
                for p in exc.problems
            )
    if form is not None:
        with run.check(CHECK_EXAMPLES, MANIFEST_NAME):
            checker.check_examples(form)
    with run.check(CHECK_NAMES, MANIFEST_NAME):
        checker.check_names()
        run.problems.extend(text_problems(manifest, checker.known_names()))
    return form, checker.invalid_examples


def _load(
    files: Mapping[str, bytes],
    manifest: Manifest | None,
    facts: DiagramFacts,
    root: etree._Element,
    process_name: str,
    dmns: Mapping[str, etree._Element],
    max_bytes: int,
) -> tuple[list[Problem], BundleDefinition | None]:
    """Load as a deployment would; without a usable manifest, load the diagram's executable processes.

    The definition comes back when the whole bundle loaded, for running its examples.
    """
    if manifest is None or manifest.key not in facts.executable:
        return _spiff_load(root, process_name, dmns, facts.executable), None
    try:
        return [], load_definition(files, max_bytes)
    except DefinitionError as exc:
        if isinstance(exc.__cause__, Exception):
            return [_load_problem(process_name, exc.__cause__)], None
        found = [replace(p, rule=p.rule or "bpmn-parse", file=p.file or process_name) for p in exc.problems]
        return found, None
    except Exception as exc:  # SpiffWorkflow raises more than load_definition translates
        return [_load_problem(process_name, exc)], None


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


def _read_limited(path: Path, max_bytes: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(max_bytes + 1)


def validate_bpmn_file(
    path: Path, *, departments: Collection[str] | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> Report:
    """A lone ``.bpmn`` from any modeller: every check that needs no manifest, and a runnable verdict."""
    name = str(path)
    run = _Run()
    data = b""
    with run.check(CHECK_FILES, name):
        data = _read_limited(path, max_bytes)
    known_departments: Collection[str] | None = None
    with run.check(CHECK_FILES, "processes/departments.yaml"):
        known_departments = shipped_departments() if departments is None else departments
    root: etree._Element | None = None
    with run.check(CHECK_XML, name):
        root = _parse(name, data, run, max_bytes) if CHECK_FILES in run.checked else None
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
    runnable = False
    if root is not None and facts is not None and facts.executable and not run.unsupported:
        with run.check(CHECK_LOAD, name):
            load_problems = _spiff_load(root, name, {}, facts.executable)
            run.problems.extend(load_problems)
            runnable = not load_problems
    return run.report(name, runnable)


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


DEPARTMENTS_NAME = "departments.yaml"
_DEPARTMENT_KEY = re.compile(r"[a-z][a-z0-9-]*")
_DEPARTMENT_KINDS = frozenset({"government", "enterprise", "public-institution", "court"})


def validate_departments_file(path: Path) -> Report:
    """The department table every lane name refers to: keys, zh/en names and kinds.

    It sits beside the bundle folders, so ``onething validate processes/*`` meets it too.
    """
    run = _Run()
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


def _path_report(path: Path, zh: str, en: str) -> Report:
    return Report(str(path), (problem(str(path), "", "path", zh, en),), False, (), ())


# --- the CLI -------------------------------------------------------------------------


def format_problem(p: Problem) -> str:
    """One problem as the CLI prints it: ``file: element: message (rule)``."""
    message = p.message + (f" / {p.message_en}" if p.message_en and p.message_en != p.message else "")
    parts = [part for part in (p.file, p.element or p.where) if part]
    return ": ".join([*parts, message]) + (f" ({p.rule})" if p.rule else "")


def format_verdict(report: Report) -> str:
    """The closing line for one path: OK or how many problems, and whether the engine can run it."""
    run = "可运行 runnable" if report.runnable else "不可运行 not runnable"
    if report.unsupported:
        run += " — 不支持 unsupported: " + ", ".join(report.unsupported)
    head = "通过 OK" if report.ok else f"{len(report.problems)} 个问题 problem(s)"
    return f"{report.path}: {head}; {run} [checked: {', '.join(report.checked)}]"


def _write(out: TextIO, text: str) -> None:
    try:
        out.write(text + "\n")
    except UnicodeEncodeError:  # a terminal without UTF-8 still gets every problem
        out.write(text.encode("ascii", "backslashreplace").decode("ascii") + "\n")


def run_validate(paths: Sequence[str], out: TextIO, as_json: bool = False) -> int:
    """The body of ``onething validate PATH...``: every problem, a verdict per path; 1 if any problem.

    Never raises: whatever goes wrong is printed as a problem of the path being checked.
    """
    reports: list[Report] = []
    if not paths:
        reports.append(
            Report(
                "", (problem("", "", "path", "请给出要校验的路径", "give a path to validate"),), False, (), ()
            )
        )
    for raw in paths:
        try:
            reports.extend(validate_paths([Path(raw)]))
        except Exception as exc:  # never a traceback: the failure is reported like any problem
            reports.append(
                Report(
                    raw,
                    (problem(raw, "", "internal", f"校验器内部错误: {exc!r}", f"internal error: {exc!r}"),),
                    False,
                    (),
                    (),
                )
            )
    failed = any(not report.ok for report in reports)
    if as_json:
        _write(
            out,
            json.dumps(
                {"ok": not failed, "reports": [r.as_dict() for r in reports]}, ensure_ascii=False, indent=2
            ),
        )
    else:
        for report in reports:
            for p in report.problems:
                _write(out, format_problem(p))
            _write(out, format_verdict(report))
    return 1 if failed else 0
