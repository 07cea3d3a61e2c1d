"""HTML for a merged form, through the Jinja2 macros in ``forms/templates/form_macros.html``.

The macros render from the same layout and schema the API publishes, so the page, the
browser's own checks and the server's validation agree. The pages import the macros file
too (``TEMPLATES_DIR``); the names are documented at the top of the template.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from forms.merge import MergedForm
from forms.prefill import Prefilled
from forms.validate import FieldProblem

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
MACROS = "form_macros.html"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _call(macro: str, *args: Any) -> Markup:
    """Call a macro of the macros file; with autoescape on, its result is already safe markup."""
    out = getattr(_environment().get_template(MACROS).module, macro)(*args)
    if not isinstance(out, Markup):
        raise TypeError("the form macros must run with autoescape on")
    return out


def _errors_by_key(problems: Iterable[FieldProblem], kind: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for problem in problems:
        if problem.kind == kind:
            out.setdefault(problem.field, []).append(
                {"message": problem.message, "message_en": problem.message_en}
            )
    return out


def _field_view(
    form: MergedForm,
    entry: Mapping[str, Any],
    values: Mapping[str, Any],
    errors: Mapping[str, list[dict[str, str]]],
    filled: Mapping[str, Prefilled],
) -> dict[str, Any]:
    key = entry["key"]
    source = filled.get(key)
    value = values.get(key, source.value if source else None)
    return {
        **entry,
        "value": value,
        "shown": form.asked(key, values),
        "errors": errors.get(key, []),
        # Marked only while the answer is still the prefilled one (the applicant's own otherwise).
        "prefilled": (
            {"zh": source.source_label_zh, "en": source.source_label_en, "kind": source.kind}
            if source is not None and value == source.value
            else None
        ),
    }


def form_view(
    form: MergedForm,
    values: Mapping[str, Any],
    problems: Iterable[FieldProblem] = (),
    prefilled: Mapping[str, Prefilled] | None = None,
) -> list[dict[str, Any]]:
    """The layout with each field's value, visibility, errors and prefill source (the macros' input)."""
    errors = _errors_by_key(problems, "field")
    filled = prefilled or {}
    return [
        {
            "key": group["key"],
            "zh": group["zh"],
            "en": group["en"],
            "fields": [_field_view(form, entry, values, errors, filled) for entry in group["fields"]],
        }
        for group in form.layout
    ]


def decision_view(
    form: MergedForm,
    item_key: str,
    values: Mapping[str, Any],
    problems: Iterable[FieldProblem] = (),
    case_data: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """An item's decision fields for the ``field`` macro (their conditions see the case data)."""
    errors = _errors_by_key(problems, "field")
    context = {**(case_data or {}), **values}
    entries = []
    for name in form.decision_fields(item_key):
        entry = _field_view(form, form.field_layout(name), values, errors, {})
        entries.append({**entry, "shown": form.asked(name, context)})
    return entries


def render_form(
    form: MergedForm,
    values: Mapping[str, Any],
    problems: Iterable[FieldProblem] = (),
    prefilled: Mapping[str, Prefilled] | None = None,
    lang: str = "zh",
) -> Markup:
    """The form's fields as HTML: grouped, labelled, with inline errors and prefill marks."""
    return _call("form_fields", form_view(form, values, problems, prefilled), lang)


def render_materials(
    form: MergedForm,
    values: Mapping[str, Any],
    problems: Iterable[FieldProblem] = (),
    held: Collection[str] = (),
    promised: Collection[str] = (),
    lang: str = "zh",
) -> Markup:
    """The materials checklist as HTML: one file input per material, exemptions and promises explained."""
    errors = _errors_by_key(problems, "material")
    entries = [
        {
            **entry.as_dict(),
            "errors": errors.get(entry.kind, []),
            "shown": entry.condition is None or form.asked(entry.kind, values),
            "promised": entry.kind in promised,
        }
        for entry in form.checklist(values, held)
    ]
    return _call("materials", entries, lang)
