"""情形引导: a few questions from a bundle's own conditions, and what a set of answers means.

Before the form, the applicant answers the questions that switch parts of the bundle on or
off (has employees? needs invoices? a non-local child?) and sees which materials and fields
apply. The questions are not written by hand: they are the applicant's yes/no and choice
fields that the bundle's conditions read (the manifest's ``conditions``, which ask fields and
materials only on some routes) and that its diagram's gateways read (``route_fields``, which
the engine finds in the BPMN; forms does not read diagrams). Which items run, and the time
limit, are the diagram's to say: the engine adds them (``engine.cases.guide``).

The answers become query parameters of the form (``/apply/{key}?has_employees=true``), so
what the applicant said prefills it; ``parse_answers`` reads them back, refusing nothing
(an unknown or malformed answer is simply not an answer).

May import: forms.catalog, forms.conditions, forms.merge, forms.checklist.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from forms.catalog import Element, ElementType
from forms.checklist import ChecklistEntry
from forms.merge import MergedForm

# More questions than this is no longer "a few": the rest are left to the form itself.
MAX_QUESTIONS = 6


@dataclass(frozen=True)
class Choice:
    """One answer to a question: its value in the form, and its words."""

    value: bool | str
    zh: str
    en: str

    @property
    def query(self) -> str:
        """The value as a query parameter (``true``/``false`` for yes/no)."""
        return query_value(self.value)


@dataclass(frozen=True)
class Question:
    """A question of the guide: one field of the form, asked before the form."""

    field: str
    zh: str
    en: str
    choices: tuple[Choice, ...]
    help_zh: str = ""
    help_en: str = ""


def query_value(value: bool | str) -> str:
    """A form value as the query string carries it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _ask(element: Element) -> tuple[str, str]:
    """The question in words: a yes/no field's label asks itself (是否招用员工？), a choice asks to choose."""
    if element.type is ElementType.BOOLEAN:
        zh = f"{element.zh}？" if element.zh.startswith("是否") else f"{element.zh}吗？"
        return zh, f"{element.en}?"
    return f"请选择{element.zh}", element.en


def _choices(element: Element) -> tuple[Choice, ...]:
    if element.type is ElementType.BOOLEAN:
        return (Choice(True, "是", "Yes"), Choice(False, "否", "No"))
    return tuple(Choice(v, element.enum_label(v), element.enum_label(v, "en")) for v in element.enum)


def _askable(element: Element) -> bool:
    return element.type is ElementType.BOOLEAN or bool(element.enum)


def questions(form: MergedForm, route_fields: Collection[str] = ()) -> tuple[Question, ...]:
    """The guide's questions: yes/no and choice fields that conditions or the diagram's gateways read.

    In the form's order; fields asked only under a condition come after the fields their
    condition reads, as on the form. At most ``MAX_QUESTIONS``.
    """
    read: set[str] = set(route_fields)
    for condition in form.conditions.values():
        read.update(condition)
    chosen: list[Question] = []
    for name in form.fields:
        element = form.element(name)
        if name not in read or not _askable(element):
            continue
        zh, en = _ask(element)
        help_zh = element.help.zh if element.help else ""
        help_en = element.help.en if element.help else ""
        chosen.append(Question(name, zh, en, _choices(element), help_zh, help_en))
    return tuple(chosen[:MAX_QUESTIONS])


def parse_answers(asked: tuple[Question, ...], raw: Mapping[str, Any]) -> dict[str, bool | str]:
    """The answers among ``raw`` (query or form parameters, or JSON): only known choices count."""
    answers: dict[str, bool | str] = {}
    for question in asked:
        given = raw.get(question.field)
        for choice in question.choices:
            if given is not None and (given is choice.value or str(given) == choice.query):
                answers[question.field] = choice.value
    return answers


def completions(
    asked: tuple[Question, ...], answers: Mapping[str, bool | str]
) -> Iterator[dict[str, bool | str]]:
    """Every full set of answers that agrees with the given ones (the open questions take each choice)."""
    open_questions = [q for q in asked if q.field not in answers]
    for combo in itertools.product(*(q.choices for q in open_questions)):
        yield {**answers, **{q.field: c.value for q, c in zip(open_questions, combo, strict=True)}}


@dataclass(frozen=True)
class MaterialNeed:
    """A material under some answers: needed for every way the open questions go, or only for some."""

    entry: ChecklistEntry
    always: bool


def materials_needed(
    form: MergedForm, full_answers: Sequence[Mapping[str, Any]], items_of: Sequence[Collection[str]]
) -> tuple[tuple[MaterialNeed, ...], tuple[ChecklistEntry, ...]]:
    """What to bring across full sets of answers, and what is exempt (with why).

    ``items_of[i]``: the items that run under ``full_answers[i]``; a material none of them
    needs is not asked on that route.
    """
    counts: dict[str, int] = {}
    entries: dict[str, ChecklistEntry] = {}
    exempt: dict[str, ChecklistEntry] = {}
    for answers, items in zip(full_answers, items_of, strict=True):
        for entry in form.checklist(answers):
            if entry.exempt and any(item in items for item in entry.items):
                exempt.setdefault(entry.kind, entry)
            if entry.required and any(item in items for item in entry.items):
                counts[entry.kind] = counts.get(entry.kind, 0) + 1
                entries.setdefault(entry.kind, entry)
    total = len(full_answers)
    order = {kind: i for i, kind in enumerate(form.materials)}
    needed = tuple(
        MaterialNeed(entries[kind], counts[kind] == total) for kind in sorted(entries, key=order.__getitem__)
    )
    return needed, tuple(sorted(exempt.values(), key=lambda e: order[e.kind]))


def prefill_query(answers: Mapping[str, bool | str]) -> dict[str, str]:
    """The answers as query parameters of the form page (``/apply/{key}?…``)."""
    return {name: query_value(value) for name, value in answers.items()}
