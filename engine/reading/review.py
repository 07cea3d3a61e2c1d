"""Reviewing one uploaded document against the form: render, read, extract, compare.

The result is advice for the applicant and the clerk (``DocumentReview``); it never refuses anything
by itself. Nothing read is logged: document text and field values are personal data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from engine.reading.extraction import LAYOUT_SPECS, FieldReading, extract
from engine.reading.lines import group_lines
from engine.reading.ocr import read_text
from engine.reading.rendering import Unrenderable, render_pages
from engine.reading.values import form_value, same
from forms.catalog import MaterialReading

MIN_CONFIDENCE = 0.80  # a field read with less mean OCR confidence is unreadable, not compared

Verdict = Literal["match", "mismatch", "unreadable"]


@dataclass(frozen=True)
class Finding:
    """One form element compared with the document field it maps to."""

    field: str  # the form element key
    form_value: str | None
    document_value: str | None
    verdict: Verdict


@dataclass(frozen=True)
class DocumentReview:
    """What was read from a document and how it compares with the form."""

    status: Literal["done", "unreadable"]
    fields: dict[str, str] = field(default_factory=dict)  # document field -> normal value
    confidence: float = 0.0  # the mean confidence of the fields read (0..1)
    findings: tuple[Finding, ...] = ()
    pages: int = 0
    seconds: float = 0.0

    def as_json(self) -> dict[str, object]:
        """The stored and served form: ``{status, fields, confidence, findings: [...]}``."""
        return {
            "status": self.status,
            "fields": dict(self.fields),
            "confidence": round(self.confidence, 4),
            "findings": [
                {
                    "field": f.field,
                    "form_value": f.form_value,
                    "document_value": f.document_value,
                    "verdict": f.verdict,
                }
                for f in self.findings
            ],
        }


def compare(
    reads: MaterialReading, fields: Mapping[str, str], form_data: Mapping[str, object]
) -> tuple[Finding, ...]:
    """A finding for every mapped field the form holds a value for (document value missing: unreadable)."""
    kinds = LAYOUT_SPECS[reads.layout].kinds
    findings = []
    for document_field, element in reads.fields.items():
        typed = form_value(form_data.get(element))
        if typed is None:
            continue
        read = fields.get(document_field)
        if read is None:
            verdict: Verdict = "unreadable"
        else:
            verdict = "match" if same(kinds[document_field], typed, read) else "mismatch"
        findings.append(Finding(element, typed, read, verdict))
    return tuple(findings)


def _best(pages: list[dict[str, FieldReading]]) -> dict[str, FieldReading]:
    """Per field, the page that read it with the highest confidence."""
    best: dict[str, FieldReading] = {}
    for readings in pages:
        for name, reading in readings.items():
            if name not in best or reading.confidence > best[name].confidence:
                best[name] = reading
    return best


def review_document(
    content: bytes, media_type: str, reads: MaterialReading, form_data: Mapping[str, object]
) -> DocumentReview:
    """Read a document of a kind that declares ``reads`` and compare it with the form (CPU-heavy)."""
    started = time.perf_counter()
    try:
        images = render_pages(content, media_type)
    except Unrenderable:
        findings = compare(reads, {}, form_data)
        return DocumentReview("unreadable", findings=findings, seconds=time.perf_counter() - started)
    per_page = [extract(reads.layout, group_lines(read_text(image))) for image in images]
    readings = {
        name: reading for name, reading in _best(per_page).items() if reading.confidence >= MIN_CONFIDENCE
    }
    fields = {name: reading.value for name, reading in readings.items()}
    confidence = sum(r.confidence for r in readings.values()) / len(readings) if readings else 0.0
    status: Literal["done", "unreadable"] = "done" if set(fields) & set(reads.fields) else "unreadable"
    return DocumentReview(
        status,
        fields=fields,
        confidence=confidence,
        findings=compare(reads, fields, form_data),
        pages=len(images),
        seconds=time.perf_counter() - started,
    )
