"""The per-task analytics hooks: few statements, no session flush, and no lost counts under races.

``record_completion`` and ``record_case_finished`` run inside every task completion, so they
are Core statements built once (a locked read, one UPDATE, one counter upsert) and leave the
caller's pending ORM changes alone. Writers racing on one aggregate row, also on the very
first write of a row, must all be counted (PostgreSQL: ``SELECT ... FOR UPDATE`` and
``ON CONFLICT``; SQLite: ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from engine.analytics import recording
from engine.analytics.rows import CaseStats, PeriodStats, TaskStats
from engine.analytics.sketch import sketch_count
from engine.cases.states import CaseStatus, Outcome, WorkItemState
from engine.service import Engine
from engine.storage.models import Case, WorkItem
from tests.support.engines import MONDAY, make_engine

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


def test_a_completion_is_three_statements_and_leaves_the_session_unflushed(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url, tmp_path)
    calendar = engine.calendar
    case = _case(CaseStatus.RUNNING)
    with engine.db.write() as s:  # the first completion creates the row
        recording.record_completion(s, _item(0), calendar, case=case)
    with engine.db.write() as s:
        s.connection()  # the transaction's BEGIN is not the hook's
        pending = Case(bundle_key="p", version=1, applicant="a", status="running", state="", deployment_id=1)
        s.add(pending)  # an ORM change the hook must not flush
        with _statements(engine) as seen:
            recording.record_completion(s, _item(1), calendar, case=case)
        assert len(seen) == 3, seen  # read (locked), update, upsert of the day's counters
        assert pending in s.new
        s.expunge(pending)
    with engine.db.read() as s:
        row = s.scalars(select(TaskStats)).one()
        assert (row.finished, row.task_name, row.wait_sum, row.work_sum) == (2, "Review", 7200.0, 7201.0)
        assert row.updated_at == MONDAY + timedelta(hours=2, seconds=1)
    engine.close()


def test_a_finished_case_is_three_statements_and_a_withdrawal_one(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url, tmp_path)
    with engine.db.write() as s:
        recording.record_case_finished(s, _case(CaseStatus.COMPLETED), engine.calendar)
    with engine.db.write() as s:
        s.connection()
        with _statements(engine) as seen:
            recording.record_case_finished(s, _case(CaseStatus.COMPLETED), engine.calendar)
        assert len(seen) == 3, seen
        with _statements(engine) as seen:
            recording.record_case_finished(s, _case(CaseStatus.WITHDRAWN), engine.calendar)
            recording.record_case_finished(s, _case(CaseStatus.REJECTED), engine.calendar)
        assert len(seen) == 2, seen
    with engine.db.read() as s:
        row = s.scalars(select(CaseStats)).one()
        assert (row.completed, row.rejected, row.withdrawn, row.steps_sum) == (2, 1, 1, 2)
        assert sketch_count(row.duration_sketch) == 2
    engine.close()


def _race(engine: Engine, hook: Any, writers: int = WRITERS) -> None:
    """Run ``hook(session, n)`` in ``writers`` transactions at once, each holding its locks a while."""
    barrier = threading.Barrier(writers)

    def write(n: int) -> None:
        barrier.wait()
        with engine.db.write() as s:
            hook(s, n)
            time.sleep(0.05)  # the others reach the row while this one holds it

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))


def test_racing_completions_of_one_item_are_all_counted(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url, tmp_path)
    case = _case(CaseStatus.RUNNING)
    problem = [{"field": "name", "message": "wrong"}]

    def complete(s: Session, n: int) -> None:
        item = _item(
            n, outcome=Outcome.RETURN if n % 2 else Outcome.APPROVE, problems=problem if n % 2 else []
        )
        recording.record_completion(s, item, engine.calendar, case=case)

    for _round in range(2):  # the first round races on creating the row, the second on updating it
        _race(engine, complete)
    with engine.db.read() as s:
        row = s.scalars(select(TaskStats)).one()
        period = s.scalars(select(PeriodStats)).one()
    assert (row.finished, row.returned) == (2 * WRITERS, WRITERS)
    assert sketch_count(row.wait_sketch) == sketch_count(row.work_sketch) == 2 * WRITERS
    assert row.problems == {"field:name": {"count": WRITERS, "message": "wrong"}}
    assert row.wait_sum == 2 * WRITERS * 3600.0
    assert (period.tasks_completed, period.tasks_returned) == (2 * WRITERS, WRITERS)
    engine.close()


def test_racing_case_ends_of_one_version_are_all_counted(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url, tmp_path)
    statuses = (CaseStatus.COMPLETED, CaseStatus.COMPLETED, CaseStatus.WITHDRAWN, CaseStatus.REJECTED)

    def finish(s: Session, n: int) -> None:
        recording.record_case_finished(s, _case(statuses[n % len(statuses)]), engine.calendar)

    for _round in range(2):
        _race(engine, finish)
    with engine.db.read() as s:
        row = s.scalars(select(CaseStats)).one()
    per_round = WRITERS // len(statuses)
    assert (row.completed, row.withdrawn, row.rejected) == (4 * per_round, 2 * per_round, 2 * per_round)
    assert sketch_count(row.duration_sketch) == row.completed == row.steps_sum
    engine.close()
