"""The transactional outbox: every event of a case, in the change's transaction, with its deliveries.

The outbox holds exactly the case's audit trail (kinds, detail and order), each event with
its own uuid, the case code, bundle, department and item; a rolled-back change leaves no
row; each subscription gets the deliveries its filters take (kinds, bundle, department),
and a ``banjian`` subscription the 受理 and 办结 records. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.cases import events
from engine.cases.states import Outcome
from engine.integration.subscriptions import Webhooks
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import CaseEvent
from engine.storage.outbox_tables import OutboxEvent, WebhookDelivery
from engine.storage.settings import shipped_processes_dir
from engine.time.clock import ManualClock
from tests.support.engines import ANALYST, APPLICANT, MONDAY, clerk, make_engine, upload, work_all

STARTUP = "enterprise-startup"
ADMIN = Actor("admin", Role.ADMIN)
URL = "http://127.0.0.1:9/hook"  # nothing is sent in these tests


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(db_url, tmp_path, ManualClock(MONDAY))
    eng.deployments.deploy_dir(shipped_processes_dir() / STARTUP)
    yield eng
    eng.close()


def apply(engine: Engine) -> tuple[int, dict[str, Any]]:
    example = dict(engine.bundle_detail(STARTUP).examples[0])
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    return engine.start_case(APPLICANT, STARTUP, example["data"], materials).id, example


def outbox_rows(engine: Engine, case_id: int) -> list[OutboxEvent]:
    with engine.db.read() as s:
        return list(
            s.scalars(select(OutboxEvent).where(OutboxEvent.case_id == case_id).order_by(OutboxEvent.id))
        )


def deliveries(engine: Engine, subscription_id: int) -> list[tuple[WebhookDelivery, OutboxEvent]]:
    with engine.db.read() as s:
        rows = s.execute(
            select(WebhookDelivery, OutboxEvent)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_row_id)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(WebhookDelivery.id)
        ).all()
        return [(d, e) for d, e in rows]


def count(engine: Engine, model: type[Any]) -> int:
    with engine.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_the_outbox_holds_the_cases_trail_exactly_with_ids_codes_and_departments(engine: Engine) -> None:
    webhooks = Webhooks(engine.db, engine.clock)
    every = webhooks.create(ADMIN, URL).subscription
    tax = webhooks.create(ADMIN, URL, departments=["tax"]).subscription
    approvals = webhooks.create(ADMIN, URL, kinds=["approved", "completed"], bundles=[STARTUP]).subscription
    elsewhere = webhooks.create(ADMIN, URL, bundles=["newborn-birth"]).subscription
    report = webhooks.create(ADMIN, URL, format="banjian").subscription
    paused = webhooks.create(ADMIN, URL, active=False).subscription

    case_id, example = apply(engine)
    work_all(engine, case_id, example["decisions"])
    case = engine.get_case(ANALYST, case_id)
    assert case.status == "completed"

    rows = outbox_rows(engine, case_id)
    with engine.db.read() as s:
        audit = list(s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))
    assert [(r.kind, r.payload["detail"]) for r in rows] == [(a.kind, a.detail) for a in audit]
    assert len({r.event_id for r in rows}) == len(rows)
    assert all(uuid.UUID(r.event_id).version == 4 and r.payload["id"] == r.event_id for r in rows)
    assert {r.case_code for r in rows} == {case.code} and case.code
    assert {r.bundle for r in rows} == {STARTUP}
    approved = [r for r in rows if r.kind == "approved"]
    assert approved and all(r.department and r.item for r in approved)  # from the task row
    assert {r.item for r in approved} >= {"business-registration", "tax-registration"}

    assert [e.event_id for _d, e in deliveries(engine, every.id)] == [r.event_id for r in rows]
    taken_by_tax = [e for _d, e in deliveries(engine, tax.id)]
    assert {e.department for e in taken_by_tax} == {"tax", None}  # its tasks, and the case-wide events
    assert {"submitted", "completed"} <= {e.kind for e in taken_by_tax}
    assert all(e.department == "tax" for e in taken_by_tax if e.kind == "approved")
    assert {e.kind for _d, e in deliveries(engine, approvals.id)} == {"approved", "completed"}
    assert deliveries(engine, elsewhere.id) == []
    assert deliveries(engine, paused.id) == []

    records = [d.body for d, _e in deliveries(engine, report.id)]
    assert [r["record_type_name"] if r else None for r in records] == ["受理", "办结"]
    accept, finish = records
    assert accept is not None and finish is not None
    assert accept["case_code"] == finish["case_code"] == case.code
    assert accept["status_code"] == "1" and finish["status_code"] == "2" and finish["result"] == "1"
    assert accept["applicant_id_type"] == "111"  # the legal representative applies: no credit code yet
    assert accept["applicant_id_number"] == example["data"]["legal_rep_id"]
    assert finish["applicant_id_type"] == "001"  # registration gave the company its credit code
    assert finish["applicant_id_number"] == example["decisions"]["business-registration"]["uscc"]
    assert accept["received_at"] == finish["received_at"]
    assert finish["finished_at"] is not None and accept["finished_at"] is None
    assert accept["time_limit_due_at"] is not None
    assert {i["item_code"] for i in finish["items"]} >= {"business-registration", "tax-registration"}
    assert "tax" in finish["departments"]


def test_a_rolled_back_change_leaves_no_outbox_row_and_no_delivery(engine: Engine) -> None:
    webhooks = Webhooks(engine.db, engine.clock)
    subscription = webhooks.create(ADMIN, URL).subscription
    case_id, example = apply(engine)
    before_events, before_deliveries = count(engine, OutboxEvent), count(engine, WebhookDelivery)
    assert before_events == len(outbox_rows(engine, case_id)) > 0
    assert len(deliveries(engine, subscription.id)) == before_events

    def fail(_session: Session, _event: events.TaskApproved) -> None:
        raise RuntimeError("subscriber failed")

    engine.db.spine.subscribe("test.fail", fail, events.TaskApproved)
    task = next(t for t in engine.get_case(ANALYST, case_id).tasks if t.state == "ready")
    actor = clerk(task.department)
    engine.claim(actor, task.id)
    after_claim = count(engine, OutboxEvent)
    assert after_claim == before_events + 1  # the claim committed, with its event
    with pytest.raises(RuntimeError, match="subscriber failed"):
        engine.complete(actor, task.id, Outcome.APPROVE, example["decisions"].get(task.item, {}), "同意")
    assert count(engine, OutboxEvent) == after_claim
    assert count(engine, WebhookDelivery) == before_deliveries + 1
    assert [r.kind for r in outbox_rows(engine, case_id)][-1] == "claimed"


def test_a_claim_reads_its_case_once_and_its_outbox_row_names_the_case(engine: Engine) -> None:
    """The claim's own UPDATE returns the case's code, bundle and version; the outbox reads no case row."""
    case_id, _example = apply(engine)
    case = engine.get_case(ANALYST, case_id)
    task = next(t for t in case.tasks if t.state == "ready")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    sa_event.listen(engine.db.engine, "before_cursor_execute", seen)
    try:
        engine.claim(clerk(task.department), task.id)
    finally:
        sa_event.remove(engine.db.engine, "before_cursor_execute", seen)
    reading_cases = [text for text in statements if "FROM cases" in text]
    assert len(reading_cases) == 1 and reading_cases[0].startswith("UPDATE work_items")
    claimed = outbox_rows(engine, case_id)[-1]
    assert claimed.kind == "claimed"
    assert (claimed.case_code, claimed.bundle) == (case.code, STARTUP) and case.code
    assert claimed.payload["version"] == case.version and claimed.payload["task_id"] == task.id
    assert (claimed.department, claimed.item) == (task.department, task.item)


def test_two_databases_in_one_process_keep_their_bundles_apart(tmp_path: Path) -> None:
    """Deployment ids repeat across databases: the outbox's bundle cache is per database."""
    facts = []
    for bundle in (STARTUP, "newborn-birth"):
        folder = tmp_path / bundle
        eng = make_engine(f"sqlite:///{folder / 'onething.db'}", folder, ManualClock(MONDAY))
        try:
            eng.deployments.deploy_dir(shipped_processes_dir() / bundle)
            subscription = Webhooks(eng.db, eng.clock).create(ADMIN, URL, format="banjian").subscription
            example = dict(eng.bundle_detail(bundle).examples[0])
            materials = {kind: upload(eng, APPLICANT, kind) for kind in example["materials"]}
            eng.start_case(APPLICANT, bundle, example["data"], materials)
            (record, _event), *_ = deliveries(eng, subscription.id)
            facts.append((record.body or {}).get("bundle"))
        finally:
            eng.close()
    assert facts == [STARTUP, "newborn-birth"]
