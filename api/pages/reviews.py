"""Pre-review (智能预审) and 智能填表 on the pages: findings in plain words, and the values offered to fill.

The applicant's page shows each uploaded document's findings beside its upload, in plain
words built from the element's label ("证照上的企业名称与填报不一致"), never a key; and,
for a document read, the values it gives for EMPTY form fields as an offer ("从证照读取，
请核对") that fills nothing until the applicant confirms it (a submit button of the form
itself, so it works without scripts). The clerk's task page shows the same findings for
the fields their item may see, with the document's and the form's values and the confidence.

May import: api.pages, engine (views), forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.cases.views import TaskDetail
from engine.review.views import ReviewView
from engine.service import Engine
from forms.merge import MergedForm
from forms.prefill import Prefilled

PREFILL_FIELD = "prefill"  # the submit button that confirms offered values: a field key, or ALL
PREFILL_ALL = "__all__"
VERDICT_WORDS = {
    "match": ("一致", "matches"),
    "mismatch": ("不一致", "differs"),
    "unreadable": ("无法识别", "unreadable"),
}
STATUS_WORDS = {
    "pending": (
        "正在识别证照内容，稍后刷新页面可查看核对结果。",
        "Reading the document; reload later to see the check.",
    ),
    "unreadable": (
        "未能识别此文件的内容，请确认上传的是清晰、完整的原件。",
        "The document could not be read; please upload a clear, complete copy.",
    ),
    "done": ("已识别证照内容并与填报内容核对。", "The document was read and checked against your answers."),
}


@dataclass(frozen=True)
class Offer:
    """A value read from a document for an empty form field, offered for the applicant to confirm."""

    field: str
    label: dict[str, str]
    value: str
    source: dict[str, str]


def _label(form: MergedForm, key: str) -> dict[str, str]:
    element = form.element(key)
    return {"zh": element.zh, "en": element.en}


def _kind_label(form: MergedForm, kind: str) -> dict[str, str]:
    for entry in form.checklist():
        if entry.kind == kind:
            return {"zh": entry.zh, "en": entry.en}
    return {"zh": kind, "en": kind}


def mismatch_message(label: Mapping[str, str], verdict: str) -> dict[str, str]:
    """The plain sentence of one finding that is not a match, in both languages."""
    if verdict == "mismatch":
        return {
            "zh": f"证照上的{label['zh']}与填报不一致",
            "en": f"The {label['en']} on the document differs from your answer",
        }
    return {
        "zh": f"证照上的{label['zh']}无法识别",
        "en": f"The {label['en']} on the document could not be read",
    }


def finding_rows(form: MergedForm, review: ReviewView) -> list[dict[str, Any]]:
    """Each finding with its element's label, the verdict's words and (for a non-match) its sentence."""
    rows = []
    for finding in review.findings:
        key = str(finding.get("field", ""))
        if key not in form.fields:
            continue
        label = _label(form, key)
        verdict = str(finding.get("verdict", "unreadable"))
        zh, en = VERDICT_WORDS.get(verdict, VERDICT_WORDS["unreadable"])
        rows.append(
            {
                "field": key,
                "label": label,
                "verdict": verdict,
                "verdict_words": {"zh": zh, "en": en},
                "form_value": finding.get("form_value") or "",
                "document_value": finding.get("document_value") or "",
                "message": None if verdict == "match" else mismatch_message(label, verdict),
            }
        )
    return rows


def _panel(form: MergedForm, kind: str, review: ReviewView) -> dict[str, Any]:
    zh, en = STATUS_WORDS.get(review.status, ("", ""))
    return {
        "kind": kind,
        "name": _kind_label(form, kind),
        "status": review.status,
        "status_words": {"zh": zh, "en": en},
        "confidence": None if review.confidence is None else round(review.confidence * 100),
        "rows": finding_rows(form, review),
    }


def offers(
    engine: Engine, form: MergedForm, materials: Mapping[str, str], values: Mapping[str, Any]
) -> list[Offer]:
    """Values documents gave for the form's EMPTY fields (that pass the field's own check), one per field."""
    found: dict[str, Offer] = {}
    for kind, review in engine.reviews.of_materials(materials, values).items():
        spec = engine.catalog.materials.get(kind)
        if review.status != "done" or spec is None or spec.reads is None:
            continue
        for document_field, key in spec.reads.fields.items():
            value = review.fields.get(document_field)
            empty = values.get(key) in (None, "")
            if key in found or key not in form.fields or not empty or not value:
                continue
            if form.value_problem(key, value) is not None:
                continue
            found[key] = Offer(key, _label(form, key), value, _kind_label(form, kind))
    return [found[key] for key in form.fields if key in found]


def apply_part(
    engine: Engine, form: MergedForm, materials: Mapping[str, str], values: Mapping[str, Any]
) -> dict[str, Any]:
    """What the application page shows: a panel per uploaded document that is read, and the offers."""
    reviews = engine.reviews.of_materials(materials, values)
    panels = {kind: _panel(form, kind, r) for kind, r in reviews.items() if r.status != "not_applicable"}
    return {
        "panels": panels,
        "offers": offers(engine, form, materials, values),
        "prefill_field": PREFILL_FIELD,
        "prefill_all": PREFILL_ALL,
    }


def confirm_offers(
    engine: Engine, form: MergedForm, materials: Mapping[str, str], values: dict[str, Any], chosen: str
) -> dict[str, Prefilled]:
    """Fill the offered values the applicant confirmed (one field, or all), marked as read from a document."""
    filled: dict[str, Prefilled] = {}
    for offer in offers(engine, form, materials, values):
        if chosen in (PREFILL_ALL, offer.field):
            values[offer.field] = offer.value
            filled[offer.field] = Prefilled(
                offer.value,
                f"从证照读取（{offer.source['zh']}），请核对",
                f"read from the document ({offer.source['en']}); please check",
                "document",
            )
    return filled


def task_part(engine: Engine, form: MergedForm, detail: TaskDetail) -> dict[str, dict[str, Any]]:
    """The clerk's findings, per material of the task, for the fields their item may see."""
    reviews = engine.reviews.for_task(detail)
    return {kind: _panel(form, kind, r) for kind, r in reviews.items() if r.status != "not_applicable"}
