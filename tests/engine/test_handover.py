"""Reassign (转办), delegate (委托), release a clerk's tasks, and bulk actions: on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from engine.cases.bulk import MAX_BULK, NO_TASK, TAKEN, BulkAction, BulkStatus, request_digest, task_key
from engine.cases.views import Label
from engine.errors import AssigneeChanged, InvalidInput, NotAllowed, NotFound, TaskNotReady
from engine.people.accounts import AccountService
from engine.people.actors import Actor, Role
from engine.portal.notifications import MessageKind
from engine.service import Engine
from engine.storage.idempotency import IdempotencyStore, Reservation
from engine.storage.models import CaseEvent, WorkItem
from engine.storage.portal_tables import Notification
from tests.support.engines import (
    ANALYST,
    APPLICANT,
    MINI_STARTUP_DECISIONS,
    bundle_engine,
    make_engine,
    start_mini_startup,
)

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "Pa55word-for-tests"
MR = "market-regulation"
ANNA = Actor("anna", Role.CLERK, frozenset({MR}))
BORIS = Actor("boris", Role.CLERK, frozenset({MR}))
CHEN = Actor("chen", Role.CLERK, frozenset({MR}))
SUPERVISOR = Actor("lead", Role.CLERK, frozenset({MR}), supervisor=True)
SUPERVISOR2 = Actor("lead2", Role.CLERK, frozenset({MR}), supervisor=True)
ADMIN = Actor("admin", Role.ADMIN)


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = bundle_engine(db_url, tmp_path, "mini-startup")
    accounts = AccountService(eng.db, hasher=FAST_HASHER, regions=eng.regions)
    accounts.create(APPLICANT.username, PASSWORD, Role.APPLICANT)
    for actor, name in ((ANNA, "安娜"), (BORIS, "王博"), (CHEN, "陈晨")):
        accounts.create(actor.username, PASSWORD, Role.CLERK, [MR], display_name=name)
    accounts.create("lead", PASSWORD, Role.CLERK, [MR], display_name="李督办", supervisor=True)
    accounts.create("lead2", PASSWORD, Role.CLERK, [MR], display_name="赵督办", supervisor=True)
    accounts.create("other", PASSWORD, Role.CLERK, ["social-insurance"], display_name="社保")
    accounts.create("gone", PASSWORD, Role.CLERK, [MR])
    accounts.disable("gone")
    yield eng
    eng.close()


def registration_task(engine: Engine, claimer: Actor | None = ANNA) -> int:
    """A new case's business-registration task, claimed by ``claimer``."""
    task = engine.get_case(ANALYST, start_mini_startup(engine)).tasks[0]
    if claimer is not None:
        engine.claim(claimer, task.id)
    return task.id


def kinds(engine: Engine, task: int) -> list[str]:
    with engine.db.read() as s:
        return list(
            s.scalars(select(CaseEvent.kind).where(CaseEvent.work_item_id == task).order_by(CaseEvent.id))
        )


def messages_of(engine: Engine, who: str) -> list[Notification]:
    with engine.db.read() as s:
        return list(s.scalars(select(Notification).where(Notification.recipient == who)))


def test_a_supervisor_reassigns_a_claimed_task_with_a_reason_and_the_new_clerk_is_told(
    engine: Engine,
) -> None:
    task = registration_task(engine)
    view = engine.reassign(SUPERVISOR, task, "boris", "安娜休假", expected="anna")
    assert view.assignee == "boris" and view.state == "claimed"
    assert kinds(engine, task)[-1] == "task_reassigned"
    with engine.db.read() as s:
        line = s.scalars(select(CaseEvent).where(CaseEvent.kind == "task_reassigned")).one()
    assert line.actor == "lead" and line.detail == {
        "item": "business-registration",
        "from": "anna",
        "to": "boris",
        "reason": "安娜休假",
    }
    told = [m for m in messages_of(engine, "boris") if m.kind == MessageKind.TASK_ASSIGNED]
    assert len(told) == 1 and told[0].link == f"/tasks/{task}" and "安娜休假" in told[0].body["zh"]
    assert "anna" not in told[0].body["zh"]  # usernames never in a message
    note = engine.handover_note(BORIS, task)
    assert note is not None and note.text == "安娜休假" and note.previous == "anna"
    # boris now decides it; anna no longer can.
    with pytest.raises(TaskNotReady):
        engine.complete(ANNA, task, "approve", MINI_STARTUP_DECISIONS["business-registration"])
    engine.complete(BORIS, task, "approve", MINI_STARTUP_DECISIONS["business-registration"])


