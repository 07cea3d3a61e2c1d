"""Rebuilding the aggregate rows from the case rows and the audit trail, in one transaction.

After an import or a repair, ``rebuild`` empties the tables and the queue of facts not yet
projected (``engine.analytics.projection``: their changes are in the history), and
recomputes every aggregate with the arithmetic the recording hooks use
(``engine.analytics.totals``), in bulk; ``store_aggregates`` writes aggregates computed in
bulk (``rebuild`` and the analytics benchmark fill the tables through it). Divisions are
attributed as the hooks do (``engine.analytics.recording``): a task's office, a case's
deciding division, the default for rows that name none. Tasks gone overdue
(``went_overdue``) are counted from the SLA clock's ``overdue`` audit lines, at the office
of the task each names.

May import: ``engine.analytics.sketch``, ``engine.analytics.rows``, ``engine.analytics.totals``,
``engine.feedback.rows``, ``engine.cases``, ``engine.storage``, ``engine.time``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.analytics.recording import DEFAULT_DIVISION
from engine.analytics.rows import (
    CaseStats,
    OfficeRatingStats,
    PendingFact,
    PeriodStats,
    RatingStats,
    TaskStats,
)
from engine.analytics.totals import TaskAgg, add_case, case_fact, case_values, pause_interval, task_fact
from engine.cases.events import ClocksPaused, TaskOverdue
from engine.cases.states import CaseStatus, WorkItemState
from engine.feedback.rows import Complaint, Rating
from engine.storage.db import Database
from engine.storage.models import Case, CaseEvent, Material, WorkItem
from engine.time.calendar import WorkCalendar, default_calendar

# The columns of PeriodStats that hold seconds; the others are counts (rebuild writes them as int).
_FLOAT_PERIOD_FIELDS = frozenset({"wait_sum", "work_sum", "case_working_sum"})


def store_aggregates(
    session: Session,
    tasks: Mapping[tuple[str, int, str, str, str], TaskAgg],
    cases: Mapping[tuple[str, int, str], Mapping[str, Any]],
    ratings: Mapping[tuple[str, int, str, str], Sequence[int]],
    periods: Mapping[tuple[date, str, str, str], Mapping[str, float]],
    offices: Mapping[tuple[str, int, str, str], Sequence[int]] | None = None,
) -> None:
    """Write aggregates computed in bulk into the (emptied) tables.

    Keys: tasks by (bundle, version, item, department, division); cases by (bundle, version,
    division), their ``CaseStats`` columns as values; ratings by (bundle, version,
    department, division of the case) and office ratings by (bundle, version, department,
    division of the office), the counts of scores 1..5; periods by (local day, bundle,
    department, division), the counters present (the others stay 0). ``rebuild`` and the
    analytics benchmark fill the tables through here.
    """
    for (bundle_key, version, item_key, department, division), agg in tasks.items():
        stats = TaskStats(
            bundle_key=bundle_key,
            version=version,
            item_key=item_key,
            department=department,
            division=division,
        )
        agg.write(stats)
        session.add(stats)
    session.add_all(
        CaseStats(bundle_key=bundle_key, version=version, division=division, **values)
        for (bundle_key, version, division), values in cases.items()
    )
    for model, counted in ((RatingStats, ratings), (OfficeRatingStats, offices or {})):
        for (bundle_key, version, department, division), counts in counted.items():
            session.add(
                model(
                    bundle_key=bundle_key,
                    version=version,
                    department=department,
                    division=division,
                    **{f"s{i + 1}": n for i, n in enumerate(counts)},
                )
            )
    for (day_key, bundle_key, department, division), values in periods.items():
        session.add(
            PeriodStats(
                day=day_key,
                bundle_key=bundle_key,
                department=department,
                division=division,
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


def rebuild(
    db: Database,
    calendar: WorkCalendar | None = None,
    *,
    batch: int = 5000,
    default_division: str = DEFAULT_DIVISION,
) -> RebuildResult:
    """Recompute every aggregate from the rows (one transaction); the hooks' arithmetic, in bulk.

    ``default_division`` is the settings' (rows that name no division count for it).
    """
    calendar = calendar or default_calendar()
    tasks: dict[tuple[str, int, str, str, str], TaskAgg] = defaultdict(TaskAgg)
    periods: dict[tuple[date, str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    cases: dict[tuple[str, int, str], dict[str, Any]] = {}
    ratings: dict[tuple[str, int, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    offices: dict[tuple[str, int, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    with db.write() as s:
        # The queued facts are of changes already in the history read below: counted from there.
        for model in (TaskStats, CaseStats, PeriodStats, RatingStats, OfficeRatingStats, PendingFact):
            s.execute(delete(model))
        pauses: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for case_id, detail in s.execute(
            select(CaseEvent.case_id, CaseEvent.detail).where(CaseEvent.kind == ClocksPaused.KIND)
        ):
            pauses[case_id].append(pause_interval(detail))
        rated = set(s.scalars(select(Rating.case_id).distinct()))
        served: dict[int, set[tuple[str, str]]] = defaultdict(
            set
        )  # rated case -> offices that completed a task
        task_count = 0
        rows = s.execute(
            select(WorkItem, Case.version)
            .join(Case, Case.id == WorkItem.case_id)
            .where(WorkItem.state == WorkItemState.COMPLETED)
            .execution_options(yield_per=batch)
        )
        for item, version in rows:
            division = item.division or default_division
            fact = task_fact(calendar, item, pauses.get(item.case_id, ()))
            agg = tasks[(item.bundle_key, version, item.item_key, item.department, division)]
            agg.task_name = item.task_name
            agg.add(fact.wait, fact.work, fact.overdue, fact.returned, item.problems or ())
            p = periods[(fact.day, item.bundle_key, item.department, division)]
            p["tasks_completed"] += 1
            p["tasks_overdue"] += int(fact.overdue)
            p["tasks_returned"] += int(fact.returned)
            p["wait_sum"] += fact.wait
            p["work_sum"] += fact.work
            if item.case_id in rated:
                served[item.case_id].add((item.department, division))
            task_count += 1
            s.expunge(item)
        issued = set(s.scalars(select(Material.id).where(Material.issued_by_case.is_not(None))))
        case_count = 0
        finished = (CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN)
        for case in s.scalars(
            select(Case).where(Case.status.in_(finished)).execution_options(yield_per=batch)
        ):
            division = case.division or default_division
            ids = [str(v) for v in (case.materials or {}).values()]
            fact_c = case_fact(calendar, case, len([i for i in ids if i not in issued]))
            key = (case.bundle_key, case.version, division)
            values = cases.get(key)
            if values is None:
                values = cases[key] = case_values(None)
            add_case(values, fact_c)
            if fact_c.status == CaseStatus.COMPLETED:
                p = periods[(fact_c.day, case.bundle_key, "", division)]
                p["cases_completed"] += 1
                p["case_working_sum"] += fact_c.working
            case_count += 1
            s.expunge(case)
        rating_count = 0
        for r, case_division in s.execute(
            select(Rating, Case.division).join(Case, Case.id == Rating.case_id)
        ):
            division = case_division or default_division
            ratings[(r.bundle_key, r.version, r.department, division)][r.score - 1] += 1
            for department, office_division in served.get(r.case_id, ()):
                if not r.department or department == r.department:
                    offices[(r.bundle_key, r.version, department, office_division)][r.score - 1] += 1
            p = periods[(calendar.local_date(r.created_at), r.bundle_key, r.department, division)]
            p["ratings"] += 1
            p["rating_sum"] += r.score
            p["ratings_bad"] += int(r.score <= 2)
            rating_count += 1
        complaint_count = 0
        for c, case_division in s.execute(
            select(Complaint, Case.division).outerjoin(Case, Case.id == Complaint.case_id)
        ):
            division = case_division or default_division
            p = periods[(calendar.local_date(c.created_at), c.bundle_key or "", c.department or "", division)]
            p["complaints"] += 1
            complaint_count += 1
        for at, bundle_key, department, division in s.execute(
            select(CaseEvent.at, WorkItem.bundle_key, WorkItem.department, WorkItem.division)
            .join(WorkItem, WorkItem.id == CaseEvent.work_item_id)
            .where(CaseEvent.kind == TaskOverdue.KIND)
        ):
            p = periods[(calendar.local_date(at), bundle_key, department, division or default_division)]
            p["went_overdue"] += 1
        store_aggregates(s, tasks, cases, ratings, periods, offices)
    return RebuildResult(task_count, case_count, rating_count, complaint_count)
