"""The checks that need the manifest, over the facts the diagram and DMN checks gathered.

In order: the manifest's own rules (item keys, departments, one item per task), its items
bound to the diagram's user tasks (``handled_by: clerk``) or service and receive tasks
(``handled_by: system``) in their department's lane, the merged form (``forms``),
the examples as real applications, and the names every expression reads (fields, decision
fields, ``<item>_outcome``, names the diagram sets) with the analyst's texts.

May import: ``engine.bpmn.checks``, ``engine.bpmn.analyst_texts``, ``engine.bpmn.definitions``,
``engine.bpmn.manifest``, ``engine.bpmn.validation.report``, ``engine.errors``, ``forms``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from engine.bpmn.analyst_texts import text_problems
from engine.bpmn.checks.facts import DiagramFacts, DmnFacts, Expression, problem
from engine.bpmn.checks.vet import kind_label, vet
from engine.bpmn.definitions import MANIFEST_NAME
from engine.bpmn.manifest import DIVISION_FORMAT, KEY_PATTERN, Item, Manifest, form_request, outcome_key
from engine.bpmn.validation.report import (
    CHECK_BINDINGS,
    CHECK_EXAMPLES,
    CHECK_FORM,
    CHECK_MANIFEST,
    CHECK_NAMES,
    Run,
)
from engine.errors import Problem
from forms.catalog import Catalog, load_catalog
from forms.errors import CatalogError, FormConflict
from forms.merge import MergedForm, merge_form
from forms.spec import FormRequest


def check_with_manifest(
    manifest: Manifest,
    facts: DiagramFacts | None,
    dmns: Mapping[str, DmnFacts],
    departments: Collection[str],
    catalog: Catalog | None,
    run: Run,
) -> tuple[MergedForm | None, set[int]]:
    """The manifest's checks; the merged form and the examples found invalid, for the route check."""
    checker = _BundleChecker(manifest, facts, dmns, departments, run)
    with run.check(CHECK_MANIFEST, MANIFEST_NAME):
        checker.check_manifest()
        checker.check_catalog()
    with run.check(CHECK_BINDINGS, MANIFEST_NAME):
        checker.check_bindings()
    form: MergedForm | None = None
    with run.check(CHECK_FORM, MANIFEST_NAME):
        try:
            known = catalog if catalog is not None else load_catalog()
            checker.check_divisions(known)
            form = checker.check_form(known)
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


