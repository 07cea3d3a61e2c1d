"""The SLA clock (限时办结): track open tasks, mark them overdue, warn and escalate on time.

Every open work item with a due time gets two scheduled entries (``engine.deadlines.supervision``),
at the moments ``engine.deadlines.schedule`` computes:

- ``warning``: a notice in the department's alert list;
- ``escalated``: an entry in the department's supervisor queue and a line ``escalated`` on
  the timeline.

At the due time itself the task is marked ``overdue`` and the case timeline gets a line
``overdue``.

Exactly once, with any number of sweepers: the sweep locks the cases it works on with
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (another sweeper takes other cases;
the runtime, which also locks the case first, waits a moment), re-checks each condition in
a conditional UPDATE, and ``(subject, subject_id, level)`` is unique. On SQLite the write
transaction (``BEGIN IMMEDIATE`` via ``Database.write()``) already serializes sweepers.

The sweep leaves cases waiting for the applicant alone (only running cases are swept): their
clocks stand still (``engine.deadlines.pauses``).

Each ``overdue`` and ``escalated`` line is a typed event (``TaskOverdue``, ``Escalated``) emitted
on the spine, so whoever follows the clock (analytics counts tasks gone overdue) subscribes.

May import: ``engine.deadlines.supervision``, ``engine.deadlines.schedule``, ``engine.cases``,
``engine.storage``, ``engine.time``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.orm import Session

from engine.cases.events import Escalated, TaskOverdue
from engine.cases.states import OPEN_WORK_STATES, CaseStatus
from engine.deadlines.schedule import DEFAULT_POLICY, load_policies, moments, reschedule
from engine.deadlines.supervision import (
    Audience,
    EntryState,
    Escalation,
    Level,
    Subject,
    insert_entries,
    lock_cases,
)
from engine.storage.db import Database, rowcount
from engine.storage.models import Case, WorkItem
from engine.storage.spine import emit
from engine.time.calendar import WorkCalendar, default_calendar
from engine.time.clock import Clock


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
    policies = load_policies(session, (i.deployment_id for i in items))
    rows: list[dict[str, Any]] = []
    for i in items:
        policy = policies.get(i.deployment_id, DEFAULT_POLICY)
        limit_days = policy.limits.get(i.item_key, 0.0)
        if limit_days > 0:
            allowed = limit_days * calendar.seconds_per_day
        else:
            allowed = calendar.working_time_between(i.created_at, i.due_at).total_seconds()
        warn, escalate = moments(calendar, i.created_at, i.due_at, allowed, policy)
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
    insert_entries(session, rows)
    return len(items)


def _mark_overdue(session: Session, now: datetime, limit: int) -> tuple[int, bool]:
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
        emit(
            session,
            TaskOverdue(
                case_id=c.case_id,
                at=now,
                work_item_id=c.id,
                item=c.item_key,
                department=c.department,
                due_at=c.due_at.isoformat(),
                assignee=c.assignee,
                bundle=c.bundle_key,
            ),
        )
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
            moved = reschedule(session, calendar, entry, item)
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
        emit(
            session,
            Escalated(
                case_id=item.case_id,
                at=now,
                work_item_id=item.id,
                item=item.item_key,
                department=item.department,
                due_at=item.due_at.isoformat(),
                escalation_id=entry.id,
            ),
        )
    result = SweepResult(warned=warned, escalated=escalated, voided=voided, rescheduled=rescheduled)
    return result, len(candidates) >= limit and result.total > 0


def sweep(
    session: Session, now: datetime, calendar: WorkCalendar | None = None, *, limit: int = 200
) -> SweepResult:
    """One pass of the SLA clock in the caller's transaction: track, mark overdue, warn, escalate.

    Each step handles at most ``limit`` rows; ``result.more`` says another pass has work.
    """
    calendar = calendar or default_calendar()
    tracked = _track(session, now, calendar, limit)
    overdue, more_overdue = _mark_overdue(session, now, limit)
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
