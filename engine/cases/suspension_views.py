"""Suspensions as their readers see them: the history of one case and its open suspension.

May import: ``engine.cases.suspension_rows``, ``engine.storage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from engine.cases.suspension_rows import CaseSuspension
from engine.storage.models import table_of
from engine.storage.prepared import Prepared

_SUSPENSIONS = table_of(CaseSuspension)
# Read with every case page (a case's suspensions are part of it), as plain rows.
_SUSPENSIONS_OF = Prepared(
    select(_SUSPENSIONS).where(_SUSPENSIONS.c.case_id == bindparam("case")).order_by(_SUSPENSIONS.c.id)
)


@dataclass(frozen=True)
class SuspensionView:
    """One suspension of a case (open while ``resumed_at`` is None).

    ``suspended_by``/``resumed_by`` are account names: empty for the applicant, who is told
    what and why, never which account.
    """

    id: int
    suspended_at: datetime
    suspended_by: str
    reason: str
    legal_basis: str
    resumed_at: datetime | None
    resumed_by: str | None
    resume_note: str
    working_seconds: float

    @classmethod
    def of(cls, r: CaseSuspension | Row[Any], *, names: bool = True) -> SuspensionView:
        """The view of one suspension (an object or a row); ``names`` False leaves out who acted."""
        return cls(
            id=r.id,
            suspended_at=r.suspended_at,
            suspended_by=r.suspended_by if names else "",
            reason=r.reason,
            legal_basis=r.legal_basis,
            resumed_at=r.resumed_at,
            resumed_by=(r.resumed_by if names else "") if r.resumed_at is not None else None,
            resume_note=r.resume_note,
            working_seconds=r.working_seconds,
        )


def suspensions_of(session: Session, case_id: int, *, names: bool = True) -> tuple[SuspensionView, ...]:
    """Every suspension of the case, oldest first; ``names`` False leaves out who acted."""
    return tuple(SuspensionView.of(r, names=names) for r in _SUSPENSIONS_OF.rows(session, {"case": case_id}))
