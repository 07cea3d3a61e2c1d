"""The queries analysts read: bottlenecks, departments, waits, durations, trends, reductions.

Each reads the aggregate rows (``engine.analytics.rows``), never the history, so its cost
does not grow with the number of cases; the results are the values of ``engine.analytics.views``.
Each first adds the facts still queued to them (``engine.analytics.projection.current``), so
it counts every change committed before it was asked.

By division: each query takes the division tree (``tree``), ``division`` (read that
division's subtree only; None = everywhere) and ``reach`` (the asking analyst's own
division: nothing outside its subtree is read; None = the whole platform). Bottlenecks,
departments, reductions and the office ranking also group: ``group_by_division`` gives one
row per division, ``level`` one row per ancestor at that level (``engine.analytics.grouping``).
Which division a figure counts for: a task's is the office that handled it, a case's (its
duration, steps, ratings, complaints) the division that decided it.

May import: ``engine.analytics.sketch``, ``engine.analytics.views``, ``engine.analytics.rows``,
``engine.analytics.projection``, ``engine.analytics.totals``, ``engine.analytics.grouping``,
``engine.analytics.step_returns``, ``engine.bpmn``, ``engine.cases.views``,
``engine.regions``, ``engine.storage``, ``engine.time``, ``engine.errors``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import Select, select

from engine.analytics import suspensions
from engine.analytics.grouping import DivisionScope, division_scope
from engine.analytics.projection import current
from engine.analytics.rows import CaseStats, OfficeRatingStats, PeriodStats, RatingStats, TaskStats
from engine.analytics.sketch import bucket_value, sketch_median, sketch_merge, sketch_quantile
from engine.analytics.step_returns import step_returns
from engine.analytics.totals import TaskAgg
from engine.analytics.views import (
    BottleneckRow,
    DepartmentRow,
    DurationDistribution,
    Durations,
    HeatCell,
    Measures,
    OfficeRow,
    Ratings,
    ReductionRow,
    TrendPoint,
)
from engine.bpmn.deployments import Deployments
from engine.bpmn.model_metrics import model_reductions
from engine.cases.views import Label
from engine.errors import InvalidInput, Problem
from engine.regions.tree import DivisionTree
from engine.storage.db import Database
from engine.time.calendar import SECONDS_PER_DAY, WorkCalendar

Ts = TypeVarTuple("Ts")
# ``Regions.office_name``: (department, division, lang) -> the office's name.
OfficeNamer = Callable[[str, str, str], str]


def _ratings_of(row: RatingStats | OfficeRatingStats | None) -> Ratings:
    if row is None:
        return Ratings()
    return Ratings((row.s1, row.s2, row.s3, row.s4, row.s5))


def _within(query: Select[*Ts], column: Any, scope: DivisionScope) -> Select[*Ts]:
    """The query limited to the scope's divisions (an IN over the subtree's codes)."""
    if scope.codes is None:
        return query
    return query.where(column.in_(sorted(scope.codes)))


def _label(scope: DivisionScope, code: str | None) -> Label | None:
    return None if code is None else Label(scope.name(code, "zh"), scope.name(code, "en"))


def bottlenecks(
    db: Database,
    bundle: str | None = None,
    version: int | None = None,
    *,
    tree: DivisionTree | None = None,
    division: str | None = None,
    level: str | None = None,
    group_by_division: bool = False,
    reach: str | None = None,
) -> list[BottleneckRow]:
    """Per task (bundle, version, item, department[, division]): slowest median wait first in a version.

    A row's ratings are those of its department by the cases decided in its divisions.
    """
    scope = division_scope(tree, division, level, group_by_division, reach=reach)
    with current(db) as s:
        query = _within(select(TaskStats), TaskStats.division, scope)
        rating_query = _within(select(RatingStats), RatingStats.division, scope)
        if bundle is not None:
            query = query.where(TaskStats.bundle_key == bundle)
            rating_query = rating_query.where(RatingStats.bundle_key == bundle)
        if version is not None:
            query = query.where(TaskStats.version == version)
            rating_query = rating_query.where(RatingStats.version == version)
        stats = s.scalars(query).all()
        rating_rows = s.scalars(rating_query).all()
        between = step_returns(s, scope, bundle, version)
    merged: dict[tuple[str, int, str, str, str | None], TaskAgg] = defaultdict(TaskAgg)
    for t in stats:
        agg = merged[(t.bundle_key, t.version, t.item_key, t.department, scope.group(t.division))]
        agg.task_name = agg.task_name or t.task_name
        agg.merge(t)
    for counted in (*between.sent_back, *between.reopened):
        merged.setdefault(counted, TaskAgg())  # an item sent back from but never finished shows them too
    ratings: dict[tuple[str, int, str, str | None], Ratings] = defaultdict(Ratings)
    for r in rating_rows:
        key = (r.bundle_key, r.version, r.department, scope.group(r.division))
        ratings[key] = ratings[key].add(_ratings_of(r))
    rows = [
        BottleneckRow(
            bundle=bundle_key,
            version=row_version,
            item=item,
            task=agg.task_name,
            department=department,
            ratings=ratings.get((bundle_key, row_version, department, group), Ratings()),
            division=group,
            division_name=_label(scope, group),
            sent_back=between.sent_back[(bundle_key, row_version, item, department, group)],
            reopened=between.reopened[(bundle_key, row_version, item, department, group)],
            **agg.measures(),
        )
        for (bundle_key, row_version, item, department, group), agg in merged.items()
    ]
    rows.sort(key=lambda r: (r.bundle, -r.version, -(r.wait.median or 0.0), r.item, r.division or ""))
    return rows


def by_department(
    db: Database,
    bundle: str | None = None,
    *,
    tree: DivisionTree | None = None,
    division: str | None = None,
    level: str | None = None,
    group_by_division: bool = False,
    reach: str | None = None,
    calendar: WorkCalendar | None = None,
    now: datetime | None = None,
) -> list[DepartmentRow]:
    """The same measures per department[, division], over all its tasks (of one bundle, or of all).

    Ratings and complaints are those of the cases decided in the row's divisions. With the
    ``calendar`` and ``now``, the suspended cases (``engine.analytics.suspensions``) too.
    """
    scope = division_scope(tree, division, level, group_by_division, reach=reach)
    with current(db) as s:
        query = _within(select(TaskStats), TaskStats.division, scope)
        rating_query = _within(
            select(RatingStats).where(RatingStats.department != ""), RatingStats.division, scope
        )
        complaint_query = _within(
            select(PeriodStats.department, PeriodStats.division, PeriodStats.complaints).where(
                PeriodStats.complaints > 0
            ),
            PeriodStats.division,
            scope,
        )
        if bundle is not None:
            query = query.where(TaskStats.bundle_key == bundle)
            rating_query = rating_query.where(RatingStats.bundle_key == bundle)
            complaint_query = complaint_query.where(PeriodStats.bundle_key == bundle)
        stats = s.scalars(query).all()
        rating_rows = s.scalars(rating_query).all()
        complaint_rows = s.execute(complaint_query).all()
        sent_back, reopened = step_returns(s, scope, bundle).by_department()
        held = suspensions.by_department(s, scope, calendar, now, bundle) if calendar and now else {}
    merged: dict[tuple[str, str | None], TaskAgg] = defaultdict(TaskAgg)
    for t in stats:
        merged[(t.department, scope.group(t.division))].merge(t)
    ratings: dict[tuple[str, str | None], Ratings] = defaultdict(Ratings)
    for r in rating_rows:
        key = (r.department, scope.group(r.division))
        ratings[key] = ratings[key].add(_ratings_of(r))
    complaints: dict[tuple[str, str | None], int] = defaultdict(int)
    for department, row_division, count in complaint_rows:
        complaints[(department, scope.group(row_division))] += int(count)
    keys = sorted(
        set(merged)
        | set(ratings)
        | {k for k in complaints if k[0]}
        | set(sent_back)
        | set(reopened)
        | set(held),
        key=lambda k: (k[0], k[1] or ""),
    )
    return [
        DepartmentRow(
            department=d,
            ratings=ratings[(d, group)],
            complaints=complaints[(d, group)],
            division=group,
            division_name=_label(scope, group),
            sent_back=sent_back[(d, group)],
            reopened=reopened[(d, group)],
            **_suspended(held.get((d, group))),
            **merged[(d, group)].measures(),
        )
        for d, group in keys
    ]


def median_waits(
    db: Database,
    bundle: str,
    version: int | None = None,
    *,
    tree: DivisionTree | None = None,
    division: str | None = None,
    reach: str | None = None,
) -> list[HeatCell]:
    """Per BPMN user task of a bundle (all versions, or one; a division's subtree): median and p90 wait."""
    scope = division_scope(tree, division, reach=reach)
    with current(db) as s:
        query = _within(select(TaskStats).where(TaskStats.bundle_key == bundle), TaskStats.division, scope)
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
    db: Database,
    bundle: str,
    version: int | None = None,
    bins: int = 12,
    *,
    tree: DivisionTree | None = None,
    division: str | None = None,
    reach: str | None = None,
) -> DurationDistribution:
    """Completed cases' durations in working days, in about ``bins`` equal bins up to the p90 x 1.5."""
    scope = division_scope(tree, division, reach=reach)
    with current(db) as s:
        query = _within(select(CaseStats).where(CaseStats.bundle_key == bundle), CaseStats.division, scope)
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
    tree: DivisionTree | None = None,
    division: str | None = None,
    reach: str | None = None,
) -> list[TrendPoint]:
    """Overdue, rating, complaint and throughput counts per period, oldest first (a division's subtree)."""
    _period_start(date(2000, 1, 3), period)  # a bad period fails even when there are no rows
    query = _within(select(PeriodStats), PeriodStats.division, division_scope(tree, division, reach=reach))
    if bundle is not None:
        query = query.where(PeriodStats.bundle_key == bundle)
    if department is not None:
        query = query.where(PeriodStats.department == department)
    if since is not None:
        query = query.where(PeriodStats.day >= since)
    if until is not None:
        query = query.where(PeriodStats.day <= until)
    with current(db) as s:
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


