"""Suspended cases (挂起) in analytics: how many per bundle and per department, and for how long.

Read from the suspensions table when asked (as ``step_returns`` reads the audit trail) rather
than kept in an aggregate table: suspensions are few, and a running one's time grows until its
resume. Time is working time (``CaseSuspension.working_seconds`` once resumed; for one still
running, the working time from its start to now), the same time the SLA clocks stood still, so
the waits, lateness and case durations elsewhere in analytics leave it out.

A bundle's figures count the cases of its divisions (the case's division, the default for a
case without one); a department's count the suspensions during which one of its tasks was open
(queued or claimed when the case was suspended), at that task's office's division.

May import: ``engine.analytics.grouping``, ``engine.cases``, ``engine.storage``, ``engine.time``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.analytics.grouping import DivisionScope
from engine.cases.states import CaseStatus
from engine.cases.suspension_rows import CaseSuspension
from engine.storage.models import Case, WorkItem
from engine.time.calendar import WorkCalendar

Key = tuple[str, str | None]  # (bundle or department, division group)


@dataclass(frozen=True)
class SuspendedFigures:
    """Suspended cases of one row: now, ever, and their suspended working time (seconds)."""

    suspended_now: int = 0
    suspended_cases: int = 0
    suspended_seconds: float = 0.0

    @property
    def suspended_mean_seconds(self) -> float | None:
        """The mean suspended working time per suspended case (None without one)."""
        return self.suspended_seconds / self.suspended_cases if self.suspended_cases else None


@dataclass
class _Tally:
    now: set[int] = field(default_factory=set)
    cases: set[int] = field(default_factory=set)
    seconds: float = 0.0

    def figures(self) -> SuspendedFigures:
        return SuspendedFigures(len(self.now), len(self.cases), self.seconds)


def _seconds(row: CaseSuspension, calendar: WorkCalendar, now: datetime) -> float:
    """A suspension's working time: as recorded on its resume, or so far while it runs."""
    if row.resumed_at is not None:
        return float(row.working_seconds or 0.0)
    return (
        calendar.working_time_between(row.suspended_at, now).total_seconds()
        if now > row.suspended_at
        else 0.0
    )


def _tallied(
    found: Iterable[tuple[Key, CaseSuspension, str]], calendar: WorkCalendar, now: datetime
) -> dict[Key, SuspendedFigures]:
    tallies: dict[Key, _Tally] = defaultdict(_Tally)
    for key, row, status in found:
        tally = tallies[key]
        tally.cases.add(row.case_id)
        tally.seconds += _seconds(row, calendar, now)
        if row.resumed_at is None and status == CaseStatus.SUSPENDED.value:
            tally.now.add(row.case_id)
    return {key: tally.figures() for key, tally in tallies.items()}


def by_bundle(
    session: Session, scope: DivisionScope, calendar: WorkCalendar, now: datetime, default_division: str
) -> dict[Key, SuspendedFigures]:
    """Per (bundle, division group): the suspended cases decided in the scope's divisions."""
    rows = session.execute(
        select(CaseSuspension, Case.bundle_key, Case.division, Case.status).join(
            Case, Case.id == CaseSuspension.case_id
        )
    ).all()
    found = []
    for suspension, bundle, division, status in rows:
        code = division or default_division
        if scope.codes is None or code in scope.codes:
            found.append(((bundle, scope.group(code)), suspension, status))
    return _tallied(found, calendar, now)


def by_department(
    session: Session, scope: DivisionScope, calendar: WorkCalendar, now: datetime, bundle: str | None = None
) -> dict[Key, SuspendedFigures]:
    """Per (department, division group): the suspensions during which a task of the department was open."""
    query = (
        select(CaseSuspension, WorkItem.department, WorkItem.division, Case.status)
        .join(Case, Case.id == CaseSuspension.case_id)
        .join(WorkItem, WorkItem.case_id == CaseSuspension.case_id)
        .where(
            WorkItem.created_at <= CaseSuspension.suspended_at,
            or_(WorkItem.completed_at.is_(None), WorkItem.completed_at >= CaseSuspension.suspended_at),
        )
    )
    if bundle is not None:
        query = query.where(Case.bundle_key == bundle)
    if scope.codes is not None:
        query = query.where(WorkItem.division.in_(sorted(scope.codes)))
    seen: set[tuple[int, str, str | None]] = set()
    found = []
    for suspension, department, division, status in session.execute(query).all():
        key = (department, scope.group(division))
        if (suspension.id, *key) in seen:  # two open tasks of one department: one suspension
            continue
        seen.add((suspension.id, *key))
        found.append((key, suspension, status))
    return _tallied(found, calendar, now)
