"""Analytics as history grows, and how fast the worker fires timers.

Figures:
- the analysts' queries (bottlenecks per task, per department, weekly trends of a bundle,
  reductions) with 10k and with 1M finished tasks in the database, median of several runs,
  and their ratio (aim within 2x): they read the small aggregate tables, never the history;
- timers fired per second by ``Engine.fire_due_timers`` on an SQLite file (each timer in
  its case's own transaction: load, fire, run on, save, audit line).

The history (cases, finished work items) is bulk-inserted (plain executemany) with known
durations inside working hours; the aggregate rows are accumulated from the same durations with the
aggregates' own sketch arithmetic, as the completion hooks would have. At 10k the bench
checks that ``analytics.rebuild`` from the rows gives the same bottlenecks, so the filled
aggregates are the ones the engine computes.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.analytics import queries, rebuild, views
from engine.analytics.rebuild import store_aggregates
from engine.analytics.totals import TaskAgg
from engine.service import Engine
from engine.storage.models import Deployment
from engine.time.clock import ManualClock
from tests.support.engines import APPLICANT, MONDAY, TEST_BUNDLES, make_engine

Report = Callable[[str, float, str], None]
BUNDLES = [f"bench-{i}" for i in range(8)]
ITEMS = {"review": "market-regulation", "tax-check": "tax"}
TASKS_PER_CASE = len(ITEMS)
CHUNK = 50_000
BEIJING = timedelta(hours=8)  # Asia/Shanghai: no daylight saving since 1991
CASE_SQL = (
    "INSERT INTO cases (id, deployment_id, bundle_key, version, applicant, status, data, materials,"
    " pending_materials, outputs, round, state, state_version, created_at, updated_at, finished_at)"
    " VALUES (?, ?, ?, 1, ?, 'completed', '{}', '{}', '{}', '{}', 1, '{}', 1, ?, ?, ?)"
)
ITEM_SQL = (
    "INSERT INTO work_items (case_id, deployment_id, bundle_key, item_key, task_name, spiff_id, department,"
    " division, state, round, created_at, claimed_at, completed_at, due_at, outcome, decision, comment,"
    " problems, overdue, manual_reason)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, '310000', 'completed', 1, ?, ?, ?, ?, ?, '{}', '', ?, 0, '')"
)
DIVISION = "310000"  # every bench task and case is at the default division (Settings.default_division)


def _sql_time(moment: datetime) -> str:
    """How ``UtcDateTime`` stores a moment in SQLite (naive UTC text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _engine(tmp: Path, name: str, clock: ManualClock | None = None) -> Engine:
    return make_engine(f"sqlite:///{tmp / name}.db", tmp / name, clock)


def _working_days(engine: Engine, first: datetime, count: int) -> list[datetime]:
    """09:00 Beijing of ``count`` working days from ``first`` on."""
    days: list[datetime] = []
    day = engine.calendar.local_date(first)
    while len(days) < count:
        if engine.calendar.is_working_day(day):
            days.append(datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC))  # 09:00 in Beijing
        day += timedelta(days=1)
    return days


