"""The case store's rules that mutation testing found unexercised.

A cached workflow is used only at the state version it was saved at; a workflow with a
subprocess restores from the database (a cold restore needs the subprocess specs); a ready
task the manifest does not name still gets a row; and each task's audit line names its row.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import event, select

from engine.cases.states import OPEN_WORK_STATES, CaseStatus, WorkItemState
from engine.cases.store import OpenCase
from engine.service import Engine
from engine.storage.models import Case, CaseEvent, WorkItem
from engine.storage.spine import Event, emit
from engine.time.clock import ManualClock
from tests.support.engines import (
    APPLICANT,
    MINI_STARTUP_DECISIONS,
    MONDAY,
    TEST_BUNDLES,
    clerk,
    make_engine,
    start_mini_startup,
    work_all,
)

DECISIONS = MINI_STARTUP_DECISIONS

TWO_DESKS = {"company_name": "上海一件事科技有限公司", "legal_rep_name": "张三"}


def variant(tmp_path: Path, name: str, edit: dict[str, str]) -> Path:
    """A copy of the ``two-desks`` test bundle with its diagram's text replaced as ``edit`` says."""
    target = tmp_path / "bundles" / name
    shutil.copytree(TEST_BUNDLES / "two-desks", target)
    diagram = target / "process.bpmn"
    text = diagram.read_text(encoding="utf-8")
    for old, new in edit.items():
        assert old in text
        text = text.replace(old, new)
    diagram.write_text(text, encoding="utf-8")
    return target


# The review desk inside an embedded subprocess: the workflow then carries a subprocess.
IN_A_SUBPROCESS = {
    '<bpmn:userTask id="review" name="审核"/>': (
        '<bpmn:subProcess id="review_stage">'
        '<bpmn:startEvent id="stage_start"/>'
        '<bpmn:sequenceFlow id="s1" sourceRef="stage_start" targetRef="review"/>'
        '<bpmn:userTask id="review" name="审核"/>'
        '<bpmn:sequenceFlow id="s2" sourceRef="review" targetRef="stage_end"/>'
        '<bpmn:endEvent id="stage_end"/>'
        "</bpmn:subProcess>"
    ),
    'targetRef="review"/>\n': 'targetRef="review_stage"/>\n',
    'sourceRef="review" targetRef="tax_check"': 'sourceRef="review_stage" targetRef="tax_check"',
    "<bpmn:flowNodeRef>review</bpmn:flowNodeRef>": "<bpmn:flowNodeRef>review_stage</bpmn:flowNodeRef>",
}


