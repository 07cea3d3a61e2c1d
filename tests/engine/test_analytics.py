"""Analytics against values computed independently from known inputs: 500 simulated cases.

Every case of the two-desks bundle (market-regulation reviews, tax checks) is driven through
the engine with a moved clock: each wait (queued to claimed), each piece of work (claimed to
decided) and each applicant's correction time is drawn from a seeded generator in working
seconds, and the clock moves by exactly that much working time. The test keeps the drawn
numbers and computes the expected medians, p90s, overdue counts, return rates with their
problems, rating distributions and reductions itself (``statistics``), then compares them
with what ``engine.analytics`` reports.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.analytics import queries, rebuild, views
from engine.cases.states import Outcome
from engine.feedback import complaints, ratings
from engine.service import Engine
from engine.storage.models import Case
from engine.time.clock import ManualClock
from tests.support.engines import ANALYST, APPLICANT, MONDAY, bundle_engine, clerk

CASES = 500
HOUR = 3600
DAY = 8 * HOUR  # one working day
DATA = {"company_name": "上海一件事科技有限公司", "legal_rep_name": "张三"}
DEPARTMENT = {"review": "market-regulation", "tax-check": "tax"}
LIMIT = {"review": 2 * DAY, "tax-check": 1 * DAY}
# Per department: (wait range, work range) in working seconds, return probability, problems by weight.
PROFILE = {
    "review": (
        (10 * 60, 20 * HOUR),
        (5 * 60, 3 * HOUR),
        0.14,
        {"field:legal_rep_name": 5, "field:company_name": 2},
    ),
    "tax-check": (
        (60, 7 * HOUR),
        (2 * 60, 2 * HOUR),
        0.07,
        {"field:company_name": 3, "material:business_licence": 1},
    ),
}
BASELINE = {"steps": 4, "days": 6, "materials": 3, "trips": 2}  # tests/engine/bundles/two-desks/bundle.yaml


@dataclass
class Known:
    """What the simulation did, kept by the test."""

    waits: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    works: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    overdue: Counter[str] = field(default_factory=Counter)
    returns: Counter[str] = field(default_factory=Counter)
    problems: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    ratings: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    complaints: Counter[str] = field(default_factory=Counter)
    case_seconds: list[int] = field(default_factory=list)
    case_steps: list[int] = field(default_factory=list)


def nearest_rank(values: list[int], q: float) -> int:
    """The ⌈q·n⌉-th smallest value (the documented p90)."""
    return sorted(values)[math.ceil(q * len(values)) - 1]


def simulate(engine: Engine, clock: ManualClock, cases: int, seed: int) -> Known:
    rng = random.Random(seed)
    known = Known()
    calendar = engine.calendar

    def move(seconds: int) -> None:
        clock.set(calendar.add_working_time(clock.now(), timedelta(seconds=seconds)))

    for n in range(cases):
        case_id = engine.start_case(APPLICANT, "two-desks", DATA, {}).id
        submitted, case_seconds, rounds = clock.now(), 0, 1
        while True:
            queued = engine.list_tasks(ANALYST, bundle="two-desks", limit=2).items
            if not queued:
                break
            (task,) = queued
            assert (task.case_id, task.state) == (case_id, "ready")
            (wait_lo, wait_hi), (work_lo, work_hi), p_return, problems = PROFILE[task.item]
            wait, work = rng.randint(wait_lo, wait_hi), rng.randint(work_lo, work_hi)
            actor = clerk(task.department)
            move(wait)
            engine.claim(actor, task.id)
            move(work)
            case_seconds += wait + work
            known.waits[task.item].append(wait)
            known.works[task.item].append(work)
            known.overdue[task.item] += wait + work > LIMIT[task.item]
            if rng.random() < p_return:
                where = rng.choices(list(problems), weights=list(problems.values()))[0]
                kind, key = where.split(":")
                engine.complete(
                    actor, task.id, Outcome.RETURN, {}, "", [{kind: key, "message": f"{key} 有误"}]
                )
                known.returns[task.item] += 1
                known.problems[task.item][where] += 1
                answer = rng.randint(HOUR, 3 * DAY)  # the applicant's correction time
                move(answer)
                case_seconds += answer
                # The supplement answers what was asked: the field again, or nothing for a
                # material the two-desks form does not hold.
                engine.supplement(APPLICANT, case_id, {key: DATA[key]} if kind == "field" else {}, {})
                rounds += 1
            else:
                engine.complete(actor, task.id, Outcome.APPROVE, {}, "同意")
        assert calendar.working_time_between(submitted, clock.now()).total_seconds() == case_seconds
        known.case_seconds.append(case_seconds)
        known.case_steps.append(rounds)
        if rng.random() < 0.5:
            score = rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 5, 11])[0]
            ratings.rate(engine.db, clock, APPLICANT, case_id, score, calendar=calendar)
            known.ratings[""][score] += 1
        for item in ("review", "tax-check"):
            if rng.random() < 0.25:
                score = rng.choices(
                    [1, 2, 3, 4, 5], weights=[2, 2, 3, 4, 6] if item == "review" else [1, 1, 1, 4, 9]
                )[0]
                ratings.rate(
                    engine.db,
                    clock,
                    APPLICANT,
                    case_id,
                    score,
                    department=DEPARTMENT[item],
                    calendar=calendar,
                )
                known.ratings[DEPARTMENT[item]][score] += 1
        if n % 37 == 0:
            complaints.complain(
                engine.db, clock, APPLICANT, case_id, "等了太久", department="tax", calendar=calendar
            )
            known.complaints["tax"] += 1
        move(rng.randint(60, 2 * HOUR))  # until the next application arrives
    return known


def check_durations(measured: views.Durations, values: list[int]) -> None:
    # The sketch keeps every value within 1 % (RELATIVE_ACCURACY); sums are exact.
    assert measured.median == pytest.approx(statistics.median(values), rel=0.011)
    assert measured.p90 == pytest.approx(nearest_rank(values, 0.9), rel=0.011)
    assert measured.mean == pytest.approx(statistics.fmean(values), rel=1e-9)


def test_analytics_of_500_simulated_cases_match_values_computed_from_the_inputs(
    sqlite_url: str, tmp_path: Path
) -> None:
    check_simulation(sqlite_url, tmp_path, CASES, seed=6)


@pytest.mark.postgres
def test_analytics_on_postgresql_match_values_computed_from_the_inputs(pg_url: str, tmp_path: Path) -> None:
    # Fewer cases: the same arithmetic, through PostgreSQL's upserts and JSONB sketches.
    check_simulation(pg_url, tmp_path, 120, seed=8)


def check_simulation(db_url: str, tmp_path: Path, cases: int, seed: int) -> None:
    """Simulate ``cases`` cases and compare every analytics figure with the known inputs."""
    clock = ManualClock(MONDAY)
    engine = bundle_engine(db_url, tmp_path, "two-desks", clock)
    known = simulate(engine, clock, cases, seed=seed)
    assert len(known.case_seconds) == cases
    with engine.db.read() as s:
        statuses = Counter(s.scalars(select(Case.status).where(Case.bundle_key == "two-desks")))
    assert statuses == {"completed": cases}
    # The generator gave both departments late tasks and returns, so every measure is exercised.
    assert all(known.overdue[i] > 0 and known.returns[i] > 0 for i in DEPARTMENT)

    rebuilt = rebuild.rebuild(engine.db, engine.calendar)
    assert rebuilt.tasks == sum(len(v) for v in known.waits.values())
    assert (rebuilt.cases, rebuilt.ratings, rebuilt.complaints) == (
        cases,
        sum(sum(c.values()) for c in known.ratings.values()),
        known.complaints["tax"],
    )

    rows = {r.item: r for r in queries.bottlenecks(engine.db, "two-desks")}
    assert set(rows) == set(DEPARTMENT)
    for item, row in rows.items():
        count = len(known.waits[item])
        assert (row.department, row.version, row.count) == (DEPARTMENT[item], 1, count)
        check_durations(row.wait, known.waits[item])
        check_durations(row.work, known.works[item])
        assert row.overdue == known.overdue[item]
        assert row.overdue_rate == pytest.approx(known.overdue[item] / count)
        assert row.returns == known.returns[item]
        assert row.return_rate == pytest.approx(known.returns[item] / count)
        expected_problems = sorted(known.problems[item].items(), key=lambda kv: (-kv[1], kv[0]))
        assert [(p.where, p.count) for p in row.top_problems] == expected_problems
        ratings = known.ratings[DEPARTMENT[item]]
        assert row.ratings.counts == tuple(ratings[s] for s in range(1, 6))
    # Sorted by median wait, slowest first: the review queue is the bottleneck here.
    assert next(r.item for r in queries.bottlenecks(engine.db, "two-desks")) == max(
        rows, key=lambda i: statistics.median(known.waits[i])
    )

    departments = {d.department: d for d in queries.by_department(engine.db, "two-desks")}
    for item, department in DEPARTMENT.items():
        d = departments[department]
        check_durations(d.wait, known.waits[item])
        assert (d.count, d.overdue, d.returns) == (
            len(known.waits[item]),
            known.overdue[item],
            known.returns[item],
        )
        assert d.ratings.counts == tuple(known.ratings[department][s] for s in range(1, 6))
        assert d.complaints == known.complaints[department]

    (reduction,) = queries.reductions(engine.db, engine.deployments)
    steps, days = statistics.fmean(known.case_steps), statistics.fmean(known.case_seconds) / DAY
    assert reduction.cases == cases
    assert reduction.before == views.Measures(
        *(float(BASELINE[k]) for k in ("steps", "days", "materials", "trips"))
    )
    assert reduction.real is not None
    assert reduction.real.steps == pytest.approx(steps)
    assert reduction.real.days == pytest.approx(days)
    assert (reduction.real.materials, reduction.real.trips) == (0.0, None)
    assert reduction.percent_real == {
        "steps": round(100 * (BASELINE["steps"] - steps) / BASELINE["steps"], 1),
        "days": round(100 * (BASELINE["days"] - days) / BASELINE["days"], 1),
        "materials": 100.0,
        "trips": None,
    }
    # The model: one application, 2 + 1 promised working days, nothing to bring, no trips.
    assert reduction.model == views.Measures(1.0, 3.0, 0.0, 0.0)
    assert reduction.percent_model == {"steps": 75.0, "days": 50.0, "materials": 100.0, "trips": 100.0}

    distribution = queries.duration_distribution(engine.db, "two-desks")
    assert distribution.count == cases
    assert distribution.median_days == pytest.approx(statistics.median(known.case_seconds) / DAY, rel=0.011)
    assert sum(n for _, _, n in distribution.bins) == cases
    engine.close()


def test_the_aggregates_follow_every_completion_without_a_rebuild(sqlite_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = bundle_engine(sqlite_url, tmp_path, "two-desks", clock)
    simulate(engine, clock, 12, seed=7)
    live = (queries.bottlenecks(engine.db), queries.reductions(engine.db, engine.deployments))
    rebuild.rebuild(engine.db, engine.calendar)
    assert live == (queries.bottlenecks(engine.db), queries.reductions(engine.db, engine.deployments))
    engine.close()
