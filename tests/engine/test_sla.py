"""The SLA clock (限时办结) on real task rows with a moved clock: working-day due times, warnings,
overdue marks, the supervisor queue, a bundle's own escalation steps, and stopped clocks while
the applicant is asked for a correction."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.analytics import queries, rebuild
from engine.cases.events import ClocksPaused
from engine.cases.states import Outcome
from engine.deadlines import pauses, supervision
from engine.errors import Conflict, NotAllowed
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import Case
from engine.time.calendar import WorkCalendar
from engine.time.clock import ManualClock
from engine.worker import Worker
from tests.support.engines import ANALYST, APPLICANT, MONDAY, TEST_BUNDLES, bundle_engine, clerk

DATA = {"company_name": "上海一件事科技有限公司", "legal_rep_name": "张三"}
MARKET = clerk("market-regulation")
TAX = clerk("tax")
MARKET_SUPERVISOR = Actor("chief.market", Role.CLERK, frozenset({"market-regulation"}), supervisor=True)


def beijing(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Beijing wall-clock moment (UTC+8, no daylight saving) as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def start(engine: Engine) -> int:
    return engine.start_case(APPLICANT, "two-desks", DATA, {}).id


def open_task(engine: Engine, case_id: int) -> tuple[int, str, datetime]:
    (task,) = [t for t in engine.get_case(ANALYST, case_id).tasks if t.state in ("ready", "claimed")]
    assert task.due_at is not None
    return task.id, task.item, task.due_at


def decide(engine: Engine, case_id: int, outcome: Outcome = Outcome.APPROVE, **problem: str) -> None:
    task_id, item, _ = open_task(engine, case_id)
    actor = MARKET if item == "review" else TAX
    engine.claim(actor, task_id)
    problems = [dict(problem)] if problem else []
    engine.complete(actor, task_id, outcome, {}, "请补正" if problems else "同意", problems)


@pytest.mark.parametrize(
    ("submitted", "review_due", "why"),
    [
        # Friday 10:00 + 2 working days: 7 h on Friday, the weekend skipped, 8 h Monday, 1 h Tuesday.
        (beijing(2025, 3, 7, 10), beijing(2025, 3, 11, 10), "weekend"),
        # 2025-04-30 10:00: 劳动节 1-5 May closed, so the limit ends on Wednesday 7 May.
        (beijing(2025, 4, 30, 10), beijing(2025, 5, 7, 10), "Labour Day holidays"),
        # Friday 25 April: Sunday 27 April 2025 is an adjusted working day (调休上班).
        (beijing(2025, 4, 25, 10), beijing(2025, 4, 28, 10), "adjusted working Sunday"),
        # 2025-09-30 10:00: National Day and Mid-Autumn close 1-8 Oct: 7 h, 8 h on the 9th, 1 h on the 10th.
        (beijing(2025, 9, 30, 10), beijing(2025, 10, 10, 10), "National Day"),
        # Friday 10 Oct 17:00: Saturday 11 Oct 2025 is worked (调休), so the limit ends on Monday 13 Oct.
        (beijing(2025, 10, 10, 17), beijing(2025, 10, 13, 17), "adjusted working Saturday"),
        # Submitted on a Saturday evening: the clock starts Monday 09:00 and runs 16 h.
        (beijing(2025, 3, 8, 20), beijing(2025, 3, 11, 17), "submitted at the weekend"),
    ],
)
def test_due_times_on_task_rows_count_working_days_of_the_announced_calendar(
    sqlite_url: str, tmp_path: Path, submitted: datetime, review_due: datetime, why: str
) -> None:
    clock = ManualClock(submitted)
    engine = bundle_engine(sqlite_url, tmp_path, "two-desks", clock)
    case_id = start(engine)
    _, item, due = open_task(engine, case_id)
    assert (item, due) == ("review", review_due), why

    # The next task's clock starts when it is created: one working day for the tax check.
    clock.set(review_due - timedelta(hours=1))
    decide(engine, case_id)
    _, item, due = open_task(engine, case_id)
    assert item == "tax-check"
    assert due == engine.calendar.add_working_days(clock.now(), 1)
    assert engine.calendar.working_time_between(clock.now(), due) == timedelta(hours=8)
    engine.close()


def test_an_overdue_task_is_escalated_to_the_supervisor_queue_and_the_timeline(
    db_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY)  # Monday 09:00 in Beijing; the review is due Tuesday 17:00
    engine = bundle_engine(db_url, tmp_path, "two-desks", clock)
    worker = Worker(engine)
    case_id = start(engine)
    task_id, _, due = open_task(engine, case_id)
    assert due == beijing(2025, 3, 4, 17)

    first = worker.run_once()
    assert (first.sla.tracked, first.sla.warned, first.sla.overdue) == (1, 0, 0)

    # 80 % of 16 working hours = 12 h 48 min: Tuesday 13:48.
    clock.set(beijing(2025, 3, 4, 13, 47))
    assert worker.run_once().sla.warned == 0
    clock.set(beijing(2025, 3, 4, 13, 49))
    assert worker.run_once().sla.warned == 1
    with engine.db.read() as s:
        alerts = supervision.department_alerts(s, "market-regulation")
    assert [(a.subject_id, a.level, a.title.zh) for a in alerts] == [(task_id, "warning", "任务即将到期")]
    assert supervision.queue_for(engine.db, MARKET_SUPERVISOR, regions=engine.regions) == []

    clock.set(due + timedelta(minutes=1))
    tick = worker.run_once()
    assert (tick.sla.overdue, tick.sla.escalated) == (1, 1)
    again = worker.run_once()
    assert (again.sla.overdue, again.sla.escalated, again.sla.warned) == (0, 0, 0)

    queue = supervision.queue_for(engine.db, MARKET_SUPERVISOR, regions=engine.regions)
    assert [(e.subject, e.subject_id, e.level, e.case_id, e.title.zh) for e in queue] == [
        ("work_item", task_id, "escalated", case_id, "任务超期督办")
    ]
    assert supervision.queue_for(engine.db, ANALYST, regions=engine.regions) == queue
    with pytest.raises(NotAllowed):
        supervision.queue_for(engine.db, MARKET, regions=engine.regions)  # a clerk who is not a supervisor
    with pytest.raises(NotAllowed):
        supervision.queue_for(
            engine.db,
            Actor("chief.tax", Role.CLERK, frozenset({"tax"}), supervisor=True),
            "market-regulation",
            regions=engine.regions,
        )

    view = engine.get_case(APPLICANT, case_id)
    assert [t.overdue for t in view.tasks] == [True]
    kinds = [e.kind for e in view.timeline]
    assert kinds.count("overdue") == 1 and kinds.count("escalated") == 1
    late = engine.list_tasks(MARKET, overdue=True)
    assert [t.id for t in late.items] == [task_id]

    resolved = supervision.resolve(
        engine.db, clock, MARKET_SUPERVISOR, queue[0].id, "已催办 (chased)", regions=engine.regions
    )
    assert resolved.state == "resolved" and resolved.resolved_by == "chief.market"
    assert supervision.queue_for(engine.db, MARKET_SUPERVISOR, regions=engine.regions) == []
    assert engine.get_case(APPLICANT, case_id).timeline[-1].kind == "escalation_resolved"
    engine.close()


def test_a_bundle_sets_its_own_escalation_steps(sqlite_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = bundle_engine(sqlite_url, tmp_path, "two-desks", clock)
    files = {p.name: p.read_bytes() for p in (TEST_BUNDLES / "two-desks").iterdir()}
    files["bundle.yaml"] = files["bundle.yaml"].replace(
        b"escalation: {notify_at: 0.8, escalate_at: 1.0}", b"escalation: {notify_at: 0.5, escalate_at: 1.5}"
    )
    assert engine.deploy_files(files, "analyst").version == 2
    worker = Worker(engine)
    case_id = start(engine)
    task_id, _, due = open_task(engine, case_id)
    worker.run_once()

    # Half of 16 working hours has passed at Monday 17:00; 150 % (24 h) at Wednesday 17:00.
    clock.set(beijing(2025, 3, 3, 16, 59))
    assert worker.run_once().sla.warned == 0
    clock.set(beijing(2025, 3, 3, 17, 1))
    assert worker.run_once().sla.warned == 1
    clock.set(due + timedelta(minutes=1))
    tick = worker.run_once()
    assert (tick.sla.overdue, tick.sla.escalated) == (1, 0)  # late, but not yet the supervisor's
    assert supervision.queue_for(engine.db, ANALYST, regions=engine.regions) == []
    clock.set(beijing(2025, 3, 5, 16, 59))
    assert worker.run_once().sla.escalated == 0
    clock.set(beijing(2025, 3, 5, 17, 1))
    assert worker.run_once().sla.escalated == 1
    assert [e.subject_id for e in supervision.queue_for(engine.db, ANALYST, regions=engine.regions)] == [
        task_id
    ]
    engine.close()


def test_the_applicants_correction_time_does_not_count_against_the_department(
    db_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY)
    engine = bundle_engine(db_url, tmp_path, "two-desks", clock)
    worker = Worker(engine)
    case_id = start(engine)
    clock.advance(timedelta(hours=1))
    decide(engine, case_id, Outcome.RETURN, field="legal_rep_name", message="姓名与证件不符")
    assert engine.get_case(APPLICANT, case_id).status == "awaiting_applicant"

    # The applicant takes a working week to answer; nothing of the department goes late meanwhile.
    clock.set(beijing(2025, 3, 10, 15))
    tick = worker.run_once()
    assert (tick.sla.overdue, tick.sla.escalated) == (0, 0)
    engine.supplement(APPLICANT, case_id, {"legal_rep_name": "李四"}, {})
    resumed = clock.now()
    _task_id, item, due = open_task(engine, case_id)
    assert item == "review"
    assert engine.calendar.working_time_between(resumed, due) == timedelta(hours=16)  # the full limit again

    clock.set(due - timedelta(minutes=1))
    worker.run_once()
    assert engine.get_case(ANALYST, case_id).tasks[-1].overdue is False
    decide(engine, case_id)
    decide(engine, case_id)
    assert engine.get_case(APPLICANT, case_id).status == "completed"
    assert supervision.queue_for(engine.db, ANALYST, regions=engine.regions) == []

    # The review's measured wait is its time in the queue after the supplement, not the week before.
    rebuild.rebuild(engine.db, engine.calendar)
    (review,) = [r for r in queries.bottlenecks(engine.db, "two-desks") if r.item == "review"]
    assert review.count == 2 and review.returns == 1 and review.overdue == 0
    waits = sorted(
        [
            engine.calendar.working_time_between(MONDAY, MONDAY + timedelta(hours=1)).total_seconds(),
            engine.calendar.working_time_between(resumed, due - timedelta(minutes=1)).total_seconds(),
        ]
    )
    assert review.wait.mean == pytest.approx(sum(waits) / 2)
    engine.close()


def test_stopped_clocks_move_open_due_times_escalations_and_the_promised_date(
    db_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY)
    engine = bundle_engine(db_url, tmp_path, "two-desks", clock)
    worker = Worker(engine)
    case_id = start(engine)
    task_id, _, due = open_task(engine, case_id)
    worker.run_once()  # schedules the warning and the escalation of the review
    promised = beijing(2025, 3, 5, 17)
    with engine.db.write() as s:
        case = s.get(Case, case_id)
        assert case is not None
        case.due_at = promised

    # The case waited for the applicant from Monday 11:00 to Wednesday 11:00: two working days.
    waited_from, resumed = beijing(2025, 3, 3, 11), beijing(2025, 3, 5, 11)
    with engine.db.write() as s:
        paused = pauses.shift_due_dates(s, case_id, waited_from, resumed, engine.calendar)
    assert paused == timedelta(hours=16)
    _, _, moved = open_task(engine, case_id)
    assert moved == beijing(2025, 3, 6, 17)  # Tuesday 17:00 plus two working days
    view = engine.get_case(ANALYST, case_id)
    assert view.due_at == beijing(2025, 3, 7, 17)
    pause = [e for e in view.timeline if e.kind == ClocksPaused.KIND]
    assert len(pause) == 1 and pause[0].detail["working_seconds"] == 16 * 3600

    # The old due time passes without an overdue mark; the warning moved by the pause too.
    clock.set(due + timedelta(hours=1))
    tick = worker.run_once()
    assert (tick.sla.overdue, tick.sla.warned) == (0, 0)
    with engine.db.read() as s:
        (warning,) = [
            e
            for e in s.scalars(
                select(supervision.Escalation).where(supervision.Escalation.subject_id == task_id)
            )
            if e.level == "warning"
        ]
    assert warning.fire_at == engine.calendar.add_working_time(MONDAY, timedelta(hours=0.8 * 16 + 16))
    clock.set(moved + timedelta(minutes=1))
    assert worker.run_once().sla.overdue == 1
    engine.close()


def test_the_working_day_table_agrees_with_the_announced_calendar_and_the_overrides() -> None:
    calendar = WorkCalendar.load()
    day = date(2003, 12, 1)
    while day < date(2028, 2, 1):
        assert calendar.is_working_day(day) == calendar.describe(day).working, day
        day += timedelta(days=1)
    assert calendar.describe(date(2027, 2, 8)).source == "override"
    assert calendar.describe(date(2025, 4, 27)).name == "劳动节调休上班"


def test_a_supplement_moves_the_promised_date_by_the_applicants_waiting_time(
    sqlite_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY)
    engine = bundle_engine(sqlite_url, tmp_path, "two-desks", clock)
    case_id = start(engine)
    promised = engine.get_case(APPLICANT, case_id).due_at
    assert promised is not None
    clock.advance(timedelta(hours=1))
    decide(engine, case_id, Outcome.RETURN, field="legal_rep_name", message="姓名与证件不符")
    waited_from = clock.now()
    clock.set(beijing(2025, 3, 10, 15))
    engine.supplement(APPLICANT, case_id, {"legal_rep_name": "李四"}, {})
    view = engine.get_case(APPLICANT, case_id)
    left = engine.calendar.working_time_between(waited_from, promised)
    assert view.due_at == engine.calendar.add_working_time(clock.now(), left)
    (pause,) = [e for e in view.timeline if e.kind == ClocksPaused.KIND]
    waited = engine.calendar.working_time_between(waited_from, clock.now())
    assert pause.detail["working_seconds"] == waited.total_seconds()
    engine.close()


def test_two_supervisors_resolving_one_entry_at_once_resolve_it_once(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = bundle_engine(db_url, tmp_path, "two-desks", clock)
    case_id = start(engine)
    _, _, due = open_task(engine, case_id)
    clock.set(due + timedelta(minutes=1))
    Worker(engine).run_once()
    (entry,) = supervision.queue_for(engine.db, MARKET_SUPERVISOR, regions=engine.regions)
    deputy = Actor("deputy.market", Role.CLERK, frozenset({"market-regulation"}), supervisor=True)
    answers: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def hold_the_case() -> None:
        # A writer of the case (as a completion or the sweep would be) keeps it locked while
        # both supervisors send their resolve.
        with engine.db.write() as s:
            s.execute(select(Case.id).where(Case.id == case_id).with_for_update())
            holding.set()
            release.wait(10)

    def resolve_as(who: Actor) -> None:
        try:
            answers.append(
                supervision.resolve(
                    engine.db, clock, who, entry.id, f"{who.username} 已催办", regions=engine.regions
                ).resolved_by
            )
        except Conflict:
            answers.append("conflict")

    holder = threading.Thread(target=hold_the_case)
    holder.start()
    assert holding.wait(10)
    resolvers = [threading.Thread(target=resolve_as, args=(who,)) for who in (MARKET_SUPERVISOR, deputy)]
    for thread in resolvers:
        thread.start()
    time.sleep(0.5)  # both resolves are now waiting on the held case
    release.set()
    for thread in (holder, *resolvers):
        thread.join(30)
    assert sorted(answers, key=lambda a: a == "conflict") in (
        ["chief.market", "conflict"],
        ["deputy.market", "conflict"],
    )
    kinds = [e.kind for e in engine.get_case(ANALYST, case_id).timeline]
    assert kinds.count("escalation_resolved") == 1
    engine.close()
