"""督办 by office: a city supervisor reads and works both districts' overdue tasks, a district
supervisor only its own; complaints and rectifications go to the office that handled the case.

Real task rows routed by the regions service (杭州市 330100 with its districts 上城区 330102 and
拱墅区 330105, and 上海市黄浦区 310101, all demo offices), a moved clock and the worker's SLA
sweep, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from engine.cases.states import Outcome
from engine.deadlines import supervision
from engine.errors import NotAllowed, NotFound
from engine.feedback import complaints, ratings, rectification
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.settings import PROJECT_ROOT
from engine.time.clock import ManualClock
from engine.worker import Worker
from tests.support.engines import ANALYST, APPLICANT, MONDAY, bundle_engine

DATA = {"company_name": "杭州一件事科技有限公司", "legal_rep_name": "张三"}
MARKET = "market-regulation"
CITY, SHANGCHENG, GONGSHU, HUANGPU = "330100", "330102", "330105", "310101"


def supervisor(division: str | None, department: str = MARKET) -> Actor:
    """A supervisor of one department at one division (None: the default division)."""
    return Actor(f"supervisor.{department}@{division}", Role.CLERK, frozenset({department}), True, division)


def clerk(division: str | None, department: str = MARKET) -> Actor:
    """A clerk of one department's office at one division (None: the default division)."""
    return Actor(f"clerk.{department}@{division}", Role.CLERK, frozenset({department}), division=division)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def engine(db_url: str, tmp_path: Path, clock: ManualClock) -> Engine:
    eng = bundle_engine(db_url, tmp_path, "two-desks", clock)
    eng.regions.load_shipped(PROJECT_ROOT / "processes" / "divisions")
    eng.regions.ensure_demo_offices()
    return eng


def review_task(engine: Engine, case_id: int) -> tuple[int, str]:
    """The open review task of a case and the division its office is at."""
    (task,) = [t for t in engine.get_case(ANALYST, case_id).tasks if t.item == "review"]
    return task.id, task.division


@pytest.fixture
def late(engine: Engine, clock: ManualClock) -> dict[str, int]:
    """One case per office (上城区, 拱墅区, 黄浦区) whose review went past its due time and was escalated."""
    tasks: dict[str, int] = {}
    for division in (SHANGCHENG, GONGSHU, HUANGPU):
        case_id = engine.start_case(APPLICANT, "two-desks", DATA, {}, division=division).id
        task_id, routed = review_task(engine, case_id)
        assert routed == division
        tasks[division] = task_id
    clock.advance(timedelta(days=7))
    assert Worker(engine).run_once().sla.escalated == 3
    return tasks


def queued(engine: Engine, actor: Actor, division: str | None = None) -> dict[int, str]:
    """The overdue-task entries an actor's supervisor queue holds: task id -> the office's division."""
    entries = supervision.queue_for(engine.db, actor, regions=engine.regions, division=division)
    return {e.subject_id: e.division for e in entries if e.subject == "work_item"}


def test_a_city_supervisor_sees_both_districts_overdue_tasks_a_district_supervisor_only_its_own(
    engine: Engine, late: dict[str, int]
) -> None:
    both = {late[SHANGCHENG]: SHANGCHENG, late[GONGSHU]: GONGSHU}
    assert queued(engine, supervisor(CITY)) == both
    assert queued(engine, supervisor("330000")) == both  # the province above the city
    assert queued(engine, supervisor(SHANGCHENG)) == {late[SHANGCHENG]: SHANGCHENG}
    assert queued(engine, supervisor(GONGSHU)) == {late[GONGSHU]: GONGSHU}
    # The default division's supervisor (上海市) reads 黄浦区 below it, nothing of 浙江省.
    assert queued(engine, supervisor(None)) == {late[HUANGPU]: HUANGPU}
    assert queued(engine, supervisor(CITY, "tax")) == {}  # another department's supervisor


def test_a_supervisor_narrows_the_queue_to_a_division_below_and_finds_nothing_outside_it(
    engine: Engine, late: dict[str, int]
) -> None:
    assert queued(engine, supervisor(CITY), division=GONGSHU) == {late[GONGSHU]: GONGSHU}
    assert queued(engine, supervisor(SHANGCHENG), division=GONGSHU) == {}
    assert queued(engine, supervisor(SHANGCHENG), division=CITY) == {late[SHANGCHENG]: SHANGCHENG}
    assert queued(engine, supervisor(SHANGCHENG), division="999999") == {}  # no such division
    with pytest.raises(NotAllowed):
        queued(engine, clerk(CITY))  # a clerk who is not a supervisor


def test_admins_and_analysts_read_the_queue_of_their_scope(engine: Engine, late: dict[str, int]) -> None:
    admin_hangzhou = Actor("admin@330100", Role.ADMIN, division=CITY)
    analyst_huangpu = Actor("analyst@310101", Role.ANALYST, division=HUANGPU)
    assert set(queued(engine, admin_hangzhou)) == {late[SHANGCHENG], late[GONGSHU]}
    assert set(queued(engine, analyst_huangpu)) == {late[HUANGPU]}
    assert set(queued(engine, ANALYST)) == set(late.values())  # no division: the whole platform


