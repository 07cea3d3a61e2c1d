"""One form from many items (一表申请): each element asked once, grouped as an applicant thinks.

``merge_form`` checks the whole request first and raises ``FormConflict`` listing every
problem (unknown keys, bad conditions, exemptions or promises), which is what
``onething validate`` reports at deploy time. The resulting ``MergedForm`` is immutable
and answers every question the engine, the API and the pages ask of a bundle's form.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from forms import conditions as cond
from forms.catalog import Catalog, Element
from forms.checklist import ChecklistEntry, build_checklist
from forms.errors import FormConflict, SpecProblem, UnknownItem
from forms.shape import FormShape
from forms.spec import FormItem, FormRequest
from forms.validate import (
    SCHEMA_DIALECT,
    FieldChecker,
    FieldProblem,
    property_schema,
    value_checker,
    value_problem,
)
from forms.views import DepartmentView, department_view


class MergedForm(FormShape):
    """The one form of a bundle: its shape, and its schema, layout and checks."""

    def __init__(self, catalog: Catalog, request: FormRequest) -> None:
        super().__init__(catalog, request)
        self.json_schema: dict[str, Any] = self._schema()
        self._checker = FieldChecker(self.json_schema, catalog.elements)
        self.layout: tuple[dict[str, Any], ...] = self._layout()
        # Checkers built on first use and kept: validation runs on every request.
        self._value_checkers: dict[str, FieldChecker] = {}
        self._decision_checkers: dict[tuple[str, tuple[str, ...]], FieldChecker] = {}

    def __repr__(self) -> str:
        return (
            f"MergedForm({len(self.items)} items, {len(self.fields)} fields, {len(self.materials)} materials)"
        )

    # --- the schema and the layout -------------------------------------------------------

    def element(self, key: str) -> Element:
        """The catalog element of a field."""
        return self.catalog.elements[key]

    def _schema(self) -> dict[str, Any]:
        required = [name for name in self.fields if name not in self.conditions]
        schema: dict[str, Any] = {
            "$schema": SCHEMA_DIALECT,
            "type": "object",
            "properties": {name: property_schema(self.element(name)) for name in self.fields},
            "required": required,
            "additionalProperties": False,
        }
        if self.request.title_zh:
            schema["title"] = self.request.title_zh
        if self.request.title_en:
            schema["x-title-en"] = self.request.title_en
        rules = [
            {
                "if": {
                    "properties": {name: {"enum": list(values)} for name, values in rule.items()},
                    "required": list(rule),
                },
                "then": {"required": [key]},
            }
            for key, rule in self.conditions.items()
            if key in self.fields
        ]
        if rules:
            schema["allOf"] = rules
        return schema

    def field_layout(self, name: str) -> dict[str, Any]:
        """The layout entry of one field (the applicant's or a clerk's): labels, type, options, condition."""
        element = self.element(name)
        condition = self.conditions.get(name)
        return {
            "key": name,
            "zh": element.zh,
            "en": element.en,
            "type": element.type.value,
            "format": element.format.value if element.format else None,
            "enum": list(element.enum),
            "options": [{"value": v, **element.enum_labels[v].model_dump()} for v in element.enum],
            "required": condition is None,
            "condition": cond.show_when(condition),
            "class": element.data_class.value,
            "unit": element.unit.model_dump() if element.unit else None,
            "help": element.help.model_dump() if element.help else None,
            "schema": property_schema(element),
        }

    def _layout(self) -> tuple[dict[str, Any], ...]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for name in self.fields:
            groups.setdefault(self.element(name).group, []).append(self.field_layout(name))
        return tuple(
            {
                "key": key,
                "zh": self.catalog.groups[key].zh,
                "en": self.catalog.groups[key].en,
                "fields": fields,
            }
            for key, fields in groups.items()
        )

    # --- what is asked, given the answers ---------------------------------------------

    def asked(self, key: str, data: Mapping[str, Any]) -> bool:
        """Whether a field or material is asked, given the answers so far (its condition holds)."""
        return cond.holds(self.conditions.get(key), data)

    def value_problem(self, key: str, value: Any) -> FieldProblem | None:
        """The first problem of one value for one field of the catalog, or ``None`` when it is valid."""
        checker = self._value_checkers.get(key)
        if checker is None:
            checker = self._value_checkers[key] = value_checker(self.element(key))
        return checker.value_problem(key, value)

    def relevant_data(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The answers of asked fields only (answers left over from another route are dropped)."""
        return {name: data[name] for name in self.fields if name in data and self.asked(name, data)}

    def checklist(
        self, data: Mapping[str, Any] | None = None, held: Collection[str] = ()
    ) -> tuple[ChecklistEntry, ...]:
        """What to bring (一次告知): every material with whether it is required, exempt and why.

        ``held``: certificate kinds the applicant already holds from earlier cases (exempt).
        """
        return build_checklist(self, data, held)

    # --- validation ------------------------------------------------------------------

    def validate(
        self,
        data: Mapping[str, Any],
        provided_materials: Collection[str],
        promised: Collection[str] = (),
        held: Collection[str] = (),
    ) -> list[FieldProblem]:
        """Every problem with an application at once: fields first, then materials.

        ``provided_materials``: kinds handed in; ``promised``: kinds the applicant promises to
        bring later (容缺受理, only those the bundle allows); ``held``: certificate kinds the
        applicant already holds (kinds outside this form are ignored there).
        """
        problems = [self._decided_by_clerk(p) for p in self._checker.problems(data, self.reasons)]
        answers: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        problems.extend(self._material_problems(answers, provided_materials, promised, held))
        return problems

    def _decided_by_clerk(self, problem: FieldProblem) -> FieldProblem:
        """An answer to a clerk's field is not the applicant's to give: say so instead of "unknown"."""
        if problem.rule != "unknown" or problem.field not in self.decided:
            return problem
        element = self.element(problem.field)
        return FieldProblem(
            problem.field,
            f"{element.zh}：由经办部门办理时填写，申请人无需填写",
            f"{element.en}: filled in by the department handling it, not by the applicant",
            "not_applicant",
        )

    def _material_problems(
        self,
        data: Mapping[str, Any],
        provided: Collection[str],
        promised: Collection[str],
        held: Collection[str],
    ) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        for kind in provided:
            if kind not in self.materials:
                problems.append(
                    FieldProblem(
                        kind,
                        f"{kind}：本事项不需要此材料",
                        f"{kind}: this bundle does not ask for it",
                        "unknown",
                        "material",
                    )
                )
        for kind in promised:
            if kind not in self.request.promises:
                name = self.catalog.materials[kind].zh if kind in self.catalog.materials else kind
                name_en = self.catalog.materials[kind].en if kind in self.catalog.materials else kind
                problems.append(
                    FieldProblem(
                        kind,
                        f"{name}：此材料不适用容缺受理，请现在提交",
                        f"{name_en}: this material cannot be promised for later; please hand it in now",
                        "promise_not_allowed",
                        "material",
                    )
                )
        for entry in self.checklist(data, held):
            if not entry.required or entry.kind in provided:
                continue
            if entry.kind in promised and entry.promise_days is not None:
                continue
            reason_zh = f"{entry.why_zh}，" if entry.condition else ""
            reason_en = f" ({entry.why_en})" if entry.condition else ""
            problems.append(
                FieldProblem(
                    entry.kind,
                    f"{entry.zh}：{reason_zh}缺少此材料，请上传",
                    f"{entry.en}: missing{reason_en}; please upload it",
                    "missing",
                    "material",
                )
            )
        return problems

    # --- departments and their decisions ---------------------------------------------

    def item(self, key: str) -> FormItem:
        """The item with this key (``UnknownItem`` otherwise)."""
        try:
            return self.items[key]
        except KeyError:
            raise UnknownItem(key) from None

    def decision_fields(self, item_key: str) -> tuple[str, ...]:
        """The fields the item's clerk fills in when deciding."""
        return self.item(item_key).decision_fields

    def outputs(self, item_key: str) -> tuple[str, ...]:
        """The certificate kinds the item issues."""
        return self.item(item_key).outputs

    def validate_decision(
        self, item_key: str, data: Mapping[str, Any], case_data: Mapping[str, Any] | None = None
    ) -> list[FieldProblem]:
        """Every problem with a clerk's decision data (conditions see the case data and the decision)."""
        names = self.decision_fields(item_key)
        context = {**(case_data or {}), **(data if isinstance(data, Mapping) else {})}
        required = tuple(name for name in names if self.asked(name, context))
        return self._decision_checker(item_key, required).problems(data, self.reasons)

    def _decision_checker(self, item_key: str, required: tuple[str, ...]) -> FieldChecker:
        """The checker of an item's decision fields with these required, built once per form."""
        checker = self._decision_checkers.get((item_key, required))
        if checker is None:
            names = self.decision_fields(item_key)
            schema = {
                "type": "object",
                "properties": {name: property_schema(self.element(name)) for name in names},
                "required": list(required),
                "additionalProperties": False,
            }
            checker = FieldChecker(schema, self.catalog.elements)
            self._decision_checkers[item_key, required] = checker
        return checker

    def department_view(
        self, item_key: str, data: Mapping[str, Any], materials: Mapping[str, str]
    ) -> DepartmentView:
        """What one item's clerk may see (data minimisation): its fields, its decisions, its materials."""
        return department_view(self, self.item(item_key), data, materials)


