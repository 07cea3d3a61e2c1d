"""Supervision (督办): the entries of the supervisor queues and the departments' alerts.

Owns the ``escalations`` table: one row per subject (a late task, a late rectification, a
complaint) and level (``warning`` for the department, ``escalated`` or ``filed`` for its
supervisors), unique on ``(subject, subject_id, level)`` so an entry is made once however
many writers try. The SLA clock (``engine.deadlines.tracking``) schedules and opens the
entries of tasks; feedback opens and closes those of rectifications and complaints with
``open_entry`` and ``close_entries``. Supervisors read their queue (``queue_for``) and close
an overdue-task entry with a note (``resolve``). A department system's incident (an external
task out of retries) is an entry too (``open_incident``/``close_incident``, subscribed to
its events); it closes when retries are set or a clerk takes the task over, not by a note.

An entry belongs to an office (department, division): a late task's or an incident's to its
task's office; a rectification's or complaint's to the office that handled the department's
part of the case (its newest task there), else the default division's office
(``entry_division``: a join, so entries need no column of their own). A supervisor
reads and works the entries of their departments in their division's subtree (a city
supervisor both districts, a district supervisor only its own); admins and analysts those in
their scope (none: all). ``engine.cases.visibility`` decides one entry
(``may_supervise_task``) and gives the list form (``task_reach``).

Also here: ``lock_cases``, the case lock every sweep takes first, and ``GENERAL_DEPARTMENT``.

May import: ``engine.cases``, ``engine.people``, ``engine.regions``, ``engine.storage``,
``engine.time``, ``engine.errors``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Index,
    SQLColumnExpression,
    String,
    Text,
    UniqueConstraint,
    case,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.cases.events import EscalationResolved, IncidentRaised, IncidentResolved
from engine.cases.states import OPEN_WORK_STATES
from engine.cases.views import Label
from engine.cases.visibility import TaskReach, may_supervise_task, task_reach
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound, Problem
from engine.people.actors import Actor, Role
from engine.regions.service import Regions
from engine.storage.db import Database, rowcount, upsert_insert
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Base, BigId, Case, UtcDateTime, WorkItem, utcnow
from engine.storage.spine import emit
from engine.time.clock import Clock

# Complaints that name no department, and tasks of no known department, are answered by
# the government service centre (首问负责: whoever is asked first owns the request).
GENERAL_DEPARTMENT = "service-center"


class Subject(StrEnum):
    """What an escalation is about."""

    WORK_ITEM = "work_item"
    RECTIFICATION = "rectification"
    COMPLAINT = "complaint"
    INCIDENT = "incident"  # a department system's task out of retries


class Level(StrEnum):
    """How far an escalation has gone."""

    WARNING = "warning"  # due soon: the department is told
    ESCALATED = "escalated"  # late: the supervisor is told
    FILED = "filed"  # a complaint waiting for a supervisor's answer
    INCIDENT = "incident"  # an external task failed for good: retries, or a clerk, must follow


class Audience(StrEnum):
    """Who sees an entry."""

    DEPARTMENT = "department"
    SUPERVISOR = "supervisor"


class EntryState(StrEnum):
    """Where an escalation entry stands."""

    SCHEDULED = "scheduled"  # will open at fire_at
    OPEN = "open"
    RESOLVED = "resolved"
    VOID = "void"  # its task ended before it opened


class Escalation(Base):
    """A scheduled or open entry of a department's alerts or its supervisor queue."""

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("subject", "subject_id", "level", name="uq_escalations_subject_level"),
        Index("ix_escalations_fire", "state", "fire_at"),
        Index("ix_escalations_queue", "audience", "department", "state", "opened_at"),
        Index("ix_escalations_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(BigId)
    level: Mapped[str] = mapped_column(String(16))
    audience: Mapped[str] = mapped_column(String(16))
    department: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("cases.id"), nullable=True)
    bundle_key: Mapped[str] = mapped_column(String(64), default="")
    item_key: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16))
    fire_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_by: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


_TITLES: dict[tuple[str, str], Label] = {
    (Subject.WORK_ITEM, Level.WARNING): Label("任务即将到期", "Task due soon"),
    (Subject.WORK_ITEM, Level.ESCALATED): Label("任务超期督办", "Task overdue"),
    (Subject.RECTIFICATION, Level.ESCALATED): Label("差评整改超期", "Rectification overdue"),
    (Subject.COMPLAINT, Level.FILED): Label("办不成事反映", "Complaint"),
    (Subject.INCIDENT, Level.INCIDENT): Label("部门系统故障", "Department system incident"),
}


