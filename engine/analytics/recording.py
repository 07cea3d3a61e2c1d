"""Recording: what case events count for in the aggregate rows, from the event's transaction.

``engine.subscribers`` hands the events of the case path to these functions, on the session
of the transaction that made the change, so a rollback undoes the count with the change:

- ``record_completion(session, work_item)`` when a task is completed, and
  ``record_case_finished(session, case)`` when a case ends: each works out what it counts
  for and queues it (``engine.analytics.projection``), one row, to be added to the shared
  aggregate rows in batches;
- ``record_rating`` / ``record_complaint`` / ``record_went_overdue`` for a rating, a complaint
  and a task that has just passed its due time: counted at once, with counter upserts.

Each runs once per task action, so it costs a handful of Core statements (see
``engine.analytics.statements``) and never a scan of the history. Every count keeps its
division (``engine.analytics.rows``): a task's is the office's it was routed to, a case's
(and its ratings' and complaints') the division that decided it; what has none (rows from
before regions) counts for ``default_division``, where it was handled.

May import: ``engine.analytics.projection``, ``engine.analytics.rows``,
``engine.analytics.statements``, ``engine.analytics.totals``, ``engine.cases``,
``engine.storage``, ``engine.time``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.analytics.projection import queue_case, queue_task
from engine.analytics.rows import OfficeRatingStats, PeriodStats, RatingStats
from engine.analytics.statements import bump
from engine.analytics.totals import CaseFact, case_fact, pause_interval, task_fact
from engine.cases.events import ClocksPaused
from engine.cases.states import CaseStatus, WorkItemState
from engine.storage.models import Case, CaseEvent, Material, WorkItem, table_of, utcnow
from engine.storage.settings import Settings
from engine.time.calendar import WorkCalendar, default_calendar

# The division of rows that name none, when the caller passes no ``default_division``: the
# settings' own default, so there is one source for it.
DEFAULT_DIVISION = str(Settings.model_fields["default_division"].default)


def _pauses(session: Session, case_id: int) -> list[tuple[datetime, datetime]]:
    rows = session.scalars(
        select(CaseEvent.detail).where(CaseEvent.case_id == case_id, CaseEvent.kind == ClocksPaused.KIND)
    ).all()
    return [pause_interval(detail) for detail in rows]


def _case_version(session: Session, case_id: int) -> int:
    version = session.scalar(select(Case.version).where(Case.id == case_id))
    return int(version or 0)


# -- hooks --------------------------------------------------------------------------------


def case_division(case: Case, default_division: str = DEFAULT_DIVISION) -> str:
    """The division a case counts for: where it is decided, or the default for a case from before regions."""
    return case.division or default_division


def record_completion(
    session: Session,
    work_item: WorkItem,
    calendar: WorkCalendar | None = None,
    *,
    case: Case | None = None,
    default_division: str = DEFAULT_DIVISION,
) -> None:
    """Queue what a task the runtime has just completed counts for (same transaction, once per task).

    Cancelled tasks are not counted: nobody finished them. The runtime passes the locked
    ``case`` it holds: its version, and whether it ever waited for the applicant (a pause
    is only recorded when a supplement starts a new round) or was suspended, then cost no queries. The task
    counts for the division of the office that handled it.
    """
    if work_item.state != WorkItemState.COMPLETED:
        return
    calendar = calendar or default_calendar()
    # Everything comes from the objects passed in; the pause query (an ORM query) flushes
    # the session itself, and the queueing is a Core statement that needs no flush.
    # A suspension (挂起) stopped the clocks too: its resume wrote a pause without a new round.
    never_paused = case is not None and (case.round or 1) <= 1 and not case.suspended_seconds
    fact = task_fact(calendar, work_item, [] if never_paused else _pauses(session, work_item.case_id))
    version = case.version if case is not None else _case_version(session, work_item.case_id)
    keys = {
        "bundle_key": work_item.bundle_key,
        "version": version,
        "item_key": work_item.item_key,
        "department": work_item.department,
        "division": work_item.division or default_division,
    }
    at = work_item.completed_at or utcnow()
    queue_task(session, keys, work_item.task_name or "", fact, work_item.problems or (), at)


_MATERIALS = table_of(Material)
_ISSUED_AMONG = select(_MATERIALS.c.id).where(
    _MATERIALS.c.id.in_(bindparam("ids", expanding=True)), _MATERIALS.c.issued_by_case.is_not(None)
)


def _applicant_materials(session: Session, case: Case) -> int:
    """Materials the applicant supplied (certificates issued by the system do not count)."""
    ids = [str(v) for v in (case.materials or {}).values()]
    if not ids:
        return 0
    # On the connection, without autoflush: certificates issued in this transaction are flushed
    # by ``Materials.issue_certificate`` already.
    issued = set(session.connection().execute(_ISSUED_AMONG, {"ids": ids}).scalars())
    return len([i for i in ids if i not in issued])


def record_case_finished(
    session: Session,
    case: Case,
    calendar: WorkCalendar | None = None,
    *,
    default_division: str = DEFAULT_DIVISION,
) -> None:
    """Queue what a case that has just ended (completed, rejected, withdrawn) counts for; same transaction.

    For completed cases: the duration (working time from submission to completion, the
    applicant's own correction time included: it is what the applicant lived), the steps the
    applicant took (the application and one supplement per correction round) and the
    materials they supplied; all for the division that decided the case.
    """
    if case.status not in (CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN):
        return
    calendar = calendar or default_calendar()
    keys = {
        "bundle_key": case.bundle_key,
        "version": case.version,
        "division": case_division(case, default_division),
    }
    at = case.finished_at or utcnow()
    if case.status == CaseStatus.COMPLETED:
        fact = case_fact(calendar, case, _applicant_materials(session, case))
    else:  # a rejection or withdrawal only counts: no duration, steps or materials to work out
        fact = CaseFact(str(case.status), 0.0, 0, 0, calendar.local_date(at))
    queue_case(session, keys, fact, at)


_ITEMS = table_of(WorkItem)
_SERVED_BY = (
    select(_ITEMS.c.department, _ITEMS.c.division)
    .where(_ITEMS.c.case_id == bindparam("case_id"), _ITEMS.c.state == WorkItemState.COMPLETED)
    .distinct()
)


def offices_served(
    session: Session, case_id: int, department: str, default_division: str = DEFAULT_DIVISION
) -> list[tuple[str, str]]:
    """The offices (department, division) a rating of ``department`` ('' = the bundle) is attributed to.

    The offices that completed a task of the case; of ``department`` only, when the rating
    names one (``OfficeRatingStats`` says why). Sorted, so rebuild and recording agree.
    """
    rows = session.connection().execute(_SERVED_BY, {"case_id": case_id}).all()
    offices = {(d, v or default_division) for d, v in rows if not department or d == department}
    return sorted(offices)


def record_rating(
    session: Session,
    case: Case,
    department: str,
    score: int,
    at: datetime,
    calendar: WorkCalendar | None = None,
    *,
    default_division: str = DEFAULT_DIVISION,
) -> None:
    """Count one rating of a case (department '' for the bundle as a whole).

    Counted for the case's division (``RatingStats``) and for each office that served the
    case (``OfficeRatingStats``; see ``offices_served``).
    """
    calendar = calendar or default_calendar()
    if not 1 <= score <= 5:
        raise ValueError("score must be 1..5")
    division = case_division(case, default_division)
    bundle_key, version = case.bundle_key, case.version
    bump(
        session,
        table_of(RatingStats),
        {"bundle_key": bundle_key, "version": version, "department": department, "division": division},
        {f"s{score}": 1},
    )
    for office_department, office_division in offices_served(session, case.id, department, default_division):
        bump(
            session,
            table_of(OfficeRatingStats),
            {
                "bundle_key": bundle_key,
                "version": version,
                "department": office_department,
                "division": office_division,
            },
            {f"s{score}": 1},
        )
    bump(
        session,
        table_of(PeriodStats),
        {
            "day": calendar.local_date(at),
            "bundle_key": bundle_key,
            "department": department,
            "division": division,
        },
        {"ratings": 1, "rating_sum": score, "ratings_bad": int(score <= 2)},
    )


def record_complaint(
    session: Session,
    bundle_key: str,
    department: str,
    at: datetime,
    calendar: WorkCalendar | None = None,
    *,
    division: str = DEFAULT_DIVISION,
) -> None:
    """Count one complaint (办不成事反映); '' for an unknown bundle or department.

    ``division``: the case's (``case_division``), the default division for a complaint without a case.
    """
    calendar = calendar or default_calendar()
    bump(
        session,
        table_of(PeriodStats),
        {
            "day": calendar.local_date(at),
            "bundle_key": bundle_key,
            "department": department,
            "division": division,
        },
        {"complaints": 1},
    )


def record_went_overdue(
    session: Session,
    bundle_key: str,
    department: str,
    at: datetime,
    calendar: WorkCalendar | None = None,
    *,
    division: str = DEFAULT_DIVISION,
) -> None:
    """Count a task of a bundle and office (department, division) that has just passed its due time.

    Once per task, with the keys the SLA sweep's ``TaskOverdue`` carries and the task's division.
    """
    calendar = calendar or default_calendar()
    bump(
        session,
        table_of(PeriodStats),
        {
            "day": calendar.local_date(at),
            "bundle_key": bundle_key,
            "department": department,
            "division": division,
        },
        {"went_overdue": 1},
    )
