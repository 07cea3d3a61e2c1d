"""The SLA clock (限时办结): warn before a task is due, mark it overdue, tell the supervisor.

Every open work item with a due time gets two scheduled entries in ``escalations``:

- ``warning`` when ``escalation.notify_at`` (bundle.yaml, default 0.8) of its limit has
  passed: a notice in the department's alert list;
- ``escalated`` when ``escalation.escalate_at`` (default 1.0, i.e. the due time) has passed:
  an entry in the department's supervisor queue and a line ``escalated`` on the timeline.

At the due time itself the task is marked ``overdue`` and the case timeline gets a line
``overdue``. Fractions are of the item's limit in working time (``engine.time.calendar``).

Exactly once, with any number of sweepers: the sweep locks the cases it works on with
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (another sweeper takes other cases;
the runtime, which also locks the case first, waits a moment), re-checks each condition in
a conditional UPDATE, and ``(subject, subject_id, level)`` is unique. On SQLite the write
transaction (``BEGIN IMMEDIATE`` via ``Database.write()``) already serializes sweepers.

Suspended time: while a case waits for the applicant, its departments' clocks stop. The
sweep leaves cases in ``awaiting_applicant`` alone, and ``shift_due_dates`` (called by the
runtime when the case resumes) pushes the due times of its open tasks, and the case's
promised date, by the working time the case waited; the pause is recorded on the timeline
(``sla_paused``) so analytics leaves it out of the departments' times too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    exists,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.analytics import recording as analytics
from engine.cases.states import OPEN_WORK_STATES, CaseStatus
from engine.cases.views import Label
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound, Problem
from engine.people.actors import Actor, Role
from engine.storage.db import Database, rowcount, upsert_insert
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Base, BigId, Case, CaseEvent, Deployment, UtcDateTime, WorkItem, utcnow
from engine.time.calendar import WorkCalendar, default_calendar
from engine.time.clock import Clock

# Complaints that name no department, and tasks of no known department, are answered by
# the government service centre (首问负责: whoever is asked first owns the request).
GENERAL_DEPARTMENT = "service-center"


class Subject(StrEnum):
    """What an escalation is about."""

    WORK_ITEM = "work_item"
    RECTIFICATION = "rectification"
    COMPLAINT = "complaint"


class Level(StrEnum):
    """How far an escalation has gone."""

    WARNING = "warning"  # due soon: the department is told
    ESCALATED = "escalated"  # late: the supervisor is told
    FILED = "filed"  # a complaint waiting for a supervisor's answer


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


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did; ``more`` means a batch was full and another sweep should follow."""

    tracked: int = 0
    warned: int = 0
    overdue: int = 0
    escalated: int = 0
    voided: int = 0
    rescheduled: int = 0
    more: bool = False

    @property
    def total(self) -> int:
        """Changes made (tracking new tasks included)."""
        return self.tracked + self.warned + self.overdue + self.escalated + self.voided + self.rescheduled

    def __add__(self, other: SweepResult) -> SweepResult:
        counts = {
            f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self) if f.name != "more"
        }
        return SweepResult(**counts, more=self.more or other.more)


