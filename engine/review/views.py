"""A material's pre-review as its viewer may see it, compared with the form data they see now.

The fields read are stored once; the findings are recomputed here from them against the form
data of the moment (the applicant edited a field after uploading: no second reading). A
clerk's view keeps only the form fields their item may see, and the document fields that
map to them; a review of a material nobody may see is never built here (the callers ask
only for materials already visible to their viewer).

May import: ``engine.cases``, ``engine.reading``, ``engine.storage``, ``forms``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from engine.cases.review_blocking import blocking_problems, findings_of
from engine.cases.views import CaseView, TaskDetail
from engine.errors import Problem
from engine.review.form_data import form_context
from engine.storage.db import Database
from engine.storage.models import Material
from engine.storage.review_tables import MaterialReview, ReviewStatus
from forms.catalog import Catalog, MaterialReading
from forms.merge import MergedForm


@dataclass(frozen=True)
class ReviewView:
    """``{status, fields, confidence, findings}`` of one material, as ``GET /api/materials/{id}`` shows it."""

    status: str
    fields: dict[str, str]
    confidence: float | None
    findings: tuple[dict[str, Any], ...]

    @property
    def mismatches(self) -> tuple[dict[str, Any], ...]:
        """The findings where the document and the form disagree."""
        return tuple(f for f in self.findings if f.get("verdict") == "mismatch")

    def as_json(self) -> dict[str, Any]:
        """The plain JSON of the review."""
        return {
            "status": self.status,
            "fields": dict(self.fields),
            "confidence": self.confidence,
            "findings": [dict(f) for f in self.findings],
        }


NOT_APPLICABLE = ReviewView(ReviewStatus.NOT_APPLICABLE.value, {}, None, ())


def review_view(
    row: MaterialReview | None,
    reads: MaterialReading | None,
    data: Mapping[str, Any] | None,
    visible: Collection[str] | None = None,
) -> ReviewView:
    """The view of a stored review: findings against ``data`` (when given), kept to ``visible`` form keys."""
    if row is None or reads is None:
        return NOT_APPLICABLE
    fields = {str(k): str(v) for k, v in (row.fields or {}).items()}
    findings: tuple[dict[str, Any], ...] = tuple(dict(f) for f in row.findings or ())
    if row.status == ReviewStatus.DONE.value and data is not None:
        findings = tuple(findings_of(reads, fields, data))
    if visible is not None:
        allowed = set(visible)
        fields = {k: v for k, v in fields.items() if reads.fields.get(k) in allowed}
        findings = tuple(f for f in findings if f.get("field") in allowed)
    return ReviewView(row.status, fields, row.confidence, findings)


class Reviews:
    """Reads stored pre-reviews (the visibility of the material itself is the caller's check)."""

    def __init__(self, db: Database, catalog: Catalog) -> None:
        self.db = db
        self.catalog = catalog

    def _reads(self, kind: str) -> MaterialReading | None:
        spec = self.catalog.materials.get(kind)
        return spec.reads if spec is not None else None

    def of_materials(
        self,
        materials: Mapping[str, str],
        data: Mapping[str, Any] | None,
        visible: Collection[str] | None = None,
    ) -> dict[str, ReviewView]:
        """Kind -> review of each material id given (already visible to the viewer)."""
        ids = [m for m in materials.values() if isinstance(m, str)]
        if not ids:
            return {}
        with self.db.read() as session:
            rows = {
                r.material_id: r
                for r in session.scalars(select(MaterialReview).where(MaterialReview.material_id.in_(ids)))
            }
            kinds = {
                mid: kind
                for mid, kind in session.execute(
                    select(Material.id, Material.kind).where(Material.id.in_(ids))
                )
            }
        return {
            kind: review_view(rows.get(mid), self._reads(kinds.get(mid, kind)), data, visible)
            for kind, mid in materials.items()
            if isinstance(mid, str)
        }

    def of_material(self, material_id: str) -> ReviewView:
        """One material's review against its application's (or draft's) form data now."""
        with self.db.read() as session:
            material = session.get(Material, material_id)
            if material is None:
                return NOT_APPLICABLE
            row = session.get(MaterialReview, material_id)
            context = form_context(session, material)
            kind = material.kind
        return review_view(row, self._reads(kind), context.data)

    def for_case(self, view: CaseView) -> dict[str, ReviewView] | None:
        """The reviews of a case's materials, for a viewer who sees its materials (else None)."""
        if view.materials is None:
            return None
        return self.of_materials(view.materials, view.data or {})

    def for_task(self, detail: TaskDetail) -> dict[str, ReviewView]:
        """The reviews of a task's materials, kept to the fields its item may see."""
        return self.of_materials(detail.materials, detail.fields, visible=detail.fields.keys())

    def blocking(
        self, form: MergedForm, data: Mapping[str, Any], materials: Mapping[str, str]
    ) -> list[Problem]:
        """The problems a submission would meet for blocking mismatches (the page shows them at review)."""
        with self.db.read() as session:
            return blocking_problems(session, self.catalog, form, data, materials)
