"""Queuing a material's pre-review (智能预审) where the material is written: one row, no reading.

The upload request only inserts the review row in its own transaction (``pending`` for a
kind whose catalog entry declares ``reads``, else ``not_applicable``), so the upload answers
as fast as before; the worker (``engine.review``) does the reading. A material that changes
owner (a window clerk's upload handed to the applicant) carries its review along, so the
document is never read twice.

May import: ``engine.storage``, ``forms``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.storage.db import upsert_insert
from engine.storage.review_tables import MaterialReview, ReviewStatus
from forms.catalog import MaterialKind


def queue_review(session: Session, material_id: str, spec: MaterialKind, now: datetime) -> None:
    """Store the material's pre-review state: ``pending`` (the worker reads it) or ``not_applicable``."""
    status = ReviewStatus.PENDING if spec.reads is not None else ReviewStatus.NOT_APPLICABLE
    values: dict[str, Any] = {
        "material_id": material_id,
        "status": status.value,
        "fields": {},
        "findings": [],
        "mismatches": 0,
        "queued_at": now,
        "attempts": 0,
        "pages": 0,
        "seconds": 0.0,
    }
    statement = upsert_insert(session, MaterialReview).values(**values)
    session.execute(statement.on_conflict_do_nothing(index_elements=["material_id"]))


def carry_review(session: Session, old_id: str, new_id: str) -> None:
    """Give the material ``new_id`` (the same bytes, a new owner) the review of ``old_id``, if it has one."""
    old = session.get(MaterialReview, old_id)
    if old is None or session.get(MaterialReview, new_id) is not None:
        return
    session.add(
        MaterialReview(
            material_id=new_id,
            status=old.status,
            fields=dict(old.fields),
            confidence=old.confidence,
            findings=list(old.findings),
            mismatches=old.mismatches,
            queued_at=old.queued_at,
            attempts=old.attempts,
            reviewed_at=old.reviewed_at,
            pages=old.pages,
            seconds=old.seconds,
        )
    )
    session.flush()
