"""How often pre-review predicted a clerk's return (智能预审的命中率), for analysts.

A material *predicted* a return when its review (as fixed at submission) found a mismatch
and a clerk later returned the case naming that material, or one of the mismatched fields
(a ``returned`` line's problems). A return *missed* is a return naming a material whose
review found no mismatch, or one of its fields. Only materials of cases are counted (an
upload never submitted is no prediction of anything); counts, never values.

May import: ``engine.storage``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from engine.storage.db import Database
from engine.storage.models import Case, CaseEvent, Material
from engine.storage.review_tables import MaterialReview, ReviewStatus


@dataclass(frozen=True)
class PredictionFigures:
    """Reviewed materials of cases, those with a mismatch, the returns they predicted and missed."""

    reviewed: int
    with_mismatch: int
    predicted_returns: int
    missed_returns: int

    @property
    def precision(self) -> float | None:
        """Of the materials with a mismatch, the share a clerk then returned."""
        return self.predicted_returns / self.with_mismatch if self.with_mismatch else None

    @property
    def recall(self) -> float | None:
        """Of the returns naming a reviewed material, the share its review had predicted."""
        returns = self.predicted_returns + self.missed_returns
        return self.predicted_returns / returns if returns else None


def _named(problems: list[Any], kind: str, fields: Collection[str]) -> bool:
    """Whether a return's problems name this material kind or one of these form fields."""
    for problem in problems:
        if not isinstance(problem, dict):
            continue
        where = {problem.get("material"), problem.get("field"), problem.get("where")}
        if kind in where or where & set(fields):
            return True
    return False


def prediction_figures(
    db: Database, bundle: str | None = None, divisions: Collection[str | None] | None = None
) -> PredictionFigures:
    """The figures over the cases of a bundle (all when None) in these divisions (all when None)."""
    with db.read() as session:
        query = select(Case.id, Case.materials, Case.division).where(Case.materials.is_not(None))
        if bundle is not None:
            query = query.where(Case.bundle_key == bundle)
        cases = [
            (case_id, materials or {})
            for case_id, materials, division in session.execute(query)
            if divisions is None or division in divisions
        ]
        ids = {str(m) for _, materials in cases for m in materials.values() if isinstance(m, str)}
        reviews = {
            r.material_id: r
            for r in session.scalars(
                select(MaterialReview).where(
                    MaterialReview.material_id.in_(ids), MaterialReview.status == ReviewStatus.DONE.value
                )
            )
        }
        kinds = {
            mid: kind
            for mid, kind in session.execute(select(Material.id, Material.kind).where(Material.id.in_(ids)))
        }
        returns: dict[int, list[list[Any]]] = {}
        case_ids = [case_id for case_id, _ in cases]
        for case_id, detail in session.execute(
            select(CaseEvent.case_id, CaseEvent.detail).where(
                CaseEvent.kind == "returned", CaseEvent.case_id.in_(case_ids)
            )
        ):
            returns.setdefault(case_id, []).append(list((detail or {}).get("problems") or []))
    reviewed = with_mismatch = predicted = missed = 0
    for case_id, materials in cases:
        for material in materials.values():
            review = reviews.get(str(material))
            if review is None:
                continue
            reviewed += 1
            kind = kinds.get(review.material_id, "")
            mismatched = [str(f.get("field")) for f in review.findings if f.get("verdict") == "mismatch"]
            fields = [str(f.get("field")) for f in review.findings]
            named = any(_named(p, kind, mismatched or fields) for p in returns.get(case_id, []))
            if mismatched:
                with_mismatch += 1
                predicted += named
            else:
                missed += named
    return PredictionFigures(reviewed, with_mismatch, predicted, missed)
