"""The event spine: every change to a case is one typed event, written to its trail and handed out.

A subscriber of every kind sees exactly the case's audit trail, each event inside the
transaction of its change; a subscriber that fails undoes the change with its line and its
projections; subscribing a name again replaces it. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.analytics import projection
from engine.cases import events
from engine.cases.states import CaseStatus, Outcome, WorkItemState
from engine.demo import department_systems_work
from engine.feedback import ratings
from engine.service import Engine
from engine.storage.models import Case, CaseEvent, Material, WorkItem
from engine.storage.settings import Settings, shipped_processes_dir
from engine.storage.spine import Event, emit
from engine.tables import metadata
from engine.time.clock import ManualClock
from tests.support.engines import ANALYST, APPLICANT, MONDAY, clerk, make_engine, upload

STARTUP = "enterprise-startup"
# Every kind of event the case vocabulary defines.
EVERY_KIND = tuple(
    cls
    for _name, cls in inspect.getmembers(events, inspect.isclass)
    if issubclass(cls, Event) and cls is not Event and cls.__module__ == events.__name__
)
RETURNED_ITEM = "business-registration"
PROBLEM = {"field": "business_scope", "message": "经营范围表述不规范"}
CORRECTION = {"business_scope": "信息技术咨询服务；软件开发"}


@dataclass(frozen=True)
class Delivery:
    """One event as a subscriber received it, and what the session showed it then."""

    line: tuple[str, str, int | None, dict[str, Any]]  # kind, actor, work_item_id, detail
    case_id: int | None
    in_transaction: bool
    shows_change: bool


def shows_change(session: Session, event: Event) -> bool:
    """Whether reading through the subscriber's session shows the change the event announces."""
    case = session.get(Case, event.case_id) if event.case_id is not None else None
    item = session.get(WorkItem, event.work_item_id) if event.work_item_id is not None else None
    if isinstance(event, events.TaskCreated):
        return item is not None and item.state == WorkItemState.READY and item.item_key == event.item
    if isinstance(event, events.TaskClaimed):
        return item is not None and item.state == WorkItemState.CLAIMED and item.assignee == event.actor
    if isinstance(event, events.TaskUnclaimed):
        return item is not None and item.state == WorkItemState.READY and item.assignee is None
    if isinstance(event, events.TaskApproved | events.TaskReturned):
        outcome = Outcome.APPROVE if isinstance(event, events.TaskApproved) else Outcome.RETURN
        return item is not None and item.state == WorkItemState.COMPLETED and item.outcome == outcome
    if isinstance(event, events.TaskCancelled):
        return item is not None and item.state == WorkItemState.CANCELLED
    if isinstance(event, events.CertificateIssued):
        return session.get(Material, event.material_id) is not None
    if isinstance(event, events.NoticeIssued):
        return case is not None and case.status == CaseStatus.AWAITING_APPLICANT
    if isinstance(event, events.Supplemented):
        return case is not None and all(case.data[k] == v for k, v in CORRECTION.items())
    if isinstance(event, events.ClocksPaused):
        return case is not None and (event.case_due_at is None or case.due_at is not None)
    if isinstance(event, events.CaseFinished):
        return case is not None and case.status == event.KIND and case.finished_at == event.at
    if isinstance(event, events.Rated):
        rows = metadata.tables["ratings"]
        return (
            session.execute(select(rows.c.score).where(rows.c.id == event.rating_id)).scalar() == event.score
        )
    return case is not None


class Recorder:
    """A throwaway subscriber of every kind: what it was handed, in order."""

    def __init__(self) -> None:
        self.seen: list[Delivery] = []

    def __call__(self, session: Session, event: Event) -> None:
        self.seen.append(
            Delivery(
                (event.KIND, event.actor, event.work_item_id, event.detail()),
                event.case_id,
                session.in_transaction(),
                shows_change(session, event),
            )
        )

    def lines_of(self, case_id: int) -> list[tuple[str, str, int | None, dict[str, Any]]]:
        return [d.line for d in self.seen if d.case_id == case_id]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def engine(db_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Engine]:
    eng = make_engine(db_url, tmp_path, clock)
    eng.deployments.deploy_dir(shipped_processes_dir() / STARTUP)
    yield eng
    eng.close()


def apply(engine: Engine) -> tuple[int, dict[str, Any]]:
    """Apply with the bundle's first example; returns the case and the example."""
    example = dict(engine.bundle_detail(STARTUP).examples[0])
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    return engine.start_case(APPLICANT, STARTUP, example["data"], materials).id, example


def open_tasks(engine: Engine, case_id: int) -> list[Any]:
    return [t for t in engine.get_case(ANALYST, case_id).tasks if t.state in ("ready", "claimed")]


def trail(engine: Engine, case_id: int) -> list[tuple[str, str, int | None, dict[str, Any]]]:
    with engine.db.read() as s:
        rows = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).all()
        return [(e.kind, e.actor, e.work_item_id, dict(e.detail)) for e in rows]


def count(engine: Engine, table: str, **where: Any) -> int:
    rows = metadata.tables[table]
    with engine.db.read() as s:
        query = select(func.count()).select_from(rows)
        for column, value in where.items():
            query = query.where(rows.c[column] == value)
        return int(s.scalar(query) or 0)


