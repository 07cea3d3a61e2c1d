"""On submission: the findings of each read material are fixed against the submitted data and audited.

A document read before the application existed had no case to write its audit line on; the
submission (``Submitted``, in its own transaction) recomputes its findings from the stored
fields against the data just submitted (so analytics count what the clerk will see) and
writes ``material_reviewed`` on the new case. Reviews still pending are audited by the
worker when it reads them, since it then finds the case.

May import: ``engine.cases``, ``engine.reading``, ``engine.storage``, ``forms``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases.events import MaterialReviewed, Submitted
from engine.review.pipeline import mismatch_count
from engine.review.views import review_view
from engine.storage.models import Case, Material
from engine.storage.review_tables import MaterialReview, ReviewStatus
from engine.storage.spine import Spine, emit
from forms.catalog import Catalog

READ = (ReviewStatus.DONE.value, ReviewStatus.UNREADABLE.value)


def subscribe_reviews(spine: Spine, catalog: Catalog) -> None:
    """Subscribe the submission's audit of its materials' pre-reviews."""

    def on_submitted(session: Session, event: Submitted) -> None:
        case = session.get(Case, event.case_id)
        if case is None:
            return
        ids = [m for m in (case.materials or {}).values() if isinstance(m, str)]
        if not ids:
            return
        rows = session.scalars(
            select(MaterialReview).where(MaterialReview.material_id.in_(ids), MaterialReview.status.in_(READ))
        ).all()
        kinds = {
            mid: kind
            for mid, kind in session.execute(select(Material.id, Material.kind).where(Material.id.in_(ids)))
        }
        for row in rows:
            kind = kinds.get(row.material_id, "")
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
