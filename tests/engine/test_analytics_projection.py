"""Completions and finished cases queued by their change, projected into the aggregates in batches.

``record_completion`` and ``record_case_finished`` run inside every task completion, so each
is one Core statement (the queued fact) and leaves the caller's pending ORM changes alone.
``project`` adds a batch to the aggregates with one locked read and update per aggregate row,
not per fact. Every fact is counted exactly once: when writers race, when projectors race
(PostgreSQL: ``FOR UPDATE SKIP LOCKED`` on the queue, aggregate rows locked in key order;
SQLite: ``BEGIN IMMEDIATE``), when a projection fails half-way, and when the aggregates are
rebuilt from the history with facts still queued. A fact that cannot be counted stops the
projection, never an analyst's read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, inspect, select
from sqlalchemy.orm import Session

from engine.analytics import projection, queries, rebuild, recording
from engine.analytics.rows import CaseStats, PendingFact, PeriodStats, TaskStats
from engine.analytics.sketch import sketch_count
from engine.cases.states import CaseStatus, Outcome, WorkItemState
from engine.service import Engine
from engine.storage.db import Database
from engine.storage.models import Case, WorkItem
from engine.worker import Worker
from tests.engine.test_certificate_content_migration import downgrade
from tests.support.engines import (
    MINI_STARTUP_DECISIONS,
    MONDAY,
    bundle_engine,
    make_engine,
    start_mini_startup,
    work_all,
)

WRITERS = 8


def _item(n: int, *, outcome: str = Outcome.APPROVE, problems: list[Any] | None = None) -> WorkItem:
    """A completed task (transient: the hooks read it, nothing stores it)."""
    return WorkItem(
        case_id=1000 + n,
        bundle_key="b",
        item_key="review",
        task_name="Review",
        department="dept",
        state=WorkItemState.COMPLETED,
        created_at=MONDAY,
        claimed_at=MONDAY + timedelta(hours=1),
        completed_at=MONDAY + timedelta(hours=2, seconds=n),
        due_at=None,
        overdue=False,
        outcome=outcome,
        problems=problems or [],
    )


def _case(status: str, finished: datetime = MONDAY + timedelta(days=1)) -> Case:
    return Case(
        bundle_key="b",
        version=1,
        status=status,
        round=1,
        materials={},
        created_at=MONDAY,
        updated_at=finished,
        finished_at=finished,
    )


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run while the block runs."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine.db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", count)


def _queued(engine: Engine) -> int:
    with engine.db.read() as s:
        return len(s.scalars(select(PendingFact.id)).all())


def test_a_completion_is_one_queued_row_and_leaves_the_session_unflushed(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url, tmp_path)
    calendar = engine.calendar
    case = _case(CaseStatus.RUNNING)
    with engine.db.write() as s:
        s.connection()  # the transaction's BEGIN is not the hook's
        pending = Case(bundle_key="p", version=1, applicant="a", status="running", state="", deployment_id=1)
        s.add(pending)  # an ORM change the hook must not flush
        with _statements(engine) as seen:
            recording.record_completion(s, _item(0), calendar, case=case)
            recording.record_completion(s, _item(1), calendar, case=case)
        assert len(seen) == 2 and all(q.startswith("INSERT INTO analytics_facts") for q in seen), seen
        assert pending in s.new
        s.expunge(pending)
    with engine.db.read() as s:
        assert s.scalars(select(TaskStats)).all() == []  # queued, not counted yet
    assert _queued(engine) == 2
    assert projection.catch_up(engine.db) == 2
    assert _queued(engine) == 0
    with engine.db.read() as s:
        row = s.scalars(select(TaskStats)).one()
        assert (row.finished, row.task_name, row.wait_sum, row.work_sum) == (2, "Review", 7200.0, 7201.0)
        assert row.updated_at == MONDAY + timedelta(hours=2, seconds=1)
        period = s.scalars(select(PeriodStats)).one()
        assert (period.tasks_completed, period.wait_sum, period.work_sum) == (2, 7200.0, 7201.0)
    assert projection.catch_up(engine.db) == 0  # nothing left: counted once
    engine.close()


def test_a_finished_case_is_one_queued_row(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url, tmp_path)
    with engine.db.write() as s:
        s.connection()
        with _statements(engine) as seen:
            recording.record_case_finished(s, _case(CaseStatus.COMPLETED), engine.calendar)
            recording.record_case_finished(s, _case(CaseStatus.COMPLETED), engine.calendar)
            recording.record_case_finished(s, _case(CaseStatus.WITHDRAWN), engine.calendar)
            recording.record_case_finished(s, _case(CaseStatus.REJECTED), engine.calendar)
            recording.record_case_finished(s, _case(CaseStatus.RUNNING), engine.calendar)  # not finished
        assert len(seen) == 4 and all(q.startswith("INSERT INTO analytics_facts") for q in seen), seen
    projection.catch_up(engine.db)
    with engine.db.read() as s:
        row = s.scalars(select(CaseStats)).one()
        assert (row.completed, row.rejected, row.withdrawn, row.steps_sum) == (2, 1, 1, 2)
        assert sketch_count(row.duration_sketch) == 2
        period = s.scalars(select(PeriodStats)).one()
        assert (period.cases_completed, period.department) == (2, "")
    engine.close()


def test_a_batch_reads_and_writes_each_aggregate_row_once(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url, tmp_path)
    facts = 40
    with engine.db.write() as s:
        for n in range(facts):
            recording.record_completion(s, _item(n), engine.calendar, case=_case(CaseStatus.RUNNING))
        recording.record_case_finished(s, _case(CaseStatus.COMPLETED), engine.calendar)
    with engine.db.write() as s:
        s.connection()
        with _statements(engine) as seen:
            assert projection.project(s) == facts + 1
    # The claim; per aggregate row a locked read, its creation (a first write), the read again
    # and the update: the item's row and the version's; then one upsert per day and department.
    assert len(seen) == 1 + 2 * 4 + 2, seen
    with engine.db.read() as s:
        assert s.scalars(select(TaskStats.finished)).one() == facts
        assert s.scalars(select(CaseStats.completed)).one() == 1
    engine.close()


def _race(engine: Engine, hook: Any, writers: int = WRITERS) -> None:
    """Run ``hook(session, n)`` in ``writers`` transactions at once, each holding its locks a while."""
    barrier = threading.Barrier(writers)

    def write(n: int) -> None:
        barrier.wait()
        with engine.db.write() as s:
            hook(s, n)
            time.sleep(0.05)  # the others reach the rows while this one holds them

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))


def test_racing_completions_and_racing_projectors_count_each_fact_once(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url, tmp_path)
    case = _case(CaseStatus.RUNNING)
    problem = [{"field": "name", "message": "wrong"}]

    def complete(s: Session, n: int) -> None:
        for k in range(3):  # three facts each, on one item: every projector wants its row
            item = _item(
                3 * n + k,
                outcome=Outcome.RETURN if n % 2 else Outcome.APPROVE,
                problems=problem if n % 2 else [],
            )
            recording.record_completion(s, item, engine.calendar, case=case)

    def project_a_few(s: Session, _n: int) -> None:
        projection.project(s, limit=2)  # small batches: the projectors share the queue

    for _round in range(2):  # the first round races on creating the rows, the second on updating them
        _race(engine, complete)
        _race(engine, project_a_few)
    projection.catch_up(engine.db)
    with engine.db.read() as s:
        row = s.scalars(select(TaskStats)).one()
        period = s.scalars(select(PeriodStats)).one()
    total = 2 * 3 * WRITERS
    assert (row.finished, row.returned) == (total, total // 2)
    assert sketch_count(row.wait_sketch) == sketch_count(row.work_sketch) == total
    assert row.problems == {"field:name": {"count": total // 2, "message": "wrong"}}
    assert row.wait_sum == total * 3600.0
    assert (period.tasks_completed, period.tasks_returned) == (total, total // 2)
    assert _queued(engine) == 0
    engine.close()


def test_racing_case_ends_of_one_version_are_all_counted(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url, tmp_path)
    statuses = (CaseStatus.COMPLETED, CaseStatus.COMPLETED, CaseStatus.WITHDRAWN, CaseStatus.REJECTED)

    def finish(s: Session, n: int) -> None:
        recording.record_case_finished(s, _case(statuses[n % len(statuses)]), engine.calendar)

    def project_one(s: Session, _n: int) -> None:
        projection.project(s, limit=1)

    for _round in range(2):
        _race(engine, finish)
        _race(engine, project_one)
    projection.catch_up(engine.db)
    with engine.db.read() as s:
        row = s.scalars(select(CaseStats)).one()
    per_round = WRITERS // len(statuses)
    assert (row.completed, row.withdrawn, row.rejected) == (4 * per_round, 2 * per_round, 2 * per_round)
    assert sketch_count(row.duration_sketch) == row.completed == row.steps_sum
    engine.close()


class Interrupted(Exception):
    """Raised inside a projection's transaction, after its aggregates were written."""