def reductions(
    db: Database,
    deployments: Deployments,
    *,
    tree: DivisionTree | None = None,
    division: str | None = None,
    level: str | None = None,
    group_by_division: bool = False,
    reach: str | None = None,
    calendar: WorkCalendar | None = None,
    now: datetime | None = None,
) -> list[ReductionRow]:
    """Per bundle (newest base version): before (baseline), after by the model, and after in real cases.

    The model side is ``engine.bpmn.model_metrics.model_reductions`` (one application, promised
    working days along the longest route, materials asked after exemptions, no trips online).
    The real side averages every completed case of the bundle (all versions, variants too)
    decided in the scope: steps the applicant took, working days from submission to
    completion, materials supplied. Trips are not recorded per case (every step here is
    online), so the real side leaves them out. Grouped, a bundle has one row per division
    group with completed cases, or a single row (``division`` None, ``real`` None) when
    none has any. With the ``calendar`` and ``now``, each row also counts the bundle's suspended
    cases (``engine.analytics.suspensions``; their time is left out of the real days).
    """
    scope = division_scope(tree, division, level, group_by_division, reach=reach)
    with current(db) as s:
        latest = deployments.latest_all(s)
        case_rows = s.scalars(_within(select(CaseStats), CaseStats.division, scope)).all()
        default = deployments.settings.default_division
        held = suspensions.by_bundle(s, scope, calendar, now, default) if calendar and now else {}
    by_group: dict[str, dict[str | None, list[CaseStats]]] = defaultdict(lambda: defaultdict(list))
    for row in case_rows:
        by_group[row.bundle_key][scope.group(row.division)].append(row)
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
        groups = {g: rows for g, rows in by_group[deployment.key].items() if sum(r.completed for r in rows)}
        groups.update({g: by_group[deployment.key].get(g, []) for b, g in held if b == deployment.key})
        if not scope.grouped:
            groups = {None: by_group[deployment.key].get(None, [])}
        for group in sorted(groups, key=lambda g: g or "") or [None]:
            real, completed = _real_measures(groups.get(group, []))
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
                    division=group,
                    division_name=_label(scope, group),
                    **_suspended(held.get((deployment.key, group))),
                )
            )
    return out


