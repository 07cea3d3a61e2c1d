"""Ratings (好差评): the applicant rates a finished case, and a bad rating opens a rectification.

- ``rate``: only the case's applicant, only once the case has ended, once for the bundle
  and once per department (``Conflict`` otherwise). Levels: 5 非常满意, 4 满意, 3 基本满意,
  2 不满意, 1 非常不满意 (``engine.feedback.views.LEVELS``).
- A rating of 1 or 2 opens a rectification task (差评整改, ``engine.feedback.rectification``)
  in the **responsible department's** queue with its own deadline (``RECTIFICATION_DAYS``
  working days). The responsible department is the one rated, when the applicant named one;
  otherwise the department of the case's most recent task that was returned or late;
  otherwise the bundle's lead department (the first item's department in bundle.yaml, which
  answers for the bundle as 首问负责).

Every change is a typed event (``Rated``, ``RectificationOpened``) emitted on the spine in the
same transaction: a line on the case's timeline, and subscribers (analytics counts ratings) see it.

May import: ``engine.feedback.rows``, ``engine.feedback.views``, ``engine.feedback.checks``,
``engine.bpmn``, ``engine.cases``, ``engine.people``, ``engine.storage``, ``engine.time``,
``engine.errors``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.manifest import Manifest
from engine.cases.events import Rated, RectificationOpened
from engine.cases.states import FINISHED_CASE_STATES, Outcome
from engine.errors import Conflict, InvalidInput, Problem
from engine.feedback.checks import lead_department, manifest_of, owned_case, text_problems
from engine.feedback.rows import Rating, Rectification, RectificationState
from engine.feedback.views import LEVELS, RatingView, rating_view
from engine.people.actors import Actor
from engine.storage.db import Database
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Case, WorkItem
from engine.storage.spine import emit
from engine.time.calendar import WorkCalendar, default_calendar
from engine.time.clock import Clock

RECTIFICATION_DAYS = 5.0  # working days a department has to answer a bad rating


def _responsible_department(session: Session, case: Case, manifest: Manifest) -> str:
    """The department of the most recent returned or late task, else the bundle's lead department."""
    late_or_returned = session.scalars(
        select(WorkItem)
        .where(WorkItem.case_id == case.id)
        .where(
            (WorkItem.outcome == Outcome.RETURN)
            | WorkItem.overdue.is_(True)
            | (WorkItem.completed_at > WorkItem.due_at)
        )
        .order_by(WorkItem.id.desc())
        .limit(1)
    ).first()
    if late_or_returned is not None:
        return late_or_returned.department
    return lead_department(manifest)


def rate(
    db: Database,
    clock: Clock,
    actor: Actor,
    case_id: int,
    score: int,
    comment: str = "",
    department: str | None = None,
    *,
    calendar: WorkCalendar | None = None,
    rectification_days: float = RECTIFICATION_DAYS,
    reservation: Reservation | None = None,
) -> RatingView:
    """The applicant rates a finished case (or one department of it), once; 1-2 opens a rectification.

    ``reservation`` (an ``Idempotency-Key``'s) learns the rating in the same transaction.
    """
    calendar = calendar or default_calendar()
    problems = text_problems(comment, "comment", required=False)
    if isinstance(score, bool) or not isinstance(score, int) or score not in LEVELS:
        problems.append(
            Problem("评分须为 1 到 5", where="score", rule="range", message_en="score must be 1..5")
        )
    department = (department or "").strip()
    with db.write() as s:
        case = owned_case(s, actor, case_id)
        manifest = manifest_of(s, case.deployment_id)
        if department and department not in manifest.departments:
            problems.append(
                Problem(
                    f"本事项不涉及部门 {department}",
                    where="department",
                    rule="department",
                    message_en="the bundle does not involve this department",
                )
            )
        if problems:
            raise InvalidInput(f"评价有 {len(problems)} 处问题", problems)
        if case.status not in FINISHED_CASE_STATES:
            raise Conflict("办件办结后才能评价 (a case can be rated once it has ended)")
        before = s.scalar(select(Rating.id).where(Rating.case_id == case.id, Rating.department == department))
        if before is not None:
            raise Conflict("已经评价过 (already rated)")
        now = clock.now()
        rating = Rating(
            case_id=case.id,
            bundle_key=case.bundle_key,
            version=case.version,
            department=department,
            applicant=actor.username,
            score=score,
            comment=comment.strip(),
            created_at=now,
        )
        s.add(rating)
        s.flush()
        emit(
            s,
            Rated(
                case_id=case.id,
                at=now,
                actor=actor.username,
                rating_id=rating.id,
                score=score,
                level=LEVELS[score].zh,
                comment=rating.comment,
                department=department,
            ),
        )
        record_outcome(s, reservation, outcome_ref("rating", rating.id))
        rectification = None
        if score <= 2:
            responsible = department or _responsible_department(s, case, manifest)
            rating.responsible_department = responsible
            rectification = Rectification(
                case_id=case.id,
                rating_id=rating.id,
                bundle_key=case.bundle_key,
                department=responsible,
                state=RectificationState.OPEN,
                created_at=now,
                due_at=calendar.add_working_days(now, rectification_days),
                overdue=False,
            )
            s.add(rectification)
            s.flush()
            emit(
                s,
                RectificationOpened(
                    case_id=case.id,
                    at=now,
                    rectification_id=rectification.id,
                    rating_id=rating.id,
                    department=responsible,
                    due_at=rectification.due_at.isoformat(),
                ),
            )
        s.flush()
        return rating_view(rating, rectification)