def test_who_may_reassign_and_to_whom(engine: Engine) -> None:
    task = registration_task(engine)
    with pytest.raises(NotAllowed):  # a clerk of the office without the supervisor flag
        engine.reassign(BORIS, task, "chen", "x", expected="anna")
    with pytest.raises(NotFound):  # a clerk of another department does not see it
        engine.reassign(
            Actor("other", Role.CLERK, frozenset({"social-insurance"}), supervisor=True),
            task,
            "boris",
            "x",
            expected="anna",
        )
    for to in ("other", "gone", "nobody", "anna"):  # another office, disabled, unknown, the assignee
        with pytest.raises(InvalidInput):
            engine.reassign(SUPERVISOR, task, to, "x", expected="anna")
    with pytest.raises(InvalidInput):  # a reason is required
        engine.reassign(SUPERVISOR, task, "boris", "  ", expected="anna")
    assert (
        engine.reassign(ADMIN, task, "boris", "管理员调整", expected="anna").assignee == "boris"
    )  # an admin in scope
    with pytest.raises(AssigneeChanged):  # who the caller saw holds it no longer
        engine.reassign(SUPERVISOR, task, "chen", "x", expected="anna")
    ready = registration_task(engine, claimer=None)
    with pytest.raises(TaskNotReady):  # only a claimed task
        engine.reassign(SUPERVISOR, ready, "boris", "x", expected="anna")


def test_two_supervisors_reassigning_one_task_at_once_exactly_one_wins(engine: Engine) -> None:
    for _round in range(3):
        task = registration_task(engine)
        barrier = threading.Barrier(2)

        def reassign(pair: tuple[Actor, str], task: int = task, barrier: threading.Barrier = barrier) -> str:
            who, to = pair
            barrier.wait()
            try:
                engine.reassign(who, task, to, "并发", expected="anna")
                return to
            except AssigneeChanged:
                return "lost"

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(reassign, [(SUPERVISOR, "boris"), (SUPERVISOR2, "chen")]))
        assert results.count("lost") == 1
        winner = next(r for r in results if r != "lost")
        assert engine.get_task(ANALYST, task).task.assignee == winner
        assert kinds(engine, task).count("task_reassigned") == 1