_TITLES: dict[tuple[str, str], Label] = {
    (Subject.WORK_ITEM, Level.WARNING): Label("任务即将到期", "Task due soon"),
    (Subject.WORK_ITEM, Level.ESCALATED): Label("任务超期督办", "Task overdue"),
    (Subject.RECTIFICATION, Level.ESCALATED): Label("差评整改超期", "Rectification overdue"),
    (Subject.COMPLAINT, Level.FILED): Label("办不成事反映", "Complaint"),
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


# -- scheduling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Policy:
    notify_at: float
    escalate_at: float
    limits: dict[str, float]


_DEFAULT_POLICY = _Policy(0.8, 1.0, {})  # bundle.yaml's ``escalation`` defaults, no item limits


def _policies(session: Session, deployment_ids: Iterable[int]) -> dict[int, _Policy]:
    ids = sorted(set(deployment_ids))
    if not ids:
        return {}
    out = {}
    for deployment_id, manifest in session.execute(
        select(Deployment.id, Deployment.manifest).where(Deployment.id.in_(ids))
    ):
        escalation = manifest.get("escalation") or {}
        out[deployment_id] = _Policy(
            float(escalation.get("notify_at", 0.8)),
            float(escalation.get("escalate_at", 1.0)),
            {str(i["key"]): float(i.get("time_limit_days", 0)) for i in manifest.get("items", [])},
        )
    return out


def _moments(
    calendar: WorkCalendar, created_at: datetime, due_at: datetime, allowed: float, policy: _Policy
) -> tuple[datetime, datetime]:
    """When to warn and when to escalate, given the allowed working seconds and the current due time.

    Working time between creation and due beyond ``allowed`` is time the clock stood still
    (a paused case): both moments move by it, as the due time did.
    """
    extra = max(0.0, calendar.working_time_between(created_at, due_at).total_seconds() - allowed)
    warn = calendar.add_working_time(created_at, timedelta(seconds=policy.notify_at * allowed + extra))
    if policy.escalate_at == 1.0:
        return warn, due_at
    escalate = calendar.add_working_time(created_at, timedelta(seconds=policy.escalate_at * allowed + extra))
    return warn, escalate


def _insert_ignore(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    statement = upsert_insert(session, Escalation).on_conflict_do_nothing(
        index_elements=["subject", "subject_id", "level"]
    )
    session.execute(statement, list(rows))


# What each step of the sweep looks for; ``_has_work`` asks the same questions, so an idle
# check and the sweep never disagree about whether there is work.


def _untracked() -> tuple[ColumnElement[bool], ...]:
    """Open tasks with a due time and no scheduled entries yet."""
    tracked = exists().where(
        Escalation.subject == Subject.WORK_ITEM,
        Escalation.subject_id == WorkItem.id,
        Escalation.level == Level.WARNING,
    )
    return WorkItem.state.in_(OPEN_WORK_STATES), WorkItem.due_at.is_not(None), ~tracked


def _late(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Open tasks of running cases (joined on ``Case``) past their due time, not yet marked."""
    return (
        WorkItem.state.in_(OPEN_WORK_STATES),
        WorkItem.overdue.is_(False),
        WorkItem.due_at <= now,
        Case.status == CaseStatus.RUNNING,
    )


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Scheduled task entries of running cases (joined on ``Case``) whose moment has come."""
    return (
        Escalation.subject == Subject.WORK_ITEM,
        Escalation.state == EntryState.SCHEDULED,
        Escalation.fire_at <= now,
        Case.status == CaseStatus.RUNNING,
    )


def _track(session: Session, now: datetime, calendar: WorkCalendar, limit: int) -> int:
    """Schedule warning and escalation entries for open tasks that have none yet."""
    items = session.execute(
        select(
            WorkItem.id,
            WorkItem.case_id,
            WorkItem.deployment_id,
            WorkItem.bundle_key,
            WorkItem.item_key,
            WorkItem.department,
            WorkItem.created_at,
            WorkItem.due_at,
        )
        .where(*_untracked())
        .order_by(WorkItem.id)
        .limit(limit)
    ).all()
    policies = _policies(session, (i.deployment_id for i in items))
    rows: list[dict[str, Any]] = []
    for i in items:
        policy = policies.get(i.deployment_id, _DEFAULT_POLICY)
        limit_days = policy.limits.get(i.item_key, 0.0)
        if limit_days > 0:
            allowed = limit_days * calendar.seconds_per_day
        else:
            allowed = calendar.working_time_between(i.created_at, i.due_at).total_seconds()
        warn, escalate = _moments(calendar, i.created_at, i.due_at, allowed, policy)
        detail = {
            "allowed_s": allowed,
            "due_at": i.due_at.isoformat(),
            "notify_at": policy.notify_at,
            "escalate_at": policy.escalate_at,
        }
        for level, fire_at, audience in (
            (Level.WARNING, warn, Audience.DEPARTMENT),
            (Level.ESCALATED, escalate, Audience.SUPERVISOR),
        ):
            rows.append(
                {
                    "subject": Subject.WORK_ITEM.value,
                    "subject_id": i.id,
                    "level": level.value,
                    "audience": audience.value,
                    "department": i.department,
                    "case_id": i.case_id,
                    "bundle_key": i.bundle_key,
                    "item_key": i.item_key,
                    "state": EntryState.SCHEDULED.value,
                    "fire_at": fire_at,
                    "created_at": now,
                    "due_at": i.due_at,
                    "resolved_by": "",
                    "note": "",
                    "detail": detail,
                }
            )
    _insert_ignore(session, rows)
    return len(items)


def lock_cases(session: Session, case_ids: Iterable[int]) -> set[int]:
    """Lock these cases for this transaction, skipping those another transaction holds."""
    ids = sorted(set(case_ids))
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Case.id).where(Case.id.in_(ids)).order_by(Case.id).with_for_update(skip_locked=True)
        )
    )


