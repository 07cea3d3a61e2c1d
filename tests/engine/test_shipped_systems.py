"""The shipped bundles that departments' own systems take part in, run through the real engine.

``enterprise-startup``: the tax registration is the tax system's external task (topic ``tax``),
fetched and completed by ``system.tax``; no tax clerk can claim it. ``newborn-birth``: the
hospital's system issues the 出生医学证明 by a message correlated by the case's code; the
item's task row completes as an approval and the certificate is issued. ``onething demo``
runs both with its in-process department-system worker.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.cases.external_views import TopicRequest
from engine.demo import DEMO_START, SYSTEM_LOCK_MS, demo_report, system_actor, write_report
from engine.errors import EngineError, MessageNotCorrelated
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import Case, WorkItem
from engine.storage.settings import Settings
from engine.time.clock import ManualClock
from tests.support.engines import ANALYST, clerk, make_engine, upload, work_all

PROCESSES = Settings().processes_dir
STARTUP = "enterprise-startup"
NEWBORN = "newborn-birth"
WORKER = "tax-system-1"
APPLICANT = Actor("applicant1", Role.APPLICANT)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(DEMO_START)


@pytest.fixture
def engine(db_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Engine]:
    eng = make_engine(db_url, tmp_path, clock)
    for key in (STARTUP, NEWBORN):
        eng.deployments.deploy_dir(PROCESSES / key)
    yield eng
    eng.close()


def example(engine: Engine, key: str, index: int = 0) -> dict[str, Any]:
    """One of the bundle's shipped examples."""
    found: dict[str, Any] = engine.bundle_detail(key).examples[index]
    return found


def apply(engine: Engine, key: str, index: int = 0) -> int:
    """Apply with the bundle's example as APPLICANT; the case id."""
    ex = example(engine, key, index)
    materials = {kind: upload(engine, APPLICANT, kind) for kind in ex["materials"]}
    return engine.start_case(APPLICANT, key, ex["data"], materials).id


def rows(engine: Engine, case_id: int, item: str) -> list[WorkItem]:
    """The case's task rows of one item, oldest first."""
    with engine.db.read() as session:
        return list(
            session.scalars(
                select(WorkItem)
                .where(WorkItem.case_id == case_id, WorkItem.item_key == item)
                .order_by(WorkItem.id)
            )
        )


def case_code(engine: Engine, case_id: int) -> str:
    """The case's 办件编码 (the business key of messages)."""
    with engine.db.read() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.code
        return case.code


def approve_registration(engine: Engine, case_id: int) -> None:
    """The market-regulation clerk approves the business registration (the licence comes first)."""
    market = clerk("market-regulation")
    [task] = [t for t in engine.get_case(ANALYST, case_id).tasks if t.item == "business-registration"]
    engine.claim(market, task.id)
    decision = example(engine, STARTUP)["decisions"]["business-registration"]
    engine.complete(market, task.id, "approve", decision, "同意")


def test_the_tax_registration_is_an_external_task_of_the_tax_system(engine: Engine) -> None:
    case_id = apply(engine, STARTUP)
    assert rows(engine, case_id, "tax-registration") == [], "the tax step waits for the licence"
    approve_registration(engine, case_id)
    [row] = rows(engine, case_id, "tax-registration")
    assert (row.kind, row.topic, row.department, row.state) == ("external", "tax", "tax", "ready")

    tax_clerk = clerk("tax")
    assert "tax-registration" not in [t.item for t in engine.list_tasks(tax_clerk).items]
    with pytest.raises(EngineError):
        engine.claim(tax_clerk, row.id)

    system = system_actor("tax")
    [task] = engine.fetch_and_lock(system, WORKER, 5, [TopicRequest("tax", SYSTEM_LOCK_MS, None)], False)
    assert (task.case_id, task.item, task.topic, task.worker_id) == (
        case_id,
        "tax-registration",
        "tax",
        WORKER,
    )
    assert task.variables["company_name"] == example(engine, STARTUP)["data"]["company_name"]
    decision = example(engine, STARTUP)["decisions"]["tax-registration"]
    engine.complete_external(system, task.id, WORKER, decision, {})

    [done] = rows(engine, case_id, "tax-registration")
    assert (done.state, done.outcome, done.decision) == ("completed", "approve", decision)
    approved = [e for e in engine.get_case(ANALYST, case_id).timeline if e.kind == "approved"]
    assert ("system.tax", "tax-registration") in [(e.actor, e.detail.get("item")) for e in approved]
    # Invoices are asked for: the gateway after the tax step opened the tax clerk's own task.
    assert [t.item for t in engine.list_tasks(tax_clerk).items] == ["invoice-issue"]
    work_all(engine, case_id, example(engine, STARTUP)["decisions"])
    assert engine.get_case(APPLICANT, case_id).status == "completed"