def test_only_supervisors_at_or_above_the_office_resolve_its_entry(
    engine: Engine, clock: ManualClock, late: dict[str, int]
) -> None:
    entries = supervision.queue_for(engine.db, supervisor(CITY), regions=engine.regions)
    (entry,) = [e for e in entries if e.subject_id == late[SHANGCHENG]]
    with pytest.raises(NotFound):
        supervision.resolve(engine.db, clock, supervisor(GONGSHU), entry.id, "催办", regions=engine.regions)
    with pytest.raises(NotFound):
        supervision.entry_of(engine.db, supervisor(GONGSHU), entry.id, regions=engine.regions)
    with pytest.raises(NotFound):  # an admin of another subtree
        supervision.resolve(
            engine.db,
            clock,
            Actor("admin@310101", Role.ADMIN, division=HUANGPU),
            entry.id,
            "催办",
            regions=engine.regions,
        )
    done = supervision.resolve(engine.db, clock, supervisor(CITY), entry.id, "已催办", regions=engine.regions)
    assert (done.state, done.division, done.resolved_by) == (
        "resolved",
        SHANGCHENG,
        "supervisor.market-regulation@330100",
    )
    assert queued(engine, supervisor(SHANGCHENG)) == {}
    assert queued(engine, supervisor(GONGSHU)) == {late[GONGSHU]: GONGSHU}


def test_due_soon_alerts_are_an_offices_own(engine: Engine, clock: ManualClock) -> None:
    ids = {
        d: engine.start_case(APPLICANT, "two-desks", DATA, {}, division=d).id for d in (SHANGCHENG, GONGSHU)
    }
    clock.advance(timedelta(days=1, hours=10))  # past 80 % of the review's two working days
    assert Worker(engine).run_once().sla.warned == 2
    with engine.db.read() as s:
        mine = supervision.department_alerts(s, MARKET, SHANGCHENG)
        everywhere = supervision.department_alerts(s, MARKET)
    assert [(a.subject_id, a.division) for a in mine] == [
        (review_task(engine, ids[SHANGCHENG])[0], SHANGCHENG)
    ]
    assert {a.division for a in everywhere} == {SHANGCHENG, GONGSHU}


def test_a_complaint_goes_to_the_office_holding_the_case(engine: Engine, clock: ManualClock) -> None:
    case_id = engine.start_case(APPLICANT, "two-desks", DATA, {}, division=SHANGCHENG).id
    filed = complaints.complain(
        engine.db, clock, APPLICANT, case_id, "窗口没有一次性告知", calendar=engine.calendar
    )
    (entry,) = supervision.queue_for(engine.db, supervisor(SHANGCHENG), regions=engine.regions)
    assert (entry.subject, entry.subject_id, entry.division) == ("complaint", filed.id, SHANGCHENG)
    assert supervision.queue_for(engine.db, supervisor(GONGSHU), regions=engine.regions) == []
    with pytest.raises(NotFound):
        complaints.answer_complaint(
            engine.db, clock, supervisor(GONGSHU), filed.id, "不归我管", regions=engine.regions
        )
    answered = complaints.answer_complaint(
        engine.db, clock, supervisor(CITY), filed.id, "已督促上城区一次性告知", regions=engine.regions
    )
    assert answered.state == "answered"


def test_a_bad_ratings_rectification_is_the_office_that_handled_the_case(
    engine: Engine, clock: ManualClock
) -> None:
    case_id = engine.start_case(APPLICANT, "two-desks", DATA, {}, division=GONGSHU).id
    for department in (MARKET, "tax"):
        (task,) = [t for t in engine.get_case(ANALYST, case_id).tasks if t.state == "ready"]
        assert (task.department, task.division) == (department, GONGSHU)
        engine.claim(clerk(GONGSHU, department), task.id)
        engine.complete(clerk(GONGSHU, department), task.id, Outcome.APPROVE, {}, "同意")
    rated = ratings.rate(engine.db, clock, APPLICANT, case_id, 1, "太慢", MARKET, calendar=engine.calendar)
    assert rated.rectification is not None
    rect_id = rated.rectification.id
    listed = rectification.rectifications_for(engine.db, clerk(GONGSHU), regions=engine.regions)
    assert [(r.id, r.division) for r in listed] == [(rect_id, GONGSHU)]
    assert rectification.rectifications_for(engine.db, clerk(None), regions=engine.regions) == []
    assert rectification.rectifications_for(engine.db, clerk(SHANGCHENG), regions=engine.regions) == []
    with pytest.raises(NotFound):
        rectification.reply_rectification(
            engine.db, clock, clerk(None), rect_id, "我们答复", regions=engine.regions
        )
    replied = rectification.reply_rectification(
        engine.db, clock, clerk(GONGSHU), rect_id, "已改进并致歉", regions=engine.regions
    )
    assert (replied.state, replied.division) == ("replied", GONGSHU)