def test_two_engines_on_one_database_reassigning_at_once_have_one_winner(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """Two processes' worth of connection pools (two servers sharing the database)."""
    other = make_engine(db_url, tmp_path / "other")
    try:
        for _round in range(3):
            task = registration_task(engine)
            barrier = threading.Barrier(2)

            def reassign(
                pair: tuple[Engine, Actor, str], task: int = task, barrier: threading.Barrier = barrier
            ) -> str:
                eng, who, to = pair
                barrier.wait()
                try:
                    eng.reassign(who, task, to, "并发", expected="anna")
                    return to
                except AssigneeChanged:
                    return "lost"

            with ThreadPoolExecutor(2) as pool:
                results = list(
                    pool.map(reassign, [(engine, SUPERVISOR, "boris"), (other, SUPERVISOR2, "chen")])
                )
            assert sorted(results) in (["boris", "lost"], ["chen", "lost"])
            assert kinds(engine, task).count("task_reassigned") == 1
    finally:
        other.close()


def test_a_clerk_delegates_their_task_with_a_note_the_new_assignee_reads(engine: Engine) -> None:
    task = registration_task(engine)
    with pytest.raises(TaskNotReady):  # only the assignee delegates
        engine.delegate(BORIS, task, "chen", "帮我办")
    view = engine.delegate(ANNA, task, "boris", "材料已核，待录入统一社会信用代码")
    assert view.assignee == "boris"
    note = engine.handover_note(BORIS, task)
    assert note is not None and note.kind == "task_delegated" and note.by == "anna"
    assert note.text == "材料已核，待录入统一社会信用代码"
    assert [m.kind for m in messages_of(engine, "boris") if m.kind != MessageKind.TASK_READY] == [
        MessageKind.TASK_ASSIGNED
    ]
    assert kinds(engine, task)[-1] == "task_delegated"
    with pytest.raises(TaskNotReady):  # anna no longer holds it
        engine.delegate(ANNA, task, "chen", "again")
    engine.unclaim(BORIS, task)
    engine.claim(CHEN, task)
    assert engine.handover_note(CHEN, task) is None  # a later claim is not a hand-over


def test_the_applicant_timeline_leaves_out_hand_overs_and_the_staff_trail_keeps_them(engine: Engine) -> None:
    task = registration_task(engine)
    engine.delegate(ANNA, task, "boris", "note")
    engine.reassign(SUPERVISOR, task, "chen", "reason", expected="boris")
    engine.release_tasks(CHEN, "chen")
    case_id = engine.get_task(ANALYST, task).task.case_id
    applicant_kinds = [e.kind for e in engine.get_case(APPLICANT, case_id).timeline]
    staff_kinds = [e.kind for e in engine.get_case(ANALYST, case_id).timeline]
    for kind in ("task_delegated", "task_reassigned", "task_released"):
        assert kind not in applicant_kinds and kind in staff_kinds


def test_a_clerk_on_leave_has_every_task_released_in_one_action(engine: Engine) -> None:
    tasks = [registration_task(engine) for _ in range(3)]
    kept = registration_task(engine, claimer=BORIS)
    released = engine.release_tasks(ANNA, "anna")
    assert released.count == 3 and sorted(released.tasks) == sorted(tasks)
    assert all(engine.get_task(ANALYST, t).task.state == "ready" for t in tasks)
    assert engine.get_task(ANALYST, kept).task.assignee == "boris"
    assert all(kinds(engine, t)[-1] == "task_released" for t in tasks)
    assert engine.release_tasks(ANNA, "anna").count == 0  # nothing left


def test_a_supervisor_releases_a_clerks_tasks_and_others_may_not(engine: Engine) -> None:
    tasks = [registration_task(engine, claimer=BORIS) for _ in range(2)]
    with pytest.raises(NotAllowed):  # a plain clerk for someone else
        engine.release_tasks(ANNA, "boris")
    with pytest.raises(NotFound):  # a supervisor of another department does not see the clerk
        engine.release_tasks(
            Actor("x", Role.CLERK, frozenset({"social-insurance"}), supervisor=True), "boris"
        )
    with pytest.raises(NotFound):
        engine.release_tasks(SUPERVISOR, "nobody")
    assert engine.release_tasks(SUPERVISOR, "boris").count == 2
    with engine.db.read() as s:
        lines = s.scalars(select(CaseEvent).where(CaseEvent.kind == "task_released")).all()
    assert {(line.actor, line.detail["clerk"], line.work_item_id) for line in lines} == {
        ("lead", "boris", t) for t in tasks
    }


def test_office_clerks_lists_active_clerks_of_the_office_with_names(engine: Engine) -> None:
    task = registration_task(engine)
    clerks = engine.office_clerks(SUPERVISOR, task)
    assert {c.username: c.label for c in clerks} == {
        "anna": "安娜",
        "boris": "王博",
        "chen": "陈晨",
        "lead": "李督办",
        "lead2": "赵督办",
    }


def test_bulk_claim_gives_a_result_per_task(engine: Engine) -> None:
    free = [registration_task(engine, claimer=None) for _ in range(2)]
    taken = registration_task(engine, claimer=BORIS)
    results = engine.bulk(ANNA, "claim", [*free, taken, 999999])
    assert [(r.task, r.status) for r in results] == [
        (free[0], BulkStatus.OK),
        (free[1], BulkStatus.OK),
        (taken, BulkStatus.REFUSED),
        (999999, BulkStatus.REFUSED),
    ]
    assert "认领" in results[2].detail
    assert [r.status for r in engine.bulk(ANNA, "unclaim", free)] == [BulkStatus.OK] * 2


def test_bulk_approve_decides_each_in_its_own_transaction_and_a_retry_never_decides_twice(
    engine: Engine,
) -> None:
    store = IdempotencyStore(engine.db)
    tasks = [registration_task(engine) for _ in range(3)]
    wrong = registration_task(engine, claimer=BORIS)
    data = MINI_STARTUP_DECISIONS["business-registration"]
    first = engine.bulk(ANNA, "approve", [*tasks, wrong], data, "同意", idempotency=store, key="k-1")
    assert [r.status for r in first] == [BulkStatus.OK] * 3 + [BulkStatus.REFUSED]
    again = engine.bulk(ANNA, "approve", [*tasks, wrong], data, "同意", idempotency=store, key="k-1")
    assert [(r.task, r.status, r.replayed) for r in again[:3]] == [(t, BulkStatus.OK, True) for t in tasks]
    assert again[3].status is BulkStatus.REFUSED and not again[3].replayed  # tried again
    with engine.db.read() as s:
        approved = s.scalars(select(CaseEvent.work_item_id).where(CaseEvent.kind == "approved")).all()
    assert sorted(a for a in approved if a is not None) == sorted(tasks)  # once each
    # A bad decision is refused per task, with the reason.
    more = registration_task(engine)
    bad = engine.bulk(ANNA, "approve", [more], {"uscc": "nonsense"}, "", idempotency=store, key="k-2")
    assert bad[0].status is BulkStatus.REFUSED and "uscc" in bad[0].detail
    with engine.db.read() as s:
        assert s.get(WorkItem, more).state == "claimed"  # type: ignore[union-attr]


def test_a_bulk_retry_after_a_lost_answer_answers_from_the_recorded_outcome(engine: Engine) -> None:
    """The first try decided a task, then died before storing the per-task answer."""
    store = IdempotencyStore(engine.db)
    task = registration_task(engine)
    data = MINI_STARTUP_DECISIONS["business-registration"]
    reserved = store.reserve(
        "anna", task_key("k-lost", task), request_digest(BulkAction.APPROVE, data, "同意")
    )
    assert isinstance(reserved, Reservation)
    engine.complete(ANNA, task, "approve", data, "同意", reservation=reserved)
    again = engine.bulk(ANNA, "approve", [task], data, "同意", idempotency=store, key="k-lost")
    assert again[0].status is BulkStatus.OK and again[0].replayed
    with engine.db.read() as s:
        assert len(s.scalars(select(CaseEvent).where(CaseEvent.kind == "approved")).all()) == 1


def test_a_bulk_request_is_bounded(engine: Engine) -> None:
    with pytest.raises(InvalidInput):
        engine.bulk(ANNA, "claim", list(range(1, MAX_BULK + 2)))
    with pytest.raises(InvalidInput):
        engine.bulk(ANNA, "claim", [])


def test_a_supervisor_sees_each_clerk_of_the_office_with_the_tasks_they_hold(engine: Engine) -> None:
    for _ in range(2):
        registration_task(engine, claimer=BORIS)
    registration_task(engine, claimer=ANNA)
    loads = {c.clerk.username: (c.clerk.label, c.open_tasks) for c in engine.clerks_to_release(SUPERVISOR)}
    # Every clerk of the office but the supervisor themself; the disabled one holds nothing.
    assert loads == {"anna": ("安娜", 1), "boris": ("王博", 2), "chen": ("陈晨", 0), "lead2": ("赵督办", 0)}
    assert engine.clerks_to_release(ANNA) == []  # a plain clerk supervises no one
    other = Actor("x", Role.CLERK, frozenset({"social-insurance"}), supervisor=True)
    assert [c.clerk.username for c in engine.clerks_to_release(other)] == ["other"]


def test_a_supervisors_release_records_its_reason_on_each_task(engine: Engine) -> None:
    tasks = [registration_task(engine, claimer=BORIS) for _ in range(2)]
    with pytest.raises(InvalidInput):
        engine.release_tasks(SUPERVISOR, "boris", "x" * 1001)
    assert engine.release_tasks(SUPERVISOR, "boris", " 请假一周 ").tasks == tuple(sorted(tasks))
    with engine.db.read() as s:
        lines = s.scalars(select(CaseEvent).where(CaseEvent.kind == "task_released")).all()
    assert {(line.work_item_id, line.detail["reason"]) for line in lines} == {(t, "请假一周") for t in tasks}
    assert {c.clerk.username: c.open_tasks for c in engine.clerks_to_release(SUPERVISOR)}["boris"] == 0


def test_bulk_refusals_are_said_in_each_language_alone(engine: Engine) -> None:
    free = registration_task(engine, claimer=None)
    taken = registration_task(engine, claimer=BORIS)
    results = engine.bulk(ANNA, "claim", [free, taken, 999999])
    assert results[0].reason is None  # done: nothing to say
    for result in results[1:]:
        assert result.reason is not None
        assert not re.search(r"[A-Za-z]", result.reason.zh), result.reason
        assert not re.search(r"[\u3000-\u9fff\uff00-\uffef]", result.reason.en), result.reason
    assert [r.reason for r in results[1:]] == [TAKEN, NO_TASK]  # never the holder's username
    unclaim = engine.bulk(ANNA, "unclaim", [taken])[0].reason
    assert unclaim == Label("只有认领人可以退回队列。", "Only the assignee can unclaim.")
    engine.claim(ANNA, free)
    bad = engine.bulk(ANNA, "approve", [free], {"uscc": "nonsense"}, "")[0].reason
    assert bad is not None and bad.zh.startswith("填写的内容有误。") and bad.en.startswith("Some of what")
    assert not re.search(r"[\u3000-\u9fff]", bad.en)
    assert "统一社会信用代码" in bad.zh and "credit code" in bad.en  # each problem in the field's own words
