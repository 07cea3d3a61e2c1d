"""Completed tasks and finished cases, queued by their change and added to the aggregates in batches.

Counted inside its own transaction, a completion would read and lock its item's
``task_stats`` row, rewrite it (sketches re-encoded) and upsert its day's ``period_stats``
row: three statements on rows every case of the bundle shares, whose locks it would hold
through its commit while every other server process completing the same item waited. So
the change's transaction only queues one ``analytics_facts`` row saying what it counts for
(``queue_task`` / ``queue_case``, worked out then, so nothing is read again later); a
rollback drops it with the change, and a commit keeps it with the change. ``project`` takes
a batch of queued facts and adds them to the aggregates in one transaction, one locked read
and update per aggregate row of the batch (not per fact), and deletes them: each fact is
counted exactly once.

Who projects:
- every read of the aggregates (``current``) catches up first, so what analysts see counts
  every change committed before they asked, as before;
- the worker's tick (``engine.worker``) catches up, so the queue stays short when nobody reads.

Ratings, complaints and tasks gone overdue are rarer and stay counted in their own
transaction (``engine.analytics.recording``).

Several projectors may run at once (server processes, workers): on PostgreSQL each batch
is claimed with ``FOR UPDATE SKIP LOCKED``, and the aggregate rows of a batch are locked in
key order, so two projectors never deadlock; on SQLite the write lock serializes them.

May import: ``engine.analytics.rows``, ``engine.analytics.statements``,
``engine.analytics.totals``, ``engine.cases``, ``engine.storage``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from engine.analytics.rows import CaseStats, PendingFact, PeriodStats, TaskStats
from engine.analytics.statements import bump, locked_row, write_row
from engine.analytics.totals import (
    CASE_COLUMNS,
    TASK_COLUMNS,
    CaseFact,
    TaskAgg,
    TaskFact,
    add_case,
    case_values,
)
from engine.cases.states import CaseStatus
from engine.storage.db import Database
from engine.storage.models import table_of
from engine.storage.prepared import Prepared

log = logging.getLogger("onething.analytics")
TASK = "task"
CASE = "case"
BATCH = 500
TASK_KEYS = ("bundle_key", "version", "item_key", "department", "division")
CASE_KEYS = ("bundle_key", "version", "division")
PERIOD_KEYS = ("day", "bundle_key", "department", "division")
FACTS = table_of(PendingFact)
_TASKS = table_of(TaskStats)
_CASES = table_of(CaseStats)
_PERIODS = table_of(PeriodStats)
# On every completion: built once, run on the driver (``Prepared``).
_QUEUE = Prepared(insert(FACTS))
_ANY = select(FACTS.c.id).limit(1)


def _claim(limit: int) -> Any:
    """Delete the oldest ``limit`` queued facts no other projector holds, returning them."""
    held = select(FACTS.c.id).order_by(FACTS.c.id).limit(limit).with_for_update(skip_locked=True)
    return (
        delete(FACTS)
        .where(FACTS.c.id.in_(held.scalar_subquery()))
        .returning(FACTS.c.id, FACTS.c.kind, FACTS.c.at, FACTS.c.fact)
    )


# -- queueing (in the change's transaction) ------------------------------------------------


def queue_task(
    session: Session,
    keys: Mapping[str, Any],
    task_name: str,
    fact: TaskFact,
    problems: Iterable[Any],
    at: datetime,
) -> None:
    """Queue a completed task: its ``task_stats`` keys (``TASK_KEYS``), name, fact and problems."""
    detail = {
        "keys": dict(keys),
        "task_name": task_name,
        "wait": fact.wait,
        "work": fact.work,
        "overdue": fact.overdue,
        "returned": fact.returned,
        "day": fact.day.isoformat(),
        "problems": list(problems),
    }
    _QUEUE.rows(session, {"kind": TASK, "at": at, "fact": detail})


def queue_case(session: Session, keys: Mapping[str, Any], fact: CaseFact, at: datetime) -> None:
    """Queue a finished case: its ``case_stats`` keys (``CASE_KEYS``) and fact."""
    detail = {
        "keys": dict(keys),
        "status": fact.status,
        "working": fact.working,
        "steps": fact.steps,
        "materials": fact.materials,
        "day": fact.day.isoformat(),
    }
    _QUEUE.rows(session, {"kind": CASE, "at": at, "fact": detail})


# -- projecting ----------------------------------------------------------------------------


class _Batch:
    """The facts of one batch, gathered per aggregate row."""

    def __init__(self) -> None:
        self.tasks: dict[tuple[Any, ...], list[tuple[datetime, Mapping[str, Any]]]] = defaultdict(list)
        self.cases: dict[tuple[Any, ...], list[tuple[datetime, CaseFact]]] = defaultdict(list)
        # Counts stay ints, sums of seconds floats.
        self.periods: dict[tuple[Any, ...], dict[str, float]] = defaultdict(lambda: defaultdict(int))

    def add(self, kind: str, at: datetime, fact: Mapping[str, Any]) -> None:
        keys = fact["keys"]
        day = date.fromisoformat(fact["day"])
        if kind == TASK:
            self.tasks[tuple(keys[k] for k in TASK_KEYS)].append((at, fact))
            counts = self.periods[(day, keys["bundle_key"], keys["department"], keys["division"])]
            counts["tasks_completed"] += 1
            counts["tasks_overdue"] += int(fact["overdue"])
            counts["tasks_returned"] += int(fact["returned"])
            counts["wait_sum"] += fact["wait"]
            counts["work_sum"] += fact["work"]
        elif kind == CASE:
            case = CaseFact(fact["status"], fact["working"], fact["steps"], fact["materials"], day)
            self.cases[tuple(keys[k] for k in CASE_KEYS)].append((at, case))
            if case.status == CaseStatus.COMPLETED:
                counts = self.periods[(day, keys["bundle_key"], "", keys["division"])]
                counts["cases_completed"] += 1
                counts["case_working_sum"] += fact["working"]
        else:
            raise ValueError(f"unknown analytics fact kind {kind!r}")


def project(session: Session, limit: int = BATCH) -> int:
    """Add up to ``limit`` queued facts to the aggregates and delete them; how many were taken."""
    claimed = sorted(session.execute(_claim(limit)).all(), key=lambda row: row.id)
    if not claimed:
        return 0
    batch = _Batch()
    for row in claimed:
        batch.add(row.kind, row.at, row.fact)
    for key in sorted(batch.tasks):
        keys = dict(zip(TASK_KEYS, key, strict=True))
        agg = TaskAgg.from_row(locked_row(session, _TASKS, keys, TASK_COLUMNS))
        for _, fact in batch.tasks[key]:
            agg.task_name = fact["task_name"] or agg.task_name
            agg.add(fact["wait"], fact["work"], fact["overdue"], fact["returned"], fact["problems"])
        updated = max(at for at, _ in batch.tasks[key])
        write_row(session, _TASKS, keys, {**agg.values(), "updated_at": updated})
    for key in sorted(batch.cases):
        keys = dict(zip(CASE_KEYS, key, strict=True))
        values = case_values(locked_row(session, _CASES, keys, CASE_COLUMNS))
        for _, case in batch.cases[key]:
            add_case(values, case)
        updated = max(at for at, _ in batch.cases[key])
        write_row(session, _CASES, keys, {**values, "updated_at": updated})
    for key in sorted(batch.periods):
        bump(session, _PERIODS, dict(zip(PERIOD_KEYS, key, strict=True)), batch.periods[key])
    return len(claimed)


def pending(db: Database) -> bool:
    """Whether any fact waits to be projected (a read: no write lock taken)."""
    with db.read() as session:
        return session.execute(_ANY).first() is not None


def catch_up(db: Database, batch: int = BATCH) -> int:
    """Project every queued fact, ``batch`` per transaction; how many. Nothing queued: one read only."""
    if not pending(db):
        return 0
    total = 0
    while True:
        with db.write() as session:
            taken = project(session, batch)
        total += taken
        if taken < batch:
            return total


@contextmanager
def current(db: Database) -> Iterator[Session]:
    """A read session on aggregates that count every change committed before it began (caught up first).

    A catch-up that fails (the database busy past its timeout, a fact it cannot count) is
    logged, and the aggregates are read as they stand: an analyst gets figures a moment
    behind rather than none, and the failure stays visible in the log and in every worker
    tick's errors until it is fixed; the facts stay queued, so nothing is lost.
    """
    try:
        catch_up(db)
    except Exception:
        log.exception("analytics catch-up failed; reading the aggregates as they stand")
    with db.read() as session:
        yield session