def fill(engine: Engine, tasks: int, seed: int = 6) -> None:
    """Bulk-insert ``tasks`` finished tasks (two per case) and the aggregates they make."""
    deployment = engine.deployments.deploy_dir(TEST_BUNDLES / "two-desks")
    with engine.db.read() as s:
        deployment_id = s.scalar(
            select(Deployment.id).where(Deployment.key == deployment.key, Deployment.version == 1)
        )
    assert deployment_id is not None
    rng = random.Random(seed)
    cases = tasks // TASKS_PER_CASE
    # The same 480 working days at every size: only the number of tasks differs between runs.
    days = _working_days(engine, MONDAY - timedelta(days=720), 480)
    aggs: dict[tuple[str, str], TaskAgg] = defaultdict(TaskAgg)
    periods: dict[tuple[Any, str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    case_stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    ratings: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 5)
    case_rows: list[tuple[Any, ...]] = []
    item_rows: list[tuple[Any, ...]] = []
    next_case = 1
    problems = [{"field": "company_name", "message": "名称不规范"}]
    problem_json = json.dumps(problems)

    def flush() -> None:
        with engine.db.write() as s:
            connection = s.connection()
            if case_rows:
                connection.exec_driver_sql(CASE_SQL, case_rows)
            if item_rows:
                connection.exec_driver_sql(ITEM_SQL, item_rows)
        case_rows.clear()
        item_rows.clear()

    for n in range(cases):
        bundle = BUNDLES[n % len(BUNDLES)]
        start = days[n % len(days)] + timedelta(seconds=rng.randint(0, 1800))
        moment = start
        for item, department in ITEMS.items():
            wait, work = rng.randint(60, 3 * 3600 // 2), rng.randint(60, 3600)
            claimed = moment + timedelta(seconds=wait)
            completed = claimed + timedelta(seconds=work)
            due = moment + timedelta(seconds=rng.randint(3600, 4 * 3600))
            returned = rng.random() < 0.05
            late = completed > due
            item_rows.append(
                (
                    next_case,
                    deployment_id,
                    bundle,
                    item,
                    item,
                    f"{next_case:08d}-{item}",
                    department,
                    _sql_time(moment),
                    _sql_time(claimed),
                    _sql_time(completed),
                    _sql_time(due),
                    "return" if returned else "approve",
                    problem_json if returned else "[]",
                )
            )
            aggs[(bundle, item)].add(wait, work, late, returned, problems if returned else ())
            p = periods[((completed + BEIJING).date(), bundle, department, DIVISION)]
            p["tasks_completed"] += 1
            p["tasks_overdue"] += int(late)
            p["tasks_returned"] += int(returned)
            p["wait_sum"] += wait
            p["work_sum"] += work
            moment = completed
        case_rows.append(
            (
                next_case,
                deployment_id,
                bundle,
                APPLICANT.username,
                _sql_time(start),
                _sql_time(moment),
                _sql_time(moment),
            )
        )
        case_stats[bundle][0] += 1
        case_stats[bundle][1] += (moment - start).total_seconds()
        ratings[(bundle, ITEMS["review"])][rng.choices(range(5), weights=[1, 1, 2, 5, 11])[0]] += 1
        next_case += 1
        if len(item_rows) >= CHUNK:
            flush()
    flush()
    for (_bundle, item), agg in aggs.items():
        agg.task_name = item
    with engine.db.write() as s:
        store_aggregates(
            s,
            {(bundle, 1, item, ITEMS[item], DIVISION): agg for (bundle, item), agg in aggs.items()},
            {
                (bundle, 1, DIVISION): {
                    "completed": int(count),
                    "rejected": 0,
                    "withdrawn": 0,
                    "working_sum": working,
                    "steps_sum": int(count),
                    "materials_sum": 0,
                    "duration_sketch": {},
                }
                for bundle, (count, working) in case_stats.items()
            },
            {(bundle, 1, department, DIVISION): counts for (bundle, department), counts in ratings.items()},
            periods,
        )


def _queries(engine: Engine) -> None:
    """What the studio and ``/api/analytics/*`` ask for one analyst's page view."""
    queries.bottlenecks(engine.db)
    queries.by_department(engine.db)
    queries.trends(engine.db, BUNDLES[0], "week")
    queries.reductions(engine.db, engine.deployments)


def query_times(engines: list[Engine], runs: int = 15) -> list[float]:
    """Median seconds of one round of the analysts' queries on each engine's database.

    Rounds alternate between the databases, so a busy machine slows all of them alike.
    """
    for engine in engines:
        _queries(engine)  # warm caches (parsed definitions, connections)
    times: list[list[float]] = [[] for _ in engines]
    for _ in range(runs):
        for engine, seen in zip(engines, times, strict=True):
            started = time.perf_counter()
            _queries(engine)
            seen.append(time.perf_counter() - started)
    return [statistics.median(seen) for seen in times]


def check_rebuild_agrees(engine: Engine) -> None:
    """The filled aggregates equal what ``analytics.rebuild`` computes from the rows (the real arithmetic)."""

    def without_ratings() -> list[views.BottleneckRow]:
        # The bench counts ratings without rating rows; a rebuild counts rows, so leave them out.
        return [replace(r, ratings=views.Ratings()) for r in queries.bottlenecks(engine.db)]

    filled = without_ratings()
    rebuild.rebuild(engine.db, engine.calendar)
    if filled != without_ratings():
        raise AssertionError("bench aggregates differ from analytics.rebuild")


def timer_rate(tmp: Path, cases: int = 300) -> float:
    """Timers fired per second: ``cases`` cases whose intake timer is due, fired in batches of 100."""
    clock = ManualClock(MONDAY)
    engine = _engine(tmp, "timers", clock)
    engine.deployments.deploy_dir(TEST_BUNDLES / "timer-escalation")
    for _ in range(cases):
        engine.start_case(APPLICANT, "timer-escalation", {"company_name": "上海一件事科技有限公司"}, {})
    engine.store.cache = type(engine.store.cache)(0, 0)  # fire from the database, as a fresh worker would
    clock.advance(timedelta(hours=2, minutes=1))
    started = time.perf_counter()
    fired = 0
    while True:
        count = engine.fire_due_timers(100)
        fired += count
        if count == 0:
            break
    elapsed = time.perf_counter() - started
    engine.close()
    if fired != cases:
        raise AssertionError(f"fired {fired} timers, expected {cases}")
    return fired / elapsed


def run(report: Report) -> None:
    """Analytics query time at 10k and 1M finished tasks, their ratio, and timer-firing throughput."""
    with tempfile.TemporaryDirectory(prefix="onething-bench-analytics-") as name:
        tmp = Path(name)
        small = _engine(tmp, "small")
        fill(small, 10_000)
        large = _engine(tmp, "large")
        started = time.perf_counter()
        fill(large, 1_000_000)
        report("bulk fill of 1M finished tasks (setup)", time.perf_counter() - started, "s")
        at_10k, at_1m = query_times([small, large])
        report("analytics queries, 10k finished tasks (median)", at_10k * 1000, "ms")
        report("analytics queries, 1M finished tasks (median)", at_1m * 1000, "ms")
        report("ratio 1M / 10k (aim <= 2)", at_1m / at_10k, "x")
        check_rebuild_agrees(small)
        small.close()
        large.close()

        report("timers fired per second (SQLite, fire_due_timers)", timer_rate(tmp), "timers/s")
