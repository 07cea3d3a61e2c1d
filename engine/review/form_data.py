"""The form data a material is compared with: its application's, or the applicant's draft's.

A material belongs to at most one application in practice (its id is of owner, kind and
bytes); the newest case naming it wins, else the newest draft that holds it, else no data
(findings then say the form has no value yet).

May import: ``engine.storage``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.storage.models import Case, Material
from engine.storage.portal_tables import ApplicationDraft


@dataclass(frozen=True)
class FormContext:
    """Where a material's form data came from: a case (its id), a draft, or nowhere."""

    data: dict[str, Any] = field(default_factory=dict)
    case_id: int | None = None


def form_context(session: Session, material: Material) -> FormContext:
    """The form data the material is compared with now (see the module docstring)."""
    # Only the columns needed: a case row also holds its whole workflow state.
    cases = session.execute(
        select(Case.id, Case.data, Case.materials)
        .where(Case.applicant == material.owner)
        .order_by(Case.id.desc())
    ).all()
    for case_id, data, materials in cases:
        if material.id in (materials or {}).values():
            return FormContext(dict(data or {}), case_id)
    drafts = session.scalars(
        select(ApplicationDraft)
        .where(ApplicationDraft.applicant == material.owner)
        .order_by(ApplicationDraft.updated_at.desc())
    ).all()
    for draft in drafts:
        if material.id in (draft.materials or {}).values():
            return FormContext(dict(draft.data or {}))
    return FormContext()
