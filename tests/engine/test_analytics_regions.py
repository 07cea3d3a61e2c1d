"""Analytics by division, checked against figures computed independently from the stored rows.

A seeded population of cases of a two-desk bundle is applied from districts of 上海市 (a
直辖市: its districts are counties under the province-level root), 杭州市 and 宁波市 (浙江省),
and worked through the engine with a moved clock: the review is decided by the district's
market-regulation office (or the nearest one above: 浦东新区 has none, so 上海市's default
office; 西湖区 has none, so 杭州市's), the tax check by the city's tax office
(``decided_at: city``). Waits and work times are drawn (some tasks late), some reviews are
returned and supplemented, the SLA clock runs now and then (marking open tasks overdue), and
the applicants rate 1..5, the whole case or one department.

The test then reads the raw ``work_items``, ``cases``, ``ratings`` and ``complaints`` rows and
computes the expected figures per division, per level (with its own parent table, not the
engine's division tree) and per office in plain Python, and compares them with
``engine.analytics.queries``; ``rebuild`` must give the same answers as the live recording.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select

from engine.analytics import queries, rebuild
from engine.analytics.grouping import DivisionScope, division_scope
from engine.analytics.rows import OfficeRatingStats
from engine.cases.states import Outcome
from engine.errors import InvalidInput
from engine.feedback import complaints, ratings
from engine.feedback.rows import Complaint, Rating
from engine.people.actors import Actor, Role
from engine.regions.loading import read_divisions_dir
from engine.regions.tree import DivisionTree, Level
from engine.service import Engine
from engine.storage.db import alembic_config
from engine.storage.models import Case, WorkItem
from engine.time.clock import ManualClock
from engine.worker import Worker
from tests.support.engines import ANALYST, APPLICANT, MONDAY, TEST_BUNDLES, make_engine

ROOT = Path(__file__).resolve().parents[2]
DIVISIONS = ROOT / "processes" / "divisions"
KEY = "regional-desks"
DEFAULT = "310000"
HOUR = 3600
DAY = 8 * HOUR
DATA = {"company_name": "一件事科技有限公司", "legal_rep_name": "张三"}
MARKET, TAX = "market-regulation", "tax"
LIMIT = {"review": 2 * DAY, "tax-check": 1 * DAY}
# Where applicants live: 黄浦区, 徐汇区, 浦东新区; 上城区, 拱墅区, 西湖区; 海曙区, 江北区.
HOMES = ("310101", "310104", "310115", "330102", "330105", "330106", "330203", "330205")
OFFICES = {
    MARKET: ("310101", "310104", "330100", "330102", "330105", "330203", "330205"),
    TAX: ("330100", "330200"),
}
# The test's own tree of the codes above (code -> parent, level), independent of engine.regions.
PARENT = {
    "310000": None,
    "310101": "310000",
    "310104": "310000",
    "310115": "310000",
    "330000": None,
    "330100": "330000",
    "330102": "330100",
    "330105": "330100",
    "330106": "330100",
    "330200": "330000",
    "330203": "330200",
    "330205": "330200",
}
RANK = {code: 0 if parent is None else (1 if code.endswith("00") else 2) for code, parent in PARENT.items()}
LEVEL_RANK = {"province": 0, "city": 1, "county": 2}

BUNDLE_YAML = """\
key: regional-desks
version: 1
name: {zh: 分地区两窗联办测试, en: Regional two desks test}
process: process.bpmn
items:
  - key: review
    name: {zh: 审核, en: Review}
    department: market-regulation
    task: review
    time_limit_days: 2
    fields: [company_name, legal_rep_name, address_division]
    division: {field: address_division}
  - key: tax-check
    name: {zh: 税务核对, en: Tax check}
    department: tax
    task: tax_check
    time_limit_days: 1
    fields: [company_name, address_division]
    decided_at: city
    division: {field: address_division}
baseline: {steps: 4, days: 6, materials: 3, trips: 2, source: test fixture}
examples:
  - name: {zh: 示例, en: Example}
    data: {company_name: 一件事科技有限公司, legal_rep_name: 张三, address_division: "330102"}
    route: [review, tax-check]