class _BundleChecker:
    """The checks that need the manifest, over the facts the diagram checks gathered."""

    def __init__(
        self,
        manifest: Manifest,
        facts: DiagramFacts | None,
        dmns: Mapping[str, DmnFacts],
        departments: Collection[str],
        run: Run,
    ) -> None:
        self.manifest = manifest
        self.facts = facts
        self.dmns = dmns
        self.departments = departments
        self.run = run
        # Examples that are no valid application: not run through the diagram (already named).
        self.invalid_examples: set[int] = set()

    def add(self, element: str, rule: str, zh: str, en: str, file: str = MANIFEST_NAME) -> None:
        """Record a problem, by default of the manifest."""
        self.run.problems.append(problem(file, element, rule, zh, en))

    def check_manifest(self) -> None:
        """The manifest's own rules: item keys, departments, one item per task, no self-issued material."""
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
            if item.topic is not None and item.handled_by != "system":
                self.add(
                    f"{where}.topic",
                    "item-topic",
                    "只有 handled_by: system 的事项才有 topic (部门系统按主题领取任务)",
                    "only an item with handled_by: system has a topic (department systems fetch by topic)",
                )
            for kind in sorted(set(item.materials) & set(item.outputs)):
                self.add(
                    where,
                    "material-self-output",
                    f"事项既需要材料 {kind!r} 又签发它",
                    f"the item needs {kind!r}, which it issues itself",
                )

    def check_catalog(self) -> None:
        """The catalog block: known lead and cooperating departments, covering every item's department.

        Absent is allowed for an analyst's draft; every shipped bundle has one (tests/bundles).
        """
        source = self.manifest.catalog
        if source is None:
            return
        named = source.departments
        for department in named:
            if department not in self.departments:
                self.add(
                    "catalog",
                    "catalog-department",
                    f"牵头或配合部门 {department!r} 不在 processes/departments.yaml 中",
                    f"lead or cooperating department {department!r} is not in processes/departments.yaml",
                )
        if len(set(named)) != len(named):
            self.add(
                "catalog.cooperating",
                "catalog-department",
                "同一部门不能既牵头又配合，也不能重复列出",
                "a department is named twice (lead and cooperating, or twice cooperating)",
            )
        for department in sorted(set(self.manifest.departments) - set(named)):
            self.add(
                "catalog",
                "catalog-owner",
                f"部门 {department!r} 承办本事项包的事项，却既非牵头也非配合部门",
                f"department {department!r} owns an item of the bundle but is neither lead nor cooperating",
            )

    def check_bindings(self) -> None:
        """Items against the diagram: the process id, user tasks, lanes, unbound tasks, decisions."""
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
            if item.handled_by == "system":
                self._check_system_binding(facts, item, where)
                continue
            task = facts.human_tasks.get(item.task)
            system_task = facts.system_tasks.get(item.task)
            if task is None and system_task is not None:
                self.add(
                    where,
                    "item-task-system",
                    f"任务 {item.task!r} 是 {system_task.tag}，由部门系统办理；请为事项写 handled_by: system",
                    f"task {item.task!r} is a {system_task.tag}, done by the department's system; "
                    "give the item handled_by: system",
                )
            elif task is None:
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
        for task_id in sorted(facts.plain_service_tasks - bound):
            self.add(
                task_id,
                "service-unbound",
                '服务任务既不是外部任务 (camunda:type="external" 与 camunda:topic)，'
                "也没有 handled_by: system 的事项绑定它",
                'the service task is neither an external task (camunda:type="external" with '
                "camunda:topic) nor bound by an item with handled_by: system",
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

    def _check_system_binding(self, facts: DiagramFacts, item: Item, where: str) -> None:
        """An item a department's system handles: a service or receive task in the department's lane."""
        task = facts.system_tasks.get(item.task)
        if task is None:
            tag = facts.tags.get(item.task)
            self.add(
                where,
                "item-task-missing",
                f"handled_by: system 的事项须绑定服务任务或接收任务，{item.task!r} 不是"
                + (f" (它是 {tag})" if tag else ""),
                f"an item with handled_by: system binds a service or receive task; {item.task!r} is neither"
                + (f" (it is a {tag})" if tag else ""),
            )
            return
        if task.lane is None:
            self.add(
                item.task,
                "lane-missing",
                f"由部门系统办理的 {task.tag} 不在任何泳道中(泳道即部门)",
                f"the {task.tag} its department's system does is in no lane (a lane is a department)",
                facts.file,
            )
        elif task.lane != item.department:
            self.add(
                where,
                "item-lane",
                f"事项部门 {item.department!r} 与任务 {item.task} 所在泳道 {task.lane!r} 不一致",
                f"the item's department {item.department!r} differs from "
                f"the lane {task.lane!r} of {item.task}",
            )
        if task.topic is not None and item.topic is not None and task.topic != item.topic:
            self.add(
                f"{where}.topic",
                "item-topic",
                f"事项的 topic {item.topic!r} 与流程图中 {item.task} 的 camunda:topic {task.topic!r} 不一致",
                f"the item's topic {item.topic!r} differs from "
                f"the camunda:topic {task.topic!r} of {item.task}",
            )

    def check_divisions(self, catalog: Catalog) -> None:
        """Division sources name a division-code field the item or the bundle asks (or a fixed code).

        The schema already refuses both or neither of ``field`` and ``fixed`` and a malformed
        fixed code; here the field must be asked and hold a division code, or routing would
        read a company name as a 行政区划.
        """
        asked = set(self.manifest.fields)
        sources = [
            (f"items[{item.key}].division.field", item.division.field)
            for item in self.manifest.items
            if item.division is not None and item.division.field is not None
        ]
        if self.manifest.division_field is not None:
            sources.append(("division_field", self.manifest.division_field))
        for where, name in sources:
            if name not in asked:
                self.add(
                    where,
                    "division-field",
                    f"字段 {name!r} 不是本事项包询问的字段",
                    f"field {name!r} is not a field this bundle asks",
                )
                continue
            element = catalog.elements.get(name)
            if element is not None and element.format != DIVISION_FORMAT:
                self.add(
                    where,
                    "division-field",
                    f"字段 {name!r} 不是行政区划代码 (format: {DIVISION_FORMAT})",
                    f"field {name!r} is not a division code (format: {DIVISION_FORMAT})",
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
        """Each example a valid application with valid decisions and a route of item keys."""
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
        """The names an expression may read: fields, decision fields, outcomes, names the diagram sets."""
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
        """Every expression (diagram, DMN, follow-on rules) reads only known names."""
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
