"""External tasks on the engine, on SQLite and PostgreSQL: fetch and lock, complete, locks, retries,
incidents, BPMN errors, hand-over to clerks, visibility, time limits."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cases.external_views import TopicRequest
from engine.cases.states import CaseStatus, Outcome, WorkItemState
from engine.deadlines import supervision
from engine.deadlines.tracking import run_sweep
from engine.errors import (
    ExternalTaskLockLost,
    ExternalTaskNotFound,
    ExternalTaskNotLocked,
    InvalidInput,
    NotAllowed,
    TaskNotReady,
    WorkItemNotFound,
)
from engine.time.clock import ManualClock
from tests.engine.external.scenario import (
    ADMIN,
    DATA,
    MARKET_CLERK,
    MARKET_SUPERVISOR,
    SOCIAL,
    SOCIAL_SYSTEM,
    TAX_CLERK,
    TAX_SUPERVISOR,
    TAX_SYSTEM,
    TAX_TOPIC,
    fetch_tax,
    start_case,
    tax_engine,
)
from tests.support.engines import ANALYST, APPLICANT, MONDAY


def test_fetch_lock_complete_moves_the_case_with_the_department_view(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    case_id = start_case(engine)
    (task,) = fetch_tax(engine)
    assert (task.topic, task.department, task.item, task.priority) == (
        TAX_TOPIC,
        "tax",
        "tax-registration",
        5,
    )
    assert task.case_id == case_id and task.activity_id == "register_tax" and task.worker_id == "tax-worker-1"
    assert task.lock_expires_at == MONDAY + timedelta(seconds=60) and task.retries is None
    # The tax item's view of the case: its fields only (no address), its material with metadata.
    assert task.variables == {k: DATA[k] for k in ("company_name", "legal_rep_name", "legal_rep_id")}
    (material,) = task.materials
    assert material["kind"] == "articles_of_association" and material["mime"] == "application/pdf"
    assert set(material) == {"kind", "name", "id", "sha256", "size", "mime"} and material["size"] > 0
    # Fetched again while locked: nothing.
    assert fetch_tax(engine, worker="tax-worker-2") == []

    engine.complete_external(TAX_SYSTEM, task.id, "tax-worker-1", {"tax_violations": 0}, {"note": "ok"})
    (social,) = engine.fetch_and_lock(SOCIAL_SYSTEM, "hr-1", 5, [TopicRequest(SOCIAL, 1000)], False)
    assert social.topic == SOCIAL and social.variables == {
        "company_name": DATA["company_name"],
        "employee_count": 3,
    }
    engine.complete_external(SOCIAL_SYSTEM, social.id, "hr-1", {}, {})

    view = engine.get_case(APPLICANT, case_id)
    assert view.status == CaseStatus.COMPLETED
    approvals = [e for e in view.timeline if e.kind == "approved"]
    assert [e.actor for e in approvals] == [
        MARKET_CLERK.username,
        TAX_SYSTEM.username,
        SOCIAL_SYSTEM.username,
    ]
    rows = {t.item: t for t in view.tasks}
    assert rows["tax-registration"].state == WorkItemState.COMPLETED
    assert rows["tax-registration"].outcome == Outcome.APPROVE


def test_variables_are_limited_to_the_names_asked_for(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    start_case(engine)
    (task,) = fetch_tax(engine, variables=["company_name", "address"])
    assert task.variables == {"company_name": DATA["company_name"]}  # address is not the tax item's
    engine.unlock(TAX_SYSTEM, task.id)
    (again,) = fetch_tax(engine, variables=[])
    assert again.variables == {}


def test_a_system_decision_is_checked_like_a_clerks(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    start_case(engine)
    (task,) = fetch_tax(engine)
    with pytest.raises(InvalidInput):
        engine.complete_external(TAX_SYSTEM, task.id, "tax-worker-1", {}, {})  # tax_violations is required
    with pytest.raises(InvalidInput):
        engine.complete_external(TAX_SYSTEM, task.id, "tax-worker-1", {"tax_violations": -3}, {})
    assert engine.external_task(TAX_SYSTEM, task.id).state == WorkItemState.READY


def test_only_the_departments_system_account_fetches_its_topics(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    case_id = start_case(engine)
    # The social system asking for the tax topic gets nothing; a clerk or an admin may not fetch.
    assert engine.fetch_and_lock(SOCIAL_SYSTEM, "w", 5, [TopicRequest(TAX_TOPIC, 1000)], False) == []
    for actor in (TAX_CLERK, ADMIN, APPLICANT):
        with pytest.raises(NotAllowed):
            engine.fetch_and_lock(actor, "w", 5, [TopicRequest(TAX_TOPIC, 1000)], False)
    (task,) = fetch_tax(engine)
    with pytest.raises(ExternalTaskNotFound):
        engine.complete_external(SOCIAL_SYSTEM, task.id, "tax-worker-1", {"tax_violations": 0}, {})
    with pytest.raises(ExternalTaskNotFound):
        engine.external_task(SOCIAL_SYSTEM, task.id)
    # A system account reads no case and no human task.
    human = next(t for t in engine.get_case(ANALYST, case_id).tasks if t.kind == "human")
    with pytest.raises(WorkItemNotFound):
        engine.get_task(TAX_SYSTEM, human.id)


def test_clerks_neither_queue_nor_claim_a_systems_task(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    start_case(engine)
    (task,) = fetch_tax(engine)
    assert engine.list_tasks(TAX_CLERK).items == ()
    assert engine.list_tasks(ADMIN, department="tax").items == ()
    assert engine.count_tasks(TAX_CLERK) == (0, False)
    with pytest.raises(TaskNotReady):
        engine.claim(TAX_CLERK, task.id)
    # A clerk of the department may still read it (its case reached them).
    assert engine.get_task(TAX_CLERK, task.id).task.item == "tax-registration"


def test_material_route_view_serves_the_system_its_items_materials(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    start_case(engine)
    (task,) = fetch_tax(engine)
    detail = engine.get_task(TAX_SYSTEM, task.id)  # what GET /api/tasks/{id}/materials/{kind} reads
    assert set(detail.materials) == {"articles_of_association"}
    assert detail.materials["articles_of_association"] == task.materials[0]["id"]


def test_priority_orders_the_fetch_and_max_tasks_caps_it(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    first, second = start_case(engine), start_case(engine)
    (one,) = fetch_tax(engine, max_tasks=1)
    assert one.case_id == first  # equal priority: the older first
    (two,) = fetch_tax(engine, worker="w2")
    assert two.case_id == second
    assert fetch_tax(engine, worker="w3") == []


def test_an_expired_lock_is_taken_over_and_the_first_worker_loses_it(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = tax_engine(db_url, tmp_path, clock)
    case_id = start_case(engine)
    (task,) = fetch_tax(engine, worker="A", lock_ms=1000)
    clock.advance(timedelta(seconds=2))
    (taken,) = fetch_tax(engine, worker="B", lock_ms=60_000)
    assert taken.id == task.id and taken.worker_id == "B"
    with pytest.raises(ExternalTaskLockLost, match="It is locked by worker 'B'"):
        engine.complete_external(TAX_SYSTEM, task.id, "A", {"tax_violations": 0}, {})
    engine.complete_external(TAX_SYSTEM, task.id, "B", {"tax_violations": 0}, {})
    engine.complete_external(TAX_SYSTEM, task.id, "B", {"tax_violations": 0}, {})  # twice: harmless
    with pytest.raises(ExternalTaskNotFound):
        engine.complete_external(TAX_SYSTEM, task.id, "A", {"tax_violations": 0}, {})
    approvals = [e for e in engine.get_case(ANALYST, case_id).timeline if e.kind == "approved"]
    assert len(approvals) == 2  # the market clerk's and B's, once


def test_an_expired_lock_nobody_took_still_completes(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = tax_engine(db_url, tmp_path, clock)
    start_case(engine)
    (task,) = fetch_tax(engine, worker="A", lock_ms=1000)
    clock.advance(timedelta(minutes=5))
    engine.complete_external(TAX_SYSTEM, task.id, "A", {"tax_violations": 0}, {})  # as Camunda allows
    with pytest.raises(ExternalTaskNotFound):
        engine.external_task(TAX_SYSTEM, task.id)


def test_extend_lock_and_unlock(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = tax_engine(db_url, tmp_path, clock)
    start_case(engine)
    (task,) = fetch_tax(engine, worker="A", lock_ms=1000)
    with pytest.raises(ExternalTaskLockLost):
        engine.extend_lock(TAX_SYSTEM, task.id, "B", 5000)
    engine.extend_lock(TAX_SYSTEM, task.id, "A", 5000)
    assert engine.external_task(TAX_SYSTEM, task.id).lock_expires_at == MONDAY + timedelta(seconds=5)
    clock.advance(timedelta(seconds=6))
    with pytest.raises(ExternalTaskNotLocked, match="Cannot extend a lock that expired"):
        engine.extend_lock(TAX_SYSTEM, task.id, "A", 5000)
    (again,) = fetch_tax(engine, worker="A", lock_ms=60_000)
    engine.unlock(TAX_SYSTEM, again.id)
    view = engine.external_task(ADMIN, again.id)
    assert view.worker_id is None and view.lock_expires_at is None
    (other,) = fetch_tax(engine, worker="B")
    assert other.id == task.id
    with pytest.raises(NotAllowed):
        engine.unlock(TAX_CLERK, task.id)


def test_failures_count_retries_down_to_an_incident_that_retries_resolve(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = tax_engine(db_url, tmp_path, clock)
    case_id = start_case(engine)
    (task,) = fetch_tax(engine, worker="A")
    engine.fail_external(TAX_SYSTEM, task.id, "A", "税务系统超时 timeout", "stack trace", 1, 10_000)
    failed = engine.external_task(TAX_SYSTEM, task.id)
    assert (failed.retries, failed.error_message, failed.error_details) == (
        1,
        "税务系统超时 timeout",
        "stack trace",
    )
    assert failed.state == WorkItemState.READY and failed.worker_id == "A"
    assert fetch_tax(engine, worker="A") == []  # held back for the retry timeout
    clock.advance(timedelta(seconds=11))
    (retry,) = fetch_tax(engine, worker="A")
    with pytest.raises(ExternalTaskLockLost):
        engine.fail_external(TAX_SYSTEM, task.id, "B", "x", None, 0, 0)
    engine.fail_external(TAX_SYSTEM, retry.id, "A", "税务系统超时 timeout", None, 0, 0)

    incident = engine.external_task(ADMIN, task.id)
    assert incident.state == WorkItemState.FAILED and incident.retries == 0
    clock.advance(timedelta(seconds=1))
    assert fetch_tax(engine, worker="A") == []  # an incident is not fetched
    assert [i.id for i in engine.incidents(TAX_SUPERVISOR)] == [task.id]
    assert [i.id for i in engine.incidents(ADMIN)] == [task.id]
    assert engine.incidents(MARKET_SUPERVISOR) == []
    with pytest.raises(NotAllowed):
        engine.incidents(TAX_CLERK)
    entries = [
        e
        for e in supervision.queue_for(engine.db, TAX_SUPERVISOR, regions=engine.regions)
        if e.subject == "incident"
    ]
    assert [(e.subject_id, e.state, e.detail["error_message"]) for e in entries] == [
        (task.id, "open", "税务系统超时 timeout")
    ]
    # The applicant's timeline says a failure happened, never what the system said.
    timeline = engine.get_case(APPLICANT, case_id).timeline
    assert [e.kind for e in timeline if e.kind in ("external_task_failed", "incident_raised")] == [
        "external_task_failed",
        "external_task_failed",
        "incident_raised",
    ]
    assert all("timeout" not in str(e.detail) and "stack" not in str(e.detail) for e in timeline)

    with pytest.raises(NotAllowed):
        engine.set_retries(TAX_SUPERVISOR, task.id, 2)  # the system account or an admin
    engine.set_retries(ADMIN, task.id, 2)
    assert engine.external_task(TAX_SYSTEM, task.id).state == WorkItemState.READY
    assert not [
        e
        for e in supervision.queue_for(engine.db, TAX_SUPERVISOR, regions=engine.regions)
        if e.subject == "incident"
    ]
    (back,) = fetch_tax(engine, worker="C")
    engine.complete_external(TAX_SYSTEM, back.id, "C", {"tax_violations": 0}, {})
    resolved = [e for e in engine.get_case(ANALYST, case_id).timeline if e.kind == "incident_resolved"]
    assert [e.detail["how"] for e in resolved] == ["retries"]


def test_an_incident_handed_to_a_clerk_is_finished_by_the_clerk(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    case_id = start_case(engine)
    (task,) = fetch_tax(engine, worker="A")
    engine.fail_external(TAX_SYSTEM, task.id, "A", "down", None, 0, 0)
    with pytest.raises(ExternalTaskNotFound):
        engine.hand_to_clerk(MARKET_SUPERVISOR, task.id, "税务系统故障")  # not their department
    with pytest.raises(InvalidInput):
        engine.hand_to_clerk(TAX_SUPERVISOR, task.id, " ")
    handed = engine.hand_to_clerk(TAX_SUPERVISOR, task.id, "税务系统故障，转人工")
    assert (handed.kind, handed.state) == ("human", WorkItemState.READY)
    assert [t.id for t in engine.list_tasks(TAX_CLERK).items] == [task.id]
    assert engine.incidents(TAX_SUPERVISOR) == []
    with pytest.raises(ExternalTaskNotFound):
        engine.complete_external(TAX_SYSTEM, task.id, "A", {"tax_violations": 0}, {})
    assert fetch_tax(engine, worker="A") == []

    engine.claim(TAX_CLERK, task.id)
    engine.complete(TAX_CLERK, task.id, Outcome.APPROVE, {"tax_violations": 0}, "人工办结")
    (social,) = engine.fetch_and_lock(SOCIAL_SYSTEM, "hr", 1, [TopicRequest(SOCIAL, 1000)], False)
    engine.complete_external(SOCIAL_SYSTEM, social.id, "hr", {}, {})
    view = engine.get_case(ANALYST, case_id)
    assert view.status == CaseStatus.COMPLETED
    kinds = [e.kind for e in view.timeline]
    assert "handed_to_clerk" in kinds
    how = [e.detail["how"] for e in view.timeline if e.kind == "incident_resolved"]
    assert how == ["handed_to_clerk"]
    assert not [
        e for e in supervision.queue_for(engine.db, ADMIN, regions=engine.regions) if e.subject == "incident"
    ]


def test_a_bpmn_error_takes_the_boundary_route(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    case_id = start_case(engine)
    (task,) = fetch_tax(engine, worker="A")
    with pytest.raises(ExternalTaskLockLost):
        engine.bpmn_error_external(TAX_SYSTEM, task.id, "B", "TAX_REFUSED", "欠税", {})
    engine.bpmn_error_external(TAX_SYSTEM, task.id, "A", "TAX_REFUSED", "欠税", {"tax_debt": 100})
    view = engine.get_case(ANALYST, case_id)
    rows = {t.item: t for t in view.tasks}
    assert rows["tax-registration"].state == WorkItemState.CANCELLED
    assert rows["refusal-review"].state == WorkItemState.READY and rows["refusal-review"].kind == "human"
    (thrown,) = [e for e in view.timeline if e.kind == "bpmn_error"]
    assert thrown.detail == {"item": "tax-registration", "error_code": "TAX_REFUSED", "caught": True}
    with pytest.raises(ExternalTaskNotFound):
        engine.complete_external(TAX_SYSTEM, task.id, "A", {"tax_violations": 0}, {})


def test_an_uncaught_bpmn_error_makes_an_incident(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    case_id = start_case(engine)
    (task,) = fetch_tax(engine, worker="A")
    engine.bpmn_error_external(TAX_SYSTEM, task.id, "A", "UNKNOWN_CODE", "没有这种错误", {})
    incident = engine.external_task(ADMIN, task.id)
    assert incident.state == WorkItemState.FAILED and incident.retries == 0
    assert incident.error_message == "BPMN error UNKNOWN_CODE not caught"
    view = engine.get_case(ANALYST, case_id)
    assert view.status == CaseStatus.RUNNING
    assert [e.detail["caught"] for e in view.timeline if e.kind == "bpmn_error"] == [False]


def test_listing_and_reading_external_tasks(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = tax_engine(db_url, tmp_path, clock)
    first, second = start_case(engine), start_case(engine)
    (locked,) = fetch_tax(engine, worker="A", max_tasks=1)
    everything = engine.external_tasks(ADMIN)
    assert len(everything) == 4 and all(t.variables == {} for t in everything)
    assert [t.case_id for t in engine.external_tasks(TAX_SYSTEM)] == [first, second]
    assert [t.id for t in engine.external_tasks(TAX_SYSTEM, locked=True)] == [locked.id]
    assert [t.case_id for t in engine.external_tasks(TAX_SYSTEM, not_locked=True)] == [second]
    assert [t.id for t in engine.external_tasks(TAX_SYSTEM, worker_id="A")] == [locked.id]
    assert len(engine.external_tasks(ADMIN, topic=SOCIAL)) == 2
    assert [t.case_id for t in engine.external_tasks(ADMIN, process_instance_id=second, topic=TAX_TOPIC)] == [
        second
    ]
    code = engine.get_case(ANALYST, second).code
    assert code and [t.case_id for t in engine.external_tasks(TAX_SYSTEM, business_key=code)] == [second]
    assert len(engine.external_tasks(ADMIN, first=1, max_results=2)) == 2
    assert engine.external_tasks(ADMIN, no_retries_left=True) == []
    assert len(engine.external_tasks(ADMIN, with_retries_left=True)) == 4
    with pytest.raises(NotAllowed):
        engine.external_tasks(TAX_CLERK)
    assert engine.external_task(TAX_SUPERVISOR, locked.id).case_code is not None


def test_an_overdue_external_task_is_marked_and_escalated(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = tax_engine(db_url, tmp_path, clock)
    case_id = start_case(engine)
    (task,) = fetch_tax(engine)
    assert task.due_at is not None
    clock.advance(timedelta(days=7))
    run_sweep(engine.db, clock, engine.calendar)
    assert engine.external_task(ADMIN, task.id).overdue
    kinds = [e.kind for e in engine.get_case(ANALYST, case_id).timeline if e.work_item_id == task.id]
    assert "overdue" in kinds and "escalated" in kinds
    entries = supervision.queue_for(engine.db, TAX_SUPERVISOR, regions=engine.regions)
    assert [(e.subject, e.subject_id) for e in entries] == [("work_item", task.id)]


def test_the_signal_wakes_a_waiting_fetch_after_the_commit(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    woke = threading.Event()
    ready = threading.Event()

    def wait() -> None:
        with engine.external_signal:
            ready.set()
            if engine.external_signal.wait(timeout=10):
                woke.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    ready.wait(5)
    start_case(engine)  # the approval commits and creates the two external tasks
    waiter.join(10)
    assert woke.is_set()
    assert fetch_tax(engine)  # what woke it is there to fetch


def test_invalid_requests_are_refused(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    start_case(engine)
    with pytest.raises(InvalidInput):
        engine.fetch_and_lock(TAX_SYSTEM, "w", 1, [TopicRequest(TAX_TOPIC, 0)], False)
    with pytest.raises(InvalidInput):
        engine.fetch_and_lock(TAX_SYSTEM, "", 1, [TopicRequest(TAX_TOPIC, 10)], False)
    assert engine.fetch_and_lock(TAX_SYSTEM, "w", 0, [TopicRequest(TAX_TOPIC, 10)], False) == []
    (task,) = fetch_tax(engine, worker="w")
    with pytest.raises(InvalidInput):
        engine.fail_external(TAX_SYSTEM, task.id, "w", "x", None, -1, 0)
    with pytest.raises(InvalidInput):
        engine.set_retries(ADMIN, task.id, -1)
    with pytest.raises(ExternalTaskNotFound):
        engine.external_task(ADMIN, 999_999)