@dataclass(frozen=True)
class SupervisorEntry:
    """One entry of a supervisor queue or a department's alerts, as callers see it."""

    id: int
    subject: str
    subject_id: int
    level: str
    state: str
    department: str
    title: Label
    case_id: int | None
    bundle: str
    item: str
    opened_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None = None
    resolved_by: str = ""
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    division: str = ""  # the division of the office the entry belongs to (``entry_division``)

    @classmethod
    def of(cls, row: Escalation, division: str = "") -> SupervisorEntry:
        """The view of a row (``division``: its office's, as ``entry_division`` finds it)."""
        return cls(
            id=row.id,
            subject=row.subject,
            subject_id=row.subject_id,
            level=row.level,
            state=row.state,
            department=row.department,
            title=_TITLES.get((row.subject, row.level), Label(row.level, row.level)),
            case_id=row.case_id,
            bundle=row.bundle_key,
            item=row.item_key,
            opened_at=row.opened_at,
            due_at=row.due_at,
            resolved_at=row.resolved_at,
            resolved_by=row.resolved_by,
            note=row.note,
            detail=dict(row.detail),
            division=division,
        )


# Subjects whose ``subject_id`` is a work item: the entry is in that task's office.
TASK_SUBJECTS = (Subject.WORK_ITEM.value, Subject.INCIDENT.value)


