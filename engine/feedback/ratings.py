"""Ratings (好差评), rectification of bad ratings (差评整改) and complaints (办不成事反映).

Plain functions taking ``(db, clock, actor, ...)``, so the API, the pages and the CLI call
the same rules:

- ``rate``: only the case's applicant, only once the case has ended, once for the bundle
  and once per department (``Conflict`` otherwise). Levels: 5 非常满意, 4 满意, 3 基本满意,
  2 不满意, 1 非常不满意.
- A rating of 1 or 2 opens a rectification task in the **responsible department's** queue
  with its own deadline (``RECTIFICATION_DAYS`` working days). The responsible department is
  the one rated, when the applicant named one; otherwise the department of the case's most
  recent task that was returned or late; otherwise the bundle's lead department (the first
  item's department in bundle.yaml, which answers for the bundle as 首问负责).
- ``reply_rectification``: a clerk of that department answers; the reply appears on the
  case's timeline (``rectification_replied``), which is how the applicant is told. A
  rectification not answered by its deadline goes to the supervisor queue
  (``sweep_rectifications``, run by the worker).
- ``complain``: on a case or without one; it becomes an entry in a supervisor queue (the
  department named, else the one holding the case, else the government service centre) with
  a deadline for the answer, and counts in the analytics. ``answer_complaint`` closes it.

Every change appends to the case's timeline in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    select,
)
from sqlalchemy.orm import Session

from engine.analytics import recording as analytics
from engine.bpmn.manifest import Manifest
from engine.cases.states import FINISHED_CASE_STATES, OPEN_WORK_STATES, Outcome
from engine.cases.views import Label
from engine.cases.visibility import may_see_case
from engine.deadlines.sla import (
    GENERAL_DEPARTMENT,
    Level,
    Subject,
    close_entries,
    lock_cases,
    may_supervise,
    open_entry,
)
from engine.errors import CaseNotFound, Conflict, InvalidInput, NotAllowed, NotFound, Problem
from engine.feedback.rows import Complaint, ComplaintState, Rating, Rectification, RectificationState
from engine.people.actors import Actor, Role
from engine.storage.db import Database
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Case, CaseEvent, Deployment, WorkItem
from engine.time.calendar import WorkCalendar, default_calendar
from engine.time.clock import Clock

RECTIFICATION_DAYS = 5.0  # working days a department has to answer a bad rating
COMPLAINT_DAYS = 5.0  # working days a supervisor has to answer a complaint
MAX_TEXT = 2000

LEVELS: dict[int, Label] = {
    5: Label("非常满意", "Very satisfied"),
    4: Label("满意", "Satisfied"),
    3: Label("基本满意", "Fairly satisfied"),
    2: Label("不满意", "Dissatisfied"),
    1: Label("非常不满意", "Very dissatisfied"),
}


# -- views --------------------------------------------------------------------------------


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

    @classmethod
    def of(cls, row: Rectification) -> RectificationView:
        """The view of a row."""
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


def _rating_view(row: Rating, rectification: Rectification | None) -> RatingView:
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


# -- helpers ------------------------------------------------------------------------------


def _text_problems(text: str, where: str, *, required: bool) -> list[Problem]:
    if required and not text.strip():
        return [Problem("请填写内容", where=where, rule="required", message_en="required")]
    if len(text) > MAX_TEXT:
        return [
            Problem(
                f"不能超过 {MAX_TEXT} 字",
                where=where,
                rule="max-length",
                message_en=f"at most {MAX_TEXT} characters",
            )
        ]
    return []


def _locked_case(session: Session, case_id: int) -> Case | None:
    """The case row, locked for this transaction (the order every writer of a case follows)."""
    return session.scalars(select(Case).where(Case.id == case_id).with_for_update()).one_or_none()


_Answerable = TypeVar("_Answerable", Rectification, Complaint)


def _locked_with_case(session: Session, model: type[_Answerable], row_id: int) -> _Answerable | None:
    """A rectification or complaint, locked after its case (the order every writer of a case follows)."""
    case_id = session.scalar(select(model.case_id).where(model.id == row_id))
    if case_id is not None:
        _locked_case(session, case_id)
    return session.scalars(
        select(model).where(model.id == row_id).with_for_update().execution_options(populate_existing=True)
    ).one_or_none()


def _owned_case(session: Session, actor: Actor, case_id: int) -> Case:
    case = _locked_case(session, case_id)
    if case is None or (actor.role is Role.APPLICANT and case.applicant != actor.username):
        raise CaseNotFound(f"没有这个办件 (no case {case_id})")
    if case.applicant != actor.username:
        raise NotAllowed("只有申请人本人可以这样做 (only the applicant may do this)")
    return case


def _manifest(session: Session, deployment_id: int) -> Manifest:
    raw = session.scalar(select(Deployment.manifest).where(Deployment.id == deployment_id))
    return Manifest.model_validate(raw)


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
    return _lead_department(manifest)


def _lead_department(manifest: Manifest) -> str:
    """The first item's department, which answers for the bundle (首问负责)."""
    return manifest.items[0].department if manifest.items else GENERAL_DEPARTMENT


