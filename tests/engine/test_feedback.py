"""Ratings (好差评), rectification of bad ratings (差评整改) and complaints (办不成事反映), on real rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.analytics import queries, rebuild
from engine.cases.states import Outcome
from engine.deadlines import supervision
from engine.errors import CaseNotFound, Conflict, InvalidInput, NotAllowed, NotFound
from engine.feedback import complaints, ratings, rectification, views
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.time.clock import ManualClock
from engine.worker import Worker
from tests.support.engines import (
    ANALYST,
    APPLICANT,
    MONDAY,
    OTHER_APPLICANT,
    bundle_engine,
    clerk,
)

DATA = {"company_name": "上海一件事科技有限公司", "legal_rep_name": "张三"}
MARKET = clerk("market-regulation")
TAX = clerk("tax")
TAX_SUPERVISOR = Actor("chief.tax", Role.CLERK, frozenset({"tax"}), supervisor=True)
MARKET_SUPERVISOR = Actor("chief.market", Role.CLERK, frozenset({"market-regulation"}), supervisor=True)
CENTER_SUPERVISOR = Actor("chief.center", Role.CLERK, frozenset({"service-center"}), supervisor=True)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def engine(db_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Engine]:
    eng = bundle_engine(db_url, tmp_path, "two-desks", clock)
    yield eng
    eng.close()


def step(engine: Engine, clock: ManualClock, case_id: int, outcome: Outcome = Outcome.APPROVE) -> str:
    """The open task is claimed after an hour and decided an hour later; returns its item."""
    (task,) = [t for t in engine.get_case(ANALYST, case_id).tasks if t.state == "ready"]
    actor = MARKET if task.item == "review" else TAX
    clock.advance(timedelta(hours=1))
    engine.claim(actor, task.id)
    clock.advance(timedelta(hours=1))
    problems = [{"field": "company_name", "message": "名称不规范"}] if outcome is Outcome.RETURN else []
    engine.complete(actor, task.id, outcome, {}, "", problems)
    return task.item


def finished_case(engine: Engine, clock: ManualClock, *, tax_returns: bool = False) -> int:
    case_id = engine.start_case(APPLICANT, "two-desks", DATA, {}).id
    step(engine, clock, case_id)
    if tax_returns:
        step(engine, clock, case_id, Outcome.RETURN)
        engine.supplement(APPLICANT, case_id, {"company_name": "上海一件事科技股份有限公司"}, {})
    step(engine, clock, case_id)
    assert engine.get_case(APPLICANT, case_id).status == "completed"
    return case_id


def test_a_finished_case_is_rated_once_for_the_bundle_and_once_per_department(
    engine: Engine, clock: ManualClock
) -> None:
    running = engine.start_case(APPLICANT, "two-desks", DATA, {}).id
    with pytest.raises(Conflict):
        ratings.rate(engine.db, clock, APPLICANT, running, 5)
    case_id = finished_case(engine, clock)

    whole = ratings.rate(engine.db, clock, APPLICANT, case_id, 5, "很方便", calendar=engine.calendar)
    assert (whole.score, whole.level.zh, whole.department, whole.rectification) == (5, "非常满意", "", None)
    market = ratings.rate(engine.db, clock, APPLICANT, case_id, 4, department="market-regulation")
    assert market.level.zh == "满意"
    with pytest.raises(Conflict):
        ratings.rate(engine.db, clock, APPLICANT, case_id, 3)
    for bad in (0, 6, True):
        with pytest.raises(InvalidInput):
            ratings.rate(engine.db, clock, APPLICANT, case_id, bad, department="tax")
    with pytest.raises(InvalidInput):
        ratings.rate(engine.db, clock, APPLICANT, case_id, 3, department="customs")
    with pytest.raises(CaseNotFound):
        ratings.rate(engine.db, clock, OTHER_APPLICANT, case_id, 1)
    with pytest.raises(NotAllowed):
        ratings.rate(engine.db, clock, MARKET, case_id, 1)

    said = views.case_feedback(engine.db, APPLICANT, case_id, regions=engine.regions)
    assert [(r.department, r.score) for r in said.ratings] == [("", 5), ("market-regulation", 4)]
    assert [e.kind for e in engine.get_case(APPLICANT, case_id).timeline].count("rated") == 2
    departments = {d.department: d.ratings for d in queries.by_department(engine.db, "two-desks")}
    assert departments["market-regulation"].counts == (0, 0, 0, 1, 0)
    # A rebuild from the rows counts the same ratings (and every department's tasks).
    rebuild.rebuild(engine.db, engine.calendar)
    rebuilt = {d.department: d.ratings for d in queries.by_department(engine.db, "two-desks")}
    assert rebuilt["market-regulation"] == departments["market-regulation"]
    assert rebuilt["tax"].total == 0
    (review,) = [r for r in queries.bottlenecks(engine.db, "two-desks") if r.item == "review"]
    assert review.ratings.counts == (0, 0, 0, 1, 0)


def test_a_bad_rating_opens_a_rectification_with_a_deadline_in_the_responsible_queue(
    engine: Engine, clock: ManualClock
) -> None:
    case_id = finished_case(engine, clock, tax_returns=True)
    rated_at = clock.now()
    rating = ratings.rate(engine.db, clock, APPLICANT, case_id, 2, "补正了两次", calendar=engine.calendar)
    rect = rating.rectification
    assert rect is not None
    # No department named: the one that returned the case answers for it.
    assert (rect.department, rect.state, rect.overdue) == ("tax", "open", False)
    assert rect.due_at == engine.calendar.add_working_days(rated_at, ratings.RECTIFICATION_DAYS)
    assert [r.id for r in rectification.rectifications_for(engine.db, TAX, regions=engine.regions)] == [
        rect.id
    ]
    assert rectification.rectifications_for(engine.db, MARKET, regions=engine.regions) == []
    with pytest.raises(NotAllowed):
        rectification.rectifications_for(engine.db, APPLICANT, regions=engine.regions)

    named = ratings.rate(engine.db, clock, APPLICANT, case_id, 1, department="market-regulation")
    assert named.rectification is not None and named.rectification.department == "market-regulation"

    with pytest.raises(NotFound):
        rectification.reply_rectification(
            engine.db, clock, MARKET, rect.id, "我们来答复", regions=engine.regions
        )
    with pytest.raises(InvalidInput):
        rectification.reply_rectification(engine.db, clock, TAX, rect.id, "  ", regions=engine.regions)
    clock.advance(timedelta(hours=3))
    replied = rectification.reply_rectification(
        engine.db, clock, TAX, rect.id, "已优化退回说明，并致电申请人致歉", regions=engine.regions
    )
    assert (replied.state, replied.replied_by) == ("replied", "clerk.tax")
    with pytest.raises(Conflict):
        rectification.reply_rectification(engine.db, clock, TAX, rect.id, "再答一次", regions=engine.regions)

    # The applicant is told: the reply is on their case and in their feedback view.
    timeline = engine.get_case(APPLICANT, case_id).timeline
    opened = [e for e in timeline if e.kind == "rectification_opened"]
    answered = [e for e in timeline if e.kind == "rectification_replied"]
    assert [e.detail["department"] for e in opened] == ["tax", "market-regulation"]
    assert answered[0].detail["reply"] == "已优化退回说明，并致电申请人致歉"
    assert answered[0].detail["on_time"] is True
    said = views.case_feedback(engine.db, APPLICANT, case_id, regions=engine.regions)
    assert [(r.score, r.rectification.state if r.rectification else None) for r in said.ratings] == [
        (2, "replied"),
        (1, "open"),
    ]
    trend = queries.trends(engine.db, "two-desks", "week")
    assert sum(p.bad_ratings for p in trend) == 2


def test_a_rectification_left_unanswered_past_its_deadline_goes_to_the_supervisor(
    engine: Engine, clock: ManualClock
) -> None:
    case_id = finished_case(engine, clock, tax_returns=True)
    rect = ratings.rate(engine.db, clock, APPLICANT, case_id, 1, calendar=engine.calendar).rectification
    assert rect is not None
    worker = Worker(engine)
    clock.set(rect.due_at - timedelta(minutes=1))
    assert worker.run_once().rectifications_overdue == 0
    clock.set(rect.due_at + timedelta(minutes=1))
    assert worker.run_once().rectifications_overdue == 1
    assert worker.run_once().rectifications_overdue == 0
    queue = supervision.queue_for(engine.db, TAX_SUPERVISOR, regions=engine.regions)
    assert [(e.subject, e.subject_id, e.title.zh) for e in queue] == [
        ("rectification", rect.id, "差评整改超期")
    ]
    assert "rectification_overdue" in [e.kind for e in engine.get_case(APPLICANT, case_id).timeline]

    late = rectification.reply_rectification(engine.db, clock, TAX, rect.id, "已整改", regions=engine.regions)
    assert late.overdue is True
    assert supervision.queue_for(engine.db, TAX_SUPERVISOR, regions=engine.regions) == []
    timeline = engine.get_case(APPLICANT, case_id).timeline
    assert [e.detail["on_time"] for e in timeline if e.kind == "rectification_replied"] == [False]


def test_a_complaint_with_or_without_a_case_is_a_supervisor_task_and_counts(
    engine: Engine, clock: ManualClock
) -> None:
    case_id = engine.start_case(APPLICANT, "two-desks", DATA, {}).id
    on_case = complaints.complain(
        engine.db, clock, APPLICANT, case_id, "窗口说材料不全但没说缺什么", calendar=engine.calendar
    )
    assert on_case.department == "market-regulation"  # the department holding the case
    assert on_case.due_at == engine.calendar.add_working_days(clock.now(), complaints.COMPLAINT_DAYS)
    alone = complaints.complain(engine.db, clock, OTHER_APPLICANT, None, "网上找不到办理入口")
    assert (alone.case_id, alone.department) == (None, "service-center")
    with pytest.raises(NotAllowed):
        complaints.complain(engine.db, clock, MARKET, None, "职员不能投诉")
    with pytest.raises(InvalidInput):
        complaints.complain(engine.db, clock, APPLICANT, None, " ")
    with pytest.raises(InvalidInput):
        complaints.complain(engine.db, clock, APPLICANT, case_id, "不对", department="customs")
    with pytest.raises(CaseNotFound):
        complaints.complain(engine.db, clock, OTHER_APPLICANT, case_id, "别人的办件")

    market_queue = supervision.queue_for(engine.db, MARKET_SUPERVISOR, regions=engine.regions)
    assert [(e.subject, e.subject_id, e.level, e.case_id) for e in market_queue] == [
        ("complaint", on_case.id, "filed", case_id)
    ]
    assert [
        e.subject_id for e in supervision.queue_for(engine.db, CENTER_SUPERVISOR, regions=engine.regions)
    ] == [alone.id]
    assert "complaint" in [e.kind for e in engine.get_case(APPLICANT, case_id).timeline]

    counted = {d.department: d.complaints for d in queries.by_department(engine.db)}
    assert counted["market-regulation"] == 1 and counted["service-center"] == 1
    assert sum(p.complaints for p in queries.trends(engine.db, period="month")) == 2

    with pytest.raises(Conflict):
        supervision.resolve(
            engine.db, clock, MARKET_SUPERVISOR, market_queue[0].id, "关闭", regions=engine.regions
        )
    with pytest.raises(NotFound):
        complaints.answer_complaint(
            engine.db, clock, CENTER_SUPERVISOR, on_case.id, "不归我管", regions=engine.regions
        )
    answer = complaints.answer_complaint(
        engine.db, clock, MARKET_SUPERVISOR, on_case.id, "已一次性告知所缺材料并致歉", regions=engine.regions
    )
    assert answer.state == "answered"
    assert supervision.queue_for(engine.db, MARKET_SUPERVISOR, regions=engine.regions) == []
    mine = complaints.complaints_of(engine.db, APPLICANT)
    assert [(c.id, c.reply) for c in mine] == [(on_case.id, "已一次性告知所缺材料并致歉")]
    assert engine.get_case(APPLICANT, case_id).timeline[-1].kind == "complaint_answered"