def _mark_overdue(session: Session, now: datetime, calendar: WorkCalendar, limit: int) -> tuple[int, bool]:
    """Mark running cases' open tasks past their due time as overdue, once each."""
    candidates = session.execute(
        select(
            WorkItem.id,
            WorkItem.case_id,
            WorkItem.bundle_key,
            WorkItem.item_key,
            WorkItem.department,
            WorkItem.due_at,
            WorkItem.assignee,
        )
        .join(Case, Case.id == WorkItem.case_id)
        .where(*_late(now))
        .order_by(WorkItem.due_at, WorkItem.id)
        .limit(limit)
    ).all()
    locked = lock_cases(session, (c.case_id for c in candidates))
    marked = 0
    for c in candidates:
        if c.case_id not in locked:
            continue
        changed = rowcount(
            session.execute(
                update(WorkItem)
                .where(
                    WorkItem.id == c.id,
                    WorkItem.overdue.is_(False),
                    WorkItem.state.in_(OPEN_WORK_STATES),
                    WorkItem.due_at <= now,
                )
                .values(overdue=True)
                .execution_options(synchronize_session=False)
            )
        )
        if not changed:
            continue
        marked += 1
        session.add(
            CaseEvent(
                case_id=c.case_id,
                at=now,
                actor="system",
                kind="overdue",
                work_item_id=c.id,
                detail={
                    "item": c.item_key,
                    "department": c.department,
                    "due_at": c.due_at.isoformat(),
                    "assignee": c.assignee,
                },
            )
        )
        analytics.record_went_overdue(session, c.bundle_key, c.department, now, calendar)
    return marked, len(candidates) >= limit and marked > 0


