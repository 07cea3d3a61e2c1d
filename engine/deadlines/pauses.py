"""Suspended time: while a case waits for the applicant, its departments' clocks stop.

The SLA sweep leaves cases in ``awaiting_applicant`` alone, and ``shift_due_dates`` (run on
``Supplemented`` by ``engine.subscribers``, in the transaction that resumes the case) pushes
the due times of its open tasks, their scheduled supervision entries, and the case's promised
date by the working time the case waited; the pause is recorded on the timeline
(``sla_paused``, the event ``ClocksPaused``) so analytics leaves it out of the departments'
times too.

May import: ``engine.deadlines.supervision``, ``engine.deadlines.schedule``, ``engine.cases``,
``engine.storage``, ``engine.time``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases.events import ClocksPaused
from engine.cases.states import OPEN_WORK_STATES
from engine.deadlines.schedule import reschedule
from engine.deadlines.supervision import EntryState, Escalation, Subject
from engine.storage.models import Case, WorkItem
from engine.storage.spine import emit
from engine.time.calendar import WorkCalendar, default_calendar


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
            reschedule(session, calendar, entry, by_id[entry.subject_id])
    case = session.get(Case, case_id)
    case_due = None
    if case is not None and case.due_at is not None and case.due_at > suspended_from:
        case.due_at = moved(case.due_at)
        case_due = case.due_at.isoformat()
    emit(
        session,
        ClocksPaused(
            case_id=case_id,
            at=resumed_at,
            paused_from=suspended_from.isoformat(),
            paused_to=resumed_at.isoformat(),
            working_seconds=paused.total_seconds(),
            items=shifted,
            case_due_at=case_due,
        ),
    )
    session.flush()
    return paused
