"""The queries analysts read: bottlenecks, departments, waits, durations, trends, reductions.

Each reads the aggregate rows (``engine.analytics.rows``), never the history, so its cost
does not grow with the number of cases; the results are the values of ``engine.analytics.views``.

May import: ``engine.analytics.sketch``, ``engine.analytics.views``, ``engine.analytics.rows``,
``engine.analytics.totals``, ``engine.bpmn``, ``engine.storage``, ``engine.time``, ``engine.errors``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import select

from engine.analytics.rows import CaseStats, PeriodStats, RatingStats, TaskStats
from engine.analytics.sketch import bucket_value, sketch_median, sketch_merge, sketch_quantile
from engine.analytics.totals import TaskAgg
from engine.analytics.views import (
    BottleneckRow,
    DepartmentRow,
    DurationDistribution,
    HeatCell,
    Measures,
    Ratings,
    ReductionRow,
    TrendPoint,
)
from engine.bpmn.deployments import Deployments
from engine.bpmn.model_metrics import model_reductions
from engine.errors import InvalidInput, Problem
from engine.storage.db import Database
from engine.time.calendar import SECONDS_PER_DAY


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
