"""Recording: the projections of case events into the aggregate rows, in the event's transaction.

``engine.subscribers`` hands the events of the case path to these functions, on the session
of the transaction that made the change, so a rollback undoes the count with the change:

- ``record_completion(session, work_item)`` when a task is completed,
- ``record_case_finished(session, case)`` when a case ends,
- ``record_rating`` / ``record_complaint`` / ``record_went_overdue`` for a rating, a complaint
  and a task that has just passed its due time.

Each runs once per task action, so it costs a handful of Core statements (see below) and
never a scan of the history. Every count keeps its division (``engine.analytics.rows``): a
task's is the office's it was routed to, a case's (and its ratings' and complaints') the
division that decided it; what has none (rows from before regions) counts for
``default_division``, where it was handled.

May import: ``engine.analytics.sketch``, ``engine.analytics.rows``, ``engine.analytics.totals``,
``engine.cases``, ``engine.storage``, ``engine.time``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from engine.analytics.rows import CaseStats, OfficeRatingStats, PeriodStats, RatingStats, TaskStats
from engine.analytics.totals import (
    CASE_COLUMNS,
    TASK_COLUMNS,
    TaskAgg,
    add_case,
    case_fact,
    case_values,
    pause_interval,
    task_fact,
)
from engine.cases.events import ClocksPaused
from engine.cases.states import CaseStatus, WorkItemState
from engine.storage.db import upsert_insert
from engine.storage.models import Case, CaseEvent, Material, WorkItem, table_of, utcnow
from engine.storage.prepared import Prepared
from engine.storage.settings import Settings
from engine.time.calendar import WorkCalendar, default_calendar

# The division of rows that name none, when the caller passes no ``default_division``: the
# settings' own default, so there is one source for it.
DEFAULT_DIVISION = str(Settings.model_fields["default_division"].default)

# -- statements ---------------------------------------------------------------------------

# The hooks run once per task action, so their statements are Core statements on the tables,
# built once and run on the session's driver connection (``Prepared``): no ORM unit of work,
# no autoflush (``Session.execute`` would flush every pending change first; the statements
# here touch only the aggregate tables, which the ORM never has pending changes for, and
# the materials, whose certificate rows are flushed as they are issued), and none of
# SQLAlchemy's per-execution work.
_KEY_PARAM = "k_"  # prefix of the WHERE parameters of an UPDATE (its SET parameters are column names)


_statements: dict[tuple[Any, ...], Prepared] = {}


def _upsert(
    session: Session,
    table: Table,
    keys: tuple[str, ...],
    add: tuple[str, ...],
    put: tuple[str, ...] = (),
) -> Prepared:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE``: columns ``add`` are added to, ``put`` replaced.

    Without ``add`` and ``put`` it is ``ON CONFLICT DO NOTHING``. The values are the execute
    parameters (named as the columns); columns without one get their defaults on insert.
    """
    cache_key = ("upsert", session.connection().dialect.name, table, keys, add, put)
    statement = _statements.get(cache_key)
    if statement is None:
        insert = upsert_insert(session, table)
        if add or put:
            changes = {name: table.c[name] + insert.excluded[name] for name in add}
            changes.update({name: insert.excluded[name] for name in put})
            statement = Prepared(insert.on_conflict_do_update(index_elements=list(keys), set_=changes))
        else:
            statement = Prepared(insert.on_conflict_do_nothing(index_elements=list(keys)))
        _statements[cache_key] = statement
    return statement


def _bump(session: Session, table: Table, keys: Mapping[str, Any], increments: Mapping[str, Any]) -> None:
    """Add to counters of one row, creating it if missing, atomically (INSERT ... ON CONFLICT)."""
    _upsert(session, table, tuple(keys), tuple(increments)).rows(session, {**keys, **increments})


