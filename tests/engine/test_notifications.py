"""The message centre: a full enterprise-startup case tells the right clerks and its applicant, nobody else.

Real accounts (clerks of every department at the default division, one clerk at another
office, one deactivated, a second applicant) follow one case with a return, the supplement
and the certificates, on SQLite and PostgreSQL. Each new human task reaches exactly the
clerks (and supervisors) of its office; the applicant hears of the notice and of the end;
the returning clerk hears of the supplement; every message is also an outbound
``notified`` event in the outbox. A rolled-back change leaves no message and no event.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.cases import events
from engine.cases.states import Outcome
from engine.errors import NotFound
from engine.feedback import complaints, ratings, rectification
from engine.people.accounts import AccountService
from engine.people.actors import Actor, Role
from engine.portal.notifications import MessageKind
from engine.service import Engine
from engine.storage.models import WorkItem
from engine.storage.outbox_tables import OutboxEvent
from engine.storage.portal_tables import Notification
from engine.storage.settings import shipped_processes_dir
from engine.storage.spine import emit
from engine.time.clock import ManualClock
from engine.worker import Worker
from tests.support.engines import (
    ANALYST,
    APPLICANT,
    MONDAY,
    OTHER_APPLICANT,
    clerk,
    make_engine,
    upload,
    work_all,
)

STARTUP = "enterprise-startup"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "Pa55word-for-tests"
DEPARTMENTS = (
    "market-regulation",
    "public-security",
    "tax",
    "bank",
    "human-resources-social-security",
    "medical-insurance",
    "housing-fund",
)
HUANGPU = "310101"
PHONE_PROBLEM = {"field": "legal_rep_phone", "message": "联系电话无法接通，请核对"}
# What no message may show: keys of the bundle, items, departments, tasks and fields.
INTERNAL = (
    "enterprise-startup",
    "market-regulation",
    "public-security",
    "seal-engraving",
    "Task_",
    "legal_rep",
)


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(db_url, tmp_path, ManualClock(MONDAY))
    eng.regions.load_shipped(shipped_processes_dir() / "divisions")
    eng.deployments.deploy_dir(shipped_processes_dir() / STARTUP)
    accounts = AccountService(eng.db, hasher=FAST_HASHER, regions=eng.regions)
    accounts.create(APPLICANT.username, PASSWORD, Role.APPLICANT)
    accounts.create(OTHER_APPLICANT.username, PASSWORD, Role.APPLICANT)
    for department in DEPARTMENTS:
        accounts.create(f"clerk.{department}", PASSWORD, Role.CLERK, [department])
    accounts.create("supervisor.public-security", PASSWORD, Role.CLERK, ["public-security"], supervisor=True)
    # Not of the office: another division's clerk, and a clerk who left.
    eng.regions.add_office(None, "public-security", HUANGPU)
    accounts.create(
        f"clerk.public-security@{HUANGPU}", PASSWORD, Role.CLERK, ["public-security"], division=HUANGPU
    )
    accounts.create("clerk.left", PASSWORD, Role.CLERK, ["public-security"])
    accounts.disable("clerk.left")
    yield eng
    eng.close()


def messages(engine: Engine) -> list[Notification]:
    with engine.db.read() as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


def count(engine: Engine, model: type[Any]) -> int:
    with engine.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def human_tasks(engine: Engine, case_id: int) -> list[WorkItem]:
    with engine.db.read() as s:
        query = select(WorkItem).where(WorkItem.case_id == case_id, WorkItem.kind == "human")
        return list(s.scalars(query.order_by(WorkItem.id)))


def apply(engine: Engine) -> tuple[int, dict[str, Any]]:
    example = dict(engine.bundle_detail(STARTUP).examples[0])
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    return engine.start_case(APPLICANT, STARTUP, example["data"], materials).id, example


def return_seal_task(engine: Engine, case_id: int, example: dict[str, Any]) -> None:
    """Work the case until the seal engraving is ready, then return it; approve the rest of the round."""
    police = clerk("public-security")
    for _ in range(20):
        view = engine.get_case(ANALYST, case_id)
        seal = [t for t in view.tasks if t.item == "seal-engraving" and t.state == "ready"]
        if seal:
            engine.claim(police, seal[0].id)
            engine.complete(police, seal[0].id, Outcome.RETURN, {}, "请核对电话", [PHONE_PROBLEM])
            break
        task = next(t for t in view.tasks if t.state == "ready" and t.kind == "human")
        actor = clerk(task.department)
        engine.claim(actor, task.id)
        engine.complete(actor, task.id, Outcome.APPROVE, example["decisions"].get(task.item, {}), "同意")
    else:
        raise AssertionError("the seal engraving never became ready")


def test_a_full_case_tells_the_offices_clerks_and_the_applicant_and_nobody_else(engine: Engine) -> None:
    inserts: list[int] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO notifications"):
            inserts.append(len(parameters) if many else 1)

    sa_event.listen(engine.db.engine, "before_cursor_execute", seen)
    try:
        case_id, example = apply(engine)
        return_seal_task(engine, case_id, example)
        work_all(engine, case_id, example["decisions"])  # the rest of the round: then the notice
        assert engine.get_case(APPLICANT, case_id).status == "awaiting_applicant"
        engine.supplement(APPLICANT, case_id, {"legal_rep_phone": "13900001111"}, {})
        work_all(engine, case_id, example["decisions"])
    finally:
        sa_event.remove(engine.db.engine, "before_cursor_execute", seen)
    case = engine.get_case(APPLICANT, case_id)
    assert case.status == "completed" and case.code

    sent = messages(engine)
    # One statement per message sent, however many it reaches (an office's clerks in one).
    sends = {(m.kind, m.case_id, m.work_item_id, m.created_at) for m in sent}
    assert len(inserts) == len(sends) and sum(inserts) == len(sent) and max(inserts) == 2
    # Each human task reached the clerks of its office: its department, the default division.
    tasks = human_tasks(engine, case_id)
    assert {t.item_key for t in tasks} >= {"business-registration", "seal-engraving"}
    for task in tasks:
        told = sorted(m.recipient for m in sent if m.work_item_id == task.id)
        office = [f"clerk.{task.department}"]
        if task.department == "public-security":
            office.append("supervisor.public-security")  # a supervisor of the office works its queue
        assert told == sorted(office), task.item_key
        for m in sent:
            if m.work_item_id == task.id:
                assert (m.kind, m.link, m.case_id) == (MessageKind.TASK_READY, f"/tasks/{task.id}", case_id)
    # The tax registration is the tax system's (an external task): no clerk is told of it.
    with engine.db.read() as s:
        external = s.scalars(select(WorkItem.id).where(WorkItem.case_id == case_id, WorkItem.kind != "human"))
        assert not {m.work_item_id for m in sent} & set(external)
    reopened = [m for m in sent if m.kind == MessageKind.TASK_READY and "补正后重新办理" in m.title["zh"]]
    assert [m.recipient for m in reopened] == ["clerk.public-security", "supervisor.public-security"]

    to_applicant = [m for m in sent if m.recipient == APPLICANT.username]
    assert [m.kind for m in to_applicant] == [MessageKind.CORRECTION_NOTICE, MessageKind.CASE_FINISHED]
    notice, finished = to_applicant
    assert notice.link == finished.link == f"/cases/{case_id}"
    assert (
        case.code in notice.body["zh"]
        and "1 处需要补正" in notice.body["zh"]
        and "公安局" in notice.body["zh"]
    )
    assert "Public security" in notice.body["en"]
    assert finished.title == {"zh": "已办结：企业开办一件事", "en": "Done: Enterprise startup"}
    assert "营业执照" in finished.body["zh"]  # the certificate issued is named

    [supplement] = [m for m in sent if m.kind == MessageKind.SUPPLEMENT_RECEIVED]
    assert supplement.recipient == "clerk.public-security"  # the clerk who returned it
    assert "公章刻制备案" in supplement.body["zh"] and supplement.link == f"/cases/{case_id}"

    # Nobody else: not the other office's clerk, not the one who left, not the other applicant.
    allowed = {APPLICANT.username, "supervisor.public-security"} | {f"clerk.{d}" for d in DEPARTMENTS}
    assert {m.recipient for m in sent} <= allowed
    for outsider in (f"clerk.public-security@{HUANGPU}", "clerk.left", OTHER_APPLICANT.username):
        assert all(m.recipient != outsider for m in sent)
    for m in sent:  # names and the case code, never keys; both languages written
        text = " ".join([*m.title.values(), *m.body.values()])
        assert m.title["zh"] and m.title["en"] and m.body["zh"] and m.body["en"]
        assert not any(key in text for key in INTERNAL), text

    # Each message is an outbound event for an SMS or e-mail gateway: who, what, where; no case data.
    with engine.db.read() as s:
        notified = list(
            s.scalars(select(OutboxEvent).where(OutboxEvent.kind == "notified").order_by(OutboxEvent.id))
        )
    assert [(e.payload["detail"]["recipient"], e.payload["detail"]["link"]) for e in notified] == [
        (m.recipient, m.link) for m in sent
    ]
    assert all(
        e.case_id is None and set(e.payload["detail"]) == {"recipient", "kind", "title", "body", "link"}
        for e in notified
    )
    # The case's own trail is about the case: who was told is not in it.
    assert "notified" not in [e.kind for e in engine.get_case(ANALYST, case_id).timeline]


def test_the_tax_clerks_hear_only_of_their_own_tasks(engine: Engine) -> None:
    case_id, example = apply(engine)
    work_all(engine, case_id, example["decisions"])
    sent = messages(engine)
    tax = {m.work_item_id for m in sent if m.recipient == "clerk.tax"}
    with engine.db.read() as s:
        departments = set(s.scalars(select(WorkItem.department).where(WorkItem.id.in_(tax))))
    assert departments == {"tax"}  # the invoices (a clerk's task); the registration is the system's


def test_a_rolled_back_change_leaves_no_message_and_no_outbound_event(engine: Engine) -> None:
    case_id, example = apply(engine)
    before, before_events = count(engine, Notification), count(engine, OutboxEvent)
    assert before == 1  # registration waits in the market regulation queue

    def fail(_session: Session, _event: events.TaskApproved) -> None:
        raise RuntimeError("subscriber failed")

    engine.db.spine.subscribe("test.fail", fail, events.TaskApproved)
    market = clerk("market-regulation")
    [task] = [t for t in engine.get_case(ANALYST, case_id).tasks if t.state == "ready"]
    engine.claim(market, task.id)
    with pytest.raises(RuntimeError, match="subscriber failed"):
        engine.complete(
            market, task.id, Outcome.APPROVE, example["decisions"]["business-registration"], "同意"
        )
    assert count(engine, Notification) == before  # the next tasks' messages went with the change
    assert count(engine, OutboxEvent) == before_events + 1  # only the claim's event
    engine.db.spine.unsubscribe("test.fail")
    engine.complete(market, task.id, Outcome.APPROVE, example["decisions"]["business-registration"], "同意")
    assert count(engine, Notification) > before


def test_the_centre_lists_newest_first_counts_unread_and_marks_only_ones_own(engine: Engine) -> None:
    case_id, example = apply(engine)
    work_all(engine, case_id, example["decisions"])
    centre = engine.messages
    me = Actor("clerk.public-security", Role.CLERK, frozenset({"public-security"}))
    mine = [m for m in messages(engine) if m.recipient == me.username]
    assert mine and centre.unread_count(me.username) == len(mine)

    first = centre.list(me, limit=1)
    assert [m.id for m in first.items] == [mine[-1].id] and first.unread == len(mine)
    assert first.items[0].title.zh.startswith("新待办")
    if len(mine) > 1:
        assert first.next is not None
        assert [m.id for m in centre.list(me, cursor=first.next, limit=50).items] == [
            m.id for m in reversed(mine[:-1])
        ]

    opened = centre.mark_read(me, mine[0].id)
    assert not opened.unread and centre.unread_count(me.username) == len(mine) - 1
    assert mine[0].id not in [m.id for m in centre.list(me, unread=True).items]
    assert centre.mark_read(me, mine[0].id).read_at == opened.read_at  # once read, it stays as read

    theirs = next(m for m in messages(engine) if m.recipient == APPLICANT.username)
    with pytest.raises(NotFound):
        centre.mark_read(me, theirs.id)
    with pytest.raises(NotFound):
        centre.get(me, theirs.id)
    assert centre.unread_count(APPLICANT.username) == 1  # the applicant's stays unread

    assert centre.mark_all_read(me) == len(mine) - 1
    assert centre.unread_count(me.username) == 0 and centre.list(me, unread=True).items == []
    assert centre.unread_count(APPLICANT.username) == 1


def finish(engine: Engine) -> int:
    case_id, example = apply(engine)
    work_all(engine, case_id, example["decisions"])
    return case_id


def test_answers_to_a_rating_and_to_complaints_reach_their_authors(engine: Engine) -> None:
    case_id = finish(engine)
    clock = engine.clock
    police = Actor("clerk.public-security", Role.CLERK, frozenset({"public-security"}))
    bad = ratings.rate(
        engine.db, clock, APPLICANT, case_id, 1, "刻章太慢", "public-security", calendar=engine.calendar
    )
    assert bad.rectification is not None
    rectification.reply_rectification(
        engine.db, clock, police, bad.rectification.id, "已调整刻章流程，并向您致歉", regions=engine.regions
    )
    market_chief = Actor(
        "supervisor.market-regulation", Role.CLERK, frozenset({"market-regulation"}), supervisor=True
    )
    on_case = complaints.complain(
        engine.db, clock, APPLICANT, case_id, "营业执照信息有误", "market-regulation"
    )
    complaints.answer_complaint(
        engine.db, clock, market_chief, on_case.id, "已更正并重新签发", regions=engine.regions
    )
    center_chief = Actor(
        "supervisor.service-center", Role.CLERK, frozenset({"service-center"}), supervisor=True
    )
    alone = complaints.complain(engine.db, clock, OTHER_APPLICANT, None, "网上找不到办理入口")
    complaints.answer_complaint(
        engine.db, clock, center_chief, alone.id, "入口在首页", regions=engine.regions
    )

    sent = messages(engine)
    answered = [(m.recipient, m.kind, m.link) for m in sent if m.kind != MessageKind.TASK_READY][-4:]
    assert answered == [
        # The bad rating waits for the supervisors of the office that worked the seal.
        ("supervisor.public-security", MessageKind.RECTIFICATION_OPENED, "/supervision"),
        (APPLICANT.username, MessageKind.RATING_ANSWERED, f"/cases/{case_id}"),
        (APPLICANT.username, MessageKind.COMPLAINT_ANSWERED, f"/complaints/{on_case.id}"),
        (OTHER_APPLICANT.username, MessageKind.COMPLAINT_ANSWERED, f"/complaints/{alone.id}"),
    ]
    opened, rating_message, complaint_message, alone_message = sent[-4:]
    assert "评价为 1 分" in opened.body["zh"] and "督办台" in opened.body["zh"]
    assert (
        "公安局答复了您对办件" in rating_message.body["zh"] and "已调整刻章流程" in rating_message.body["zh"]
    )
    assert "市场监督管理局答复：已更正并重新签发" in complaint_message.body["zh"]
    assert "Market regulation answered" in complaint_message.body["en"]
    assert alone_message.body["zh"] == "关于您反映的问题，政务服务中心答复：入口在首页"


def test_a_late_task_tells_the_supervisors_of_its_office_and_above_only(engine: Engine) -> None:
    accounts = AccountService(engine.db, hasher=FAST_HASHER, regions=engine.regions)
    accounts.create(
        "supervisor.market-regulation", PASSWORD, Role.CLERK, ["market-regulation"], supervisor=True
    )
    engine.regions.add_office(None, "market-regulation", HUANGPU)
    accounts.create(
        f"supervisor.market-regulation@{HUANGPU}",
        PASSWORD,
        Role.CLERK,
        ["market-regulation"],
        supervisor=True,
        division=HUANGPU,  # below the default division's office: not theirs to supervise
    )
    case_id, _example = apply(engine)
    worker = Worker(engine)
    worker.run_once()
    [task] = [t for t in engine.get_case(ANALYST, case_id).tasks if t.state == "ready"]
    assert task.due_at is not None
    clock = engine.clock
    assert isinstance(clock, ManualClock)
    clock.set(task.due_at + timedelta(hours=2))
    assert worker.run_once().sla.escalated == 1
    late = [m for m in messages(engine) if m.kind == MessageKind.ESCALATED]
    assert [(m.recipient, m.link, m.work_item_id) for m in late] == [
        ("supervisor.market-regulation", "/supervision", task.id)
    ]
    assert late[0].title == {"zh": "督办：企业设立登记已超期", "en": "Overdue: Business registration"}


def test_a_rejected_case_tells_the_applicant_it_was_not_granted(engine: Engine) -> None:
    case_id, _example = apply(engine)
    with engine.db.write() as session:  # the workflow's rejecting end, as the facade emits it
        emit(session, events.Rejected(case_id=case_id, at=MONDAY, outputs=[]))
    [told] = [m for m in messages(engine) if m.recipient == APPLICANT.username]
    assert told.kind == MessageKind.CASE_FINISHED
    assert told.title == {"zh": "未予办理：企业开办一件事", "en": "Not granted: Enterprise startup"}
    assert "不予办理" in told.body["zh"] and "营业执照" not in told.body["zh"]


def test_a_systems_task_handed_to_clerks_tells_the_offices_clerks(engine: Engine) -> None:
    case_id, example = apply(engine)
    market = clerk("market-regulation")
    [registration] = [t for t in engine.get_case(ANALYST, case_id).tasks if t.state == "ready"]
    engine.claim(market, registration.id)
    engine.complete(
        market, registration.id, Outcome.APPROVE, example["decisions"]["business-registration"], "同意"
    )
    [external] = [t for t in engine.get_case(ANALYST, case_id).tasks if t.item == "tax-registration"]
    assert not [m for m in messages(engine) if m.work_item_id == external.id]  # the system's, not a queue's
    chief = Actor("supervisor.tax", Role.CLERK, frozenset({"tax"}), supervisor=True)
    engine.hand_to_clerk(chief, external.id, "税务系统维护，转人工")
    told = [m for m in messages(engine) if m.work_item_id == external.id]
    assert [(m.recipient, m.kind, m.link) for m in told] == [
        ("clerk.tax", MessageKind.TASK_READY, f"/tasks/{external.id}")
    ]
    assert told[0].title["zh"] == "转人工办理：新办纳税人涉税事项(信息确认)"
