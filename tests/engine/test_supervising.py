"""The supervision desk's reads (``engine.feedback.supervising``): open and done rows by office, and who acts.

A city supervisor (杭州市 330100) reads both districts (上城区 330102, 拱墅区 330105), a district
supervisor only its own; what was dealt with stays readable as "done" (a resolved entry with
its note, an answered complaint, a replied rectification); the flags say who may act: the
supervisors at or above an office close its entries and answer its complaints, the office's
own clerks (a supervisor there included) reply to its rectifications, an analyst reads only.
Real task rows routed by the regions service, a moved clock and the worker's SLA sweep, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from engine.cases.states import Outcome
from engine.deadlines import supervision
from engine.errors import NotAllowed
from engine.feedback import complaints, ratings, supervising
from engine.feedback.supervising import Shown
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.settings import PROJECT_ROOT
from engine.time.clock import ManualClock
from engine.worker import Worker
from tests.support.engines import ANALYST, APPLICANT, MONDAY, bundle_engine

DATA = {"company_name": "杭州一件事科技有限公司", "legal_rep_name": "张三"}
MARKET = "market-regulation"
CITY, SHANGCHENG, GONGSHU = "330100", "330102", "330105"


def supervisor(division: str, department: str = MARKET) -> Actor:
    """A supervisor of one department at one division."""
    return Actor(f"supervisor.{department}@{division}", Role.CLERK, frozenset({department}), True, division)


def clerk(division: str, department: str = MARKET) -> Actor:
    """A clerk of one department's office at one division."""
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


def late_tasks(engine: Engine, clock: ManualClock) -> dict[str, int]:
    """One case per district whose review went past its due time and was escalated: division -> task id."""
    tasks: dict[str, int] = {}
    for division in (SHANGCHENG, GONGSHU):
        case_id = engine.start_case(APPLICANT, "two-desks", DATA, {}, division=division).id
        (task,) = [t for t in engine.get_case(ANALYST, case_id).tasks if t.item == "review"]
        tasks[division] = task.id
    clock.advance(timedelta(days=7))
    assert Worker(engine).run_once().sla.escalated == 2
    return tasks


def entry_tasks(engine: Engine, actor: Actor, shown: Shown) -> dict[int, bool]:
    """The late-task entries a reader sees: task id -> whether the reader may close the entry."""
    found = supervising.entries(engine.db, actor, regions=engine.regions, shown=shown)
    return {s.entry.subject_id: s.may_resolve for s in found if s.entry.subject == "work_item"}


def test_entries_by_office_open_then_done_with_the_note(engine: Engine, clock: ManualClock) -> None:
    late = late_tasks(engine, clock)
    assert entry_tasks(engine, supervisor(CITY), Shown.OPEN) == {late[SHANGCHENG]: True, late[GONGSHU]: True}
    assert entry_tasks(engine, supervisor(GONGSHU), Shown.OPEN) == {late[GONGSHU]: True}
    assert entry_tasks(engine, ANALYST, Shown.OPEN) == {late[SHANGCHENG]: False, late[GONGSHU]: False}
    with pytest.raises(NotAllowed):
        supervising.entries(engine.db, clerk(CITY), regions=engine.regions)
    (open_entry,) = [
        s.entry
        for s in supervising.entries(engine.db, supervisor(SHANGCHENG), regions=engine.regions)
        if s.entry.subject_id == late[SHANGCHENG]
    ]
    assert open_entry.division == SHANGCHENG
    found = supervising.entries(engine.db, supervisor(SHANGCHENG), regions=engine.regions)
    assert found[0].task is not None and found[0].task.state == "ready" and found[0].task.overdue
    supervision.resolve(
        engine.db, clock, supervisor(CITY), open_entry.id, "已电话催办", regions=engine.regions
    )

    assert entry_tasks(engine, supervisor(CITY), Shown.OPEN) == {late[GONGSHU]: True}
    done = supervising.entries(engine.db, supervisor(CITY), regions=engine.regions, shown=Shown.DONE)
    assert [(s.entry.subject_id, s.entry.note, s.may_resolve) for s in done] == [
        (late[SHANGCHENG], "已电话催办", False)
    ]
    assert entry_tasks(engine, supervisor(GONGSHU), Shown.DONE) == {}
    both = entry_tasks(engine, supervisor(CITY), Shown.ALL)
    assert both == {late[GONGSHU]: True, late[SHANGCHENG]: False}
    narrowed = supervising.entries(
        engine.db, supervisor(CITY), regions=engine.regions, shown=Shown.ALL, division=GONGSHU
    )
    assert [s.entry.subject_id for s in narrowed] == [late[GONGSHU]]


def test_complaints_are_the_holding_offices_and_stay_readable_once_answered(
    engine: Engine, clock: ManualClock
) -> None:
    case_id = engine.start_case(APPLICANT, "two-desks", DATA, {}, division=SHANGCHENG).id
    filed = complaints.complain(
        engine.db, clock, APPLICANT, case_id, "没有一次性告知", calendar=engine.calendar
    )

    def seen(actor: Actor, shown: Shown = Shown.OPEN) -> list[tuple[int, str, str, bool]]:
        found = supervising.complaints(engine.db, actor, regions=engine.regions, shown=shown)
        return [(c.view.id, c.view.state, c.division, c.may_answer) for c in found]

    assert seen(supervisor(CITY)) == [(filed.id, "open", SHANGCHENG, True)]
    assert seen(supervisor(SHANGCHENG)) == [(filed.id, "open", SHANGCHENG, True)]
    assert seen(supervisor(GONGSHU)) == []
    assert seen(ANALYST) == [(filed.id, "open", SHANGCHENG, False)]
    complaints.answer_complaint(
        engine.db, clock, supervisor(CITY), filed.id, "已督促", regions=engine.regions
    )
    assert seen(supervisor(SHANGCHENG)) == []
    assert seen(supervisor(SHANGCHENG), Shown.DONE) == [(filed.id, "answered", SHANGCHENG, False)]
    assert seen(supervisor(SHANGCHENG), Shown.ALL) == [(filed.id, "answered", SHANGCHENG, False)]


def test_a_rectification_is_replied_by_its_own_office_and_read_from_above(
    engine: Engine, clock: ManualClock
) -> None:
    case_id = engine.start_case(APPLICANT, "two-desks", DATA, {}, division=GONGSHU).id
    for department in (MARKET, "tax"):
        (task,) = [t for t in engine.get_case(ANALYST, case_id).tasks if t.state == "ready"]
        engine.claim(clerk(GONGSHU, department), task.id)
        engine.complete(clerk(GONGSHU, department), task.id, Outcome.APPROVE, {}, "同意")
    rated = ratings.rate(engine.db, clock, APPLICANT, case_id, 1, "太慢", MARKET, calendar=engine.calendar)
    assert rated.rectification is not None

    def seen(actor: Actor, shown: Shown = Shown.OPEN) -> list[tuple[str, str, bool]]:
        found = supervising.rectifications(engine.db, actor, regions=engine.regions, shown=shown)
        return [(r.view.state, r.view.division, r.may_reply) for r in found]

    assert seen(supervisor(GONGSHU)) == [("open", GONGSHU, True)]  # a supervisor of the office itself
    assert seen(supervisor(CITY)) == [("open", GONGSHU, False)]  # above it: reads, the office replies
    assert seen(supervisor(SHANGCHENG)) == []
    assert seen(Actor("admin@330100", Role.ADMIN, division=CITY)) == [("open", GONGSHU, True)]
    assert seen(supervisor(GONGSHU), Shown.DONE) == []
