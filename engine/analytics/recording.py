"""Numbers that find bottlenecks (堵点): waits, work times, late steps, returns, ratings, reductions.

Queries must stay fast as history grows, so nothing here scans the history per request.
Aggregates are kept up to date in the same transaction as the change they count:

- ``record_completion(session, work_item)`` when a task is completed (the runtime calls it),
- ``record_case_finished(session, case)`` when a case ends,
- ``record_rating`` / ``record_complaint`` / ``record_went_overdue`` (feedback and SLA call them),

into four small tables: per task (bundle, version, item, department), per case
(bundle, version), per day (day, bundle, department) for trends, and rating counts per
(bundle, version, department). ``rebuild(db)`` recomputes all of them from the rows (after
an import or a repair) with the same arithmetic.

Definitions:

- **wait** = working time from a task's creation to its claim; **work** = working time from
  the claim to completion (``engine.time.calendar``: 09:00-17:00 on working days), minus the time
  the case's department clocks were stopped while it waited for the applicant. A task
  completed without a claim has wait = creation to completion, work = 0.
- **median** is the sample median (the mean of the two middle values for an even count, as
  ``statistics.median``); **p90** is the nearest-rank 90th percentile: the ⌈0.9·n⌉-th smallest.
  Both come from a log-bucket sketch (relative accuracy 1 %: every estimate is within 1 % of
  the exact value, or within 1 second for values under a second), so their cost does not
  grow with the number of tasks.
- **overdue** = the task was marked overdue by the SLA clock, or completed after its due time.
- **return** = the clerk's outcome was ``return``; problems are counted by what they name
  (``field:<key>`` / ``material:<key>``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Date,
    Float,
    Index,
    Integer,
    Row,
    String,
    Table,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.expression import Executable

from engine.analytics.sketch import bucket_value, sketch_add, sketch_median, sketch_merge, sketch_quantile
from engine.analytics.views import (
    BottleneckRow,
    DepartmentRow,
    DurationDistribution,
    Durations,
    HeatCell,
    Measures,
    ProblemCount,
    Ratings,
    ReductionRow,
    TrendPoint,
)
from engine.cases.states import CaseStatus, Outcome, WorkItemState
from engine.errors import InvalidInput, Problem
from engine.storage.db import Database, upsert_insert
from engine.storage.models import Base, Case, CaseEvent, Material, WorkItem, table_of, utcnow
from engine.time.calendar import SECONDS_PER_DAY, WorkCalendar, default_calendar

if TYPE_CHECKING:
    from engine.bpmn.deployments import Deployments

PAUSE_EVENT = "sla_paused"
# The columns of PeriodStats that hold seconds; the others are counts (rebuild writes them as int).
_FLOAT_PERIOD_FIELDS = frozenset({"wait_sum", "work_sum", "case_working_sum"})


# -- tables -------------------------------------------------------------------------------


class TaskStats(Base):
    """Completed tasks of one item of one bundle version in one department."""

    __tablename__ = "task_stats"

    bundle_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_name: Mapped[str] = mapped_column(String(128), default="")
    finished: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    returned: Mapped[int] = mapped_column(Integer, default=0)
    wait_sum: Mapped[float] = mapped_column(Float, default=0.0)
    work_sum: Mapped[float] = mapped_column(Float, default=0.0)
    wait_sketch: Mapped[dict[str, Any]] = mapped_column(default=dict)
    work_sketch: Mapped[dict[str, Any]] = mapped_column(default=dict)
    problems: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseStats(Base):
    """Finished cases of one bundle version: durations and what the applicant had to do."""

    __tablename__ = "case_stats"

    bundle_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[int] = mapped_column(Integer, default=0)
    # Sums over completed cases (for the averages of the reductions).
    working_sum: Mapped[float] = mapped_column(Float, default=0.0)
    steps_sum: Mapped[int] = mapped_column(Integer, default=0)
    materials_sum: Mapped[int] = mapped_column(Integer, default=0)
    duration_sketch: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PeriodStats(Base):
    """Counts per local day, bundle and department (department '' = the whole bundle)."""

    __tablename__ = "period_stats"
    __table_args__ = (Index("ix_period_stats_bundle", "bundle_key", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    bundle_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(String(64), primary_key=True)
    tasks_completed: Mapped[int] = mapped_column(Integer, default=0)
    tasks_overdue: Mapped[int] = mapped_column(Integer, default=0)
    tasks_returned: Mapped[int] = mapped_column(Integer, default=0)
    went_overdue: Mapped[int] = mapped_column(Integer, default=0)
    wait_sum: Mapped[float] = mapped_column(Float, default=0.0)
    work_sum: Mapped[float] = mapped_column(Float, default=0.0)
    cases_completed: Mapped[int] = mapped_column(Integer, default=0)
    case_working_sum: Mapped[float] = mapped_column(Float, default=0.0)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    ratings_bad: Mapped[int] = mapped_column(Integer, default=0)
    complaints: Mapped[int] = mapped_column(Integer, default=0)


class RatingStats(Base):
    """Ratings (好差评) per bundle version and department ('' = the bundle as a whole)."""

    __tablename__ = "rating_stats"

    bundle_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    department: Mapped[str] = mapped_column(String(64), primary_key=True)
    s1: Mapped[int] = mapped_column(Integer, default=0)
    s2: Mapped[int] = mapped_column(Integer, default=0)
    s3: Mapped[int] = mapped_column(Integer, default=0)
    s4: Mapped[int] = mapped_column(Integer, default=0)
    s5: Mapped[int] = mapped_column(Integer, default=0)


# -- accumulation (shared by the incremental hooks and rebuild) ---------------------------


@dataclass
class TaskAgg:
    """One task's running totals and wait/work sketches: what a ``TaskStats`` row holds.

    Public because the completion hook, ``rebuild`` and the analytics benchmark all fill the
    table with this same arithmetic.
    """

    task_name: str = ""
    finished: int = 0
    overdue: int = 0
    returned: int = 0
    wait_sum: float = 0.0
    work_sum: float = 0.0
    wait_sketch: dict[str, int] = field(default_factory=dict)
    work_sketch: dict[str, int] = field(default_factory=dict)
    problems: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, wait: float, work: float, overdue: bool, returned: bool, problems: Iterable[Any]) -> None:
        self.finished += 1
        self.overdue += int(overdue)
        self.returned += int(returned)
        self.wait_sum += wait
        self.work_sum += work
        sketch_add(self.wait_sketch, wait)
        sketch_add(self.work_sketch, work)
        for problem in problems:
            where, message = _problem_key(problem)
            entry = self.problems.setdefault(where, {"count": 0, "message": ""})
            entry["count"] = int(entry["count"]) + 1
            if message:
                entry["message"] = message

    @classmethod
    def from_row(cls, row: TaskStats | Row[Any]) -> TaskAgg:
        """The totals of a stored row (an ORM ``TaskStats`` or a Core row of its table)."""
        return cls(
            row.task_name,
            row.finished,
            row.overdue,
            row.returned,
            row.wait_sum,
            row.work_sum,
            {k: int(v) for k, v in row.wait_sketch.items()},
            {k: int(v) for k, v in row.work_sketch.items()},
            {k: dict(v) for k, v in row.problems.items()},
        )

    def merge(self, row: TaskStats) -> None:
        """Add a stored row's counts (sketches of disjoint tasks merge exactly)."""
        self.finished += row.finished
        self.overdue += row.overdue
        self.returned += row.returned
        self.wait_sum += row.wait_sum
        self.work_sum += row.work_sum
        sketch_merge(self.wait_sketch, row.wait_sketch)
        sketch_merge(self.work_sketch, row.work_sketch)
        for where, entry in row.problems.items():
            target = self.problems.setdefault(where, {"count": 0, "message": ""})
            target["count"] = int(target["count"]) + int(entry.get("count", 0))
            target["message"] = entry.get("message") or target["message"]

    def write(self, row: TaskStats) -> None:
        row.task_name = self.task_name or row.task_name
        row.finished, row.overdue, row.returned = self.finished, self.overdue, self.returned
        row.wait_sum, row.work_sum = self.wait_sum, self.work_sum
        row.wait_sketch, row.work_sketch = dict(self.wait_sketch), dict(self.work_sketch)
        row.problems = {k: dict(v) for k, v in self.problems.items()}

    def values(self) -> dict[str, Any]:
        """The columns ``write`` sets, as parameters of a Core UPDATE of ``task_stats``."""
        return {
            "task_name": self.task_name,
            "finished": self.finished,
            "overdue": self.overdue,
            "returned": self.returned,
            "wait_sum": self.wait_sum,
            "work_sum": self.work_sum,
            "wait_sketch": self.wait_sketch,
            "work_sketch": self.work_sketch,
            "problems": self.problems,
        }

    def measures(self) -> dict[str, Any]:
        """The fields ``BottleneckRow`` and ``DepartmentRow`` share, derived one way for both."""
        return {
            "count": self.finished,
            "wait": Durations.of(self.wait_sketch, self.wait_sum, self.finished),
            "work": Durations.of(self.work_sketch, self.work_sum, self.finished),
            "overdue": self.overdue,
            "overdue_rate": _rate(self.overdue, self.finished),
            "returns": self.returned,
            "return_rate": _rate(self.returned, self.finished),
            "top_problems": _top_problems(self.problems),
        }


