"""Feedback (好差评) as callers see it: ratings, rectifications and complaints, and their levels.

The views of the rows (``engine.feedback.rows``), the rating levels, and ``case_feedback``:
everything said about one case after the fact, for those who may see the case.

May import: ``engine.feedback.rows``, ``engine.cases``, ``engine.people``, ``engine.regions``,
``engine.storage``, ``engine.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from engine.cases.views import Label
from engine.cases.visibility import may_see_case
from engine.errors import CaseNotFound
from engine.feedback.rows import Complaint, Rating, Rectification
from engine.people.actors import Actor
from engine.regions.service import Regions
from engine.storage.db import Database
from engine.storage.models import Case

LEVELS: dict[int, Label] = {
    5: Label("非常满意", "Very satisfied"),
    4: Label("满意", "Satisfied"),
    3: Label("基本满意", "Fairly satisfied"),
    2: Label("不满意", "Dissatisfied"),
    1: Label("非常不满意", "Very dissatisfied"),
}


@dataclass(frozen=True)
class RectificationView:
    """A rectification task as the department and the applicant see it."""

    id: int
    case_id: int
    rating_id: int
    bundle: str
    department: str
    state: str
    created_at: datetime
    due_at: datetime
    overdue: bool
    reply: str
    replied_by: str
    replied_at: datetime | None
    division: str = ""  # the responsible office's division, where the lists found it

    @classmethod
    def of(cls, row: Rectification, division: str = "") -> RectificationView:
        """The view of a row (``division``: its office's, when the caller looked it up)."""
        return cls(
            row.id,
            row.case_id,
            row.rating_id,
            row.bundle_key,
            row.department,
            row.state,
            row.created_at,
            row.due_at,
            row.overdue,
            row.reply,
            row.replied_by,
            row.replied_at,
            division,
        )


@dataclass(frozen=True)
class RatingView:
    """A rating, with the rectification it opened (if it was bad)."""

    id: int
    case_id: int
    bundle: str
    version: int
    department: str
    score: int
    level: Label
    comment: str
    created_at: datetime
    rectification: RectificationView | None = None


@dataclass(frozen=True)
class ComplaintView:
    """A complaint as its author and the supervisors see it."""

    id: int
    case_id: int | None
    bundle: str
    complainant: str
    department: str
    text: str
    state: str
    created_at: datetime
    due_at: datetime
    reply: str
    replied_by: str
    replied_at: datetime | None

    @classmethod
    def of(cls, row: Complaint) -> ComplaintView:
        """The view of a row."""
        return cls(
            row.id,
            row.case_id,
            row.bundle_key,
            row.complainant,
            row.department,
            row.text,
            row.state,
            row.created_at,
            row.due_at,
            row.reply,
            row.replied_by,
            row.replied_at,
        )


@dataclass(frozen=True)
class CaseFeedback:
    """Everything said about one case after the fact: ratings, rectifications, complaints."""

    ratings: tuple[RatingView, ...]
    rectifications: tuple[RectificationView, ...]
    complaints: tuple[ComplaintView, ...]


def rating_view(row: Rating, rectification: Rectification | None) -> RatingView:
    """The view of a rating, with the rectification it opened."""
    return RatingView(
        row.id,
        row.case_id,
        row.bundle_key,
        row.version,
        row.department,
        row.score,
        LEVELS[row.score],
        row.comment,
        row.created_at,
        RectificationView.of(rectification) if rectification is not None else None,
    )


def case_feedback(db: Database, actor: Actor, case_id: int, *, regions: Regions) -> CaseFeedback:
    """Ratings, rectifications (with replies) and complaints of a case, for those who may see the case."""
    with db.read() as s:
        case = s.get(Case, case_id)
        if case is None or not may_see_case(s, actor, case, regions):
            raise CaseNotFound(f"没有这个办件 (no case {case_id})")
        ratings = s.scalars(select(Rating).where(Rating.case_id == case_id).order_by(Rating.id)).all()
        rectifications = s.scalars(
            select(Rectification).where(Rectification.case_id == case_id).order_by(Rectification.id)
        ).all()
        complaints = s.scalars(
            select(Complaint).where(Complaint.case_id == case_id).order_by(Complaint.id)
        ).all()
    by_rating = {r.rating_id: r for r in rectifications}
    return CaseFeedback(
        tuple(rating_view(r, by_rating.get(r.id)) for r in ratings),
        tuple(RectificationView.of(r) for r in rectifications),
        tuple(ComplaintView.of(c) for c in complaints),
    )
