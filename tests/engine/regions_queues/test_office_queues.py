"""Queues and visibility per office: a task belongs to its department at its division.

The two-desks bundle (market regulation reviews, tax checks) is applied for in two of
Hangzhou's districts, 上城区 (330102) and 拱墅区 (330105), where both departments have an
office (``Regions.add_office``), and once without a division (the default, 上海市 310000).
Hangzhou itself (330100) has no office: its supervisors and analysts read the districts below.
The tasks come from applying through the engine (routing), never from inserted rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from engine.cases.states import Outcome
from engine.cases.views import Label
from engine.errors import CaseNotFound, NotAllowed, WorkItemNotFound
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import WorkItem
from engine.time.clock import ManualClock
from engine.worker import Worker
from tests.support.engines import ANALYST, APPLICANT, MONDAY, TEST_BUNDLES, clerk, make_engine

PROCESSES = Path(__file__).resolve().parents[3] / "processes"
DATA = {"company_name": "上海一件事科技有限公司", "legal_rep_name": "张三"}
MARKET = "market-regulation"
SHANGCHENG, GONGSHU, HANGZHOU, DEFAULT = "330102", "330105", "330100", "310000"


def office_clerk(division: str | None, *, supervisor: bool = False, department: str = MARKET) -> Actor:
    """A clerk (or supervisor) of one department's office (``clerk.<department>@<division>``)."""
    role = "supervisor" if supervisor else "clerk"
    name = f"{role}.{department}" + (f"@{division}" if division else "")
    return Actor(name, Role.CLERK, frozenset({department}), supervisor=supervisor, division=division)


def staff(role: Role, division: str | None) -> Actor:
    """An analyst or admin scoped to a division's subtree (None: the whole platform)."""
    return Actor(f"{role.value}@{division}", role, division=division)


def regional_engine(db_url: str, tmp_path: Path, clock: ManualClock | None = None) -> Engine:
    """two-desks deployed, the shipped divisions loaded, both departments' offices in two districts."""
    engine = make_engine(db_url, tmp_path, clock)
    engine.regions.load_shipped(PROCESSES / "divisions")
    for division in (SHANGCHENG, GONGSHU):
        for department in (MARKET, "tax"):
            engine.regions.add_office(None, department, division)
    engine.deployments.deploy_dir(TEST_BUNDLES / "two-desks")
    return engine