"""


def up_to(code: str, level: str) -> str:
    """The code's nearest ancestor (or itself) at ``level`` or above, by the test's own table."""
    current = code
    while RANK[current] > LEVEL_RANK[level]:
        parent = PARENT[current]
        assert parent is not None
        current = parent
    return current


def below(code: str) -> set[str]:
    """The code and every code of the test's table under it."""
    return {c for c in PARENT if _chain_has(c, code)}


def _chain_has(code: str | None, ancestor: str) -> bool:
    while code is not None:
        if code == ancestor:
            return True
        code = PARENT[code]
    return False


@dataclass
class Known:
    """What the simulation drew, by task row id and by case id."""

    wait: dict[int, int] = field(default_factory=dict)
    work: dict[int, int] = field(default_factory=dict)
    case_seconds: dict[int, int] = field(default_factory=dict)
    home: dict[int, str] = field(default_factory=dict)


def office_clerk(department: str, division: str) -> Actor:
    """The clerk of one office (``clerk.<department>@<division>``)."""
    return Actor(f"clerk.{department}@{division}", Role.CLERK, frozenset({department}), division=division)


def regional_engine(db_url: str, tmp_path: Path, clock: ManualClock) -> Engine:
    """An engine with the shipped divisions, the offices above and the regional bundle deployed."""
    engine = make_engine(db_url, tmp_path, clock)
    engine.regions.load_shipped(DIVISIONS)
    for department, codes in OFFICES.items():
        for code in codes:
            engine.regions.add_office(None, department, code)
    folder = tmp_path / KEY
    folder.mkdir()
    diagram = (TEST_BUNDLES / "two-desks" / "process.bpmn").read_text(encoding="utf-8")
    (folder / "process.bpmn").write_text(diagram.replace('"two-desks"', f'"{KEY}"'), encoding="utf-8")
    (folder / "bundle.yaml").write_text(BUNDLE_YAML, encoding="utf-8")
    engine.deployments.deploy_dir(folder)
    return engine


def simulate(engine: Engine, clock: ManualClock, cases: int, seed: int) -> Known:
    """Apply ``cases`` cases from random homes and work them, drawing every duration."""
    rng = random.Random(seed)
    known = Known()
    calendar = engine.calendar
    worker = Worker(engine)

    def move(seconds: int) -> None:
        clock.set(calendar.add_working_time(clock.now(), timedelta(seconds=seconds)))

    for n in range(cases):
        home = rng.choice(HOMES)
        data = {**DATA, "address_division": home}
        case_id = engine.start_case(APPLICANT, KEY, data, {}).id
        known.home[case_id] = home
        seconds = 0
        while True:
            queued = engine.list_tasks(ANALYST, bundle=KEY, limit=2).items
            if not queued:
                break
            (task,) = queued
            actor = office_clerk(task.department, task.division)
            wait = rng.randint(10 * 60, 20 * HOUR if task.item == "review" else 7 * HOUR)
            work = rng.randint(5 * 60, 3 * HOUR)
            move(wait)
            if rng.random() < 0.3:
                worker.run_once()  # the SLA clock marks the task overdue if its time is up (went_overdue)
            engine.claim(actor, task.id)
            move(work)
            seconds += wait + work
            known.wait[task.id], known.work[task.id] = wait, work
            if task.item == "review" and rng.random() < 0.15:
                problems = [{"field": "legal_rep_name", "message": "姓名有误"}]
                engine.complete(actor, task.id, Outcome.RETURN, {}, "", problems)
                answer = rng.randint(HOUR, 2 * DAY)
                move(answer)
                seconds += answer
                engine.supplement(APPLICANT, case_id, {"legal_rep_name": "李四"}, {})
            else:
                engine.complete(actor, task.id, Outcome.APPROVE, {}, "同意")
        known.case_seconds[case_id] = seconds
        if rng.random() < 0.6:
            score = rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 4, 6])[0]
            ratings.rate(engine.db, clock, APPLICANT, case_id, score, calendar=calendar)
        for department in (MARKET, TAX):
            if rng.random() < 0.3:
                score = rng.randint(1, 5)
                ratings.rate(
                    engine.db, clock, APPLICANT, case_id, score, department=department, calendar=calendar
                )
        if n % 11 == 0:
            complaints.complain(
                engine.db, clock, APPLICANT, case_id, "等了太久", department=TAX, calendar=calendar
            )
        move(rng.randint(60, 2 * HOUR))
    return known


# -- the expected figures, from the raw rows ----------------------------------------------------