def _problem(where: str, zh: str, en: str, rule: str) -> SpecProblem:
    return SpecProblem(where=where, message=f"{where}: {zh}", message_en=f"{where}: {en}", rule=rule)


def _check_items(catalog: Catalog, request: FormRequest, problems: list[SpecProblem]) -> None:
    seen: set[str] = set()
    for item in request.items:
        where = f"items[{item.key}]"
        if item.key in seen:
            problems.append(_problem(where, "事项键重复", "item key used twice", "duplicate"))
        seen.add(item.key)
        for section, names, known in (
            ("fields", item.fields, catalog.elements),
            ("decision_fields", item.decision_fields, catalog.elements),
            ("materials", item.materials, catalog.materials),
            ("outputs", item.outputs, catalog.materials),
        ):
            for name in dict.fromkeys(names):
                if name not in known:
                    what = ("数据项", "element") if known is catalog.elements else ("材料", "material kind")
                    problems.append(
                        _problem(
                            f"{where}.{section}",
                            f"未知的{what[0]} {name!r}(不在数据元目录中)",
                            f"unknown {what[1]} {name!r} (not in the catalog)",
                            "unknown_key",
                        )
                    )
        for name in item.outputs:
            kind = catalog.materials.get(name)
            if kind is not None and kind.certificate is None:
                problems.append(
                    _problem(
                        f"{where}.outputs",
                        f"{name!r} 不是电子证照类材料(目录中没有 certificate)",
                        f"{name!r} is not an electronic certificate kind (no certificate in the catalog)",
                        "not_certificate",
                    )
                )
    issuers: dict[str, str] = {}
    for item in request.items:
        for name in item.outputs:
            if name in issuers:
                problems.append(
                    _problem(
                        f"items[{item.key}].outputs",
                        f"{name!r} 已由事项 {issuers[name]} 签发",
                        f"{name!r} is already issued by item {issuers[name]}",
                        "duplicate",
                    )
                )
            issuers.setdefault(name, item.key)