def responsible_division(
    case_id: SQLColumnExpression[int | None], department: SQLColumnExpression[str], default: str
) -> ColumnElement[str]:
    """The division of the office answering for a department's part of a case, as SQL.

    The division of the department's newest task in the case (the office that worked it);
    when the department has no task in the case (or there is no case), the default
    division's office, which every department has (首问负责). Rectifications and complaints
    are answered there.
    """
    newest = (
        select(WorkItem.division)
        .where(WorkItem.case_id == case_id, WorkItem.department == department)
        .order_by(WorkItem.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(newest, literal(default))


def entry_division(default: str) -> ColumnElement[str]:
    """The division of the office an entry belongs to, as SQL over ``Escalation``.

    A late task's or an incident's entry: its task's division. Any other: the office that
    answers for the department's part of the entry's case (``responsible_division``).
    """
    task = select(WorkItem.division).where(WorkItem.id == Escalation.subject_id).scalar_subquery()
    return case(
        (Escalation.subject.in_(TASK_SUBJECTS), func.coalesce(task, literal(default))),
        else_=responsible_division(Escalation.case_id, Escalation.department, default),
    )


def reach_of(actor: Actor, regions: Regions) -> TaskReach:
    """Whose entries an actor reads: the offices whose tasks a supervisor, admin or analyst reads.

    A supervisor: their departments in their division's subtree; admins and analysts: every
    department in their scope (no division: the whole platform); anyone else is refused.
    """
    if actor.role in (Role.ADMIN, Role.ANALYST) or (actor.role is Role.CLERK and actor.supervisor):
        return task_reach(actor, regions)
    raise NotAllowed("只有督办人员可以查看督办队列 (only supervisors see the supervisor queue)")


def narrowed(
    reach: TaskReach, regions: Regions, department: str | None = None, division: str | None = None
) -> TaskReach:
    """A reach narrowed to one department and one division's subtree.

    A department outside the reach is refused (NotAllowed); a division outside it narrows to
    nothing (an empty queue), as the task queues' ``division=`` does.
    """
    departments = reach.departments
    if department is not None:
        if departments is not None and department not in departments:
            raise NotAllowed("不是本部门的督办队列 (not your department's supervisor queue)")
        departments = frozenset({department})
    divisions = reach.divisions
    if division is not None:
        below = regions.subtree(division) or frozenset()
        divisions = below if divisions is None else below & divisions
    return TaskReach(departments, divisions)


def insert_entries(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert entries, leaving out those already there (the unique subject and level decide)."""
    if not rows:
        return
    statement = upsert_insert(session, Escalation).on_conflict_do_nothing(
        index_elements=["subject", "subject_id", "level"]
    )
    session.execute(statement, list(rows))


def lock_cases(session: Session, case_ids: Iterable[int]) -> set[int]:
    """Lock these cases for this transaction, skipping those another transaction holds.

    ``FOR NO KEY UPDATE``, as every case lock: a claim updates its task row and then inserts
    its audit line, whose foreign key takes a key-share lock on the case; a sweep holding
    ``FOR UPDATE`` on the case while updating that task row deadlocked with it on PostgreSQL.
    """
    ids = sorted(set(case_ids))
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Case.id)
            .where(Case.id.in_(ids))
            .order_by(Case.id)
            .with_for_update(skip_locked=True, key_share=True)
        )
    )


# -- queues -------------------------------------------------------------------------------


def open_entry(
    session: Session,
    *,
    subject: Subject,
    subject_id: int,
    level: Level,
    department: str,
    now: datetime,
    case_id: int | None = None,
    bundle_key: str = "",
    item_key: str = "",
    due_at: datetime | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Put an entry in a supervisor queue now (once per subject and level); False if it was there."""
    before = session.scalar(
        select(Escalation.id).where(
            Escalation.subject == subject, Escalation.subject_id == subject_id, Escalation.level == level
        )
    )
    if before is not None:
        return False
    insert_entries(
        session,
        [
            {
                "subject": subject.value,
                "subject_id": subject_id,
                "level": level.value,
                "audience": Audience.SUPERVISOR.value,
                "department": department,
                "case_id": case_id,
                "bundle_key": bundle_key,
                "item_key": item_key,
                "state": EntryState.OPEN.value,
                "fire_at": None,
                "created_at": now,
                "opened_at": now,
                "due_at": due_at,
                "resolved_by": "",
                "note": "",
                "detail": detail or {},
            }
        ],
    )
    return True


def close_entries(
    session: Session, subject: Subject, subject_id: int, by: str, now: datetime, note: str
) -> int:
    """Resolve the open entries of a subject (its matter was dealt with); returns how many."""
    return rowcount(
        session.execute(
            update(Escalation)
            .where(
                Escalation.subject == subject,
                Escalation.subject_id == subject_id,
                Escalation.state == EntryState.OPEN,
            )
            .values(state=EntryState.RESOLVED, resolved_at=now, resolved_by=by, note=note)
            .execution_options(synchronize_session=False)
        )
    )


def open_incident(session: Session, event: IncidentRaised) -> None:
    """Put an incident in its department's supervisor queue (the entry reopens if it was resolved).

    Subscribed to ``IncidentRaised`` (``engine.subscribers``): it runs in the transaction
    that made the incident, so the entry and the failed task commit together. The error
    text is for supervisors and admins: it is on the entry, never on the case timeline.
    """
    if event.work_item_id is None:
        return
    task = session.get(WorkItem, event.work_item_id)
    detail = {"error_message": task.error_message if task is not None else None}
    reopened = rowcount(
        session.execute(
            update(Escalation)
            .where(
                Escalation.subject == Subject.INCIDENT,
                Escalation.subject_id == event.work_item_id,
                Escalation.level == Level.INCIDENT,
            )
            .values(
                state=EntryState.OPEN,
                opened_at=event.at,
                resolved_at=None,
                resolved_by="",
                note="",
                detail=detail,
            )
            .execution_options(synchronize_session=False)
        )
    )
    if reopened:
        return
    open_entry(
        session,
        subject=Subject.INCIDENT,
        subject_id=event.work_item_id,
        level=Level.INCIDENT,
        department=event.department,
        now=event.at,
        case_id=event.case_id,
        bundle_key=task.bundle_key if task is not None else "",
        item_key=event.item,
        due_at=task.due_at if task is not None else None,
        detail=detail,
    )


def close_incident(session: Session, event: IncidentResolved) -> None:
    """Resolve an incident's entry: retries were set, a clerk took the task, or the case moved on."""
    if event.work_item_id is not None:
        close_entries(session, Subject.INCIDENT, event.work_item_id, event.actor, event.at, event.how)


def supervisor_queue(
    session: Session,
    reach: TaskReach,
    default: str,
    *,
    include_resolved: bool = False,
    limit: int = 200,
) -> list[SupervisorEntry]:
    """The supervisor-queue entries of the offices in ``reach``, oldest first.

    ``default`` is the default division (entries of no known office belong to it).
    """
    division = entry_division(default).label("division")
    query = select(Escalation, division).where(Escalation.audience == Audience.SUPERVISOR)
    if reach.departments is not None:
        query = query.where(Escalation.department.in_(sorted(reach.departments)))
    states = [EntryState.OPEN, EntryState.RESOLVED] if include_resolved else [EntryState.OPEN]
    query = query.where(Escalation.state.in_(states))
    if reach.divisions is not None:
        query = query.where(division.in_(sorted(reach.divisions)))
    rows = session.execute(query.order_by(Escalation.opened_at, Escalation.id).limit(limit)).all()
    return [SupervisorEntry.of(row, code) for row, code in rows]


def department_alerts(
    session: Session, department: str, division: str | None = None, *, limit: int = 200
) -> list[SupervisorEntry]:
    """Open 'due soon' notices of an office's tasks that are still open, soonest due first.

    ``division`` is the office's (None: the department's offices everywhere).
    """
    query = (
        select(Escalation, WorkItem.division)
        .join(WorkItem, WorkItem.id == Escalation.subject_id)
        .where(
            Escalation.subject == Subject.WORK_ITEM,
            Escalation.audience == Audience.DEPARTMENT,
            Escalation.department == department,
            Escalation.state == EntryState.OPEN,
            WorkItem.state.in_(OPEN_WORK_STATES),
        )
    )
    if division is not None:
        query = query.where(WorkItem.division == division)
    rows = session.execute(query.order_by(Escalation.due_at, Escalation.id).limit(limit)).all()
    return [SupervisorEntry.of(row, code) for row, code in rows]


def queue_for(
    db: Database,
    actor: Actor,
    department: str | None = None,
    *,
    regions: Regions,
    division: str | None = None,
) -> list[SupervisorEntry]:
    """The supervisor queue an actor may read, oldest first (``reach_of`` says whose).

    ``department`` and ``division`` narrow it (to one department, to a division's subtree):
    a department not the actor's is refused, a division outside their reach holds nothing.
    """
    reach = narrowed(reach_of(actor, regions), regions, department, division)
    with db.read() as s:
        return supervisor_queue(s, reach, regions.default)


def _locked_entry(session: Session, escalation_id: int) -> Escalation | None:
    """An entry locked after its case, the order every writer of a case follows.

    Two supervisors resolving one entry at once must not both see it open (two
    ``escalation_resolved`` lines); locking the entry alone would deadlock against a writer
    that holds the case and then touches its entries (the sweep, a completion).
    """
    case_id = session.scalar(select(Escalation.case_id).where(Escalation.id == escalation_id))
    if case_id is not None:
        session.execute(select(Case.id).where(Case.id == case_id).with_for_update(key_share=True))
    return session.scalars(
        select(Escalation)
        .where(Escalation.id == escalation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def resolve(
    db: Database,
    clock: Clock,
    actor: Actor,
    escalation_id: int,
    note: str,
    *,
    regions: Regions,
    reservation: Reservation | None = None,
) -> SupervisorEntry:
    """A supervisor of the entry's office (or above it) closes an overdue-task entry with a note.

    ``reservation`` (an ``Idempotency-Key``'s) learns the entry in the same transaction.
    """
    with db.write() as s:
        row = _locked_entry(s, escalation_id)
        division = _division_of(s, row, regions) if row is not None else ""
        if row is None or not _may_work(actor, row, division, regions):
            raise NotFound(f"没有这个督办事项 (no supervisor entry {escalation_id})")
        # After the lookup: an id one may not see is a 404 whatever the note says.
        if not note.strip():
            raise InvalidInput(
                "请写明处理情况",
                [Problem("请写明处理情况", where="note", rule="required", message_en="say what was done")],
            )
        if row.subject == Subject.COMPLAINT:
            raise Conflict("投诉须答复后办结 (answer the complaint to close it)")
        if row.subject == Subject.INCIDENT:
            raise Conflict(
                "设置重试次数或转人工办理后自动办结 (set retries or hand the task to a clerk to close it)"
            )
        if row.state != EntryState.OPEN:
            raise Conflict("督办事项已办结 (the entry is already resolved)")
        now = clock.now()
        row.state = EntryState.RESOLVED
        row.resolved_at = now
        row.resolved_by = actor.username
        row.note = note.strip()
        emit(
            s,
            EscalationResolved(
                case_id=row.case_id,
                at=now,
                actor=actor.username,
                work_item_id=row.subject_id if row.subject == Subject.WORK_ITEM else None,
                escalation_id=row.id,
                department=row.department,
                note=row.note,
            ),
        )
        record_outcome(s, reservation, outcome_ref("escalation", row.id))
        s.flush()
        return SupervisorEntry.of(row, division)


def _division_of(session: Session, row: Escalation, regions: Regions) -> str:
    """The division of the office an entry belongs to (``entry_division`` for one row)."""
    found = session.scalar(select(entry_division(regions.default)).where(Escalation.id == row.id))
    return found or regions.default


def _may_work(actor: Actor, row: Escalation, division: str, regions: Regions) -> bool:
    """Whether the actor works a supervisor-queue entry: supervisors of its office or above, admins."""
    return row.audience == Audience.SUPERVISOR and may_supervise_task(
        actor, row.department, division, regions
    )


def entry_of(db: Database, actor: Actor, escalation_id: int, *, regions: Regions) -> SupervisorEntry:
    """One supervisor-queue entry as those who work it see it (a resolved one too)."""
    with db.read() as s:
        row = s.get(Escalation, escalation_id)
        division = _division_of(s, row, regions) if row is not None else ""
        if row is None or not _may_work(actor, row, division, regions):
            raise NotFound(f"没有这个督办事项 (no supervisor entry {escalation_id})")
        return SupervisorEntry.of(row, division)
