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

Also here: ``lock_cases``, the case lock every sweep takes first, and ``GENERAL_DEPARTMENT``.

May import: ``engine.cases``, ``engine.people``, ``engine.storage``, ``engine.time``, ``engine.errors``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.cases.events import EscalationResolved, IncidentRaised, IncidentResolved
from engine.cases.states import OPEN_WORK_STATES
from engine.cases.views import Label
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound, Problem
from engine.people.actors import Actor, Role
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

    @classmethod
    def of(cls, row: Escalation) -> SupervisorEntry:
        """The view of a row."""
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
        )


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
    session: Session, department: str | None, *, include_resolved: bool = False, limit: int = 200
) -> list[SupervisorEntry]:
    """A department's supervisor queue (all departments when None), oldest first."""
    query = select(Escalation).where(Escalation.audience == Audience.SUPERVISOR)
    if department is not None:
        query = query.where(Escalation.department == department)
    states = [EntryState.OPEN, EntryState.RESOLVED] if include_resolved else [EntryState.OPEN]
    query = query.where(Escalation.state.in_(states))
    rows = session.scalars(query.order_by(Escalation.opened_at, Escalation.id).limit(limit)).all()
    return [SupervisorEntry.of(r) for r in rows]


def department_alerts(session: Session, department: str, *, limit: int = 200) -> list[SupervisorEntry]:
    """Open 'due soon' notices of a department's tasks that are still open, soonest due first."""
    rows = session.scalars(
        select(Escalation)
        .join(WorkItem, WorkItem.id == Escalation.subject_id)
        .where(
            Escalation.subject == Subject.WORK_ITEM,
            Escalation.audience == Audience.DEPARTMENT,
            Escalation.department == department,
            Escalation.state == EntryState.OPEN,
            WorkItem.state.in_(OPEN_WORK_STATES),
        )
        .order_by(Escalation.due_at, Escalation.id)
        .limit(limit)
    ).all()
    return [SupervisorEntry.of(r) for r in rows]


def may_supervise(actor: Actor, department: str) -> bool:
    """Whether the actor answers for a department's supervisor queue (its supervisors, admins)."""
    if actor.role is Role.ADMIN:
        return True
    return actor.role is Role.CLERK and actor.supervisor and department in actor.departments


def queue_for(db: Database, actor: Actor, department: str | None = None) -> list[SupervisorEntry]:
    """The supervisor queue an actor may read: supervisors their departments', admins and analysts any."""
    if actor.role in (Role.ADMIN, Role.ANALYST):
        with db.read() as s:
            return supervisor_queue(s, department)
    if actor.role is not Role.CLERK or not actor.supervisor:
        raise NotAllowed("只有督办人员可以查看督办队列 (only supervisors see the supervisor queue)")
    wanted = [department] if department is not None else sorted(actor.departments)
    if any(d not in actor.departments for d in wanted):
        raise NotAllowed("不是本部门的督办队列 (not your department's supervisor queue)")
    with db.read() as s:
        entries = [e for d in wanted for e in supervisor_queue(s, d)]
    return sorted(entries, key=lambda e: (e.opened_at or datetime.min.replace(tzinfo=UTC), e.id))


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
    reservation: Reservation | None = None,
) -> SupervisorEntry:
    """A supervisor closes an overdue-task entry with a note of what was done.

    ``reservation`` (an ``Idempotency-Key``'s) learns the entry in the same transaction.
    """
    if not note.strip():
        raise InvalidInput(
            "请写明处理情况",
            [Problem("请写明处理情况", where="note", rule="required", message_en="say what was done")],
        )
    with db.write() as s:
        row = _locked_entry(s, escalation_id)
        if row is None or not _may_work(actor, row):
            raise NotFound(f"没有这个督办事项 (no supervisor entry {escalation_id})")
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
        return SupervisorEntry.of(row)


def _may_work(actor: Actor, row: Escalation) -> bool:
    """Whether the actor works a supervisor-queue entry: its department's supervisors, admins."""
    return row.audience == Audience.SUPERVISOR and may_supervise(actor, row.department)


def entry_of(db: Database, actor: Actor, escalation_id: int) -> SupervisorEntry:
    """One supervisor-queue entry as those who work it see it (a resolved one too)."""
    with db.read() as s:
        row = s.get(Escalation, escalation_id)
        if row is None or not _may_work(actor, row):
            raise NotFound(f"没有这个督办事项 (no supervisor entry {escalation_id})")
        return SupervisorEntry.of(row)
