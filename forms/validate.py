"""Validation of answers: JSON Schema (draft 2020-12) plus the catalog's own validators.

``jsonschema`` checks types, enums, ranges, lengths and shapes; the catalog's validators
add what a schema cannot say (check digits, a birth date inside an ID, date bounds). Every
problem is returned, each with the field, a Chinese message, an English one and the rule,
so the applicant hears about all of them at once (一次性告知).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from forms.catalog import Element, ElementType
from forms.checks import SHAPE_PATTERNS, Format, check_format

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_TYPE_WORDS: dict[ElementType, tuple[str, str]] = {
    ElementType.STRING: ("文本", "text"),
    ElementType.INTEGER: ("整数", "a whole number"),
    ElementType.NUMBER: ("数字", "a number"),
    ElementType.BOOLEAN: ("是或否", "yes or no"),
    ElementType.DATE: ("日期(YYYY-MM-DD)", "a date (YYYY-MM-DD)"),
}


@dataclass(frozen=True)
class FieldProblem:
    """One problem with an answer or a material: which one, what is wrong (zh, en), which rule.

    ``fields``: every field a cross-field rule read (``forms.plausibility``), ``field`` among
    them; empty for a problem of one value.
    """

    field: str
    message: str
    message_en: str
    rule: str
    kind: Literal["field", "material"] = "field"
    fields: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``field`` or ``material`` key, as the REST contract has it)."""
        out: dict[str, Any] = {
            self.kind: self.field,
            "message": self.message,
            "message_en": self.message_en,
            "rule": self.rule,
        }
        if self.fields:
            out["fields"] = list(self.fields)
        return out


def property_schema(element: Element) -> dict[str, Any]:
    """The JSON Schema of one element, with zh/en titles and the catalog's hints as ``x-`` keywords."""
    schema: dict[str, Any] = {"title": element.zh, "x-title-en": element.en}
    if element.type is ElementType.DATE:
        schema.update(type="string", format="date")
    else:
        schema["type"] = element.type.value
    if element.format is not None:
        schema["x-format"] = element.format.value
        if element.format is Format.EMAIL:
            schema["format"] = "email"
        if element.format in SHAPE_PATTERNS:
            schema["pattern"] = SHAPE_PATTERNS[element.format]
    if element.pattern is not None:
        schema["pattern"] = f"^(?:{element.pattern})$"
    if element.enum:
        schema["enum"] = list(element.enum)
        schema["x-enum-labels"] = {value: element.enum_labels[value].model_dump() for value in element.enum}
    if element.min_length is not None:
        schema["minLength"] = element.min_length
    if element.max_length is not None:
        schema["maxLength"] = element.max_length
    for keyword, bound in (("minimum", element.minimum), ("maximum", element.maximum)):
        if bound is None:
            continue
        if isinstance(bound, date):
            schema[f"x-{keyword}"] = bound.isoformat()
        else:
            schema[keyword] = int(bound) if float(bound).is_integer() else bound
    if element.unit is not None:
        schema["x-unit"] = element.unit.model_dump()
    schema["x-class"] = element.data_class.value
    schema["x-group"] = element.group
    return schema


def _bound(value: float | date | None) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _unit(element: Element, lang: str) -> str:
    if element.unit is None:
        return ""
    return element.unit.zh if lang == "zh" else f" {element.unit.en}"