def test_a_projection_that_fails_half_way_counts_nothing_and_loses_nothing(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url, tmp_path)
    with engine.db.write() as s:
        for n in range(5):
            recording.record_completion(s, _item(n), engine.calendar, case=_case(CaseStatus.RUNNING))
    with pytest.raises(Interrupted), engine.db.write() as s:
        assert projection.project(s) == 5
        raise Interrupted  # a crash before the commit: the claim and the counts roll back together
    with engine.db.read() as s:
        assert s.scalars(select(TaskStats)).all() == []
    assert _queued(engine) == 5
    assert projection.catch_up(engine.db) == 5
    with engine.db.read() as s:
        assert s.scalars(select(TaskStats.finished)).one() == 5
    engine.close()


def test_reads_catch_up_and_the_worker_tick_projects(db_url: str, tmp_path: Path) -> None:
    engine = bundle_engine(db_url, tmp_path, "mini-startup")
    first = start_mini_startup(engine)
    work_all(engine, first, MINI_STARTUP_DECISIONS)
    assert _queued(engine) > 0
    # An analyst's read counts what was committed before it, with no worker running.
    counted = {row.item: row.count for row in queries.bottlenecks(engine.db, "mini-startup")}
    assert counted and set(counted.values()) == {1}
    assert _queued(engine) == 0

    second = start_mini_startup(engine)
    work_all(engine, second, MINI_STARTUP_DECISIONS)
    waiting = _queued(engine)
    with engine.db.read() as s:  # each fact says when it happened
        assert set(s.scalars(select(PendingFact.at)).all()) == {MONDAY}
    tick = Worker(engine).run_once()
    assert (tick.projected, tick.errors) == (waiting, ())
    with engine.db.read() as s:  # straight from the table: the tick counted them, not a read
        assert set(s.scalars(select(TaskStats.finished)).all()) == {2}
        assert s.scalars(select(CaseStats.completed)).one() == 2
    engine.close()