def _fire(session: Session, now: datetime, calendar: WorkCalendar, limit: int) -> tuple[SweepResult, bool]:
    """Open the scheduled entries of tasks whose moment has come (running cases only)."""
    candidates = session.execute(
        select(Escalation.id, Escalation.case_id)
        .join(Case, Case.id == Escalation.case_id)
        .where(*_due(now))
        .order_by(Escalation.fire_at, Escalation.id)
        .limit(limit)
    ).all()
    locked_cases = lock_cases(session, (c.case_id for c in candidates if c.case_id is not None))
    ids = [c.id for c in candidates if c.case_id in locked_cases]
    entries = (
        session.scalars(
            select(Escalation)
            .where(Escalation.id.in_(ids), Escalation.state == EntryState.SCHEDULED)
            .order_by(Escalation.id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).all()
        if ids
        else []
    )
    items = (
        {
            i.id: i
            for i in session.scalars(
                select(WorkItem)
                .where(WorkItem.id.in_([e.subject_id for e in entries]))
                .execution_options(populate_existing=True)
            )
        }
        if entries
        else {}
    )
    warned = escalated = voided = rescheduled = 0
    for entry in entries:
        item = items.get(entry.subject_id)
        if item is None or item.state not in OPEN_WORK_STATES or item.due_at is None:
            entry.state = EntryState.VOID
            voided += 1
            continue
        if item.due_at.isoformat() != entry.detail.get("due_at"):
            moved = _reschedule(session, calendar, entry, item)
            if moved is not None and moved > now:
                rescheduled += 1
                continue
        entry.state = EntryState.OPEN
        entry.opened_at = now
        entry.due_at = item.due_at
        entry.detail = {**entry.detail, "assignee": item.assignee}
        if entry.level == Level.WARNING:
            warned += 1
            continue
        escalated += 1
        session.add(
            CaseEvent(
                case_id=item.case_id,
                at=now,
                actor="system",
                kind="escalated",
                work_item_id=item.id,
                detail={
                    "item": item.item_key,
                    "department": item.department,
                    "due_at": item.due_at.isoformat(),
                    "escalation_id": entry.id,
                },
            )
        )
    result = SweepResult(warned=warned, escalated=escalated, voided=voided, rescheduled=rescheduled)
    return result, len(candidates) >= limit and result.total > 0


def _reschedule(
    session: Session, calendar: WorkCalendar, entry: Escalation, item: WorkItem
) -> datetime | None:
    """Move a scheduled entry after its task's due time moved; the new moment (None if unknown)."""
    if item.due_at is None:
        return None
    detail = entry.detail
    stored = _DEFAULT_POLICY
    if "notify_at" not in detail or "escalate_at" not in detail:
        # ``_track`` writes both into every entry; only an entry without them needs the manifest.
        stored = _policies(session, [item.deployment_id]).get(item.deployment_id, _DEFAULT_POLICY)
    policy = _Policy(
        float(detail.get("notify_at", stored.notify_at)),
        float(detail.get("escalate_at", stored.escalate_at)),
        stored.limits,
    )
    allowed = float(detail.get("allowed_s", 0.0))
    warn, escalate = _moments(calendar, item.created_at, item.due_at, allowed, policy)
    entry.fire_at = warn if entry.level == Level.WARNING else escalate
    entry.due_at = item.due_at
    entry.detail = {**entry.detail, "due_at": item.due_at.isoformat()}
    return entry.fire_at


def sweep(
    session: Session, now: datetime, calendar: WorkCalendar | None = None, *, limit: int = 200
) -> SweepResult:
    """One pass of the SLA clock in the caller's transaction: track, mark overdue, warn, escalate.

    Each step handles at most ``limit`` rows; ``result.more`` says another pass has work.
    """
    calendar = calendar or default_calendar()
    tracked = _track(session, now, calendar, limit)
    overdue, more_overdue = _mark_overdue(session, now, calendar, limit)
    session.flush()
    fired, more_fired = _fire(session, now, calendar, limit)
    session.flush()
    return (
        SweepResult(tracked=tracked, overdue=overdue, more=tracked >= limit or more_overdue or more_fired)
        + fired
    )


def _has_work(session: Session, now: datetime) -> bool:
    """A cheap read-only check, so an idle sweep never takes SQLite's write lock."""
    untracked = session.scalar(select(WorkItem.id).where(*_untracked()).limit(1))
    if untracked is not None:
        return True
    late = session.scalar(
        select(WorkItem.id).join(Case, Case.id == WorkItem.case_id).where(*_late(now)).limit(1)
    )
    if late is not None:
        return True
    due = session.scalar(
        select(Escalation.id).join(Case, Case.id == Escalation.case_id).where(*_due(now)).limit(1)
    )
    return due is not None


def run_sweep(
    db: Database,
    clock: Clock,
    calendar: WorkCalendar | None = None,
    *,
    batch: int = 200,
    max_batches: int = 50,
) -> SweepResult:
    """Sweep in short write transactions until nothing is left (or ``max_batches`` ran)."""
    total = SweepResult()
    for _ in range(max_batches):
        now = clock.now()
        with db.read() as s:
            if not _has_work(s, now):
                break
        with db.write() as s:
            result = sweep(s, now, calendar, limit=batch)
        total = total + result
        if not result.more:
            break
    return replace(total, more=False)


# -- suspended time -----------------------------------------------------------------------


def shift_due_dates(
    session: Session,
    case_id: int,
    suspended_from: datetime,
    resumed_at: datetime,
    calendar: WorkCalendar | None = None,
) -> timedelta:
    """Stop the departments' clocks for the time a case waited for the applicant.

    Call in the transaction that resumes the case (the case row locked), before new tasks
    are created. Open tasks created before ``resumed_at`` whose due time had not passed when
    the wait began keep the working time they had left: their new due time is that much
    working time after ``resumed_at``. The case's promised date moves the same way. Returns
    the working time the clocks stood still (zero if the wait fell outside working hours).
    """
    calendar = calendar or default_calendar()
    paused = calendar.working_time_between(suspended_from, resumed_at)
    if paused <= timedelta(0):
        return timedelta(0)

    def moved(due: datetime) -> datetime:
        return calendar.add_working_time(resumed_at, calendar.working_time_between(suspended_from, due))

    items = session.scalars(
        select(WorkItem).where(
            WorkItem.case_id == case_id,
            WorkItem.state.in_(OPEN_WORK_STATES),
            WorkItem.created_at < resumed_at,
            WorkItem.due_at > suspended_from,
        )
    ).all()
    shifted: dict[str, str] = {}
    for item in items:
        assert item.due_at is not None
        item.due_at = moved(item.due_at)
        shifted[str(item.id)] = item.due_at.isoformat()
    if items:
        session.flush()
        entries = session.scalars(
            select(Escalation).where(
                Escalation.subject == Subject.WORK_ITEM,
                Escalation.subject_id.in_([i.id for i in items]),
                Escalation.state == EntryState.SCHEDULED,
            )
        ).all()
        by_id = {i.id: i for i in items}
        for entry in entries:
            _reschedule(session, calendar, entry, by_id[entry.subject_id])
    case = session.get(Case, case_id)
    case_due = None
    if case is not None and case.due_at is not None and case.due_at > suspended_from:
        case.due_at = moved(case.due_at)
        case_due = case.due_at.isoformat()
    session.add(
        CaseEvent(
            case_id=case_id,
            at=resumed_at,
            actor="system",
            kind=analytics.PAUSE_EVENT,
            detail={
                "from": suspended_from.isoformat(),
                "to": resumed_at.isoformat(),
                "working_seconds": paused.total_seconds(),
                "items": shifted,
                "case_due_at": case_due,
            },
        )
    )
    session.flush()
    return paused


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
    _insert_ignore(
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
        session.execute(select(Case.id).where(Case.id == case_id).with_for_update())
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
        if row.state != EntryState.OPEN:
            raise Conflict("督办事项已办结 (the entry is already resolved)")
        now = clock.now()
        row.state = EntryState.RESOLVED
        row.resolved_at = now
        row.resolved_by = actor.username
        row.note = note.strip()
        if row.case_id is not None:
            s.add(
                CaseEvent(
                    case_id=row.case_id,
                    at=now,
                    actor=actor.username,
                    kind="escalation_resolved",
                    work_item_id=row.subject_id if row.subject == Subject.WORK_ITEM else None,
                    detail={"escalation_id": row.id, "department": row.department, "note": row.note},
                )
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