class FieldChecker:
    """Checks answers against a schema built from catalog elements and reports in the catalog's words."""

    def __init__(self, schema: Mapping[str, Any], elements: Mapping[str, Element]) -> None:
        self.schema = dict(schema)
        self.elements = elements
        self._validator = Draft202012Validator(
            self.schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        # The schema's fields, in the order problems are reported (the form's order).
        self._position = {key: i for i, key in enumerate(self.schema.get("properties", {}))}

    def problems(
        self, data: Any, required_reason: Mapping[str, tuple[str, str]] | None = None
    ) -> list[FieldProblem]:
        """Every problem with ``data``; ``required_reason`` explains why a conditional field is required."""
        if not isinstance(data, Mapping):
            return [
                FieldProblem(
                    "", "表单数据必须是对象(键值对)", "Form data must be an object (key/value pairs)", "type"
                )
            ]
        found: dict[tuple[str, str], FieldProblem] = {}
        failed: set[str] = set()
        for error in self._validator.iter_errors(dict(data)):
            for problem in self._translate(error, data, required_reason or {}):
                found.setdefault((problem.field, problem.rule), problem)
                failed.add(problem.field)
        for key, value in data.items():
            element = self.elements.get(key) if isinstance(key, str) else None
            if element is None or key in failed or key not in self._position:
                continue
            extra = element_problem(element, value)
            if extra is not None:
                found.setdefault((key, extra.rule), extra)
        return sorted(
            found.values(), key=lambda p: (self._position.get(p.field, len(self._position)), p.rule)
        )

    def value_problem(self, key: str, value: Any) -> FieldProblem | None:
        """The first problem of one value on its own, or ``None`` when it is valid."""
        problems = self.problems({key: value})
        return problems[0] if problems else None

    def _translate(
        self, error: ValidationError, data: Mapping[str, Any], required_reason: Mapping[str, tuple[str, str]]
    ) -> list[FieldProblem]:
        if not error.absolute_path:
            if error.validator == "required":
                names: list[str] = list(error.validator_value)  # type: ignore[arg-type]
                return [self._required(name, required_reason.get(name)) for name in names if name not in data]
            if error.validator == "additionalProperties":
                return [_unknown(str(name)) for name in data if name not in self._position]
            return []
        name = str(error.absolute_path[0])
        element = self.elements.get(name)
        if element is None:
            return [_unknown(name)]
        return [_field_error(element, error)]

    def _required(self, name: str, reason: tuple[str, str] | None) -> FieldProblem:
        element = self.elements[name]
        if reason:
            return FieldProblem(
                name,
                f"{element.zh}：{reason[0]}时必填，请填写",
                f"{element.en}: required when {reason[1]}; please fill it in",
                "required",
            )
        return FieldProblem(
            name, f"{element.zh}：必填，请填写", f"{element.en}: required; please fill it in", "required"
        )


def _unknown(name: str) -> FieldProblem:
    shown = name if len(name) <= 64 else name[:61] + "..."
    return FieldProblem(
        shown, f"{shown}：本表单不收集此项", f"{shown}: this form does not ask for it", "unknown"
    )


def _field_error(element: Element, error: ValidationError) -> FieldProblem:
    """One jsonschema error on one field, said in the catalog's words."""
    key, zh, en = element.key, element.zh, element.en
    rule = str(error.validator)
    if rule == "type":
        word_zh, word_en = _TYPE_WORDS[element.type]
        return FieldProblem(key, f"{zh}：应为{word_zh}", f"{en}: must be {word_en}", "type")
    if rule == "enum":
        choices_zh = "、".join(element.enum_label(v, "zh") for v in element.enum)
        choices_en = ", ".join(element.enum_label(v, "en") for v in element.enum)
        return FieldProblem(
            key, f"{zh}：请从以下选项中选择：{choices_zh}", f"{en}: choose one of: {choices_en}", "enum"
        )
    if rule in ("minimum", "exclusiveMinimum"):
        bound = _bound(element.minimum)
        return FieldProblem(
            key,
            f"{zh}：不得小于{bound}{_unit(element, 'zh')}",
            f"{en}: at least {bound}{_unit(element, 'en')}",
            "minimum",
        )
    if rule in ("maximum", "exclusiveMaximum"):
        bound = _bound(element.maximum)
        return FieldProblem(
            key,
            f"{zh}：不得大于{bound}{_unit(element, 'zh')}",
            f"{en}: at most {bound}{_unit(element, 'en')}",
            "maximum",
        )
    if rule == "minLength":
        return FieldProblem(
            key,
            f"{zh}：至少{element.min_length}个字符",
            f"{en}: at least {element.min_length} characters",
            "min_length",
        )
    if rule == "maxLength":
        return FieldProblem(
            key,
            f"{zh}：最多{element.max_length}个字符",
            f"{en}: at most {element.max_length} characters",
            "max_length",
        )
    if rule == "pattern" and element.format is not None and isinstance(error.instance, str):
        failure = check_format(element.format, error.instance)
        if failure is not None:
            return FieldProblem(key, f"{zh}：{failure.message}", f"{en}: {failure.message_en}", failure.rule)
    if rule == "format" and element.type is ElementType.DATE:
        return FieldProblem(
            key, f"{zh}：应为有效日期(YYYY-MM-DD)", f"{en}: must be a valid date (YYYY-MM-DD)", "date"
        )
    return FieldProblem(key, f"{zh}：格式不正确", f"{en}: not in the expected format", "format")


def element_problem(element: Element, value: Any) -> FieldProblem | None:
    """What JSON Schema cannot check: check digits, formats, date bounds, finite numbers."""
    key, zh, en = element.key, element.zh, element.en
    if isinstance(value, float) and not math.isfinite(value):
        return FieldProblem(key, f"{zh}：应为有限数值", f"{en}: must be a finite number", "type")
    if element.format is not None and isinstance(value, str):
        failure = check_format(element.format, value)
        if failure is not None:
            return FieldProblem(key, f"{zh}：{failure.message}", f"{en}: {failure.message_en}", failure.rule)
    if element.type is ElementType.DATE and isinstance(value, str):
        try:
            when = date.fromisoformat(value)
        except ValueError:
            return FieldProblem(
                key, f"{zh}：应为有效日期(YYYY-MM-DD)", f"{en}: must be a valid date (YYYY-MM-DD)", "date"
            )
        if isinstance(element.minimum, date) and when < element.minimum:
            return FieldProblem(
                key, f"{zh}：不得早于{element.minimum}", f"{en}: not before {element.minimum}", "minimum"
            )
        if isinstance(element.maximum, date) and when > element.maximum:
            return FieldProblem(
                key, f"{zh}：不得晚于{element.maximum}", f"{en}: not after {element.maximum}", "maximum"
            )
    return None


def value_checker(element: Element) -> FieldChecker:
    """A checker of one element's value on its own: nothing is required, no other key is checked."""
    return FieldChecker(
        {"type": "object", "properties": {element.key: property_schema(element)}}, {element.key: element}
    )


def value_problem(element: Element, value: Any) -> FieldProblem | None:
    """The first problem of a single value (condition values at deploy; ``MergedForm`` keeps its checkers)."""
    return value_checker(element).value_problem(element.key, value)