def _event(
    session: Session, case_id: int, at: datetime, actor: str, kind: str, detail: dict[str, Any]
) -> None:
    session.add(CaseEvent(case_id=case_id, at=at, actor=actor, kind=kind, detail=detail))


# -- ratings ------------------------------------------------------------------------------


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
    problems = _text_problems(comment, "comment", required=False)
    if isinstance(score, bool) or not isinstance(score, int) or score not in LEVELS:
        problems.append(
            Problem("评分须为 1 到 5", where="score", rule="range", message_en="score must be 1..5")
        )
    department = (department or "").strip()
    with db.write() as s:
        case = _owned_case(s, actor, case_id)
        manifest = _manifest(s, case.deployment_id)
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
        _event(
            s,
            case.id,
            now,
            actor.username,
            "rated",
            {
                "rating_id": rating.id,
                "score": score,
                "level": LEVELS[score].zh,
                "comment": rating.comment,
                "department": department,
            },
        )
        analytics.record_rating(s, case.bundle_key, case.version, department, score, now, calendar)
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
            _event(
                s,
                case.id,
                now,
                "system",
                "rectification_opened",
                {
                    "rectification_id": rectification.id,
                    "rating_id": rating.id,
                    "department": responsible,
                    "due_at": rectification.due_at.isoformat(),
                },
            )
        s.flush()
        return _rating_view(rating, rectification)


def reply_rectification(
    db: Database,
    clock: Clock,
    actor: Actor,
    rectification_id: int,
    reply: str,
    *,
    reservation: Reservation | None = None,
) -> RectificationView:
    """The responsible department answers a bad rating; the reply shows on the case's timeline.

    ``reservation`` (an ``Idempotency-Key``'s) learns the rectification in the same transaction.
    """
    problems = _text_problems(reply, "reply", required=True)
    if problems:
        raise InvalidInput("答复有问题", problems)
    with db.write() as s:
        row = _locked_with_case(s, Rectification, rectification_id)
        if row is None or not _may_reply(actor, row):
            raise NotFound(f"没有这个整改任务 (no rectification {rectification_id})")
        if row.state != RectificationState.OPEN:
            raise Conflict("整改已答复 (already answered)")
        now = clock.now()
        row.state = RectificationState.REPLIED
        row.reply = reply.strip()
        row.replied_by = actor.username
        row.replied_at = now
        close_entries(s, Subject.RECTIFICATION, row.id, actor.username, now, "已答复 (answered)")
        _event(
            s,
            row.case_id,
            now,
            actor.username,
            "rectification_replied",
            {
                "rectification_id": row.id,
                "department": row.department,
                "reply": row.reply,
                "on_time": now <= row.due_at,
            },
        )
        record_outcome(s, reservation, outcome_ref("rectification", row.id))
        s.flush()
        return RectificationView.of(row)


def _may_reply(actor: Actor, row: Rectification) -> bool:
    """Whether the actor answers for a rectification: its department's clerks, admins."""
    return actor.role is Role.ADMIN or actor.in_department(row.department)