@pytest.fixture
def engine(sqlite_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = regional_engine(sqlite_url, tmp_path)
    yield eng
    eng.close()


def apply_in(engine: Engine, division: str | None) -> int:
    """A two-desks case decided in ``division`` (None: the default division)."""
    return engine.start_case(APPLICANT, "two-desks", DATA, {}, division=division).id


def review_of(engine: Engine, case_id: int) -> int:
    """The id of the case's review task (market regulation's)."""
    (task,) = [t for t in engine.get_case(ANALYST, case_id).tasks if t.item == "review"]
    return task.id


def case_ids(page_items: tuple[object, ...]) -> set[int]:
    return {t.case_id for t in page_items}  # type: ignore[attr-defined]


def test_the_same_bundle_from_two_districts_lands_in_two_queues(db_url: str, tmp_path: Path) -> None:
    engine = regional_engine(db_url, tmp_path)  # on SQLite and on PostgreSQL
    try:
        shangcheng, gongshu, default = (apply_in(engine, d) for d in (SHANGCHENG, GONGSHU, None))
        queue = engine.list_tasks(office_clerk(SHANGCHENG))
        assert [(t.case_id, t.item, t.division) for t in queue.items] == [(shangcheng, "review", SHANGCHENG)]
        office = queue.items[0].office
        assert office == Label(
            engine.regions.office_name(MARKET, SHANGCHENG, "zh"),
            engine.regions.office_name(MARKET, SHANGCHENG, "en"),
        )
        assert office.zh == "浙江省杭州市上城区市场监督管理局"
        other = engine.list_tasks(office_clerk(GONGSHU))
        assert [(t.case_id, t.division) for t in other.items] == [(gongshu, GONGSHU)]
        # The old clerk.<department> (no division) works the default division's queue.
        assert [(t.case_id, t.division) for t in engine.list_tasks(clerk(MARKET)).items] == [
            (default, DEFAULT)
        ]
        assert engine.count_tasks(office_clerk(SHANGCHENG)) == (1, False)
        assert engine.count_tasks(office_clerk(HANGZHOU)) == (0, False)  # no office there, no tasks
        # A city supervisor's default queue: both districts below; Shanghai's is not theirs.
        city = office_clerk(HANGZHOU, supervisor=True)
        assert case_ids(engine.list_tasks(city).items) == {shangcheng, gongshu}
        assert engine.count_tasks(city) == (2, False)
    finally:
        engine.close()


def test_a_clerk_of_one_district_does_not_find_the_other_districts_task(engine: Engine) -> None:
    task = review_of(engine, apply_in(engine, GONGSHU))
    outsider = office_clerk(SHANGCHENG)
    with pytest.raises(WorkItemNotFound):
        engine.get_task(outsider, task)
    with pytest.raises(WorkItemNotFound):
        engine.claim(outsider, task)
    with pytest.raises(WorkItemNotFound):
        engine.complete(outsider, task, Outcome.APPROVE, {}, "同意")
    own = office_clerk(GONGSHU)
    engine.claim(own, task)
    with pytest.raises(WorkItemNotFound):
        engine.unclaim(outsider, task)
    with pytest.raises(WorkItemNotFound):
        engine.complete(outsider, task, Outcome.APPROVE, {}, "同意")
    with pytest.raises(WorkItemNotFound):  # the old default-division clerk is another office too
        engine.get_task(clerk(MARKET), task)
    done = engine.complete(own, task, Outcome.APPROVE, {}, "同意")
    assert (done.state, done.division) == ("completed", GONGSHU)
    # The tax check follows in the same district's tax office.
    (tax,) = engine.list_tasks(office_clerk(GONGSHU, department="tax")).items
    assert (tax.item, tax.division) == ("tax-check", GONGSHU)
    assert engine.list_tasks(office_clerk(SHANGCHENG, department="tax")).items == ()


def test_a_city_supervisor_sees_both_districts_overdue_tasks_a_district_supervisor_its_own(
    sqlite_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY)
    engine = regional_engine(sqlite_url, tmp_path, clock)
    try:
        shangcheng, gongshu, default = (apply_in(engine, d) for d in (SHANGCHENG, GONGSHU, None))
        worker = Worker(engine)
        worker.run_once()
        city = office_clerk(HANGZHOU, supervisor=True)
        assert engine.list_tasks(city, overdue=True).items == ()
        clock.set(MONDAY + timedelta(days=7))
        assert worker.run_once().sla.overdue == 3
        assert case_ids(engine.list_tasks(city, overdue=True).items) == {shangcheng, gongshu}
        assert engine.count_tasks(city, overdue=True) == (2, False)
        district = office_clerk(SHANGCHENG, supervisor=True)
        assert case_ids(engine.list_tasks(district, overdue=True).items) == {shangcheng}
        # The default division's supervisor (supervisor.<department>, no division): 上海市 only.
        assert case_ids(engine.list_tasks(office_clerk(None, supervisor=True), overdue=True).items) == {
            default
        }
        # division= narrows to one office below, and is empty outside the supervisor's reach.
        assert case_ids(engine.list_tasks(city, overdue=True, division=GONGSHU).items) == {gongshu}
        assert engine.list_tasks(district, division=GONGSHU).items == ()
        assert engine.list_tasks(city, division="310101").items == ()
        assert engine.count_tasks(district, division=GONGSHU) == (0, False)
        # A clerk asking for their own division (or a division above it) gets their queue.
        assert case_ids(engine.list_tasks(office_clerk(SHANGCHENG), division=HANGZHOU).items) == {shangcheng}
    finally:
        engine.close()


def test_a_supervisor_reads_but_does_not_work_a_lower_offices_task(engine: Engine) -> None:
    case_id = apply_in(engine, SHANGCHENG)
    task = review_of(engine, case_id)
    city = office_clerk(HANGZHOU, supervisor=True)
    detail = engine.get_task(city, task)
    assert (detail.task.id, detail.task.division) == (task, SHANGCHENG)
    assert engine.get_case(city, case_id).id == case_id
    with pytest.raises(NotAllowed):
        engine.claim(city, task)
    own = office_clerk(SHANGCHENG)
    engine.claim(own, task)
    with pytest.raises(NotAllowed):
        engine.unclaim(city, task)
    with pytest.raises(NotAllowed):
        engine.complete(city, task, Outcome.APPROVE, {}, "同意")
    engine.unclaim(own, task)
    # The district's own supervisor is a clerk of that office: they claim and decide it.
    district = office_clerk(SHANGCHENG, supervisor=True)
    engine.claim(district, task)
    assert engine.complete(district, task, Outcome.APPROVE, {}, "同意").state == "completed"


def test_a_scoped_analyst_and_admin_read_only_their_subtree(engine: Engine) -> None:
    shangcheng, gongshu, default = (apply_in(engine, d) for d in (SHANGCHENG, GONGSHU, None))
    for role in (Role.ANALYST, Role.ADMIN):
        scoped = staff(role, HANGZHOU)
        assert case_ids(engine.list_tasks(scoped).items) == {shangcheng, gongshu}
        assert case_ids(engine.list_tasks(scoped, division=SHANGCHENG).items) == {shangcheng}
        assert engine.list_tasks(scoped, division="310101").items == ()
        assert {c.id for c in engine.list_cases(scoped).items} == {shangcheng, gongshu}
        assert {c.id for c in engine.list_cases(scoped, division=GONGSHU).items} == {gongshu}
        assert engine.get_case(scoped, gongshu).data == DATA  # whole, as analysts read cases
        with pytest.raises(CaseNotFound):
            engine.get_case(scoped, default)
        with pytest.raises(WorkItemNotFound):
            engine.get_task(scoped, review_of(engine, default))
        assert engine.get_task(scoped, review_of(engine, shangcheng)).task.division == SHANGCHENG
    # Without a division: the whole platform; division= still narrows.
    assert {c.id for c in engine.list_cases(ANALYST).items} == {shangcheng, gongshu, default}
    assert {c.id for c in engine.list_cases(ANALYST, division="330000").items} == {shangcheng, gongshu}
    # A case without a division (from before regions) is the default division's.
    assert {c.id for c in engine.list_cases(ANALYST, division=DEFAULT).items} == {default}
    shown = engine.get_case(ANALYST, shangcheng)
    assert (shown.division, shown.division_name) == (
        SHANGCHENG,
        Label("浙江省杭州市上城区", shown.division_name.en),
    )
    assert "Shangcheng" in shown.division_name.en


def test_clerks_list_the_cases_of_their_office_only(engine: Engine) -> None:
    shangcheng, gongshu, default = (apply_in(engine, d) for d in (SHANGCHENG, GONGSHU, None))
    assert {c.id for c in engine.list_cases(office_clerk(SHANGCHENG)).items} == {shangcheng}
    assert {c.id for c in engine.list_cases(clerk(MARKET)).items} == {default}
    city = office_clerk(HANGZHOU, supervisor=True)
    assert {c.id for c in engine.list_cases(city).items} == {shangcheng, gongshu}
    assert {c.id for c in engine.list_cases(city, division=GONGSHU).items} == {gongshu}
    with pytest.raises(CaseNotFound):
        engine.get_case(office_clerk(SHANGCHENG), gongshu)


def test_the_receiving_office_follows_the_case_but_not_its_tasks(engine: Engine) -> None:
    from engine.people.accounts import AccountService

    AccountService(engine.db).create(APPLICANT.username, "a-long-passphrase", Role.APPLICANT)
    window = office_clerk(SHANGCHENG)  # 上城区's market-regulation window receives for 拱墅区
    case = engine.start_case(window, "two-desks", DATA, {}, applicant=APPLICANT.username, division=GONGSHU)
    assert (case.received_division, case.received_department, case.division) == (SHANGCHENG, MARKET, GONGSHU)
    assert case.received is not None and case.received.zh == "浙江省杭州市上城区市场监督管理局"
    task = review_of(engine, case.id)
    deciding = office_clerk(GONGSHU)
    engine.claim(deciding, task)
    engine.complete(deciding, task, Outcome.RETURN, {}, "请补正公司名称")

    followed = engine.get_case(window, case.id)
    assert followed.data is None
    (seen,) = [t for t in followed.tasks if t.id == task]
    assert (seen.state, seen.division, seen.comment) == ("completed", GONGSHU, "")  # progress, not detail
    assert engine.get_case(deciding, case.id).tasks[0].comment == "请补正公司名称"
    assert case.id in {c.id for c in engine.list_cases(window).items}
    with pytest.raises(WorkItemNotFound):
        engine.get_task(window, task)
    assert engine.list_tasks(window).items == ()
    # The window's tax colleagues did not receive it, nor did another district.
    with pytest.raises(CaseNotFound):
        engine.get_case(office_clerk(SHANGCHENG, department="tax"), case.id)
    with pytest.raises(CaseNotFound):
        engine.get_case(clerk(MARKET), case.id)


def test_the_one_office_queue_runs_on_the_office_index(engine: Engine) -> None:
    for division in (SHANGCHENG, GONGSHU, None):
        apply_in(engine, division)
    seen: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        if "FROM work_items" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(engine.db.engine, "before_cursor_execute", capture)
    try:
        for actor in (office_clerk(SHANGCHENG), office_clerk(HANGZHOU, supervisor=True)):
            seen.clear()
            assert len(engine.list_tasks(actor).items) == 1 + actor.supervisor
            ((statement, parameters),) = seen
            assert ("work_items.division = ?" in statement) is not actor.supervisor  # one division: equality
            with engine.db.read() as s:
                rows = s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                plan = " ".join(str(row[-1]) for row in rows)
            assert "ix_work_items_office" in plan, plan
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", capture)
    with engine.db.read() as s:
        stored = {w.division for w in s.scalars(select(WorkItem))}
    assert stored == {SHANGCHENG, GONGSHU, DEFAULT}
