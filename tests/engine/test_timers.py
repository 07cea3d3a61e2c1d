"""BPMN timers fire on time, exactly once, after restarts, from any number of workers, and inside serve."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from engine.deadlines import supervision
from engine.service import Engine
from engine.storage.models import Case, CaseEvent, WorkItem
from engine.time.clock import ManualClock
from engine.worker import Worker
from tests.api.support import start_serve
from tests.support.engines import ANALYST, APPLICANT, MONDAY, TEST_BUNDLES, bundle_engine

DATA = {"company_name": "上海一件事科技有限公司"}
INTAKE_WAIT = timedelta(hours=2)  # the intermediate timer of the timer-escalation bundle
REVIEW_LIMIT = timedelta(days=3)  # its boundary timer on the review task


def tasks(engine: Engine, case_id: int) -> list[tuple[str, str]]:
    return [(t.item, t.state) for t in engine.get_case(ANALYST, case_id).tasks]


def timer_events(engine: Engine, case_id: int) -> int:
    with engine.db.read() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(CaseEvent)
                .where(CaseEvent.case_id == case_id, CaseEvent.kind == "timer_fired")
            )
            or 0
        )


def test_an_intermediate_timer_holds_the_case_until_its_time(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = bundle_engine(db_url, tmp_path, "timer-escalation", clock)
    case_id = engine.start_case(APPLICANT, "timer-escalation", DATA, {}).id
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.next_timer_at == MONDAY + INTAKE_WAIT
    assert tasks(engine, case_id) == []

    clock.advance(INTAKE_WAIT - timedelta(minutes=1))
    assert engine.fire_due_timers() == 0
    assert tasks(engine, case_id) == []

    clock.set(MONDAY + INTAKE_WAIT)  # at the moment itself SpiffWorkflow does not fire yet: no false event
    assert engine.fire_due_timers() == 0
    assert timer_events(engine, case_id) == 0
    clock.advance(timedelta(minutes=1))
    assert engine.fire_due_timers() == 1
    assert tasks(engine, case_id) == [("review", "ready")]
    assert engine.fire_due_timers() == 0
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None
        # Now the boundary timer of the review waits: three calendar days from the review's start.
        assert case.next_timer_at == clock.now() + REVIEW_LIMIT
    assert timer_events(engine, case_id) == 1
    engine.close()


def test_a_boundary_timer_fires_once_after_a_restart_of_the_worker(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    first = bundle_engine(db_url, tmp_path, "timer-escalation", clock)
    case_id = first.start_case(APPLICANT, "timer-escalation", DATA, {}).id
    clock.advance(INTAKE_WAIT + timedelta(minutes=1))
    assert Worker(first).run_once().timers_fired == 1
    review_started = clock.now()
    first.close()  # the worker's process ends while the review's boundary timer waits

    later = ManualClock(review_started + REVIEW_LIMIT + timedelta(minutes=5))
    second = Engine(first.settings, clock=later)
    tick = Worker(second).run_once()
    assert tick.timers_fired == 1 and not tick.errors
    assert tasks(second, case_id) == [("review", "cancelled"), ("urgent-review", "ready")]
    assert Worker(second).run_once().timers_fired == 0

    third = Engine(first.settings, clock=ManualClock(later.now() + timedelta(days=30)))
    assert Worker(third).run_once().timers_fired == 0
    assert timer_events(third, case_id) == 2  # the intermediate timer, then the boundary timer
    view = third.get_case(ANALYST, case_id)
    assert [e.kind for e in view.timeline].count("task_cancelled") == 1
    second.close()
    third.close()


@pytest.mark.postgres
def test_two_workers_on_postgresql_never_fire_one_timer_twice(pg_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    setup = bundle_engine(pg_url, tmp_path, "timer-escalation", clock)
    case_ids = [setup.start_case(APPLICANT, "timer-escalation", DATA, {}).id for _ in range(40)]
    setup.close()

    due = MONDAY + INTAKE_WAIT + timedelta(minutes=1)
    engines = [Engine(setup.settings, clock=ManualClock(due)) for _ in range(2)]
    start = threading.Barrier(len(engines))
    fired: list[int] = []
    errors: list[tuple[str, ...]] = []

    def work(engine: Engine) -> None:
        worker = Worker(engine, timer_batch=7)
        start.wait()
        total = 0
        for _ in range(20):
            tick = worker.run_once()
            errors.append(tick.errors)
            total += tick.timers_fired
            if tick.timers_fired == 0:
                break
        fired.append(total)

    threads = [threading.Thread(target=work, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(not e for e in errors), errors
    assert sum(fired) == len(case_ids), fired
    with engines[0].db.read() as s:
        per_case = dict(
            s.execute(
                select(CaseEvent.case_id, func.count())
                .where(CaseEvent.kind == "timer_fired")
                .group_by(CaseEvent.case_id)
            ).all()
        )
        reviews = dict(s.execute(select(WorkItem.case_id, func.count()).group_by(WorkItem.case_id)).all())
    assert per_case == dict.fromkeys(case_ids, 1)
    assert reviews == dict.fromkeys(case_ids, 1)
    for engine in engines:
        engine.close()


def test_onething_serve_runs_the_worker_on_sqlite(tmp_path: Path) -> None:
    """Work that came due while nothing ran is done once ``onething serve`` is up, with no request:
    a timer fires, and a task past its working-day limit is marked overdue and escalated."""
    db_url = f"sqlite:///{tmp_path / 'serve.db'}"
    now = datetime.now(UTC)
    past = ManualClock(now - timedelta(days=20))
    engine = bundle_engine(db_url, tmp_path, "timer-escalation", past)
    engine.deployments.deploy_dir(TEST_BUNDLES / "two-desks")
    late_case = engine.start_case(APPLICANT, "two-desks", {**DATA, "legal_rep_name": "张三"}, {}).id
    (late_task,) = engine.get_case(ANALYST, late_case).tasks
    assert late_task.due_at is not None and late_task.due_at < now
    # Submitted three hours ago, so its two-hour wait is over.
    past.set(now - timedelta(hours=3))
    case_id = engine.start_case(APPLICANT, "timer-escalation", DATA, {}).id
    assert tasks(engine, case_id) == []

    def done() -> bool:
        escalated = supervision.queue_for(engine.db, ANALYST, regions=engine.regions)
        return tasks(engine, case_id) != [] and [e.subject_id for e in escalated] == [late_task.id]

    data_dir = tmp_path / "serve"
    data_dir.mkdir()
    served = start_serve(db_url, data_dir, tmp_path / "serve.log", env={"ONETHING_WORKER_INTERVAL": "0.2"})
    try:
        assert httpx.get(served.base_url + "/healthz", timeout=5).json()["status"] == "ok"
        deadline = time.monotonic() + 30
        while not done() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        served.stop()
    assert tasks(engine, case_id) == [("review", "ready")], "\n".join(served.log_lines()[-20:])
    assert timer_events(engine, case_id) == 1
    late = engine.get_case(ANALYST, late_case)
    assert late.tasks[0].overdue is True
    assert [e.kind for e in late.timeline].count("escalated") == 1
    engine.close()
