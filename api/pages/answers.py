"""Between HTML forms and the engine: typed answers from posted text, problems by field.

A browser posts every answer as text; ``forms.coerce`` reads each as its field's type and
keeps text that does not read, so the validator (the same one the REST API uses) reports
it in its own words instead of the page guessing a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from starlette.datastructures import FormData

from engine.errors import Problem
from forms.coerce import coerce_values
from forms.merge import MergedForm
from forms.validate import FieldProblem

MATERIAL_PREFIX = "material:"
PROMISE_FIELD = "promise"
MAX_ANSWER_CHARS = 10_000


def field_problems(problems: Iterable[Problem | FieldProblem]) -> list[FieldProblem]:
    """Engine and forms problems in the forms' shape (what the form macros show next to fields)."""
    out: list[FieldProblem] = []
    for p in problems:
        if isinstance(p, FieldProblem):
            out.append(p)
        else:
            kind: Literal["field", "material"] = "material" if p.extra.get("kind") == "material" else "field"
            out.append(FieldProblem(p.where, p.message, p.message_en or p.message, p.rule, kind))
    return out


def problem_json(p: FieldProblem) -> dict[str, str]:
    """A problem for the page's scripts (inline checks, uploads)."""
    return {"where": p.field, "message": p.message, "message_en": p.message_en, "kind": p.kind}


def by_where(problems: Iterable[FieldProblem]) -> dict[str, list[FieldProblem]]:
    """Problems grouped by the field or material they belong to."""
    grouped: dict[str, list[FieldProblem]] = {}
    for p in problems:
        grouped.setdefault(p.field, []).append(p)
    return grouped


def form_labels(form: MergedForm, fields: Iterable[str]) -> dict[str, dict[str, str]]:
    """zh/en names of these fields and of every material of a form (for problem lists and summaries)."""
    out: dict[str, dict[str, str]] = {}
    for name in fields:
        element = form.element(name)
        out[name] = {"zh": element.zh, "en": element.en}
    out.update({e.kind: {"zh": e.zh, "en": e.en} for e in form.checklist()})
    return out


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if not isinstance(value, str):
        return None
    return value.strip()[:MAX_ANSWER_CHARS]


def posted_answers(
    form: MergedForm, posted: FormData, base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Typed answers of the form's fields (``forms.coerce``), over ``base`` answers given before."""
    raw: dict[str, Any] = dict(base or {})
    for name in form.fields:
        text = _text(posted, name)
        if text is not None:
            raw[name] = text
    return coerce_values(form, raw)


def posted_materials(posted: FormData, kinds: Iterable[str]) -> dict[str, str]:
    """Material ids the page collected in hidden inputs (``material:<kind>``)."""
    found: dict[str, str] = {}
    for kind in kinds:
        value = _text(posted, MATERIAL_PREFIX + kind)
        if value:
            found[kind] = value[:64]
    return found


def posted_promises(posted: FormData, allowed: Mapping[str, int]) -> list[str]:
    """Materials the applicant promises to bring later (容缺受理), only those the bundle allows."""
    return [str(v) for v in posted.getlist(PROMISE_FIELD) if isinstance(v, str) and v in allowed]


def display_value(form: MergedForm, name: str, value: Any, lang: str) -> str:
    """An answer as the summary shows it (enum labels, yes/no, units)."""
    element = form.element(name)
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("Yes" if value else "No")
    if isinstance(value, str) and element.enum:
        return element.enum_label(value, lang)
    text = str(value)
    if element.unit is not None:
        unit = element.unit.zh if lang == "zh" else (element.unit.en or element.unit.zh)
        text = f"{text} {unit}"
    return text
