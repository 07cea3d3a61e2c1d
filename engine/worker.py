"""The timer and escalation worker that ``onething worker`` and ``onething serve`` run.

Each tick: fire the BPMN timers whose time has come (``Engine.fire_due_timers``: each in
its case's transaction, exactly once), move a batch of the cases queued in version-migration
runs (``Engine.run_migration_jobs``: each case in its own transaction; a run interrupted by a
crash or a restart goes on from its pending rows), read a few uploaded documents queued for
pre-review (``Engine.run_review_jobs``: each claimed with a lease that a killed worker lets
expire, ``engine.review.pipeline``), then run the SLA clock (``engine.deadlines.tracking``),
send rectifications past their deadline to the supervisors (``engine.feedback.rectification``),
and add the completions queued since the last tick to the analytics aggregates
(``engine.analytics.projection``). Every step claims its rows safely, so any number of
workers may run against one PostgreSQL database; on SQLite the write lock serializes them,
and an idle tick only reads.

A failing step is logged and the tick goes on; the loop never dies of one bad case.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from engine.analytics.projection import catch_up
from engine.deadlines.tracking import SweepResult, run_sweep
from engine.feedback.rectification import run_rectification_sweep
from engine.storage.db import Database
from engine.time.calendar import WorkCalendar
from engine.time.clock import Clock

T = TypeVar("T")
log = logging.getLogger("onething.worker")


class TimerEngine(Protocol):
    """What the worker needs of the engine facade (``engine.service.Engine`` has it)."""

    db: Database
    clock: Clock
    calendar: WorkCalendar

    def fire_due_timers(self, limit: int = 100) -> int:
        """Fire timers whose time has come, each exactly once; how many fired."""
        ...

    def run_migration_jobs(self, limit: int = 100) -> int:
        """Move up to ``limit`` pending cases of queued migration runs; how many were taken."""
        ...

    def run_review_jobs(self, limit: int = 4) -> int:
        """Read up to ``limit`` pending material pre-reviews; how many were stored."""
        ...


@dataclass(frozen=True)
class WorkerTick:
    """What one tick did."""

    at: datetime
    timers_fired: int
    sla: SweepResult
    rectifications_overdue: int
    seconds: float
    migrated: int = 0
    errors: tuple[str, ...] = ()
    # A batch was full: more may be waiting, so the next tick should not sleep first.
    busy: bool = False
    reviewed: int = 0
    projected: int = 0  # completions and finished cases added to the analytics aggregates


class Worker:
    """Runs one tick at a time; ``api.worker.TimerWorker`` owns the loop, its housekeeping and its log."""

    def __init__(
        self,
        engine: TimerEngine,
        *,
        timer_batch: int = 100,
        sweep_batch: int = 200,
        max_timer_batches: int = 20,
        migration_batch: int = 100,
        review_batch: int = 4,
    ) -> None:
        self.engine = engine
        self.timer_batch = timer_batch
        self.sweep_batch = sweep_batch
        self.max_timer_batches = max_timer_batches
        self.migration_batch = migration_batch
        # Reading a document takes a second or two a page: a few per tick keep timers on time.
        self.review_batch = review_batch

    def _fire_timers(self) -> tuple[int, bool]:
        fired = 0
        for _ in range(self.max_timer_batches):
            count = self.engine.fire_due_timers(self.timer_batch)
            fired += count
            if count < self.timer_batch:
                return fired, False
        return fired, True

    @staticmethod
    def _guarded(name: str, what: str, step: Callable[[], T], default: T, errors: list[str]) -> T:
        """One step of a tick: its failure is logged and listed, and never stops the other steps."""
        try:
            return step()
        except Exception as exc:
            log.exception("%s failed", what)
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            return default

    def run_once(self) -> WorkerTick:
        """One tick: timers, migrations, a few pre-reviews, SLA sweep, overdue rectifications, analytics."""
        started = time.perf_counter()
        at = self.engine.clock.now()
        errors: list[str] = []
        fired, busy = self._guarded("timers", "firing timers", self._fire_timers, (0, False), errors)
        migrated = self._guarded(
            "migrations",
            "migration runs",
            lambda: self.engine.run_migration_jobs(self.migration_batch),
            0,
            errors,
        )
        reviewed = self._guarded(
            "reviews",
            "material pre-reviews",
            lambda: self.engine.run_review_jobs(self.review_batch),
            0,
            errors,
        )
        busy = busy or migrated >= self.migration_batch or reviewed >= self.review_batch
        sla = self._guarded(
            "sla",
            "SLA sweep",
            lambda: run_sweep(
                self.engine.db, self.engine.clock, self.engine.calendar, batch=self.sweep_batch
            ),
            SweepResult(),
            errors,
        )
        rectifications = self._guarded(
            "rectifications",
            "rectification sweep",
            lambda: run_rectification_sweep(self.engine.db, self.engine.clock, batch=self.sweep_batch),
            0,
            errors,
        )
        projected = self._guarded(
            "analytics", "analytics projection", lambda: catch_up(self.engine.db), 0, errors
        )
        return WorkerTick(
            at=at,
            timers_fired=fired,
            sla=sla,
            rectifications_overdue=rectifications,
            seconds=time.perf_counter() - started,
            migrated=migrated,
            reviewed=reviewed,
            projected=projected,
            errors=tuple(errors),
            busy=busy,
        )
