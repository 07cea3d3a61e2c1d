"""Suspend and resume (挂起/恢复) on real cases, SQLite and PostgreSQL: the clocks stop for the
suspended working time, nothing moves the case meanwhile (claims, decisions, escalations,
timers, department systems, messages, the applicant's withdrawal and supplement), the history
keeps every suspension, and the applicant is told both ways."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from argon2 import PasswordHasher
from sqlalchemy import inspect, select

from engine.analytics import queries, rebuild
from engine.cases.events import ClocksPaused
from engine.cases.states import Outcome
from engine.deadlines import supervision
from engine.errors import (
    CaseNotFound,
    CaseSuspendedError,
    Conflict,
    InvalidInput,
    MessageNotCorrelated,
    NotAllowed,
)
from engine.people.accounts import AccountService
from engine.people.actors import Actor, Role
from engine.portal.notifications import MessageKind
from engine.service import Engine
from engine.storage.db import alembic_config
from engine.storage.models import Case
from engine.storage.outbox_tables import OutboxEvent
from engine.storage.portal_tables import Notification
from engine.time.clock import ManualClock
from engine.worker import Worker
from tests.engine.external import scenario
from tests.support.engines import (
    ANALYST,
    APPLICANT,
    MONDAY,
    OTHER_APPLICANT,
    bundle_engine,
    clerk,
    make_engine,
)

DATA = {"company_name": "上海一件事科技有限公司", "legal_rep_name": "张三"}
MARKET = clerk("market-regulation")
TAX = clerk("tax")
MARKET_SUPERVISOR = Actor("chief.market", Role.CLERK, frozenset({"market-regulation"}), supervisor=True)
TAX_SUPERVISOR = Actor("chief.tax", Role.CLERK, frozenset({"tax"}), supervisor=True)
ADMIN = Actor("admin", Role.ADMIN)
BIRTH_MESSAGES = Path(__file__).resolve().parent / "bpmn_integration" / "bundles" / "birth-messages"
HEALTH_SYSTEM = Actor("system.health", Role.SYSTEM, frozenset({"health"}))
BIRTH = {"child_name": "李小明", "newborn_birth_date": "2025-01-02", "birth_hospital": "上海市第一妇婴保健院"}
REASON = "等待法院对股权纠纷的裁判结果"
BASIS = "《市场主体登记管理条例》第二十条"


def beijing(month: int, day: int, hour: int) -> datetime:
    """A Beijing wall-clock moment of 2025 as UTC."""
    return MONDAY.replace(month=month, day=day, hour=hour) - timedelta(hours=8)


def open_review(engine: Engine, case_id: int) -> tuple[int, datetime]:
    (task,) = [t for t in engine.get_case(ANALYST, case_id).tasks if t.state in ("ready", "claimed")]
    assert task.due_at is not None
    return task.id, task.due_at


def two_desks(db_url: str, tmp_path: Path) -> tuple[Engine, ManualClock, int]:
    clock = ManualClock(MONDAY)  # Monday 3 March 2025, 09:00 in Beijing
    engine = bundle_engine(db_url, tmp_path, "two-desks", clock)
    return engine, clock, engine.start_case(APPLICANT, "two-desks", DATA, {}).id


def test_suspending_over_a_weekend_moves_due_times_by_working_time_and_nothing_escalates(
    db_url: str, tmp_path: Path
) -> None:
    engine, clock, case_id = two_desks(db_url, tmp_path)
    worker = Worker(engine)
    task_id, due = open_review(engine, case_id)
    assert due == beijing(3, 4, 17)  # two working days: Tuesday 17:00
    worker.run_once()  # the SLA clock schedules the warning and the escalation

    clock.set(beijing(3, 3, 11))
    view = engine.suspend(MARKET_SUPERVISOR, case_id, f"  {REASON} ", BASIS)
    assert view.status == "suspended"
    assert view.suspension is not None and view.suspension.reason == REASON
    assert view.suspension.legal_basis == BASIS and view.suspension.suspended_at == clock.now()

    # The old due time passes, a weekend too: no overdue mark, no warning, no escalation.
    for moment in (beijing(3, 4, 17) + timedelta(minutes=1), beijing(3, 7, 16), beijing(3, 9, 12)):
        clock.set(moment)
        tick = worker.run_once()
        assert (tick.sla.overdue, tick.sla.warned, tick.sla.escalated) == (0, 0, 0)
    assert supervision.queue_for(engine.db, ADMIN, regions=engine.regions) == []

    # Resumed a week later (Monday 10 March 11:00): 7 calendar days, 5 working days stood still.
    clock.set(beijing(3, 10, 11))
    view = engine.resume(MARKET_SUPERVISOR, case_id, "已收到裁判文书")
    assert view.status == "running" and view.suspension is None
    assert view.suspended_seconds == 5 * 8 * 3600
    _, moved = open_review(engine, case_id)
    assert moved == beijing(3, 11, 17)  # Tuesday 4 March 17:00 plus five working days
    (paused,) = [e for e in engine.get_case(ANALYST, case_id).timeline if e.kind == ClocksPaused.KIND]
    assert paused.detail["working_seconds"] == 5 * 8 * 3600
    with engine.db.read() as s:
        warning = s.scalars(
            select(supervision.Escalation).where(
                supervision.Escalation.subject_id == task_id, supervision.Escalation.level == "warning"
            )
        ).one()
    assert (
        warning.fire_at is not None and warning.fire_at > clock.now()
    )  # the warning moved with the due time
    assert [e.kind for e in view.timeline if e.kind in ("suspended", "resumed")] == ["suspended", "resumed"]

    clock.set(moved - timedelta(minutes=1))
    assert worker.run_once().sla.overdue == 0
    clock.set(moved + timedelta(minutes=1))
    tick = worker.run_once()
    assert (tick.sla.overdue, tick.sla.escalated) == (1, 1)
    engine.close()


def test_clerks_cannot_claim_or_decide_while_suspended_and_the_resume_restores_it(
    db_url: str, tmp_path: Path
) -> None:
    engine, _clock, case_id = two_desks(db_url, tmp_path)
    task_id, _ = open_review(engine, case_id)
    engine.suspend(MARKET_SUPERVISOR, case_id, REASON, BASIS)
    with pytest.raises(CaseSuspendedError, match="挂起"):
        engine.claim(MARKET, task_id)
    engine.resume(MARKET_SUPERVISOR, case_id)
    engine.claim(MARKET, task_id)

    engine.suspend(ADMIN, case_id, REASON, BASIS)  # an admin in scope may too; the claim stays
    with pytest.raises(CaseSuspendedError):
        engine.complete(MARKET, task_id, Outcome.APPROVE, {}, "同意")
    assert open_review(engine, case_id)[0] == task_id
    engine.resume(ADMIN, case_id)
    engine.complete(MARKET, task_id, Outcome.APPROVE, {}, "同意")
    (tax_task,) = [t for t in engine.get_case(ANALYST, case_id).tasks if t.state == "ready"]
    engine.claim(TAX, tax_task.id)
    engine.complete(TAX, tax_task.id, Outcome.APPROVE, {}, "同意")
    assert engine.get_case(APPLICANT, case_id).status == "completed"
    with pytest.raises(Conflict, match="finished"):
        engine.suspend(ADMIN, case_id, REASON, BASIS)
    engine.close()


def test_who_may_suspend_and_what_is_refused(db_url: str, tmp_path: Path) -> None:
    engine, _clock, case_id = two_desks(db_url, tmp_path)
    with pytest.raises(CaseNotFound):
        engine.suspend(OTHER_APPLICANT, case_id, REASON, BASIS)  # not theirs to see
    with pytest.raises(NotAllowed):
        engine.suspend(APPLICANT, case_id, REASON, BASIS)
    with pytest.raises(NotAllowed):
        engine.suspend(ANALYST, case_id, REASON, BASIS)
    with pytest.raises(NotAllowed):
        engine.suspend(MARKET, case_id, REASON, BASIS)  # a clerk, not a supervisor
    with pytest.raises(CaseNotFound):
        engine.suspend(TAX_SUPERVISOR, case_id, REASON, BASIS)  # no task of the case in their reach
    with pytest.raises(InvalidInput) as refused:
        engine.suspend(MARKET_SUPERVISOR, case_id, " ", "")
    assert sorted(p.where for p in refused.value.problems) == ["legal_basis", "reason"]
    with pytest.raises(Conflict, match="not suspended"):
        engine.resume(MARKET_SUPERVISOR, case_id)
    assert not engine.may_suspend(MARKET, case_id) and engine.may_suspend(MARKET_SUPERVISOR, case_id)

    engine.suspend(MARKET_SUPERVISOR, case_id, REASON, BASIS)
    with pytest.raises(CaseSuspendedError, match="already suspended"):
        engine.suspend(MARKET_SUPERVISOR, case_id, REASON, BASIS)
    # The applicant reads the case (reason, basis, since; not who) but cannot withdraw or supplement it.
    mine = engine.get_case(APPLICANT, case_id)
    assert mine.status == "suspended" and mine.suspension is not None
    assert (mine.suspension.reason, mine.suspension.suspended_by) == (REASON, "")
    with pytest.raises(CaseSuspendedError):
        engine.withdraw(APPLICANT, case_id)
    with pytest.raises(CaseSuspendedError):
        engine.supplement(APPLICANT, case_id, {"legal_rep_name": "李四"}, {})
    assert [c.id for c in engine.list_cases(ANALYST, status="suspended").items] == [case_id]
    assert list(engine.list_cases(ANALYST, status="running").items) == []
    engine.close()


def test_every_suspension_is_kept_with_who_when_why_and_the_total(db_url: str, tmp_path: Path) -> None:
    engine, clock, case_id = two_desks(db_url, tmp_path)
    clock.set(beijing(3, 3, 10))
    engine.suspend(MARKET_SUPERVISOR, case_id, "等待现场核查", "《行政许可法》第四十五条")
    clock.set(beijing(3, 3, 14))
    engine.resume(MARKET_SUPERVISOR, case_id, "核查完成")
    clock.set(beijing(3, 3, 16))
    engine.suspend(ADMIN, case_id, "专家评审", "《行政许可法》第四十五条")
    clock.set(beijing(3, 4, 10))  # 16:00 to 17:00, then 09:00 to 10:00 the next day: 2 working hours
    view = engine.resume(ADMIN, case_id)
    first, second = view.suspensions
    assert (first.suspended_by, first.resumed_by, first.resume_note) == (
        "chief.market",
        "chief.market",
        "核查完成",
    )
    assert first.working_seconds == 4 * 3600 and second.working_seconds == 2 * 3600
    assert (second.suspended_by, second.reason) == ("admin", "专家评审")
    assert view.suspended_seconds == 6 * 3600
    assert engine.get_case(APPLICANT, case_id).suspensions[0].suspended_by == ""
    engine.close()


def test_the_applicant_is_told_of_the_suspension_and_the_resume(db_url: str, tmp_path: Path) -> None:
    engine, _clock, case_id = two_desks(db_url, tmp_path)
    AccountService(engine.db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)).create(
        APPLICANT.username, "Pa55word-for-tests", Role.APPLICANT
    )
    engine.suspend(MARKET_SUPERVISOR, case_id, REASON, BASIS)
    engine.resume(MARKET_SUPERVISOR, case_id)
    with engine.db.read() as s:
        told = list(s.scalars(select(Notification).where(Notification.recipient == APPLICANT.username)))
        kinds = [e.kind for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]
    assert [n.kind for n in told] == [MessageKind.CASE_SUSPENDED, MessageKind.CASE_RESUMED]
    suspended, resumed = told
    assert REASON in suspended.body["zh"] and BASIS in suspended.body["zh"]
    assert "暂停期间不计入办理时限" in suspended.body["zh"] and "not run" in suspended.body["en"]
    assert suspended.link == f"/cases/{case_id}" and "恢复办理" in resumed.title["zh"]
    assert "two-desks" not in suspended.body["zh"] + resumed.body["zh"]
    # Webhooks see both events like every case event, and the messages as ``notified``.
    assert {"suspended", "resumed", "notified"} <= set(kinds)
    engine.close()


def test_timers_of_a_suspended_case_wait_for_the_resume(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = bundle_engine(db_url, tmp_path, "timer-escalation", clock)
    case_id = engine.start_case(APPLICANT, "timer-escalation", {"company_name": "某公司"}, {}).id
    engine.suspend(ADMIN, case_id, REASON, BASIS)  # no task yet: only an admin answers for it
    clock.advance(timedelta(hours=3))  # the 2-hour intake timer is due
    assert engine.fire_due_timers() == 0
    assert [t for t in engine.get_case(ANALYST, case_id).tasks] == []
    engine.resume(ADMIN, case_id)
    assert engine.fire_due_timers() == 1
    assert [t.item for t in engine.get_case(ANALYST, case_id).tasks] == ["review"]
    engine.close()


def test_department_systems_get_no_external_task_of_a_suspended_case(db_url: str, tmp_path: Path) -> None:
    engine = scenario.tax_engine(db_url, tmp_path, ManualClock(MONDAY))
    case_id = scenario.start_case(engine)
    (held,) = scenario.fetch_tax(engine, max_tasks=1)
    # The tax office's supervisor answers for the case: its system's task is the tax office's.
    engine.suspend(scenario.TAX_SUPERVISOR, case_id, REASON, BASIS)
    with pytest.raises(CaseSuspendedError, match=f"ExternalTask with id '{held.id}' is suspended"):
        engine.complete_external(scenario.TAX_SYSTEM, held.id, "tax-worker-1", {"tax_violations": 0}, {})
    engine.unlock(scenario.ADMIN, held.id)  # even a free task is not handed out
    assert scenario.fetch_tax(engine) == []
    engine.resume(scenario.ADMIN, case_id)
    (fetched,) = scenario.fetch_tax(engine, max_tasks=1)
    assert fetched.id == held.id
    engine.complete_external(scenario.TAX_SYSTEM, fetched.id, "tax-worker-1", {"tax_violations": 0}, {})
    engine.close()


def test_the_migration_downgrades_a_suspended_case_to_running_and_upgrades_again(
    db_url: str, tmp_path: Path
) -> None:
    engine, _clock, case_id = two_desks(db_url, tmp_path)
    engine.suspend(MARKET_SUPERVISOR, case_id, REASON, BASIS)
    config = alembic_config()
    with engine.db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0010_portal")
    assert "case_suspensions" not in inspect(engine.db.engine).get_table_names()
    with engine.db.read() as s:
        assert s.scalar(select(Case.status).where(Case.id == case_id)) == "running"
    engine.db.upgrade()
    assert "case_suspensions" in inspect(engine.db.engine).get_table_names()
    engine.close()


def test_a_message_to_a_suspended_case_is_refused_and_reaches_it_after_the_resume(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url, tmp_path, ManualClock(MONDAY))
    engine.deployments.deploy_dir(BIRTH_MESSAGES)
    case = engine.start_case(APPLICANT, "birth-messages", BIRTH, {})
    assert case.code is not None
    engine.suspend(ADMIN, case.id, REASON, BASIS)  # it waits at a catch event: no task, an admin's call
    with pytest.raises(MessageNotCorrelated, match="No process definition or execution matches"):
        engine.correlate_message(HEALTH_SYSTEM, "certificate-issued", business_key=case.code)
    assert engine.get_case(ANALYST, case.id).tasks == ()
    engine.resume(ADMIN, case.id)
    engine.correlate_message(HEALTH_SYSTEM, "certificate-issued", business_key=case.code)
    assert [t.item for t in engine.get_case(ANALYST, case.id).tasks] == ["birth-certificate"]
    engine.close()


def test_a_suspension_over_the_labour_day_holidays_counts_only_the_working_hours(
    db_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(beijing(4, 29, 9))  # Tuesday 29 April 2025, 09:00
    engine = bundle_engine(db_url, tmp_path, "two-desks", clock)
    case_id = engine.start_case(APPLICANT, "two-desks", DATA, {}).id
    assert open_review(engine, case_id)[1] == beijing(4, 30, 17)
    clock.set(beijing(4, 30, 10))
    engine.suspend(MARKET_SUPERVISOR, case_id, REASON, BASIS)
    # 劳动节: 1-5 May are closed; six calendar days later only 7 h + 1 h of working time passed.
    clock.set(beijing(5, 6, 10))
    view = engine.resume(MARKET_SUPERVISOR, case_id)
    assert view.suspended_seconds == 8 * 3600
    assert open_review(engine, case_id)[1] == beijing(5, 6, 17)  # the 7 h left run from the resume
    engine.close()


def test_analytics_leaves_the_suspended_time_out_of_the_departments_wait(db_url: str, tmp_path: Path) -> None:
    engine, clock, case_id = two_desks(db_url, tmp_path)  # the review queued Monday 09:00
    clock.set(beijing(3, 3, 10))
    engine.suspend(MARKET_SUPERVISOR, case_id, REASON, BASIS)
    clock.set(beijing(3, 5, 10))  # two working days suspended
    engine.resume(MARKET_SUPERVISOR, case_id)
    clock.set(beijing(3, 5, 11))
    task_id, _ = open_review(engine, case_id)
    engine.claim(MARKET, task_id)
    engine.complete(MARKET, task_id, Outcome.APPROVE, {}, "同意")
    for rows in (queries.bottlenecks(engine.db, "two-desks"), None):
        if rows is None:  # the same after a rebuild from the audit trail
            rebuild.rebuild(engine.db, engine.calendar)
            rows = queries.bottlenecks(engine.db, "two-desks")
        (review,) = [r for r in rows if r.item == "review"]
        # Queued 09:00-10:00 and 10:00-11:00 around the suspension: two working hours, not eighteen.
        assert review.wait.mean == pytest.approx(2 * 3600)
    engine.close()