@dataclass
class Raw:
    """The stored rows the expectations are computed from."""

    tasks: list[WorkItem]
    case_division: dict[int, str]
    case_round: dict[int, int]
    ratings: list[Rating]
    complaint_cases: list[int | None]


def read_raw(engine: Engine) -> Raw:
    with engine.db.read() as s:
        tasks = list(s.scalars(select(WorkItem).where(WorkItem.state == "completed")))
        cases = list(s.scalars(select(Case)))
        rating_rows = list(s.scalars(select(Rating)))
        complaint_cases = list(s.scalars(select(Complaint.case_id)))
    return Raw(
        tasks,
        {c.id: c.division or DEFAULT for c in cases},
        {c.id: c.round for c in cases},
        rating_rows,
        complaint_cases,
    )


def late(row: WorkItem) -> bool:
    """The documented overdue: marked by the SLA clock, or completed after its due time."""
    return bool(row.overdue) or (
        row.due_at is not None and row.completed_at is not None and row.completed_at > row.due_at
    )


def counts(scores: Iterable[int]) -> tuple[int, int, int, int, int]:
    c = Counter(scores)
    return (c[1], c[2], c[3], c[4], c[5])


def offices_of_rating(raw: Raw, rating: Rating) -> set[tuple[str, str]]:
    """The documented attribution: the offices that completed a task of the case (of the rated department)."""
    return {
        (t.department, t.division)
        for t in raw.tasks
        if t.case_id == rating.case_id and (not rating.department or t.department == rating.department)
    }


def nearest_rank(values: list[int], q: float) -> int:
    return sorted(values)[math.ceil(q * len(values)) - 1]


# -- the test ---------------------------------------------------------------------------------


def check_population(db_url: str, tmp_path: Path, cases: int, seed: int) -> None:
    clock = ManualClock(MONDAY)
    engine = regional_engine(db_url, tmp_path, clock)
    known = simulate(engine, clock, cases, seed)
    tree = engine.regions.tree()
    raw = read_raw(engine)

    # The population is varied: tasks in many offices, late ones, returns, rated offices.
    task_divisions = {t.division for t in raw.tasks}
    assert {"310000", "310101", "310104", "330100", "330102", "330200", "330203"} <= task_divisions
    assert any(late(t) for t in raw.tasks) and any(t.outcome == Outcome.RETURN for t in raw.tasks)
    assert any(t.overdue for t in raw.tasks) and any(late(t) and not t.overdue for t in raw.tasks)
    # Each case is decided in its applicant's home (the bundle's division field) ...
    assert all(raw.case_division[case_id] == home for case_id, home in known.home.items())
    # ... each review went to the home district's office or the nearest above; each tax check to the city's.
    for t in raw.tasks:
        home = known.home[t.case_id]
        if t.department == TAX:
            assert t.division == {"3101": DEFAULT, "3301": "330100", "3302": "330200"}[home[:4]]
        else:
            assert t.division == {"310115": DEFAULT, "330106": "330100"}.get(home, home)

    check_bottlenecks(engine, tree, raw, known)
    check_departments(engine, tree, raw)
    check_reductions(engine, tree, raw, known)
    check_office_ranking(engine, tree, raw)
    check_trends(engine, tree, raw)

    # An analyst scoped to 杭州市 reads Hangzhou only, whatever it asks for; outside, nothing.
    assert queries.bottlenecks(
        engine.db, tree=tree, division="330000", reach="330100"
    ) == queries.bottlenecks(engine.db, tree=tree, division="330100")
    assert queries.office_ranking(engine.db, tree, division="310000", reach="330100") == []
    assert queries.by_department(engine.db, tree=tree, division="999999") == []

    live = every_answer(engine, tree)
    rebuilt = rebuild.rebuild(engine.db, engine.calendar)
    assert rebuilt.tasks == len(raw.tasks)
    assert every_answer(engine, tree) == live
    engine.close()