def _check_conditions(catalog: Catalog, request: FormRequest, problems: list[SpecProblem]) -> None:
    decided = {n for i in request.items for n in i.decision_fields}
    applicant = {n for i in request.items for n in i.fields} - decided
    materials = {m for i in request.items for m in i.materials}
    graph: dict[str, set[str]] = {}
    for key, raw in request.conditions.items():
        where = f"conditions.{key}"
        if key not in applicant | decided | materials:
            problems.append(
                _problem(
                    where,
                    "条件所指的字段或材料不在本表单中",
                    "names a field or material this form does not hold",
                    "unknown_key",
                )
            )
            continue
        if not isinstance(raw, Mapping) or not raw:
            problems.append(
                _problem(
                    where,
                    "条件须为非空映射 {字段: 值}",
                    "must be a non-empty {field: value} mapping",
                    "schema",
                )
            )
            continue
        allowed = decided | applicant if key in decided else applicant
        for name, values in cond.normalize(raw).items():
            if name == key:
                problems.append(_problem(where, "条件不能依赖自身", "cannot depend on itself", "cycle"))
            elif name not in allowed:
                zh, en = (
                    (
                        "条件字段 {0!r} 由经办部门决定，申请人无法预知",
                        "condition field {0!r} is decided by a clerk",
                    )
                    if name in decided
                    else ("条件字段 {0!r} 不在本表单中", "condition field {0!r} is not on this form")
                )
                problems.append(_problem(where, zh.format(name), en.format(name), "unknown_field"))
            elif (element := catalog.elements.get(name)) is not None:
                if not values:
                    problems.append(
                        _problem(where, f"{name} 没有给出取值", f"{name} lists no values", "schema")
                    )
                for value in values:
                    bad = value_problem(element, value)
                    if bad is not None:
                        problems.append(
                            _problem(
                                where,
                                f"{name} 的取值 {value!r} 无效：{bad.message}",
                                f"value {value!r} of {name} is invalid: {bad.message_en}",
                                "condition_value",
                            )
                        )
                graph.setdefault(key, set()).add(name)
    for start in graph:
        if _reaches(graph, start, start):
            problems.append(
                _problem(
                    f"conditions.{start}",
                    "条件循环依赖",
                    "conditions depend on each other in a cycle",
                    "cycle",
                )
            )


