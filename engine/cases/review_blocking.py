"""Blocking mismatches (智能预审): a bundle's kind may mark document fields whose mismatch refuses submission.

Pre-review is advice: it never refuses an application by itself. Only a document field
the catalog lists in its kind's ``reads.blocking`` refuses it, when the document read
says another value than the form, with the same plain sentence the applicant saw beside
the upload ("证照上的企业名称与填报不一致"), listed with every other problem (422). A
document not read yet, or unreadable, blocks nothing.

May import: ``engine.reading``, ``engine.storage``, ``forms``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.errors import Problem
from engine.reading.review import compare
from engine.storage.models import Material, table_of
from engine.storage.prepared import Prepared
from engine.storage.review_tables import MaterialReview, ReviewStatus
from forms.catalog import Catalog, MaterialReading
from forms.merge import MergedForm

_MATERIALS = table_of(Material)
_REVIEWS = table_of(MaterialReview)
# The fields read from an application's documents, with their kinds: every application asks,
# so it is built once (``Prepared``). Reviews are written flushed (queued by upsert, carried
# with a flush), so no autoflush is due.
_READ_FIELDS = Prepared(
    select(_MATERIALS.c.kind, _REVIEWS.c.fields)
    .join(_REVIEWS, _REVIEWS.c.material_id == _MATERIALS.c.id)
    .where(
        _MATERIALS.c.id.in_(bindparam("ids", expanding=True)), _REVIEWS.c.status == ReviewStatus.DONE.value
    )
)


def findings_of(
    reads: MaterialReading, fields: Mapping[str, str], data: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The findings of stored document fields against form data (no reading: the fields are kept)."""
    return [
        {
            "field": f.field,
            "form_value": f.form_value,
            "document_value": f.document_value,
            "verdict": f.verdict,
        }
        for f in compare(reads, fields, data)
    ]


def blocking_problems(
    session: Session,
    catalog: Catalog,
    form: MergedForm,
    data: Mapping[str, Any],
    materials: Mapping[str, str],
) -> list[Problem]:
    """One problem per blocking document field whose value differs from the form's."""
    ids = [m for m in materials.values() if isinstance(m, str)]
    if not ids:
        return []
    problems: list[Problem] = []
    for kind, read_fields in _READ_FIELDS.rows(session, {"ids": ids}):
        spec = catalog.materials.get(kind)
        reads = spec.reads if spec is not None else None
        if reads is None or not reads.blocking:
            continue
        blocking_keys = {reads.fields[f] for f in reads.blocking if f in reads.fields}
        fields = {str(k): str(v) for k, v in (read_fields or {}).items()}
        for finding in findings_of(reads, fields, data):
            key = str(finding.get("field", ""))
            if finding.get("verdict") != "mismatch" or key not in blocking_keys or key not in form.fields:
                continue
            element = form.element(key)
            problems.append(
                Problem(
                    f"证照上的{element.zh}与填报不一致",
                    where=kind,
                    rule="document-mismatch",
                    message_en=f"The {element.en} on the document differs from your answer",
                    extra={"kind": "material", "field": key},
                )
            )
    return problems