def every_answer(engine: Engine, tree: DivisionTree) -> list[Any]:
    """The answers of every query, grouped and filtered several ways (for live vs rebuild)."""
    return [
        queries.bottlenecks(engine.db, tree=tree, group_by_division=True),
        queries.bottlenecks(engine.db, KEY, tree=tree, division="330000", level="city"),
        queries.by_department(engine.db, tree=tree, level="county"),
        queries.by_department(engine.db, tree=tree, division="310000", group_by_division=True),
        queries.reductions(engine.db, engine.deployments, tree=tree, level="city"),
        queries.office_ranking(engine.db, tree),
        queries.office_ranking(engine.db, tree, level="city"),
        queries.trends(engine.db, KEY, "week", tree=tree, division="330100"),
        queries.median_waits(engine.db, KEY, tree=tree, division="330200"),
        queries.duration_distribution(engine.db, KEY, tree=tree, division="330000"),
    ]


def check_bottlenecks(engine: Engine, tree: DivisionTree, raw: Raw, known: Known) -> None:
    # One row per (item, department, office division).
    groups: dict[tuple[str, str, str], list[WorkItem]] = defaultdict(list)
    for t in raw.tasks:
        groups[(t.item_key, t.department, t.division)].append(t)
    rows = queries.bottlenecks(engine.db, KEY, tree=tree, group_by_division=True)
    assert {(r.item, r.department, r.division) for r in rows} == set(groups)
    for r in rows:
        assert r.division is not None
        tasks = groups[(r.item, r.department, r.division)]
        waits = [known.wait[t.id] for t in tasks]
        assert r.count == len(tasks)
        assert r.overdue == sum(late(t) for t in tasks)
        assert r.returns == sum(t.outcome == Outcome.RETURN for t in tasks)
        assert r.wait.mean == pytest.approx(statistics.fmean(waits), rel=1e-9)
        assert r.wait.median == pytest.approx(statistics.median(waits), rel=0.011)
        assert r.work.p90 == pytest.approx(nearest_rank([known.work[t.id] for t in tasks], 0.9), rel=0.011)
        # The department's ratings by the cases decided in this division.
        expected = [
            x.score
            for x in raw.ratings
            if x.department == r.department and raw.case_division[x.case_id] == r.division
        ]
        assert r.ratings.counts == counts(expected)
        assert r.division_name is not None and r.division_name.zh == tree.full_name(r.division)

    # Filtered to 杭州市 and rolled up to the city: one row per item, all of Hangzhou's offices.
    hangzhou = below("330100")
    (review, tax) = sorted(
        queries.bottlenecks(engine.db, KEY, tree=tree, division="330100", level="city"), key=lambda r: r.item
    )
    for row, item in ((review, "review"), (tax, "tax-check")):
        tasks = [t for t in raw.tasks if t.item_key == item and t.division in hangzhou]
        assert (row.item, row.division, row.count) == (item, "330100", len(tasks))
        assert row.overdue == sum(late(t) for t in tasks)
        assert row.wait.mean == pytest.approx(statistics.fmean(known.wait[t.id] for t in tasks), rel=1e-9)
    assert review.division_name is not None and review.division_name.zh == "浙江省杭州市"

    # Ungrouped: one row per item over every division, as before regions.
    plain = queries.bottlenecks(engine.db, KEY)
    assert sorted((r.item, r.count, r.division) for r in plain) == sorted(
        (item, sum(t.item_key == item for t in raw.tasks), None) for item in ("review", "tax-check")
    )


def check_departments(engine: Engine, tree: DivisionTree, raw: Raw) -> None:
    for level in ("city", "province", "county"):
        rows = queries.by_department(engine.db, KEY, tree=tree, level=level)
        expected: dict[tuple[str, str], list[WorkItem]] = defaultdict(list)
        for t in raw.tasks:
            expected[(t.department, up_to(t.division, level))].append(t)
        rated: dict[tuple[str, str], list[int]] = defaultdict(list)
        for x in raw.ratings:
            if x.department:
                rated[(x.department, up_to(raw.case_division[x.case_id], level))].append(x.score)
        complained = Counter(
            (TAX, up_to(raw.case_division[c] if c is not None else DEFAULT, level))
            for c in raw.complaint_cases
        )
        assert {(r.department, r.division) for r in rows} == set(expected) | set(rated) | set(complained)
        for r in rows:
            assert r.division is not None
            tasks = expected.get((r.department, r.division), [])
            assert (r.count, r.overdue, r.returns) == (
                len(tasks),
                sum(late(t) for t in tasks),
                sum(t.outcome == Outcome.RETURN for t in tasks),
            ), (level, r.department, r.division)
            assert r.ratings.counts == counts(rated.get((r.department, r.division), []))
            assert r.complaints == complained[(r.department, r.division)]
    # A division's subtree only: 浙江省 per county (a city office stays its own row).
    zhejiang = queries.by_department(engine.db, KEY, tree=tree, division="330000", level="county")
    assert {r.division for r in zhejiang} <= below("330000")
    assert sum(r.count for r in zhejiang) == sum(t.division in below("330000") for t in raw.tasks)
    assert "330100" in {
        r.division for r in zhejiang
    }  # 杭州市's own offices (the tax office, 西湖区's reviews)