def test_a_subscriber_of_every_kind_sees_the_cases_trail_exactly_inside_each_transaction(
    engine: Engine, clock: ManualClock
) -> None:
    recorder = Recorder()
    engine.db.spine.subscribe("test.every-kind", recorder, *EVERY_KIND)
    case_id, example = apply(engine)
    hour = timedelta(hours=1)
    returned = unclaimed = False
    for _ in range(50):
        if department_systems_work(engine, case_id, example["decisions"], clock):
            continue  # the tax registration is the tax system's external task
        tasks = open_tasks(engine, case_id)
        if not tasks:
            break
        for task in tasks:
            actor = clerk(task.department)
            clock.advance(hour)
            if task.state == "ready":
                engine.claim(actor, task.id)
            if not unclaimed:  # once: put it back and take it again
                engine.unclaim(actor, task.id)
                engine.claim(actor, task.id)
                unclaimed = True
            clock.advance(hour)
            if task.item == RETURNED_ITEM and not returned:
                engine.complete(actor, task.id, Outcome.RETURN, {}, "请核对", [PROBLEM])
                returned = True
                clock.advance(3 * hour)  # the applicant takes a while: the clocks stand still
                engine.supplement(APPLICANT, case_id, CORRECTION, {})
                break
            engine.complete(actor, task.id, Outcome.APPROVE, example["decisions"].get(task.item, {}), "同意")
    assert engine.get_case(APPLICANT, case_id).status == "completed"
    clock.advance(hour)
    ratings.rate(engine.db, clock, APPLICANT, case_id, 5, "很方便", calendar=engine.calendar)

    written = trail(engine, case_id)
    kinds = [line[0] for line in written]
    for kind in (
        "submitted",
        "task_created",
        "claimed",
        "unclaimed",
        "returned",
        "notice_issued",
        "supplemented",
        "sla_paused",
        "approved",
        "certificate_issued",
        "completed",
        "rated",
    ):
        assert kind in kinds
    assert recorder.lines_of(case_id) == written  # every line, in order, once each
    assert all(d.in_transaction for d in recorder.seen)
    assert [d.line[0] for d in recorder.seen if not d.shows_change] == []


def test_a_failing_subscriber_undoes_the_approval_its_line_and_its_projections(engine: Engine) -> None:
    case_id, example = apply(engine)
    [task] = open_tasks(engine, case_id)
    market = clerk(task.department)
    engine.claim(market, task.id)
    before = engine.get_case(ANALYST, case_id)

    def refuse(_session: Session, _event: Event) -> None:
        raise RuntimeError("the subscriber failed")

    engine.db.spine.subscribe("test.refuse", refuse, events.TaskApproved)
    with pytest.raises(RuntimeError, match="the subscriber failed"):
        engine.complete(market, task.id, Outcome.APPROVE, example["decisions"][task.item], "同意")

    assert "approved" not in [line[0] for line in trail(engine, case_id)]
    assert count(engine, "analytics_facts") == 0  # nothing queued for analytics either
    projection.catch_up(engine.db)
    assert count(engine, "task_stats", bundle_key=STARTUP) == 0
    assert count(engine, "period_stats", bundle_key=STARTUP) == 0
    after = engine.get_case(ANALYST, case_id)
    [still] = after.tasks
    assert (still.state, still.assignee, still.outcome) == ("claimed", market.username, None)
    assert (after.status, after.updated_at, after.timeline, after.outputs) == (
        before.status,
        before.updated_at,
        before.timeline,
        before.outputs,
    )

    engine.db.spine.unsubscribe("test.refuse")
    engine.complete(market, task.id, Outcome.APPROVE, example["decisions"][task.item], "同意")
    assert [line[0] for line in trail(engine, case_id)].count("approved") == 1
    assert count(engine, "analytics_facts") == 1
    projection.catch_up(engine.db)
    assert count(engine, "task_stats", bundle_key=STARTUP, item_key=task.item) == 1


def test_subscribing_a_name_again_replaces_it(engine: Engine, tmp_path: Path) -> None:
    first, second = Recorder(), Recorder()
    engine.db.spine.subscribe("test.twice", first, events.TaskClaimed)
    engine.db.spine.subscribe("test.twice", second, events.TaskClaimed)
    # A second engine on the same database subscribes the same followers again: they replace theirs.
    again = Engine(Settings(database_url=engine.db.url, data_dir=tmp_path / "var"), db=engine.db)
    names = engine.db.spine.subscribers()
    assert names.count("test.twice") == 1 and len(names) == len(set(names))

    case_id, example = apply(engine)
    [task] = open_tasks(engine, case_id)
    market = clerk(task.department)
    again.claim(market, task.id)
    engine.complete(market, task.id, Outcome.APPROVE, example["decisions"][task.item], "同意")
    assert first.seen == [] and [d.line[0] for d in second.seen] == ["claimed"]
    stats = metadata.tables["task_stats"]
    projection.catch_up(engine.db)
    with engine.db.read() as s:
        [finished] = s.execute(select(stats.c.finished).where(stats.c.item_key == task.item)).scalars()
    assert finished == 1  # counted once, not once per engine


def test_events_are_emitted_only_on_sessions_of_database_write(engine: Engine, clock: ManualClock) -> None:
    case_id, _example = apply(engine)
    withdrawn = events.Withdrawn(case_id=case_id, at=clock.now(), actor=APPLICANT.username)
    with engine.db.read() as s, pytest.raises(RuntimeError, match=r"Database\.write"):
        emit(s, withdrawn)
    with Session(engine.db.engine) as s, pytest.raises(RuntimeError, match=r"Database\.write"):
        emit(s, withdrawn)
    assert "withdrawn" not in [line[0] for line in trail(engine, case_id)]


def test_an_event_without_detail_has_an_empty_one_on_the_trail(engine: Engine) -> None:
    case_id, _example = apply(engine)
    engine.withdraw(APPLICANT, case_id)
    [line] = [line for line in trail(engine, case_id) if line[0] == "withdrawn"]
    assert line == ("withdrawn", APPLICANT.username, None, {})