def _suspended(figures: suspensions.SuspendedFigures | None) -> dict[str, Any]:
    """A row's suspension fields (zeros without suspended cases)."""
    figures = figures or suspensions.SuspendedFigures()
    return {
        "suspended_now": figures.suspended_now,
        "suspended_cases": figures.suspended_cases,
        "suspended_seconds": figures.suspended_seconds,
        "suspended_mean_seconds": figures.suspended_mean_seconds,
    }


def _real_measures(rows: list[CaseStats]) -> tuple[Measures | None, int]:
    """The average completed case of these rows (None without one), and how many completed."""
    completed = sum(r.completed for r in rows)
    if not completed:
        return None, 0
    day = SECONDS_PER_DAY
    return (
        Measures(
            sum(r.steps_sum for r in rows) / completed,
            sum(r.working_sum for r in rows) / completed / day,
            sum(r.materials_sum for r in rows) / completed,
            None,
        ),
        completed,
    )


def office_ranking(
    db: Database,
    tree: DivisionTree,
    division: str | None = None,
    level: str | None = None,
    bundle: str | None = None,
    *,
    names: OfficeNamer | None = None,
    reach: str | None = None,
) -> list[OfficeRow]:
    """Offices (department, division) ranked by on-time rate, then mean rating: the table supervisors publish.

    Per office in ``division``'s subtree (None = everywhere): tasks finished, on time
    (finished and not overdue), the on-time rate, returns, waits and work times, and the
    ratings of the cases its tasks served. ``level`` rolls offices up to their division's
    ancestor at that level (all market-regulation offices of a city as one). Ranked by
    on-time rate, then mean rating (unrated last), then tasks finished, then code; an office
    with ratings but no finished task in the scope (only cancelled ones) is not listed.
    ``names`` is ``Regions.office_name``; without it a name is the division's full name
    followed by the department key.
    """
    scope = division_scope(tree, division, level, group_by_division=True, reach=reach)
    with current(db) as s:
        task_query = _within(select(TaskStats), TaskStats.division, scope)
        rating_query = _within(select(OfficeRatingStats), OfficeRatingStats.division, scope)
        if bundle is not None:
            task_query = task_query.where(TaskStats.bundle_key == bundle)
            rating_query = rating_query.where(OfficeRatingStats.bundle_key == bundle)
        stats = s.scalars(task_query).all()
        rating_rows = s.scalars(rating_query).all()
    merged: dict[tuple[str, str], TaskAgg] = defaultdict(TaskAgg)
    for t in stats:
        merged[(t.department, scope.group(t.division) or t.division)].merge(t)
    ratings: dict[tuple[str, str], Ratings] = defaultdict(Ratings)
    for r in rating_rows:
        key = (r.department, scope.group(r.division) or r.division)
        ratings[key] = ratings[key].add(_ratings_of(r))

    def name(department: str, code: str) -> Label:
        if names is not None:
            return Label(names(department, code, "zh"), names(department, code, "en"))
        return Label(
            f"{tree.full_name(code, 'zh')}{department}", f"{department}, {tree.full_name(code, 'en')}"
        )

    unranked = []
    for (department, code), agg in merged.items():
        on_time = agg.finished - agg.overdue
        unranked.append(
            (
                department,
                code,
                agg,
                on_time,
                on_time / agg.finished if agg.finished else None,
                ratings.get((department, code), Ratings()),
            )
        )
    unranked.sort(
        key=lambda o: (
            -(o[4] or 0.0),
            -(o[5].mean if o[5].mean is not None else -1.0),
            -o[2].finished,
            o[1],
            o[0],
        )
    )
    return [
        OfficeRow(
            rank=n,
            department=department,
            division=code,
            name=name(department, code),
            division_name=Label(tree.full_name(code, "zh"), tree.full_name(code, "en")),
            finished=agg.finished,
            on_time=on_time,
            on_time_rate=rate,
            overdue=agg.overdue,
            returns=agg.returned,
            wait=Durations.of(agg.wait_sketch, agg.wait_sum, agg.finished),
            work=Durations.of(agg.work_sketch, agg.work_sum, agg.finished),
            ratings=office_ratings,
        )
        for n, (department, code, agg, on_time, rate, office_ratings) in enumerate(unranked, start=1)
    ]