def _reaches(graph: Mapping[str, set[str]], start: str, target: str) -> bool:
    stack, seen = list(graph.get(start, ())), set[str]()
    while stack:
        node = stack.pop()
        if node == target:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return False


def _check_materials(request: FormRequest, problems: list[SpecProblem]) -> None:
    materials = {m for i in request.items for m in i.materials}
    outputs = {m for i in request.items for m in i.outputs}
    for kind, why in request.exemptions.items():
        where = f"exemptions.{kind}"
        if kind not in materials:
            problems.append(
                _problem(
                    where,
                    "免交的材料不在本表单中",
                    "exempts a material this form does not ask for",
                    "unknown_key",
                )
            )
        if len(why) != 2 or not all(isinstance(t, str) and t.strip() for t in why):
            problems.append(
                _problem(
                    where, "须说明免交理由(中文与英文)", "needs a reason in Chinese and English", "schema"
                )
            )
    for kind, days in request.promises.items():
        where = f"promises.{kind}"
        if kind not in materials:
            problems.append(
                _problem(
                    where,
                    "容缺材料不在本表单中",
                    "promises a material this form does not ask for",
                    "unknown_key",
                )
            )
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            problems.append(
                _problem(
                    where,
                    "承诺期限须为正整数天",
                    "the promise needs a whole number of days, at least 1",
                    "schema",
                )
            )
        if kind in request.exemptions or kind in outputs:
            problems.append(
                _problem(
                    where,
                    "免交或本件事签发的材料无需容缺承诺",
                    "an exempt or issued material needs no promise",
                    "conflict",
                )
            )


def merge_form(catalog: Catalog, request: FormRequest) -> MergedForm:
    """Merge the items of a request into one form; ``FormConflict`` lists every problem found."""
    problems: list[SpecProblem] = []
    if not request.items:
        problems.append(_problem("items", "至少需要一个事项", "at least one item is needed", "empty"))
    _check_items(catalog, request, problems)
    _check_conditions(catalog, request, problems)
    _check_materials(request, problems)
    if problems:
        raise FormConflict(problems)
    return MergedForm(catalog, request)