def check_reductions(engine: Engine, tree: DivisionTree, raw: Raw, known: Known) -> None:
    for level in ("city", "county"):
        rows = queries.reductions(engine.db, engine.deployments, tree=tree, level=level)
        by_group: dict[str, list[int]] = defaultdict(list)
        for case_id in known.case_seconds:
            by_group[up_to(raw.case_division[case_id], level)].append(case_id)
        assert {r.division for r in rows} == set(by_group)
        for r in rows:
            assert r.division is not None
            ids = by_group[r.division]
            assert r.cases == len(ids)
            assert r.real is not None
            assert r.real.steps == pytest.approx(statistics.fmean(raw.case_round[i] for i in ids))
            assert r.real.days == pytest.approx(statistics.fmean(known.case_seconds[i] for i in ids) / DAY)
    (everywhere,) = queries.reductions(engine.db, engine.deployments)
    assert (everywhere.cases, everywhere.division) == (len(known.case_seconds), None)


def check_office_ranking(engine: Engine, tree: DivisionTree, raw: Raw) -> None:
    for level in (None, "city"):
        offices: dict[tuple[str, str], list[WorkItem]] = defaultdict(list)
        for t in raw.tasks:
            offices[(t.department, t.division if level is None else up_to(t.division, level))].append(t)
        scores: dict[tuple[str, str], list[int]] = defaultdict(list)
        for x in raw.ratings:
            for department, division in offices_of_rating(raw, x):
                scores[(department, division if level is None else up_to(division, level))].append(x.score)
        expected = []
        for (department, division), tasks in offices.items():
            on_time = sum(not late(t) for t in tasks)
            mine = scores.get((department, division), [])
            mean = statistics.fmean(mine) if mine else None
            expected.append(
                (department, division, len(tasks), on_time, on_time / len(tasks), mean, counts(mine))
            )
        expected.sort(key=lambda e: (-e[4], -(e[5] if e[5] is not None else -1.0), -e[2], e[1], e[0]))
        ranking = queries.office_ranking(engine.db, tree, level=level, names=engine.regions.office_name)
        assert [(o.department, o.division, o.finished, o.on_time) for o in ranking] == [
            e[:4] for e in expected
        ]
        for o, e in zip(ranking, expected, strict=True):
            assert o.on_time_rate == pytest.approx(e[4])
            assert o.ratings.counts == e[6]
            assert (o.ratings.mean is None) == (e[5] is None)
            if e[5] is not None:
                assert o.ratings.mean == pytest.approx(e[5])
            assert o.name.zh == engine.regions.office_name(o.department, o.division, "zh")
        assert [o.rank for o in ranking] == list(range(1, len(ranking) + 1))
    # A division's offices only.
    ningbo = queries.office_ranking(engine.db, tree, division="330200")
    assert {(o.department, o.division) for o in ningbo} == {
        (t.department, t.division) for t in raw.tasks if t.division in below("330200")
    }
    assert next(o for o in ningbo if o.division == "330203").name.zh.startswith("浙江省宁波市海曙区")


def check_trends(engine: Engine, tree: DivisionTree, raw: Raw) -> None:
    for division in ("310000", "330000", "330100", "330205"):
        points = queries.trends(engine.db, KEY, "month", tree=tree, division=division)
        inside = below(division)
        assert sum(p.tasks_completed for p in points) == sum(t.division in inside for t in raw.tasks)
        assert sum(p.ratings for p in points) == sum(
            raw.case_division[x.case_id] in inside for x in raw.ratings
        )
        # Tasks the SLA clock marked overdue while open, at their office's division.
        assert sum(p.went_overdue for p in points) == sum(
            t.overdue and t.division in inside for t in raw.tasks
        )


