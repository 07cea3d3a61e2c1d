"""Cases past (or waiting at) timer and message catch events, or under a boundary timer, migrate."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from engine.cases.migration_plans import CaseFilter
from engine.cases.states import Outcome
from engine.people.actors import Actor, Role
from engine.storage.models import Case, MessageWait
from engine.time.clock import ManualClock
from tests.support.engines import ANALYST, APPLICANT, MONDAY, clerk, make_engine

HERE = Path(__file__).resolve().parent
HOSPITAL = Actor("system.market-regulation", Role.SYSTEM, frozenset({"market-regulation"}))
DATA = {"company_name": "上海一件事科技有限公司"}


def test_cases_at_and_past_timers_and_messages_move_and_keep_their_due_times(
    db_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY)
    engine = make_engine(db_url, tmp_path, clock=clock)
    engine.deployments.deploy_dir(HERE / "wait-events-v1")
    at_message = engine.start_case(APPLICANT, "wait-events", DATA, {}).id
    at_review = engine.start_case(APPLICANT, "wait-events", DATA, {}).id
    clock.advance(timedelta(minutes=30))
    at_timer = engine.start_case(APPLICANT, "wait-events", DATA, {}).id
    clock.advance(timedelta(hours=1, minutes=31))
    engine.fire_due_timers()  # the two first cases pass their wait; the last waits 30 minutes more
    engine.correlate_message(
        HOSPITAL,
        "certificate-issued",
        business_key=str(at_review),
        process_variables={"certificate_no": "Y1"},
    )
    with engine.db.read() as s:
        before = dict(s.execute(select(Case.id, Case.next_timer_at)).all())
    assert before[at_timer] is not None and before[at_review] is not None and before[at_message] is None
    engine.deployments.deploy_dir(HERE / "wait-events-v2")
    plan = engine.create_migration_plan(ANALYST, "wait-events", 1, 2, [], [], {})
    assert engine.validate_migration(ANALYST, "wait-events", plan.id).valid
    clock.advance(timedelta(minutes=5))

    report = engine.start_migration_run(ANALYST, "wait-events", plan.id, CaseFilter())

    assert report.counts == {"pending": 0, "migrated": 3, "failed": 0, "skipped": 0}, report.failures
    with engine.db.read() as s:
        after = dict(s.execute(select(Case.id, Case.next_timer_at)).all())
        waits = dict(s.execute(select(MessageWait.case_id, MessageWait.name)).all())
    assert after == before  # the intake timer and the review's escalation keep their due times
    assert waits == {at_message: "certificate-issued"}
    review = engine.get_case(ANALYST, at_review)
    assert review.version == 2 and [(t.item, t.state) for t in review.tasks] == [("review", "ready")]

    clock.advance(timedelta(hours=1))
    engine.fire_due_timers()
    engine.correlate_message(HOSPITAL, "certificate-issued", business_key=str(at_timer))
    engine.correlate_message(HOSPITAL, "certificate-issued", business_key=str(at_message))
    for case_id in (at_timer, at_message, at_review):
        task = next(t for t in engine.get_case(ANALYST, case_id).tasks if t.state == "ready")
        actor = clerk(task.department)
        engine.claim(actor, task.id)
        engine.complete(actor, task.id, Outcome.APPROVE, {}, "同意")
        assert engine.get_case(ANALYST, case_id).status == "completed"
