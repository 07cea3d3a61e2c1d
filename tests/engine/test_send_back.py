"""Sending a case back to an earlier department step (退回到指定环节), and a supervisor's move.

In ``enterprise-startup``, tax (the invoice clerk) sends a case back to market registration:
registration decides again with its earlier decision shown, every step after it runs again
(registration precedes the parallel split), the case completes when worked, and the trail
and analytics count a return between departments. A supervisor's move back to the tax
system's step redoes only the tax branch: the other parallel branches keep their tasks, and
the join still fires. Refusals, and a send-back racing a decision on the same task.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.analytics import queries
from engine.cases.states import Outcome
from engine.demo import DEMO_START, department_systems_work
from engine.errors import (
    CaseNotWaiting,
    EngineError,
    InvalidInput,
    NotAllowed,
    TaskNotReady,
    WorkItemNotFound,
)
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import CaseEvent, WorkItem
from engine.storage.settings import Settings
from engine.time.clock import ManualClock
from tests.support.engines import ANALYST, APPLICANT, clerk, make_engine, upload, work_all

STARTUP = "enterprise-startup"
TAX = clerk("tax")
TAX2 = clerk("tax", "clerk2.tax")
MARKET = clerk("market-regulation")
TAX_SUPERVISOR = Actor("supervisor.tax", Role.CLERK, frozenset({"tax"}), supervisor=True)
ADMIN = Actor("admin", Role.ADMIN)


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(db_url, tmp_path, ManualClock(DEMO_START))
    eng.deployments.deploy_dir(Settings().processes_dir / STARTUP)
    yield eng
    eng.close()


def decisions(engine: Engine) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = engine.bundle_detail(STARTUP).examples[0]["decisions"]
    return found


def apply(engine: Engine) -> int:
    ex = engine.bundle_detail(STARTUP).examples[0]
    materials = {kind: upload(engine, APPLICANT, kind) for kind in ex["materials"]}
    return engine.start_case(APPLICANT, STARTUP, ex["data"], materials).id


def rows(engine: Engine, case_id: int, item: str | None = None) -> list[WorkItem]:
    with engine.db.read() as s:
        query = select(WorkItem).where(WorkItem.case_id == case_id).order_by(WorkItem.id)
        if item is not None:
            query = query.where(WorkItem.item_key == item)
        return list(s.scalars(query))


def open_row(engine: Engine, case_id: int, item: str) -> WorkItem:
    return next(r for r in rows(engine, case_id, item) if r.state in ("ready", "claimed"))


def decide(engine: Engine, actor: Actor, task_id: int, data: dict[str, Any]) -> None:
    engine.claim(actor, task_id)
    engine.complete(actor, task_id, Outcome.APPROVE, data, "同意")


def at_invoice(engine: Engine) -> tuple[int, int]:
    """A case past registration and tax registration, its seal done, its invoice task claimed by tax."""
    case_id = apply(engine)
    d = decisions(engine)
    decide(engine, MARKET, open_row(engine, case_id, "business-registration").id, d["business-registration"])
    department_systems_work(engine, case_id, d)  # the tax system's registration
    decide(engine, clerk("public-security"), open_row(engine, case_id, "seal-engraving").id, {})
    invoice = open_row(engine, case_id, "invoice-issue").id
    engine.claim(TAX, invoice)
    return case_id, invoice


def events(engine: Engine, case_id: int) -> list[CaseEvent]:
    with engine.db.read() as s:
        return list(s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


def test_tax_sends_a_case_back_to_registration_which_decides_again_and_the_case_completes(
    engine: Engine,
) -> None:
    case_id, invoice = at_invoice(engine)
    first_registration = rows(engine, case_id, "business-registration")[0]
    bank = open_row(engine, case_id, "bank-account-opening")
    engine.claim(clerk("bank"), bank.id)  # held on a parallel branch when the case goes back

    targets = engine.send_back_targets(TAX, invoice)
    # Only the completed user task on the path: tax registration is the tax system's step.
    assert [(t.item, t.department, t.element_id) for t in targets] == [
        ("business-registration", "market-regulation", "Task_register_business")
    ]
    assert targets[0].decision == decisions(engine)["business-registration"]

    reopened = engine.send_back(
        TAX, invoice, "business-registration", "  经营范围与发票票种不符，请重新核定  "
    )
    assert reopened.item == "business-registration" and reopened.state == "ready"
    assert reopened.department == "market-regulation" and reopened.id != first_registration.id
    # The earlier decision is shown beside the new task.
    earlier = engine.earlier_decisions(MARKET, reopened.id)
    assert [(e.work_item_id, e.outcome, e.decision) for e in earlier] == [
        (first_registration.id, "approve", decisions(engine)["business-registration"])
    ]
    assert engine.get_task(MARKET, first_registration.id).task.outcome == "approve"
    # Every step after registration is dropped: open ones cancel, done ones stay as history.
    by_item = {r.item_key: r.state for r in rows(engine, case_id) if r.id != reopened.id}
    assert by_item["invoice-issue"] == "cancelled"
    assert by_item["seal-engraving"] == "completed"
    assert by_item["bank-account-opening"] == "cancelled"
    assert by_item["social-insurance-registration"] == "cancelled"
    assert rows(engine, case_id, "invoice-issue")[0].comment == "经营范围与发票票种不符，请重新核定"
    with pytest.raises(TaskNotReady):  # the bank's claimed task went with its branch
        engine.complete(clerk("bank"), bank.id, Outcome.APPROVE, decisions(engine)["bank-account-opening"])

    # Registration decides again; the later steps run again (seal included), and the case completes.
    decide(engine, MARKET, reopened.id, decisions(engine)["business-registration"])
    seals = rows(engine, case_id, "seal-engraving")
    assert [r.state for r in seals] == ["completed", "ready"]
    work_all(engine, case_id, decisions(engine))
    assert engine.get_case(ANALYST, case_id).status == "completed"

    trail = events(engine, case_id)
    sent = [e for e in trail if e.kind == "sent_back"]
    assert len(sent) == 1 and sent[0].actor == TAX.username and sent[0].work_item_id == invoice
    assert sent[0].detail["between_departments"] is True
    assert sent[0].detail["to_department"] == "market-regulation"
    assert sent[0].detail["reason"] == "经营范围与发票票种不符，请重新核定"
    assert [e.work_item_id for e in trail if e.kind == "step_reopened"] == [first_registration.id]

    # The applicant reads which department handed the case to which, never the reason.
    applicant_line = next(t for t in engine.get_case(APPLICANT, case_id).timeline if t.kind == "sent_back")
    assert (
        "reason" not in applicant_line.detail
        and applicant_line.detail["to_department"] == "market-regulation"
    )
    staff_line = next(t for t in engine.get_case(ANALYST, case_id).timeline if t.kind == "sent_back")
    assert staff_line.detail["reason"]

    # Analytics: a return between departments, on the sending item and on the reopened one.
    stats = {r.item: r for r in queries.bottlenecks(engine.db, STARTUP)}
    assert stats["invoice-issue"].sent_back == 1
    assert stats["business-registration"].reopened == 1
    assert stats["invoice-issue"].returns == 0  # not a return to the applicant
    departments = {r.department: r for r in queries.by_department(engine.db, STARTUP)}
    assert departments["tax"].sent_back == 1
    assert departments["market-regulation"].reopened == 1


def test_a_supervisors_move_back_to_the_tax_system_redoes_only_the_tax_branch(engine: Engine) -> None:
    case_id, _invoice = at_invoice(engine)
    bank = open_row(engine, case_id, "bank-account-opening")
    targets = {t.item for t in engine.move_targets(TAX_SUPERVISOR, case_id)}
    assert {"tax-registration", "business-registration"} <= targets

    with pytest.raises(InvalidInput):
        engine.move_case(TAX_SUPERVISOR, case_id, "tax-registration", "   ")
    with pytest.raises(NotAllowed):
        engine.move_case(TAX, case_id, "tax-registration", "系统登记有误")
    with pytest.raises(NotAllowed):
        engine.move_case(ANALYST, case_id, "tax-registration", "系统登记有误")

    moved = engine.move_case(
        TAX_SUPERVISOR, case_id, "Task_tax_registration", "税务系统登记信息有误，重新推送"
    )
    assert moved.item == "tax-registration" and moved.kind == "external" and moved.state == "ready"
    # The other branches split before the tax step: untouched.
    assert rows(engine, case_id, "seal-engraving")[0].state == "completed"
    assert open_row(engine, case_id, "bank-account-opening").id == bank.id
    assert rows(engine, case_id, "invoice-issue")[0].state == "cancelled"
    line = next(e for e in events(engine, case_id) if e.kind == "case_moved")
    assert "Task_issue_invoices" in line.detail["before"]
    assert (
        "Task_tax_registration" in line.detail["after"] and "Task_issue_invoices" not in line.detail["after"]
    )
    assert line.detail["reason"] == "税务系统登记信息有误，重新推送"

    work_all(engine, case_id, decisions(engine))
    assert engine.get_case(ANALYST, case_id).status == "completed"
    assert len(rows(engine, case_id, "bank-account-opening")) == 1  # done once: its branch never reset
    assert [r.state for r in rows(engine, case_id, "tax-registration")] == ["completed", "completed"]


def test_send_back_refusals(engine: Engine) -> None:
    case_id, invoice = at_invoice(engine)
    with pytest.raises(InvalidInput) as bad:
        engine.send_back(TAX, invoice, "seal-engraving", "不是前序环节")  # done, but on another branch
    assert bad.value.problems[0].where == "target"
    with pytest.raises(InvalidInput):
        engine.send_back(
            TAX, invoice, "tax-registration", "系统环节不可退回"
        )  # not a department clerk's step
    with pytest.raises(InvalidInput):
        engine.send_back(TAX, invoice, "housing-fund-registration", "以后的环节")  # not done, not earlier
    with pytest.raises(InvalidInput) as empty:
        engine.send_back(TAX, invoice, "business-registration", " ")
    assert empty.value.problems[0].where == "reason"
    with pytest.raises(WorkItemNotFound):
        engine.send_back(APPLICANT, invoice, "business-registration", "原因")
    with pytest.raises(WorkItemNotFound):
        engine.send_back(MARKET, invoice, "business-registration", "原因")  # another department's task
    with pytest.raises(NotAllowed):
        engine.send_back(ANALYST, invoice, "business-registration", "原因")
    with pytest.raises(TaskNotReady):
        engine.send_back(TAX2, invoice, "business-registration", "原因")  # not its assignee
    # A supervisor of the office may, without holding it.
    engine.send_back(TAX_SUPERVISOR, invoice, "business-registration", "督办退回")
    with pytest.raises(TaskNotReady):
        engine.send_back(TAX, invoice, "business-registration", "原因")  # no longer open
    assert engine.get_case(ANALYST, case_id).status == "running"


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at once; each one's result or error."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except EngineError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_a_send_back_racing_a_decision_on_the_same_task_one_wins(engine: Engine) -> None:
    for _ in range(3):
        case_id, invoice = at_invoice(engine)
        sent, done = race(
            lambda task=invoice: engine.send_back(TAX, task, "business-registration", "并发退回"),  # type: ignore[misc]
            lambda task=invoice: engine.complete(TAX, task, Outcome.APPROVE, {}, "同意"),  # type: ignore[misc]
        )
        assert isinstance(sent, EngineError) != isinstance(done, EngineError)
        loser = sent if isinstance(sent, EngineError) else done
        assert isinstance(loser, TaskNotReady)
        invoice_row = rows(engine, case_id, "invoice-issue")[0]
        kinds = [e.kind for e in events(engine, case_id)]
        if isinstance(sent, EngineError):
            assert invoice_row.state == "completed" and "sent_back" not in kinds
        else:
            assert invoice_row.state == "cancelled" and kinds.count("sent_back") == 1
            assert "approved" not in [e.kind for e in events(engine, case_id) if e.work_item_id == invoice]


def test_no_send_back_that_would_drop_a_return_waiting_for_the_rounds_notice(engine: Engine) -> None:
    case_id, invoice = at_invoice(engine)
    bank = open_row(engine, case_id, "bank-account-opening")
    engine.claim(clerk("bank"), bank.id)
    engine.complete(
        clerk("bank"), bank.id, Outcome.RETURN, {}, "", [{"field": "bank_name", "message": "开户行有误"}]
    )
    assert engine.get_case(ANALYST, case_id).status == "running"  # the notice waits for the round
    with pytest.raises(CaseNotWaiting):  # registration precedes the bank's branch: its return would go
        engine.send_back(TAX, invoice, "business-registration", "原因")
    assert open_row(engine, case_id, "invoice-issue").id == invoice  # nothing changed
    # A move that leaves the bank's branch alone is fine; the notice still comes with the round.
    engine.move_case(TAX_SUPERVISOR, case_id, "tax-registration", "重新推送税务系统")
    work_all(engine, case_id, decisions(engine))
    case = engine.get_case(ANALYST, case_id)
    assert case.status == "awaiting_applicant"
    assert [i["item"] for i in (case.notice or {})["items"]] == ["bank-account-opening"]
