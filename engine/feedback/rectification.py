"""Rectification of bad ratings (差评整改): the responsible department answers, on time or late.

- ``reply_rectification``: a clerk of the responsible office answers (the department's
  office that handled the case: ``responsible_division``); the reply appears on the case's
  timeline (``rectification_replied``), which is how the applicant is told.
- A rectification not answered by its deadline goes to the supervisor queue
  (``sweep_rectifications``, run by the worker).

Rectifications are opened by ``engine.feedback.ratings.rate``. The reply and a missed deadline
are typed events (``RectificationReplied``, ``RectificationOverdue``) emitted on the spine.

May import: ``engine.feedback.rows``, ``engine.feedback.views``, ``engine.feedback.checks``,
``engine.deadlines``, ``engine.cases``, ``engine.people``, ``engine.regions``, ``engine.storage``,
``engine.time``, ``engine.errors``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from engine.cases.events import RectificationOverdue, RectificationReplied
from engine.cases.visibility import may_work_task
from engine.deadlines.supervision import (
    Level,
    Subject,
    close_entries,
    lock_cases,
    open_entry,
    responsible_division,
)
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.feedback.checks import locked_with_case, text_problems
from engine.feedback.rows import Rectification, RectificationState
from engine.feedback.views import RectificationView
from engine.people.actors import Actor, Role
from engine.regions.service import Regions
from engine.storage.db import Database
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.spine import emit
from engine.time.clock import Clock


def reply_rectification(
    db: Database,
    clock: Clock,
    actor: Actor,
    rectification_id: int,
    reply: str,
    *,
    regions: Regions,
    reservation: Reservation | None = None,
) -> RectificationView:
    """The responsible office answers a bad rating; the reply shows on the case's timeline.

    ``reservation`` (an ``Idempotency-Key``'s) learns the rectification in the same transaction.
    """
    with db.write() as s:
        row = locked_with_case(s, Rectification, rectification_id)
        division = _division_of(s, row.id, regions) if row is not None else ""
        if row is None or not _may_reply(actor, row, division, regions):
            raise NotFound(f"没有这个整改任务 (no rectification {rectification_id})")
        # After the lookup: an id one may not see is a 404 whatever the reply says.
        problems = text_problems(reply, "reply", required=True)
        if problems:
            raise InvalidInput("答复有问题", problems)
        if row.state != RectificationState.OPEN:
            raise Conflict("整改已答复 (already answered)")
        now = clock.now()
        row.state = RectificationState.REPLIED
        row.reply = reply.strip()
        row.replied_by = actor.username
        row.replied_at = now
        close_entries(s, Subject.RECTIFICATION, row.id, actor.username, now, "已答复 (answered)")
        emit(
            s,
            RectificationReplied(
                case_id=row.case_id,
                at=now,
                actor=actor.username,
                rectification_id=row.id,
                department=row.department,
                reply=row.reply,
                on_time=now <= row.due_at,
            ),
        )
        record_outcome(s, reservation, outcome_ref("rectification", row.id))
        s.flush()
        return RectificationView.of(row, division)


def _office_division(regions: Regions) -> ColumnElement[str]:
    """The division of a rectification's responsible office, as SQL over ``Rectification``."""
    return responsible_division(Rectification.case_id, Rectification.department, regions.default)


def _division_of(session: Session, rectification_id: int, regions: Regions) -> str:
    """The division of one rectification's responsible office."""
    found = session.scalar(select(_office_division(regions)).where(Rectification.id == rectification_id))
    return found or regions.default


def _may_reply(actor: Actor, row: Rectification, division: str, regions: Regions) -> bool:
    """Whether the actor answers for a rectification: the responsible office's clerks, admins in scope."""
    if actor.role is Role.ADMIN:
        return regions.in_scope(actor.division, division)
    return may_work_task(actor, row.department, division, regions)


def rectification_of(
    db: Database, actor: Actor, rectification_id: int, *, regions: Regions
) -> RectificationView:
    """One rectification as those who may answer it see it (a replied one too)."""
    with db.read() as s:
        row = s.get(Rectification, rectification_id)
        division = _division_of(s, row.id, regions) if row is not None else ""
        if row is None or not _may_reply(actor, row, division, regions):
            raise NotFound(f"没有这个整改任务 (no rectification {rectification_id})")
        return RectificationView.of(row, division)


def rectifications_for(
    db: Database, actor: Actor, department: str | None = None, *, regions: Regions
) -> list[RectificationView]:
    """The open rectification tasks an actor may work or read, soonest due first.

    A clerk: those of their office (their departments, or one of them, at their division);
    admins and analysts: every department's in their scope (no division: all).
    """
    divisions: frozenset[str] | None
    if actor.role in (Role.ADMIN, Role.ANALYST):
        wanted = [department] if department else None
        divisions = regions.subtree(actor.division)
    elif actor.role is Role.CLERK:
        wanted = [department] if department else sorted(actor.departments)
        if any(d not in actor.departments for d in wanted):
            raise NotAllowed("不是本部门的整改任务 (not your department)")
        divisions = frozenset({regions.own(actor.division)})
    else:
        raise NotAllowed("只有窗口人员可以查看整改任务 (only clerks see rectification tasks)")
    division = _office_division(regions).label("division")
    query = select(Rectification, division).where(Rectification.state == RectificationState.OPEN)
    if wanted is not None:
        query = query.where(Rectification.department.in_(wanted))
    if divisions is not None:
        query = query.where(division.in_(sorted(divisions)))
    with db.read() as s:
        rows = s.execute(query.order_by(Rectification.due_at, Rectification.id)).all()
        return [RectificationView.of(r, code) for r, code in rows]


def _late_rectifications(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Open rectifications past their deadline, not yet sent to the supervisors."""
    return (
        Rectification.state == RectificationState.OPEN,
        Rectification.overdue.is_(False),
        Rectification.due_at <= now,
    )


def sweep_rectifications(session: Session, now: datetime, *, limit: int = 200) -> int:
    """Send rectifications past their deadline to the supervisor queue, once each."""
    candidates = session.execute(
        select(Rectification.id, Rectification.case_id)
        .where(*_late_rectifications(now))
        .order_by(Rectification.due_at)
        .limit(limit)
    ).all()
    if not candidates:
        return 0
    locked = lock_cases(session, (c.case_id for c in candidates))
    done = 0
    for c in candidates:
        if c.case_id not in locked:
            continue
        row = session.scalars(
            select(Rectification).where(Rectification.id == c.id).execution_options(populate_existing=True)
        ).one()
        if row.state != RectificationState.OPEN or row.overdue or row.due_at > now:
            continue
        row.overdue = True
        open_entry(
            session,
            subject=Subject.RECTIFICATION,
            subject_id=row.id,
            level=Level.ESCALATED,
            department=row.department,
            now=now,
            case_id=row.case_id,
            bundle_key=row.bundle_key,
            due_at=row.due_at,
            detail={"rating_id": row.rating_id},
        )
        emit(
            session,
            RectificationOverdue(
                case_id=row.case_id,
                at=now,
                rectification_id=row.id,
                department=row.department,
                due_at=row.due_at.isoformat(),
            ),
        )
        done += 1
    session.flush()
    return done


def run_rectification_sweep(db: Database, clock: Clock, *, batch: int = 200) -> int:
    """Escalate overdue rectifications in short write transactions (only when there is any)."""
    total = 0
    for _ in range(50):
        now = clock.now()
        with db.read() as s:
            pending = s.scalar(select(Rectification.id).where(*_late_rectifications(now)).limit(1))
        if pending is None:
            break
        with db.write() as s:
            done = sweep_rectifications(s, now, limit=batch)
        total += done
        if done < batch:
            break
    return total