def test_the_birth_certificate_waits_for_the_hospital_system_message(engine: Engine) -> None:
    case_id = apply(engine, NEWBORN)
    [row] = rows(engine, case_id, "birth-certificate")
    assert (row.kind, row.topic, row.department, row.state) == (
        "message",
        "birth_certificate_issued",
        "health",
        "ready",
    )
    assert row.due_at is not None and row.due_at > row.created_at
    assert row.due_at == engine.calendar.due_for(1, row.created_at), "the item's one working day"

    health = clerk("health")
    assert list(engine.list_tasks(health).items) == []
    with pytest.raises(EngineError):
        engine.claim(health, row.id)
    mine = engine.get_case(APPLICANT, case_id)
    assert [(t.item, t.department, t.state) for t in mine.tasks] == [("birth-certificate", "health", "ready")]
    assert mine.tasks[0].by_system, "the applicant sees the hospital's system at work (部门系统处理中)"
    assert mine.status == "running"


def test_the_hospital_message_correlates_by_the_case_code_and_issues_the_certificate(
    engine: Engine, clock: ManualClock
) -> None:
    case_id = apply(engine, NEWBORN)
    hospital = system_actor("health")
    number = example(engine, NEWBORN)["decisions"]["birth-certificate"]["birth_certificate_no"]
    with pytest.raises(MessageNotCorrelated):
        engine.correlate_message(
            hospital, "birth_certificate_issued", business_key="no-such-case", process_variables={}
        )
    assert rows(engine, case_id, "birth-certificate")[0].state == "ready"

    clock.advance(timedelta(hours=2))
    engine.correlate_message(
        hospital,
        "birth_certificate_issued",
        business_key=case_code(engine, case_id),
        process_variables={"birth_certificate_no": number, "unasked": "dropped"},
    )
    [done] = rows(engine, case_id, "birth-certificate")
    assert (done.state, done.outcome, done.decision) == (
        "completed",
        "approve",
        {"birth_certificate_no": number},
    )
    view = engine.get_case(APPLICANT, case_id)
    assert "birth_certificate" in view.outputs
    kinds = [(e.kind, e.actor) for e in view.timeline]
    assert ("approved", "system.health") in kinds
    assert "certificate_issued" in [kind for kind, _ in kinds]
    assert {t.item for t in view.tasks if t.state == "ready"} >= {
        "vaccination-record",
        "household-registration",
    }

    work_all(engine, case_id, example(engine, NEWBORN)["decisions"])
    assert engine.get_case(APPLICANT, case_id).status == "completed"


@pytest.mark.parametrize("key", [STARTUP, NEWBORN])
def test_the_demo_runs_the_department_systems(engine: Engine, clock: ManualClock, key: str) -> None:
    [entry] = demo_report(engine, clock, key)
    assert entry["examples"] and all(e["ok"] for e in entry["examples"])
    system_item = {
        STARTUP: ("tax-registration", "system.tax"),
        NEWBORN: ("birth-certificate", "system.health"),
    }[key]
    for ex in entry["examples"]:
        by_system = [(s["item"], s["clerk"]) for s in ex["steps"] if s["by"] == "system"]
        assert by_system == [system_item]
    out = io.StringIO()
    write_report([entry], False, out)
    assert f"{system_item[1]} 系统办结" in out.getvalue()