def test_a_rebuild_drops_the_queued_facts_its_history_already_counts(db_url: str, tmp_path: Path) -> None:
    engine = bundle_engine(db_url, tmp_path, "mini-startup")
    for _ in range(2):
        work_all(engine, start_mini_startup(engine), MINI_STARTUP_DECISIONS)
    projection.catch_up(engine.db)
    with engine.db.read() as s:
        projected = sorted((r.item_key, r.finished) for r in s.scalars(select(TaskStats)))
    work_all(engine, start_mini_startup(engine), MINI_STARTUP_DECISIONS)
    assert _queued(engine) > 0
    rebuild.rebuild(engine.db, engine.calendar)
    assert _queued(engine) == 0
    assert projection.catch_up(engine.db) == 0
    with engine.db.read() as s:
        rebuilt = sorted((r.item_key, r.finished) for r in s.scalars(select(TaskStats)))
        assert s.scalars(select(CaseStats.completed)).one() == 3
    assert {count for _, count in projected} == {2}
    assert rebuilt == [(item, 3) for item, _ in projected]
    engine.close()


def test_the_queue_migration_goes_down_and_up(db_url: str) -> None:
    db = Database(db_url)
    db.upgrade()

    def tables() -> set[str]:
        return set(inspect(db.engine).get_table_names())

    assert {"analytics_facts", "task_stats"} <= tables()
    downgrade(db, "0017_account_office_index")
    assert "analytics_facts" not in tables() and "task_stats" in tables()
    db.upgrade()
    assert "analytics_facts" in tables()
    db.dispose()


def test_a_fact_that_cannot_be_counted_leaves_reads_answering_and_loses_nothing(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(db_url, tmp_path)
    with engine.db.write() as s:
        recording.record_completion(s, _item(0), engine.calendar, case=_case(CaseStatus.RUNNING))
        s.add(PendingFact(kind="task", at=MONDAY, fact={"keys": {}}))  # no day, no keys: a broken fact
    with caplog.at_level(logging.ERROR, logger="onething.analytics"):
        assert queries.bottlenecks(engine.db) == []  # the figures as they stand, not an error
    assert "analytics catch-up failed" in caplog.text
    assert _queued(engine) == 2  # the good fact waits with the broken one
    tick = Worker(engine).run_once()
    assert [e.split(":")[0] for e in tick.errors] == ["analytics"]
    with engine.db.write() as s:  # the operator removes the broken fact (queued after the good one)
        s.execute(delete(PendingFact).where(PendingFact.id == max(s.scalars(select(PendingFact.id)))))
    [row] = queries.bottlenecks(engine.db)
    assert (row.item, row.count) == ("review", 1)
    engine.close()