def test_analytics_group_by_division_as_computed_from_the_rows(sqlite_url: str, tmp_path: Path) -> None:
    check_population(sqlite_url, tmp_path, 160, seed=15)


@pytest.mark.postgres
def test_analytics_by_division_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    check_population(pg_url, tmp_path, 60, seed=16)


# -- the migration ----------------------------------------------------------------------------


def test_an_upgraded_database_keeps_its_figures_at_the_default_division(db_url: str, tmp_path: Path) -> None:
    """0009 down (rows of all divisions added together) and up (at the default division) keep every figure."""
    clock = ManualClock(MONDAY)
    engine = regional_engine(db_url, tmp_path, clock)
    simulate(engine, clock, 24, seed=3)
    tree = engine.regions.tree()
    before = (
        queries.bottlenecks(engine.db),
        queries.by_department(engine.db),
        queries.reductions(engine.db, engine.deployments),
        queries.trends(engine.db, KEY, "day"),
    )
    config = alembic_config()
    with engine.db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008_regions")
    engine.db.upgrade()
    after = (
        queries.bottlenecks(engine.db),
        queries.by_department(engine.db),
        queries.reductions(engine.db, engine.deployments),
        queries.trends(engine.db, KEY, "day"),
    )
    assert after == before
    # Everything counts for the default division now (what a database from before regions held) ...
    assert {r.division for r in queries.bottlenecks(engine.db, tree=tree, group_by_division=True)} == {
        DEFAULT
    }
    # ... and the office ratings were filled from the ratings and the offices that served each case.
    raw = read_raw(engine)
    scores: dict[tuple[str, str], list[int]] = defaultdict(list)
    for x in raw.ratings:
        for office in offices_of_rating(raw, x):
            scores[office].append(x.score)
    with engine.db.read() as s:
        stored = {
            (r.department, r.division): (r.s1, r.s2, r.s3, r.s4, r.s5)
            for r in s.scalars(select(OfficeRatingStats))
        }
    assert stored == {office: counts(v) for office, v in scores.items()}
    engine.close()


# -- grouping, on the shipped tree ------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> DivisionTree:
    return DivisionTree(read_divisions_dir(DIVISIONS))


def test_a_scope_reads_a_subtree_and_rolls_codes_up_to_a_level(shipped: DivisionTree) -> None:
    hangzhou = division_scope(shipped, "330100", "county")
    assert (
        hangzhou.codes is not None
        and {"330106", "330100"} <= hangzhou.codes
        and "330203" not in hangzhou.codes
    )
    assert hangzhou.group("330106") == "330106" and hangzhou.group("330100") == "330100"
    by_city = division_scope(shipped, level="city")
    assert by_city.codes is None
    # Zhejiang's counties go to their cities; Shanghai's districts to the 直辖市 (no city level).
    assert [by_city.group(c) for c in ("330102", "330203", "330100", "310115", "330000")] == [
        "330100",
        "330200",
        "330100",
        "310000",
        "330000",
    ]
    assert division_scope(shipped, group_by_division=True).group("330102") == "330102"
    assert division_scope(shipped).group("330102") is None and not division_scope(shipped).grouped
    assert division_scope(shipped, level="province").group("310104") == "310000"
    assert division_scope(shipped, level="city").name("330100") == "浙江省杭州市"
    assert division_scope(shipped, level=Level.CITY).level is Level.CITY


def test_a_scope_stays_inside_the_askers_reach(shipped: DivisionTree) -> None:
    hangzhou = shipped.subtree("330100")
    assert division_scope(shipped, reach="330100").codes == hangzhou
    assert division_scope(shipped, "330000", "county", reach="330100").codes == hangzhou
    assert division_scope(shipped, "330102", reach="330100").codes == frozenset({"330102"})
    # Outside the reach, or an unknown code: nothing is read (as the scoped queues answer).
    assert division_scope(shipped, "310000", reach="330100").codes == frozenset()
    assert division_scope(shipped, "999999").codes == frozenset({"999999"})


def test_unknown_levels_are_refused(shipped: DivisionTree) -> None:
    with pytest.raises(InvalidInput) as level:
        division_scope(shipped, level="street")
    assert level.value.problems[0].where == "level"
    assert division_scope(None) == DivisionScope()
    with pytest.raises(ValueError, match="division tree"):
        division_scope(None, level="city")