@pytest.fixture
def engine(sqlite_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(sqlite_url, tmp_path)
    engine.deployments.deploy_dir(TEST_BUNDLES / "two-desks")
    yield engine
    engine.close()


def start(engine: Engine) -> int:
    return engine.start_case(APPLICANT, "two-desks", TWO_DESKS, {}).id


def rows_of(engine: Engine, case_id: int) -> list[WorkItem]:
    with engine.db.read() as s:
        return list(s.scalars(select(WorkItem).where(WorkItem.case_id == case_id).order_by(WorkItem.id)))


def events_of(engine: Engine, case_id: int, kind: str) -> list[CaseEvent]:
    with engine.db.read() as s:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
        return list(s.scalars(query.order_by(CaseEvent.id)))


def version_of(engine: Engine, case_id: int) -> int:
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case.state_version


def ready_names(engine: Engine, oc: OpenCase) -> list[str]:
    return [task.name for task in engine.runner.ready_tasks(oc.workflow)]


# --- the workflow cache ---------------------------------------------------------------------


def test_a_cached_workflow_of_another_state_version_is_not_used(engine: Engine) -> None:
    case_id, other_id = start(engine), start(engine)
    version = version_of(engine, case_id)
    # Another case's workflow, cached for this case at an older version: were it used, the
    # case would act on the wrong workflow.
    with engine.db.write() as s:
        other = engine.store.open(s, other_id)
        s.rollback()
    wrong = other.workflow
    engine.store.cache.put(case_id, version - 1, wrong, 1000)
    with engine.db.write() as s:
        oc = engine.store.open(s, case_id)
        assert oc.workflow is not wrong
        assert ready_names(engine, oc) == ["review"]
        s.rollback()
    # At the version the database holds, the cached workflow is the one handed out.
    engine.store.cache.put(case_id, version, wrong, 1000)
    with engine.db.write() as s:
        assert engine.store.open(s, case_id).workflow is wrong
        s.rollback()


def test_a_committed_action_keeps_the_workflow_at_the_new_version(engine: Engine) -> None:
    case_id = start(engine)
    version = version_of(engine, case_id)
    [review] = rows_of(engine, case_id)
    desk = clerk("market-regulation")
    engine.claim(desk, review.id)
    engine.complete(desk, review.id, "approve", {}, "同意")
    now = version_of(engine, case_id)
    assert now > version
    assert engine.store.cache.take(case_id, now) is not None  # remembered at the version it saved
    with engine.db.write() as s:
        oc = engine.store.open(s, case_id)
        assert engine.store.cache.take(case_id, now) is None  # open took it out
        engine.store.remember(oc)
        s.rollback()
    again = engine.store.cache.take(case_id, now)
    assert again is not None and again.workflow is oc.workflow


def test_a_save_writes_the_next_timer_and_the_time_of_the_action(sqlite_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = make_engine(sqlite_url, tmp_path, clock)
    try:
        engine.deployments.deploy_dir(TEST_BUNDLES / "timer-escalation")
        case_id = engine.start_case(
            APPLICANT, "timer-escalation", {"company_name": "上海一件事科技有限公司"}, {}
        ).id
        with engine.db.read() as s:
            case = s.get(Case, case_id)
            assert case is not None
            assert (case.next_timer_at, case.updated_at) == (MONDAY + timedelta(hours=2), MONDAY)
            assert case.created_at == MONDAY  # the engine's clock, not the database's default
        clock.advance(timedelta(hours=3))
        with engine.db.write() as s:
            oc = engine.store.open(s, case_id)
            assert oc.now == MONDAY + timedelta(hours=3)
            engine.store.save(oc)
        with engine.db.read() as s:
            case = s.get(Case, case_id)
            assert case is not None and case.updated_at == MONDAY + timedelta(hours=3)
    finally:
        engine.close()


def test_a_new_case_holds_what_it_was_created_with(engine: Engine) -> None:
    with engine.db.write() as s:
        row = engine.deployments.latest(s, "two-desks")
        workflow = engine.runner.start(engine.deployments.definition(row), TWO_DESKS)
        oc = engine.store.create(s, row, "applicant1", dict(TWO_DESKS), {"id_card": "m-1"}, workflow)
        case = oc.case
        assert (oc.deployment, oc.definition.key, oc.workflow, oc.now) == (row, "two-desks", workflow, MONDAY)
        assert (case.deployment_id, case.bundle_key, case.version) == (row.id, "two-desks", row.version)
        assert (case.applicant, case.status) == ("applicant1", CaseStatus.RUNNING)
        assert (case.data, case.materials) == (TWO_DESKS, {"id_card": "m-1"})
        assert (case.created_at, case.updated_at) == (MONDAY, MONDAY)
        assert case.id is not None  # flushed: events and rows can name it
        s.rollback()


def test_another_process_opens_the_case_from_the_database_alone(engine: Engine) -> None:
    case_id = start(engine)
    restarted = Engine(engine.settings, clock=ManualClock(MONDAY))  # no deployment or workflow cached
    try:
        with restarted.db.write() as s:
            oc = restarted.store.open(s, case_id)
            assert (oc.deployment.key, oc.definition.key) == ("two-desks", "two-desks")
            assert ready_names(restarted, oc) == ["review"]
            assert [row.item_key for row in oc.rows] == ["review"]
            s.rollback()
    finally:
        restarted.close()


@pytest.mark.postgres
def test_rows_read_before_the_lock_are_read_again_after_it(pg_url: str, tmp_path: Path) -> None:
    """A task action finds its row before locking the case; the rows the store hands on are fresh.

    On PostgreSQL (read committed) another transaction can change the row in between; SQLite
    lets no second writer in, so only PostgreSQL shows it.
    """
    engine = make_engine(pg_url, tmp_path)
    try:
        engine.deployments.deploy_dir(TEST_BUNDLES / "two-desks")
        case_id = start(engine)
        with engine.db.write() as s:
            [seen] = s.scalars(select(WorkItem).where(WorkItem.case_id == case_id))
            assert seen.state == WorkItemState.READY
            engine.claim(clerk("market-regulation"), seen.id)  # committed by another transaction
            oc = engine.store.open(s, case_id)
            assert [row.state for row in oc.live] == [WorkItemState.CLAIMED]
            assert [row.state for row in oc.rows] == [WorkItemState.CLAIMED]
            s.rollback()
    finally:
        engine.close()


def test_an_action_reads_the_live_rows_and_the_finished_ones_only_when_asked(engine: Engine) -> None:
    """Open rows and this round's returned ones come with the lock; a long history is read on demand."""
    case_id, review = reviewed(engine)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with engine.db.write() as s:
        event.listen(engine.db.engine, "before_cursor_execute", count)
        try:
            oc = engine.store.open(s, case_id)
            assert [row.item_key for row in oc.live] == ["tax-check"]  # the approved review is not read
            assert all("work_items" not in text or "state IN" in text for text in statements)
            read = len(statements)
            assert oc.row(review.id) is not None  # not live: read with every row of the case
            assert [row.item_key for row in oc.rows] == ["review", "tax-check"]
            assert len(statements) == read + 1 and oc.rows[1] is oc.live[0]  # once; the same objects
            new = WorkItem(case_id=case_id, item_key="late", state=WorkItemState.READY)
            oc.add_rows([new])
            assert oc.live[-1] is new and oc.rows[-1] is new
            oc.add_rows([new])  # read back after an autoflush wrote it: it joins once
            assert oc.rows.count(new) == 1
        finally:
            event.remove(engine.db.engine, "before_cursor_execute", count)
        s.rollback()


# --- cold restores of a workflow with a subprocess ------------------------------------------


def test_a_workflow_with_a_subprocess_restores_cold_and_runs_to_the_end(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(
        sqlite_url, tmp_path, workflow_cache_size=0
    )  # every action restores from the database
    try:
        engine.deployments.deploy_dir(variant(tmp_path, "two-desks", IN_A_SUBPROCESS))
        case_id = start(engine)
        assert [r.item_key for r in rows_of(engine, case_id)] == ["review"]
        with engine.db.write() as s:
            oc = engine.store.open(s, case_id)
            assert oc.workflow.subprocesses
            assert ready_names(engine, oc) == ["review"]
            s.rollback()
        assert work_all(engine, case_id) == ["review", "tax-check"]
        with engine.db.read() as s:
            case = s.get(Case, case_id)
            assert case is not None and case.status == CaseStatus.COMPLETED
    finally:
        engine.close()


# --- task rows ------------------------------------------------------------------------------


def reviewed(engine: Engine) -> tuple[int, WorkItem]:
    """A two-desks case whose review is approved (the tax desk's task is ready), and the review's row."""
    case_id = start(engine)
    [review] = rows_of(engine, case_id)
    desk = clerk("market-regulation")
    engine.claim(desk, review.id)
    engine.complete(desk, review.id, "approve", {}, "同意")
    return case_id, review


def test_a_task_row_takes_its_items_key_department_and_time_limit(engine: Engine) -> None:
    case_id, review = reviewed(engine)
    tax = rows_of(engine, case_id)[1]
    # The tax desk's item is "tax-check" while its BPMN task is "tax_check".
    assert (tax.item_key, tax.task_name, tax.department) == ("tax-check", "tax_check", "tax")
    assert (tax.state, tax.round, tax.bundle_key) == (WorkItemState.READY, 1, "two-desks")
    assert tax.due_at == engine.calendar.due_for(1, tax.created_at)
    assert review.due_at == engine.calendar.due_for(2, review.created_at)
    assert tax.case_id == case_id and tax.deployment_id == review.deployment_id


def test_a_ready_task_the_manifest_does_not_name_still_gets_a_row(engine: Engine) -> None:
    case_id = start(engine)
    with engine.db.write() as s:
        oc = engine.store.open(s, case_id)
        # A definition whose manifest names no item, and no rows yet: the ready review task is new.
        manifest = oc.definition.manifest.model_copy(update={"items": []})
        oc.definition = dataclasses.replace(oc.definition, manifest=manifest)
        oc.live = []
        engine.store.sync_work_items(oc)
        [row] = oc.created
        assert (row.item_key, row.task_name, row.department) == ("review", "review", "market-regulation")
        assert row.due_at == engine.calendar.due_for(1.0, oc.now)
        assert (row.state, row.round, row.case_id, row.bundle_key) == (
            WorkItemState.READY,
            1,
            case_id,
            "two-desks",
        )
        assert oc.live == [row] and oc.synced
        s.rollback()


def lane_less_workflow() -> BpmnWorkflow:
    """The two-desks diagram without its lanes, started (deploying refuses it; the store must not)."""
    text = (TEST_BUNDLES / "two-desks" / "process.bpmn").read_text(encoding="utf-8")
    text = (
        text[: text.index("<bpmn:laneSet")] + text[text.index("</bpmn:laneSet>") + len("</bpmn:laneSet>") :]
    )
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.fromstring(text.encode()), filename="process.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("two-desks"), parser.get_subprocess_specs("two-desks"))
    workflow.do_engine_steps()
    return workflow


def test_a_task_in_no_lane_goes_to_its_items_department_else_to_the_service_center(engine: Engine) -> None:
    case_id = start(engine)
    with engine.db.write() as s:
        oc = engine.store.open(s, case_id)
        oc.workflow, oc.live = lane_less_workflow(), []
        assert [task.lane for task in engine.runner.ready_tasks(oc.workflow)] == [None]
        engine.store.sync_work_items(oc)
        assert [row.department for row in oc.created] == ["market-regulation"]  # the item's
        manifest = oc.definition.manifest.model_copy(update={"items": []})
        oc.definition = dataclasses.replace(oc.definition, manifest=manifest)
        oc.created, oc.live = [], []
        engine.store.sync_work_items(oc)
        assert [row.department for row in oc.created] == ["service-center"]
        s.rollback()


def test_no_row_is_queued_for_a_case_that_is_not_running(engine: Engine) -> None:
    case_id = start(engine)
    with engine.db.write() as s:
        oc = engine.store.open(s, case_id)
        oc.live = []
        oc.case.status = CaseStatus.REJECTED
        engine.store.sync_work_items(oc)
        assert oc.created == []
        oc.case.status = CaseStatus.AWAITING_APPLICANT
        engine.store.sync_work_items(oc)
        assert [row.item_key for row in oc.created] == ["review"]
        s.rollback()


def mini_startup_registered(sqlite_url: str, tmp_path: Path) -> tuple[Engine, int]:
    """A mini-startup case whose registration is approved: tax and social insurance run in parallel."""
    engine = make_engine(sqlite_url, tmp_path)
    engine.deployments.deploy_dir(TEST_BUNDLES / "mini-startup")
    case_id = start_mini_startup(engine)
    [registration] = rows_of(engine, case_id)
    market = clerk("market-regulation")
    engine.claim(market, registration.id)
    engine.complete(market, registration.id, "approve", DECISIONS["business-registration"], "同意")
    return engine, case_id


def test_a_returned_task_waits_for_the_supplement_for_its_next_row(sqlite_url: str, tmp_path: Path) -> None:
    engine, case_id = mini_startup_registered(sqlite_url, tmp_path)
    try:
        tax, hr = clerk("tax"), clerk("human-resources-social-security")
        rows = {row.item_key: row for row in rows_of(engine, case_id)}
        engine.claim(tax, rows["tax-registration"].id)
        problem = {"field": "legal_rep_name", "message": "法定代表人姓名与身份证件不一致"}
        engine.complete(tax, rows["tax-registration"].id, "return", {}, "请核对", [problem])
        # Still ready in the workflow but returned this round: no new row; social insurance keeps its one.
        assert sorted(row.item_key for row in rows_of(engine, case_id)) == [
            "business-registration",
            "social-insurance",
            "tax-registration",
        ]
        engine.claim(hr, rows["social-insurance"].id)
        engine.complete(hr, rows["social-insurance"].id, "approve", DECISIONS["social-insurance"])
        assert len(rows_of(engine, case_id)) == 3  # the case awaits the applicant
        engine.supplement(APPLICANT, case_id, {"legal_rep_name": "张三丰"}, {})
        again = [
            (row.item_key, row.round) for row in rows_of(engine, case_id) if row.state == WorkItemState.READY
        ]
        assert again == [("tax-registration", 2)]
    finally:
        engine.close()


def test_a_new_task_gets_its_row_after_one_that_already_has_one(sqlite_url: str, tmp_path: Path) -> None:
    engine, case_id = mini_startup_registered(sqlite_url, tmp_path)
    try:
        with engine.db.write() as s:
            oc = engine.store.open(s, case_id)
            ready = engine.runner.ready_tasks(oc.workflow)
            assert len(ready) == 2
            # Forget the row of the later task only: the earlier one is skipped, the later one queued.
            oc.live = [row for row in oc.live if row.spiff_id != ready[-1].spiff_id]
            engine.store.sync_work_items(oc)
            assert [row.spiff_id for row in oc.created] == [ready[-1].spiff_id]
            s.rollback()
    finally:
        engine.close()


# --- audit lines ----------------------------------------------------------------------------


def test_each_task_created_line_names_its_row(engine: Engine) -> None:
    case_id = start(engine)
    [review] = rows_of(engine, case_id)
    [created] = events_of(engine, case_id, "task_created")
    assert (created.work_item_id, created.actor) == (review.id, "system")
    assert created.detail["item"] == "review" and created.detail["department"] == "market-regulation"
    assert set(created.detail) == {"item", "department", "due_at"} and created.detail["due_at"]
    assert created.at == review.created_at
    desk = clerk("market-regulation")
    engine.claim(desk, review.id)
    engine.complete(desk, review.id, "approve", {}, "同意")
    tax = rows_of(engine, case_id)[1]
    assert [e.work_item_id for e in events_of(engine, case_id, "task_created")] == [review.id, tax.id]


def test_a_withdrawn_case_cancels_its_open_rows_and_says_which(engine: Engine) -> None:
    case_id = start(engine)
    [review] = rows_of(engine, case_id)
    engine.withdraw(APPLICANT, case_id)
    [cancelled] = rows_of(engine, case_id)
    assert cancelled.state == WorkItemState.CANCELLED and cancelled.state not in OPEN_WORK_STATES
    assert cancelled.completed_at is not None
    [line] = events_of(engine, case_id, "task_cancelled")
    assert (line.work_item_id, line.actor, line.detail) == (review.id, "system", {"item": "review"})
    assert line.at == cancelled.completed_at


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Noted(Event):
    """An event kind with no detail of its own (the store writes any kind the spine hands it)."""

    KIND = "noted"


def test_an_event_without_detail_is_stored_with_an_empty_one(engine: Engine) -> None:
    case_id = start(engine)
    with engine.db.write() as s:
        oc = engine.store.open(s, case_id)
        emit(s, _Noted(case_id=case_id, at=oc.now, actor="someone"))
        engine.store.save(oc)
        # Saved means written: the line is in the table inside the transaction, not only at commit.
        written = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "noted"))
        assert [(e.actor, e.detail, e.work_item_id) for e in written] == [("someone", {}, None)]
        assert oc.created == []
    [line] = events_of(engine, case_id, "noted")
    assert (line.actor, line.detail, line.work_item_id) == ("someone", {}, None)