def _problem_key(problem: Any) -> tuple[str, str]:
    if not isinstance(problem, Mapping):
        return "other", str(problem)
    message = str(problem.get("message", "") or "")
    for kind in ("field", "material"):
        if problem.get(kind):
            return f"{kind}:{problem[kind]}", message
    if problem.get("where"):
        return f"field:{problem['where']}", message
    return "other", message


# The columns of TaskStats that TaskAgg holds (record_completion reads and writes them).
_TASK_COLUMNS = (
    "task_name",
    "finished",
    "overdue",
    "returned",
    "wait_sum",
    "work_sum",
    "wait_sketch",
    "work_sketch",
    "problems",
)


@dataclass(frozen=True)
class _TaskFact:
    wait: float
    work: float
    overdue: bool
    returned: bool
    day: date


def _pauses(session: Session, case_id: int) -> list[tuple[datetime, datetime]]:
    rows = session.scalars(
        select(CaseEvent.detail).where(CaseEvent.case_id == case_id, CaseEvent.kind == PAUSE_EVENT)
    ).all()
    return [_pause_interval(detail) for detail in rows]


def _pause_interval(detail: Mapping[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(str(detail["from"])), datetime.fromisoformat(str(detail["to"]))


def _working(
    calendar: WorkCalendar, a: datetime, b: datetime, pauses: Sequence[tuple[datetime, datetime]]
) -> float:
    """Working seconds in [a, b) outside the pauses."""
    total = calendar.working_time_between(a, b).total_seconds()
    for start, end in pauses:
        lo, hi = max(a, start), min(b, end)
        if lo < hi:
            total -= calendar.working_time_between(lo, hi).total_seconds()
    return max(0.0, total)


def _task_fact(
    calendar: WorkCalendar, item: WorkItem, pauses: Sequence[tuple[datetime, datetime]]
) -> _TaskFact:
    completed = item.completed_at or item.created_at
    claimed = item.claimed_at or completed
    wait = _working(calendar, item.created_at, claimed, pauses)
    work = _working(calendar, claimed, completed, pauses)
    late = bool(item.overdue) or (item.due_at is not None and completed > item.due_at)
    returned = item.outcome == Outcome.RETURN
    return _TaskFact(wait, work, late, returned, calendar.local_date(completed))


# The hooks run once per task action, so their statements are Core statements on the tables,
# built once and executed with parameters on the session's connection: no ORM unit of work,
# no autoflush (``Session.execute`` would flush every pending change first; the statements
# here touch only the aggregate tables, which the ORM never has pending changes for, and
# the materials, whose certificate rows are flushed as they are issued), and the
# compiled-statement cache hits every time.
_KEY_PARAM = "k_"  # prefix of the WHERE parameters of an UPDATE (its SET parameters are column names)


_statements: dict[tuple[Any, ...], Executable] = {}


def _upsert(
    session: Session,
    conn: Connection,
    table: Table,
    keys: tuple[str, ...],
    add: tuple[str, ...],
    put: tuple[str, ...] = (),
) -> Executable:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE``: columns ``add`` are added to, ``put`` replaced.

    Without ``add`` and ``put`` it is ``ON CONFLICT DO NOTHING``. The values are the execute
    parameters (named as the columns); columns without one get their defaults on insert.
    """
    cache_key = ("upsert", conn.dialect.name, table, keys, add, put)
    statement = _statements.get(cache_key)
    if statement is None:
        insert = upsert_insert(session, table)
        if add or put:
            changes = {name: table.c[name] + insert.excluded[name] for name in add}
            changes.update({name: insert.excluded[name] for name in put})
            statement = insert.on_conflict_do_update(index_elements=list(keys), set_=changes)
        else:
            statement = insert.on_conflict_do_nothing(index_elements=list(keys))
        _statements[cache_key] = statement
    return statement


def _bump(session: Session, table: Table, keys: Mapping[str, Any], increments: Mapping[str, Any]) -> None:
    """Add to counters of one row, creating it if missing, atomically (INSERT ... ON CONFLICT)."""
    conn = session.connection()
    conn.execute(_upsert(session, conn, table, tuple(keys), tuple(increments)), {**keys, **increments})


def _locking_select(table: Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> Executable:
    cache_key = ("select", table, keys, columns)
    statement = _statements.get(cache_key)
    if statement is None:
        statement = _statements[cache_key] = (
            select(*(table.c[c] for c in columns))
            .where(*(table.c[k] == bindparam(k) for k in keys))
            .with_for_update()
        )
    return statement


def _keyed_update(table: Table, keys: tuple[str, ...]) -> Executable:
    """``UPDATE table SET <the parameters named as columns> WHERE <keys = k_ parameters>``."""
    cache_key = ("update", table, keys)
    statement = _statements.get(cache_key)
    if statement is None:
        statement = _statements[cache_key] = update(table).where(
            *(table.c[k] == bindparam(_KEY_PARAM + k) for k in keys)
        )
    return statement


def _locked_row(
    session: Session, conn: Connection, table: Table, keys: Mapping[str, Any], columns: tuple[str, ...]
) -> Row[Any]:
    """``columns`` of the aggregate row of ``keys``, locked for this transaction; created first when missing.

    The row almost always exists, so it is looked for first (one statement on the completion
    path); only a missing one is inserted (ON CONFLICT DO NOTHING, so racing first writers
    both end up locking the one row) and read again. (SQLite has no FOR UPDATE: its write
    transactions are ``BEGIN IMMEDIATE``, so they do not interleave at all.)
    """
    names = tuple(keys)
    query = _locking_select(table, names, columns)
    row = conn.execute(query, keys).one_or_none()
    if row is None:
        conn.execute(_upsert(session, conn, table, names, ()), keys)
        row = conn.execute(query, keys).one()
    return row


def _write_row(conn: Connection, table: Table, keys: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """Set columns of the (locked) row of ``keys``."""
    params = {**values, **{_KEY_PARAM + k: v for k, v in keys.items()}}
    conn.execute(_keyed_update(table, tuple(keys)), params)


def _case_version(session: Session, case_id: int) -> int:
    version = session.scalar(select(Case.version).where(Case.id == case_id))
    return int(version or 0)


# -- hooks --------------------------------------------------------------------------------


def record_completion(
    session: Session,
    work_item: WorkItem,
    calendar: WorkCalendar | None = None,
    *,
    case: Case | None = None,
) -> None:
    """Count a task the runtime has just completed (call in the same transaction, once per task).

    Cancelled tasks are not counted: nobody finished them. The runtime passes the locked
    ``case`` it holds: its version, and whether it ever waited for the applicant (a pause
    is only recorded when a supplement starts a new round), then cost no queries.
    """
    if work_item.state != WorkItemState.COMPLETED:
        return
    calendar = calendar or default_calendar()
    # Everything comes from the objects passed in; the pause query (an ORM query) flushes
    # the session itself, and the statements below are Core ones that need no flush.
    never_paused = case is not None and (case.round or 1) <= 1
    fact = _task_fact(calendar, work_item, [] if never_paused else _pauses(session, work_item.case_id))
    version = case.version if case is not None else _case_version(session, work_item.case_id)
    keys = {
        "bundle_key": work_item.bundle_key,
        "version": version,
        "item_key": work_item.item_key,
        "department": work_item.department,
    }
    conn, table = session.connection(), table_of(TaskStats)
    agg = TaskAgg.from_row(_locked_row(session, conn, table, keys, _TASK_COLUMNS))
    agg.task_name = work_item.task_name or agg.task_name
    agg.add(fact.wait, fact.work, fact.overdue, fact.returned, work_item.problems or ())
    _write_row(conn, table, keys, {**agg.values(), "updated_at": work_item.completed_at or utcnow()})
    _bump(
        session,
        table_of(PeriodStats),
        {"day": fact.day, "bundle_key": work_item.bundle_key, "department": work_item.department},
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


@dataclass(frozen=True)
class _CaseFact:
    status: str
    working: float
    steps: int
    materials: int
    day: date


def _case_fact(calendar: WorkCalendar, case: Case, materials: int) -> _CaseFact:
    finished = case.finished_at or case.updated_at
    working = calendar.working_time_between(case.created_at, finished).total_seconds()
    return _CaseFact(
        str(case.status), working, max(1, int(case.round or 1)), materials, calendar.local_date(finished)
    )


def record_case_finished(session: Session, case: Case, calendar: WorkCalendar | None = None) -> None:
    """Count a case that has just ended (completed, rejected or withdrawn); same transaction, once.

    For completed cases: the duration (working time from submission to completion, the
    applicant's own correction time included: it is what the applicant lived), the steps the
    applicant took (the application and one supplement per correction round) and the
    materials they supplied.
    """
    if case.status not in (CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN):
        return
    calendar = calendar or default_calendar()
    conn, table = session.connection(), table_of(CaseStats)
    keys = {"bundle_key": case.bundle_key, "version": case.version}
    updated_at = case.finished_at or utcnow()
    if case.status != CaseStatus.COMPLETED:
        # A rejection or withdrawal only counts: one atomic upsert, no row to read.
        counter = "rejected" if case.status == CaseStatus.REJECTED else "withdrawn"
        statement = _upsert(session, conn, table, tuple(keys), (counter,), ("updated_at",))
        conn.execute(statement, {**keys, counter: 1, "updated_at": updated_at})
        return
    fact = _case_fact(calendar, case, _applicant_materials(session, case))
    values = _case_values(_locked_row(session, conn, table, keys, _CASE_COLUMNS))
    _add_case(values, fact)
    _write_row(conn, table, keys, {**values, "updated_at": updated_at})
    _bump(
        session,
        table_of(PeriodStats),
        {"day": fact.day, "bundle_key": case.bundle_key, "department": ""},
        {"cases_completed": 1, "case_working_sum": fact.working},
    )


_CASE_COUNTS = ("completed", "rejected", "withdrawn", "working_sum", "steps_sum", "materials_sum")
_CASE_COLUMNS = (*_CASE_COUNTS, "duration_sketch")  # what record_case_finished reads and writes


def _case_values(row: Row[Any] | None) -> dict[str, Any]:
    """The counting columns of a ``CaseStats`` row (zeros for a new one)."""
    if row is None:
        return {
            "completed": 0,
            "rejected": 0,
            "withdrawn": 0,
            "working_sum": 0.0,
            "steps_sum": 0,
            "materials_sum": 0,
            "duration_sketch": {},
        }
    return dict(row._mapping)


def _add_case(values: dict[str, Any], fact: _CaseFact) -> None:
    """Count a finished case into the columns of its ``CaseStats`` row (``_case_values``)."""
    if fact.status == CaseStatus.REJECTED:
        values["rejected"] = (values["rejected"] or 0) + 1
        return
    if fact.status == CaseStatus.WITHDRAWN:
        values["withdrawn"] = (values["withdrawn"] or 0) + 1
        return
    values["completed"] = (values["completed"] or 0) + 1
    values["working_sum"] = (values["working_sum"] or 0.0) + fact.working
    values["steps_sum"] = (values["steps_sum"] or 0) + fact.steps
    values["materials_sum"] = (values["materials_sum"] or 0) + fact.materials
    sketch = {k: int(v) for k, v in (values["duration_sketch"] or {}).items()}
    sketch_add(sketch, fact.working)
    values["duration_sketch"] = sketch


def record_rating(
    session: Session,
    bundle_key: str,
    version: int,
    department: str,
    score: int,
    at: datetime,
    calendar: WorkCalendar | None = None,
) -> None:
    """Count one rating (department '' for the bundle as a whole)."""
    calendar = calendar or default_calendar()
    if not 1 <= score <= 5:
        raise ValueError("score must be 1..5")
    _bump(
        session,
        table_of(RatingStats),
        {"bundle_key": bundle_key, "version": version, "department": department},
        {f"s{score}": 1},
    )
    _bump(
        session,
        table_of(PeriodStats),
        {"day": calendar.local_date(at), "bundle_key": bundle_key, "department": department},
        {"ratings": 1, "rating_sum": score, "ratings_bad": int(score <= 2)},
    )


def record_complaint(
    session: Session, bundle_key: str, department: str, at: datetime, calendar: WorkCalendar | None = None
) -> None:
    """Count one complaint (办不成事反映); '' for an unknown bundle or department."""
    calendar = calendar or default_calendar()
    _bump(
        session,
        table_of(PeriodStats),
        {"day": calendar.local_date(at), "bundle_key": bundle_key, "department": department},
        {"complaints": 1},
    )


def record_went_overdue(
    session: Session, bundle_key: str, department: str, at: datetime, calendar: WorkCalendar | None = None
) -> None:
    """Count a task of a bundle and department that has just passed its due time.

    The SLA sweep calls it once per task, with the keys it has already read (no task row needed).
    """
    calendar = calendar or default_calendar()
    _bump(
        session,
        table_of(PeriodStats),
        {"day": calendar.local_date(at), "bundle_key": bundle_key, "department": department},
        {"went_overdue": 1},
    )


# -- queries ------------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _top_problems(problems: Mapping[str, Mapping[str, Any]], limit: int = 5) -> tuple[ProblemCount, ...]:
    ranked = sorted(problems.items(), key=lambda kv: (-int(kv[1].get("count", 0)), kv[0]))
    return tuple(
        ProblemCount(where, int(entry.get("count", 0)), str(entry.get("message", "")))
        for where, entry in ranked[:limit]
    )


def _ratings_of(row: RatingStats | None) -> Ratings:
    if row is None:
        return Ratings()
    return Ratings((row.s1, row.s2, row.s3, row.s4, row.s5))


def bottlenecks(db: Database, bundle: str | None = None, version: int | None = None) -> list[BottleneckRow]:
    """Per task (bundle, version, item, department), the slowest median wait first within a version."""
    with db.read() as s:
        query = select(TaskStats)
        rating_query = select(RatingStats)
        if bundle is not None:
            query = query.where(TaskStats.bundle_key == bundle)
            rating_query = rating_query.where(RatingStats.bundle_key == bundle)
        if version is not None:
            query = query.where(TaskStats.version == version)
            rating_query = rating_query.where(RatingStats.version == version)
        stats = s.scalars(query).all()
        ratings = {(r.bundle_key, r.version, r.department): r for r in s.scalars(rating_query)}
    rows = [
        BottleneckRow(
            bundle=t.bundle_key,
            version=t.version,
            item=t.item_key,
            task=t.task_name,
            department=t.department,
            ratings=_ratings_of(ratings.get((t.bundle_key, t.version, t.department))),
            **TaskAgg.from_row(t).measures(),
        )
        for t in stats
    ]
    rows.sort(key=lambda r: (r.bundle, -r.version, -(r.wait.median or 0.0), r.item))
    return rows


def by_department(db: Database, bundle: str | None = None) -> list[DepartmentRow]:
    """The same measures per department, over all its tasks (of one bundle, or of all)."""
    with db.read() as s:
        query = select(TaskStats)
        rating_query = select(RatingStats).where(RatingStats.department != "")
        complaint_query = select(PeriodStats.department, PeriodStats.complaints).where(
            PeriodStats.complaints > 0
        )
        if bundle is not None:
            query = query.where(TaskStats.bundle_key == bundle)
            rating_query = rating_query.where(RatingStats.bundle_key == bundle)
            complaint_query = complaint_query.where(PeriodStats.bundle_key == bundle)
        stats = s.scalars(query).all()
        rating_rows = s.scalars(rating_query).all()
        complaint_rows = s.execute(complaint_query).all()
    merged: dict[str, TaskAgg] = defaultdict(TaskAgg)
    for t in stats:
        merged[t.department].merge(t)
    ratings: dict[str, Ratings] = defaultdict(Ratings)
    for r in rating_rows:
        ratings[r.department] = ratings[r.department].add(_ratings_of(r))
    complaints: dict[str, int] = defaultdict(int)
    for department, count in complaint_rows:
        complaints[department] += int(count)
    departments = sorted(set(merged) | set(ratings) | {d for d in complaints if d})
    return [
        DepartmentRow(department=d, ratings=ratings[d], complaints=complaints[d], **merged[d].measures())
        for d in departments
    ]


def median_waits(db: Database, bundle: str, version: int | None = None) -> list[HeatCell]:
    """Per BPMN user task of a bundle (all versions, or one): median and p90 wait, for the heat map."""
    with db.read() as s:
        query = select(TaskStats).where(TaskStats.bundle_key == bundle)
        if version is not None:
            query = query.where(TaskStats.version == version)
        stats = s.scalars(query).all()
    merged: dict[tuple[str, str, str], tuple[int, dict[str, int]]] = {}
    for t in stats:
        key = (t.task_name or t.item_key, t.item_key, t.department)
        count, sketch = merged.get(key, (0, {}))
        sketch_merge(sketch, t.wait_sketch)
        merged[key] = (count + t.finished, sketch)
    return [
        HeatCell(task, item, department, count, sketch_median(sketch), sketch_quantile(sketch, 0.9))
        for (task, item, department), (count, sketch) in sorted(merged.items())
    ]


def duration_distribution(
    db: Database, bundle: str, version: int | None = None, bins: int = 12
) -> DurationDistribution:
    """Completed cases' durations in working days, in about ``bins`` equal bins up to the p90 x 1.5."""
    with db.read() as s:
        query = select(CaseStats).where(CaseStats.bundle_key == bundle)
        if version is not None:
            query = query.where(CaseStats.version == version)
        rows = s.scalars(query).all()
    sketch: dict[str, int] = {}
    total = 0.0
    count = 0
    for row in rows:
        sketch_merge(sketch, row.duration_sketch)
        total += row.working_sum
        count += row.completed
    day = SECONDS_PER_DAY
    if count == 0:
        return DurationDistribution(bundle, 0, None, None, None, 0.0, ())
    median = sketch_median(sketch)
    p90 = sketch_quantile(sketch, 0.9)
    top = max((bucket_value(k) for k in sketch), default=0.0) / day
    span = max(min(top, (p90 or 0.0) / day * 1.5), 0.25)
    width = _nice_width(span / max(1, bins))
    counts: dict[int, int] = defaultdict(int)
    last = math.ceil(span / width) - 1
    for key, n in sketch.items():
        index = min(int((bucket_value(key) / day) // width), last)
        counts[index] += int(n)
    return DurationDistribution(
        bundle,
        count,
        None if median is None else median / day,
        None if p90 is None else p90 / day,
        total / count / day,
        width,
        tuple((i * width, (i + 1) * width, counts.get(i, 0)) for i in range(last + 1)),
    )


def _nice_width(raw: float) -> float:
    for width in (0.125, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100):
        if raw <= width:
            return float(width)
    return float(math.ceil(raw / 100) * 100)


def _period_start(day: date, period: str) -> date:
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    raise InvalidInput(
        "period must be day, week or month",
        [
            Problem(
                "周期须为 day、week 或 month", where="period", message_en="period must be day, week or month"
            )
        ],
    )


def trends(
    db: Database,
    bundle: str | None = None,
    period: str = "week",
    *,
    department: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[TrendPoint]:
    """Overdue, rating, complaint and throughput counts per period, oldest first."""
    _period_start(date(2000, 1, 3), period)  # a bad period fails even when there are no rows
    query = select(PeriodStats)
    if bundle is not None:
        query = query.where(PeriodStats.bundle_key == bundle)
    if department is not None:
        query = query.where(PeriodStats.department == department)
    if since is not None:
        query = query.where(PeriodStats.day >= since)
    if until is not None:
        query = query.where(PeriodStats.day <= until)
    with db.read() as s:
        rows = s.scalars(query).all()
    sums: dict[date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        bucket = sums[_period_start(row.day, period)]
        for name in (
            "tasks_completed",
            "tasks_overdue",
            "tasks_returned",
            "went_overdue",
            "cases_completed",
            "case_working_sum",
            "ratings",
            "rating_sum",
            "ratings_bad",
            "complaints",
        ):
            bucket[name] += float(getattr(row, name) or 0)
    day_seconds = SECONDS_PER_DAY
    out = []
    for start in sorted(sums):
        b = sums[start]
        completed, ratings, cases = int(b["tasks_completed"]), int(b["ratings"]), int(b["cases_completed"])
        out.append(
            TrendPoint(
                start=start,
                tasks_completed=completed,
                tasks_overdue=int(b["tasks_overdue"]),
                overdue_rate=b["tasks_overdue"] / completed if completed else None,
                went_overdue=int(b["went_overdue"]),
                returns=int(b["tasks_returned"]),
                ratings=ratings,
                rating_mean=b["rating_sum"] / ratings if ratings else None,
                bad_ratings=int(b["ratings_bad"]),
                complaints=int(b["complaints"]),
                cases_completed=cases,
                case_days_mean=b["case_working_sum"] / cases / day_seconds if cases else None,
            )
        )
    return out


def _percent(before: float, after: float | None) -> float | None:
    if after is None or before <= 0:
        return None
    return round(100.0 * (before - after) / before, 1)


def reductions(db: Database, deployments: Deployments) -> list[ReductionRow]:
    """Per bundle (newest version): before (baseline), after by the model, and after in real cases.

    The model side is ``engine.bpmn.model_metrics.model_reductions`` (one application, promised
    working days along the longest route, materials asked after exemptions, no trips online).
    The real side averages every completed case of the bundle (all versions): steps the
    applicant took, working days from submission to completion, materials supplied. Trips are
    not recorded per case (every step here is online), so the real side leaves them out.
    """
    from engine.bpmn.model_metrics import model_reductions

    with db.read() as s:
        latest = deployments.latest_all(s)
        case_rows = s.scalars(select(CaseStats)).all()
    by_bundle: dict[str, list[CaseStats]] = defaultdict(list)
    for row in case_rows:
        by_bundle[row.bundle_key].append(row)
    day = SECONDS_PER_DAY
    out = []
    for deployment in latest:
        definition = deployments.definition(deployment)
        model = model_reductions(definition, deployments.form(deployment))
        before = Measures(**{k: float(v) for k, v in model["before"].items()})
        after_model = Measures(
            float(model["after"]["steps"]),
            float(model["after"]["days"]),
            float(model["after"]["materials"]),
            float(model["after"]["trips"]),
        )
        completed = sum(r.completed for r in by_bundle[deployment.key])
        real = None
        if completed:
            real = Measures(
                sum(r.steps_sum for r in by_bundle[deployment.key]) / completed,
                sum(r.working_sum for r in by_bundle[deployment.key]) / completed / day,
                sum(r.materials_sum for r in by_bundle[deployment.key]) / completed,
                None,
            )
        names = ("steps", "days", "materials", "trips")
        out.append(
            ReductionRow(
                bundle=deployment.key,
                version=deployment.version,
                name={"zh": definition.manifest.name.zh, "en": definition.manifest.name.en},
                before=before,
                model=after_model,
                real=real,
                cases=completed,
                percent_model=dict(model["percent"]),
                percent_real={
                    n: _percent(getattr(before, n), getattr(real, n) if real else None) for n in names
                },
                source=str(model.get("source", "")),
            )
        )
    return out


# -- rebuild ------------------------------------------------------------------------------


def store_aggregates(
    session: Session,
    tasks: Mapping[tuple[str, int, str, str], TaskAgg],
    cases: Mapping[tuple[str, int], Mapping[str, Any]],
    ratings: Mapping[tuple[str, int, str], Sequence[int]],
    periods: Mapping[tuple[date, str, str], Mapping[str, float]],
) -> None:
    """Write aggregates computed in bulk into the (emptied) tables.

    Keys: tasks by (bundle, version, item, department); cases by (bundle, version), their
    ``CaseStats`` columns as values; ratings by (bundle, version, department), the counts of
    scores 1..5; periods by (local day, bundle, department), the counters present (the
    others stay 0). ``rebuild`` and the analytics benchmark fill the tables through here.
    """
    for (bundle_key, version, item_key, department), agg in tasks.items():
        stats = TaskStats(bundle_key=bundle_key, version=version, item_key=item_key, department=department)
        agg.write(stats)
        session.add(stats)
    session.add_all(
        CaseStats(bundle_key=bundle_key, version=version, **values)
        for (bundle_key, version), values in cases.items()
    )
    for (bundle_key, version, department), counts in ratings.items():
        session.add(
            RatingStats(
                bundle_key=bundle_key,
                version=version,
                department=department,
                **{f"s{i + 1}": n for i, n in enumerate(counts)},
            )
        )
    for (day_key, bundle_key, department), values in periods.items():
        session.add(
            PeriodStats(
                day=day_key,
                bundle_key=bundle_key,
                department=department,
                **{n: (v if n in _FLOAT_PERIOD_FIELDS else int(v)) for n, v in values.items()},
            )
        )


@dataclass(frozen=True)
class RebuildResult:
    """What ``rebuild`` counted."""

    tasks: int
    cases: int
    ratings: int
    complaints: int


def rebuild(db: Database, calendar: WorkCalendar | None = None, *, batch: int = 5000) -> RebuildResult:
    """Recompute every aggregate from the rows (one transaction); the hooks' arithmetic, in bulk."""
    from engine.feedback.rows import Complaint, Rating

    calendar = calendar or default_calendar()
    tasks: dict[tuple[str, int, str, str], TaskAgg] = defaultdict(TaskAgg)
    periods: dict[tuple[date, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    cases: dict[tuple[str, int], dict[str, Any]] = {}
    ratings: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    with db.write() as s:
        for model in (TaskStats, CaseStats, PeriodStats, RatingStats):
            s.execute(delete(model))
        pauses: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for case_id, detail in s.execute(
            select(CaseEvent.case_id, CaseEvent.detail).where(CaseEvent.kind == PAUSE_EVENT)
        ):
            pauses[case_id].append(_pause_interval(detail))
        task_count = 0
        rows = s.execute(
            select(WorkItem, Case.version)
            .join(Case, Case.id == WorkItem.case_id)
            .where(WorkItem.state == WorkItemState.COMPLETED)
            .execution_options(yield_per=batch)
        )
        for item, version in rows:
            fact = _task_fact(calendar, item, pauses.get(item.case_id, ()))
            agg = tasks[(item.bundle_key, version, item.item_key, item.department)]
            agg.task_name = item.task_name
            agg.add(fact.wait, fact.work, fact.overdue, fact.returned, item.problems or ())
            p = periods[(fact.day, item.bundle_key, item.department)]
            p["tasks_completed"] += 1
            p["tasks_overdue"] += int(fact.overdue)
            p["tasks_returned"] += int(fact.returned)
            p["wait_sum"] += fact.wait
            p["work_sum"] += fact.work
            task_count += 1
            s.expunge(item)
        issued = set(s.scalars(select(Material.id).where(Material.issued_by_case.is_not(None))))
        case_count = 0
        finished = (CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN)
        for case in s.scalars(
            select(Case).where(Case.status.in_(finished)).execution_options(yield_per=batch)
        ):
            ids = [str(v) for v in (case.materials or {}).values()]
            fact_c = _case_fact(calendar, case, len([i for i in ids if i not in issued]))
            key = (case.bundle_key, case.version)
            values = cases.get(key)
            if values is None:
                values = cases[key] = _case_values(None)
            _add_case(values, fact_c)
            if fact_c.status == CaseStatus.COMPLETED:
                p = periods[(fact_c.day, case.bundle_key, "")]
                p["cases_completed"] += 1
                p["case_working_sum"] += fact_c.working
            case_count += 1
            s.expunge(case)
        rating_count = 0
        for r in s.scalars(select(Rating)):
            ratings[(r.bundle_key, r.version, r.department)][r.score - 1] += 1
            p = periods[(calendar.local_date(r.created_at), r.bundle_key, r.department)]
            p["ratings"] += 1
            p["rating_sum"] += r.score
            p["ratings_bad"] += int(r.score <= 2)
            rating_count += 1
        complaint_count = 0
        for c in s.scalars(select(Complaint)):
            p = periods[(calendar.local_date(c.created_at), c.bundle_key or "", c.department or "")]
            p["complaints"] += 1
            complaint_count += 1
        store_aggregates(s, tasks, cases, ratings, periods)
    return RebuildResult(task_count, case_count, rating_count, complaint_count)