def rectification_of(db: Database, actor: Actor, rectification_id: int) -> RectificationView:
    """One rectification as those who may answer it see it (a replied one too)."""
    with db.read() as s:
        row = s.get(Rectification, rectification_id)
        if row is None or not _may_reply(actor, row):
            raise NotFound(f"没有这个整改任务 (no rectification {rectification_id})")
        return RectificationView.of(row)


def rectifications_for(db: Database, actor: Actor, department: str | None = None) -> list[RectificationView]:
    """The open rectification tasks an actor may work: a clerk's departments (or one of them)."""
    if actor.role in (Role.ADMIN, Role.ANALYST):
        wanted = [department] if department else None
    elif actor.role is Role.CLERK:
        wanted = [department] if department else sorted(actor.departments)
        if any(d not in actor.departments for d in wanted):
            raise NotAllowed("不是本部门的整改任务 (not your department)")
    else:
        raise NotAllowed("只有窗口人员可以查看整改任务 (only clerks see rectification tasks)")
    query = select(Rectification).where(Rectification.state == RectificationState.OPEN)
    if wanted is not None:
        query = query.where(Rectification.department.in_(wanted))
    with db.read() as s:
        rows = s.scalars(query.order_by(Rectification.due_at, Rectification.id))
        return [RectificationView.of(r) for r in rows]


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
        _event(
            session,
            row.case_id,
            now,
            "system",
            "rectification_overdue",
            {"rectification_id": row.id, "department": row.department, "due_at": row.due_at.isoformat()},
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


# -- complaints ---------------------------------------------------------------------------


def _known_departments(session: Session) -> set[str]:
    found = {GENERAL_DEPARTMENT}
    for manifest in session.scalars(select(Deployment.manifest)):
        found.update(str(i.get("department")) for i in manifest.get("items", []))
    return found


def _holding_department(session: Session, case: Case, manifest: Manifest) -> str:
    """The department that has the case now: the open task due first, else the last task."""
    row = session.scalars(
        select(WorkItem)
        .where(WorkItem.case_id == case.id, WorkItem.state.in_(OPEN_WORK_STATES))
        .order_by(WorkItem.due_at, WorkItem.id)
        .limit(1)
    ).first()
    if row is None:
        row = session.scalars(
            select(WorkItem).where(WorkItem.case_id == case.id).order_by(WorkItem.id.desc()).limit(1)
        ).first()
    if row is not None:
        return row.department
    return _lead_department(manifest)


def complain(
    db: Database,
    clock: Clock,
    actor: Actor,
    case_id: int | None,
    text: str,
    department: str | None = None,
    *,
    calendar: WorkCalendar | None = None,
    answer_days: float = COMPLAINT_DAYS,
    reservation: Reservation | None = None,
) -> ComplaintView:
    """An applicant reports that they could not get it done; it lands in a supervisor queue.

    ``reservation`` (an ``Idempotency-Key``'s) learns the complaint in the same transaction.
    """
    calendar = calendar or default_calendar()
    if actor.role is not Role.APPLICANT:
        raise NotAllowed("只有申请人可以反映问题 (only applicants file complaints)")
    problems = _text_problems(text, "text", required=True)
    department = (department or "").strip()
    with db.write() as s:
        case = _owned_case(s, actor, case_id) if case_id is not None else None
        manifest = _manifest(s, case.deployment_id) if case is not None else None
        if department:
            known = set(manifest.departments) if manifest is not None else _known_departments(s)
            if department not in known:
                problems.append(
                    Problem(
                        f"未知的部门 {department}",
                        where="department",
                        rule="department",
                        message_en="unknown department",
                    )
                )
        if problems:
            raise InvalidInput(f"反映有 {len(problems)} 处问题", problems)
        if not department:
            department = (
                _holding_department(s, case, manifest)
                if case is not None and manifest is not None
                else GENERAL_DEPARTMENT
            )
        now = clock.now()
        row = Complaint(
            case_id=case.id if case is not None else None,
            bundle_key=case.bundle_key if case is not None else "",
            complainant=actor.username,
            department=department,
            text=text.strip(),
            state=ComplaintState.OPEN,
            created_at=now,
            due_at=calendar.add_working_days(now, answer_days),
        )
        s.add(row)
        s.flush()
        open_entry(
            s,
            subject=Subject.COMPLAINT,
            subject_id=row.id,
            level=Level.FILED,
            department=department,
            now=now,
            case_id=row.case_id,
            bundle_key=row.bundle_key,
            due_at=row.due_at,
            detail={"complainant": actor.username},
        )
        if row.case_id is not None:
            _event(
                s,
                row.case_id,
                now,
                actor.username,
                "complaint",
                {"complaint_id": row.id, "department": department, "text": row.text},
            )
        analytics.record_complaint(s, row.bundle_key, department, now, calendar)
        record_outcome(s, reservation, outcome_ref("complaint", row.id))
        s.flush()
        return ComplaintView.of(row)


def answer_complaint(
    db: Database,
    clock: Clock,
    actor: Actor,
    complaint_id: int,
    reply: str,
    *,
    reservation: Reservation | None = None,
) -> ComplaintView:
    """A supervisor of the department answers a complaint; the author (and the case) see the answer.

    ``reservation`` (an ``Idempotency-Key``'s) learns the complaint in the same transaction.
    """
    problems = _text_problems(reply, "reply", required=True)
    if problems:
        raise InvalidInput("答复有问题", problems)
    with db.write() as s:
        row = _locked_with_case(s, Complaint, complaint_id)
        if row is None or not may_supervise(actor, row.department):
            raise NotFound(f"没有这个反映 (no complaint {complaint_id})")
        if row.state != ComplaintState.OPEN:
            raise Conflict("已经答复 (already answered)")
        now = clock.now()
        row.state = ComplaintState.ANSWERED
        row.reply = reply.strip()
        row.replied_by = actor.username
        row.replied_at = now
        close_entries(s, Subject.COMPLAINT, row.id, actor.username, now, row.reply)
        if row.case_id is not None:
            _event(
                s,
                row.case_id,
                now,
                actor.username,
                "complaint_answered",
                {"complaint_id": row.id, "department": row.department, "reply": row.reply},
            )
        record_outcome(s, reservation, outcome_ref("complaint", row.id))
        s.flush()
        return ComplaintView.of(row)


def supervised_complaint(db: Database, actor: Actor, complaint_id: int) -> ComplaintView:
    """One complaint as the supervisors of its department see it (an answered one too)."""
    with db.read() as s:
        row = s.get(Complaint, complaint_id)
        if row is None or not may_supervise(actor, row.department):
            raise NotFound(f"没有这个反映 (no complaint {complaint_id})")
        return ComplaintView.of(row)


def complaint_of(db: Database, actor: Actor, complaint_id: int) -> ComplaintView:
    """One of an applicant's own complaints (as ``complaints_of`` shows it)."""
    with db.read() as s:
        row = s.get(Complaint, complaint_id)
        if row is None or row.complainant != actor.username:
            raise NotFound(f"没有这条反映 (no complaint {complaint_id})")
        return ComplaintView.of(row)


def complaints_of(db: Database, actor: Actor) -> list[ComplaintView]:
    """An applicant's own complaints, newest first, with the answers."""
    with db.read() as s:
        rows = s.scalars(
            select(Complaint).where(Complaint.complainant == actor.username).order_by(Complaint.id.desc())
        )
        return [ComplaintView.of(r) for r in rows]


def case_feedback(db: Database, actor: Actor, case_id: int) -> CaseFeedback:
    """Ratings, rectifications (with replies) and complaints of a case, for those who may see the case."""
    with db.read() as s:
        case = s.get(Case, case_id)
        if case is None or not may_see_case(s, actor, case):
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
        tuple(_rating_view(r, by_rating.get(r.id)) for r in ratings),
        tuple(RectificationView.of(r) for r in rectifications),
        tuple(ComplaintView.of(c) for c in complaints),
    )