def _locking_select(table: Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> Prepared:
    cache_key = ("select", table, keys, columns)
    statement = _statements.get(cache_key)
    if statement is None:
        statement = _statements[cache_key] = Prepared(
            select(*(table.c[c] for c in columns))
            .where(*(table.c[k] == bindparam(k) for k in keys))
            .with_for_update()
        )
    return statement


def _keyed_update(table: Table, keys: tuple[str, ...]) -> Prepared:
    """``UPDATE table SET <the parameters named as columns> WHERE <keys = k_ parameters>``."""
    cache_key = ("update", table, keys)
    statement = _statements.get(cache_key)
    if statement is None:
        statement = _statements[cache_key] = Prepared(
            update(table).where(*(table.c[k] == bindparam(_KEY_PARAM + k) for k in keys))
        )
    return statement


def _locked_row(session: Session, table: Table, keys: Mapping[str, Any], columns: tuple[str, ...]) -> Any:
    """``columns`` of the aggregate row of ``keys``, locked for this transaction; created first when missing.

    The row almost always exists, so it is looked for first (one statement on the completion
    path); only a missing one is inserted (ON CONFLICT DO NOTHING, so racing first writers
    both end up locking the one row) and read again. (SQLite has no FOR UPDATE: its write
    transactions are ``BEGIN IMMEDIATE``, so they do not interleave at all.)
    """
    names = tuple(keys)
    query = _locking_select(table, names, columns)
    row = query.one_or_none(session, keys)
    if row is None:
        _upsert(session, table, names, ()).rows(session, keys)
        row = query.one(session, keys)
    return row


def _write_row(session: Session, table: Table, keys: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """Set columns of the (locked) row of ``keys``."""
    params = {**values, **{_KEY_PARAM + k: v for k, v in keys.items()}}
    _keyed_update(table, tuple(keys)).rows(session, params)


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
    """Count a task the runtime has just completed (call in the same transaction, once per task).

    Cancelled tasks are not counted: nobody finished them. The runtime passes the locked
    ``case`` it holds: its version, and whether it ever waited for the applicant (a pause
    is only recorded when a supplement starts a new round) or was suspended, then cost no queries. The task
    counts for the division of the office that handled it.
    """
    if work_item.state != WorkItemState.COMPLETED:
        return
    calendar = calendar or default_calendar()
    # Everything comes from the objects passed in; the pause query (an ORM query) flushes
    # the session itself, and the statements below are Core ones that need no flush.
    # A suspension (挂起) stopped the clocks too: its resume wrote a pause without a new round.
    never_paused = case is not None and (case.round or 1) <= 1 and not case.suspended_seconds
    fact = task_fact(calendar, work_item, [] if never_paused else _pauses(session, work_item.case_id))
    version = case.version if case is not None else _case_version(session, work_item.case_id)
    division = work_item.division or default_division
    keys = {
        "bundle_key": work_item.bundle_key,
        "version": version,
        "item_key": work_item.item_key,
        "department": work_item.department,
        "division": division,
    }
    table = table_of(TaskStats)
    agg = TaskAgg.from_row(_locked_row(session, table, keys, TASK_COLUMNS))
    agg.task_name = work_item.task_name or agg.task_name
    agg.add(fact.wait, fact.work, fact.overdue, fact.returned, work_item.problems or ())
    _write_row(session, table, keys, {**agg.values(), "updated_at": work_item.completed_at or utcnow()})
    _bump(
        session,
        table_of(PeriodStats),
        {
            "day": fact.day,
            "bundle_key": work_item.bundle_key,
            "department": work_item.department,
            "division": division,
        },
        {
            "tasks_completed": 1,
            "tasks_overdue": int(fact.overdue),
            "tasks_returned": int(fact.returned),
            "wait_sum": fact.wait,
            "work_sum": fact.work,
        },
    )


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
    """Count a case that has just ended (completed, rejected or withdrawn); same transaction, once.

    For completed cases: the duration (working time from submission to completion, the
    applicant's own correction time included: it is what the applicant lived), the steps the
    applicant took (the application and one supplement per correction round) and the
    materials they supplied; all for the division that decided the case.
    """
    if case.status not in (CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN):
        return
    calendar = calendar or default_calendar()
    table = table_of(CaseStats)
    division = case_division(case, default_division)
    keys = {"bundle_key": case.bundle_key, "version": case.version, "division": division}
    updated_at = case.finished_at or utcnow()
    if case.status != CaseStatus.COMPLETED:
        # A rejection or withdrawal only counts: one atomic upsert, no row to read.
        counter = "rejected" if case.status == CaseStatus.REJECTED else "withdrawn"
        statement = _upsert(session, table, tuple(keys), (counter,), ("updated_at",))
        statement.rows(session, {**keys, counter: 1, "updated_at": updated_at})
        return
    fact = case_fact(calendar, case, _applicant_materials(session, case))
    values = case_values(_locked_row(session, table, keys, CASE_COLUMNS))
    add_case(values, fact)
    _write_row(session, table, keys, {**values, "updated_at": updated_at})
    _bump(
        session,
        table_of(PeriodStats),
        {"day": fact.day, "bundle_key": case.bundle_key, "department": "", "division": division},
        {"cases_completed": 1, "case_working_sum": fact.working},
    )


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
    _bump(
        session,
        table_of(RatingStats),
        {"bundle_key": bundle_key, "version": version, "department": department, "division": division},
        {f"s{score}": 1},
    )
    for office_department, office_division in offices_served(session, case.id, department, default_division):
        _bump(
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
    _bump(
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
    _bump(
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
    _bump(
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
