"""On submission: the findings of each read material are fixed against the submitted data and audited.

A document read before the application existed had no case to write its audit line on; the
submission (``Submitted``, in its own transaction) recomputes its findings from the stored
fields against the data just submitted (so analytics count what the clerk will see) and
writes ``material_reviewed`` on the new case. Reviews still pending are audited by the
worker when it reads them, since it then finds the case.

May import: ``engine.cases``, ``engine.reading``, ``engine.storage``, ``forms``.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.cases.events import MaterialReviewed, Submitted
from engine.review.pipeline import mismatch_count
from engine.review.views import review_view
from engine.storage.models import Case, Material, table_of
from engine.storage.prepared import Prepared
from engine.storage.review_tables import MaterialReview, ReviewStatus
from engine.storage.spine import Spine, emit
from forms.catalog import Catalog

READ = (ReviewStatus.DONE.value, ReviewStatus.UNREADABLE.value)
_REVIEWS = table_of(MaterialReview)
_MATERIALS = table_of(Material)
# The submission's materials already read, with their kinds: one statement on every application,
# built once (``Prepared``); most stop here (documents still pending, or none to read). Reviews
# are only ever written flushed (queued by upsert, carried with a flush), so no autoflush is due.
_READ_AMONG = Prepared(
    select(_REVIEWS.c.material_id, _MATERIALS.c.kind)
    .outerjoin(_MATERIALS, _MATERIALS.c.id == _REVIEWS.c.material_id)
    .where(_REVIEWS.c.material_id.in_(bindparam("ids", expanding=True)), _REVIEWS.c.status.in_(READ))
)


def subscribe_reviews(spine: Spine, catalog: Catalog) -> None:
    """Subscribe the submission's audit of its materials' pre-reviews."""

    def on_submitted(session: Session, event: Submitted) -> None:
        case = session.get(Case, event.case_id)
        if case is None:
            return
        ids = [m for m in (case.materials or {}).values() if isinstance(m, str)]
        if not ids:
            return
        kinds = {row.material_id: row.kind or "" for row in _READ_AMONG.rows(session, {"ids": ids})}
        if not kinds:
            return
        rows = session.scalars(
            select(MaterialReview)
            .where(MaterialReview.material_id.in_(sorted(kinds)), MaterialReview.status.in_(READ))
            .order_by(MaterialReview.material_id)
        ).all()
        for row in rows:
            kind = kinds[row.material_id]
            spec = catalog.materials.get(kind)
            view = review_view(row, spec.reads if spec is not None else None, case.data or {})
            row.findings = [dict(f) for f in view.findings]
            row.mismatches = mismatch_count(row.findings)
            emit(
                session,
                MaterialReviewed(
                    case_id=case.id,
                    at=event.at,
                    kind=kind,
                    material=row.material_id,
                    status=row.status,
                    fields_read=len(row.fields or {}),
                    mismatches=row.mismatches,
                ),
            )

    spine.subscribe("review.submitted", on_submitted, Submitted)
