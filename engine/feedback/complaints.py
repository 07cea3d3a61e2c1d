"""Complaints (办不成事反映): an applicant reports they could not get it done; a supervisor answers.

- ``complain``: on a case or without one; it becomes an entry in a supervisor queue (the
  department named, else the one holding the case, else the government service centre) with
  a deadline for the answer (``COMPLAINT_DAYS`` working days).
- ``answer_complaint``: a supervisor of that department answers, which closes the entry; the
  author (and the case's timeline) see the answer. The complaint belongs to the office that
  handled the department's part of the case (``responsible_division``; without a case or a
  task of the department in it, the default division's): its supervisors, those of the
  divisions above it, and admins in scope answer it.

Both are typed events (``ComplaintFiled``, ``ComplaintAnswered``) emitted on the spine: a line on
the case's timeline when there is a case, and always seen by subscribers (analytics counts
complaints, those without a case too).

May import: ``engine.feedback.rows``, ``engine.feedback.views``, ``engine.feedback.checks``,
``engine.deadlines``, ``engine.bpmn``, ``engine.cases``, ``engine.people``, ``engine.regions``,
``engine.storage``, ``engine.time``, ``engine.errors``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.manifest import Manifest
from engine.cases.events import ComplaintAnswered, ComplaintFiled
from engine.cases.states import OPEN_WORK_STATES
from engine.cases.visibility import may_supervise_task
from engine.deadlines.supervision import (
    GENERAL_DEPARTMENT,
    Level,
    Subject,
    close_entries,
    open_entry,
    responsible_division,
)
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound, Problem
from engine.feedback.checks import (
    lead_department,
    locked_with_case,
    manifest_of,
    owned_case,
    text_problems,
)
from engine.feedback.rows import Complaint, ComplaintState
from engine.feedback.views import ComplaintView
from engine.people.actors import Actor, Role
from engine.regions.service import Regions
from engine.storage.db import Database
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Case, Deployment, WorkItem
from engine.storage.spine import emit
from engine.time.calendar import WorkCalendar, default_calendar
from engine.time.clock import Clock

COMPLAINT_DAYS = 5.0  # working days a supervisor has to answer a complaint


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
    return lead_department(manifest)


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
    problems = text_problems(text, "text", required=True)
    department = (department or "").strip()
    with db.write() as s:
        case = owned_case(s, actor, case_id) if case_id is not None else None
        manifest = manifest_of(s, case.deployment_id) if case is not None else None
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
        # Without a case there is no timeline to write to; subscribers see the complaint all the same.
        emit(
            s,
            ComplaintFiled(
                case_id=row.case_id,
                at=now,
                actor=actor.username,
                complaint_id=row.id,
                department=department,
                text=row.text,
                bundle=row.bundle_key,
            ),
        )
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
    regions: Regions,
    reservation: Reservation | None = None,
) -> ComplaintView:
    """A supervisor of the complaint's office answers it; the author (and the case) see the answer.

    ``reservation`` (an ``Idempotency-Key``'s) learns the complaint in the same transaction.
    """
    with db.write() as s:
        row = locked_with_case(s, Complaint, complaint_id)
        if row is None or not _may_answer(s, actor, row, regions):
            raise NotFound(f"没有这个反映 (no complaint {complaint_id})")
        # After the lookup: an id one may not see is a 404 whatever the reply says.
        problems = text_problems(reply, "reply", required=True)
        if problems:
            raise InvalidInput("答复有问题", problems)
        if row.state != ComplaintState.OPEN:
            raise Conflict("已经答复 (already answered)")
        now = clock.now()
        row.state = ComplaintState.ANSWERED
        row.reply = reply.strip()
        row.replied_by = actor.username
        row.replied_at = now
        close_entries(s, Subject.COMPLAINT, row.id, actor.username, now, row.reply)
        emit(
            s,
            ComplaintAnswered(
                case_id=row.case_id,
                at=now,
                actor=actor.username,
                complaint_id=row.id,
                department=row.department,
                reply=row.reply,
            ),
        )
        record_outcome(s, reservation, outcome_ref("complaint", row.id))
        s.flush()
        return ComplaintView.of(row)


def _may_answer(session: Session, actor: Actor, row: Complaint, regions: Regions) -> bool:
    """Whether the actor answers a complaint: supervisors of its office or above it, admins in scope."""
    division = session.scalar(
        select(responsible_division(Complaint.case_id, Complaint.department, regions.default)).where(
            Complaint.id == row.id
        )
    )
    return may_supervise_task(actor, row.department, division or regions.default, regions)


def supervised_complaint(db: Database, actor: Actor, complaint_id: int, *, regions: Regions) -> ComplaintView:
    """One complaint as the supervisors of its office see it (an answered one too)."""
    with db.read() as s:
        row = s.get(Complaint, complaint_id)
        if row is None or not _may_answer(s, actor, row, regions):
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
