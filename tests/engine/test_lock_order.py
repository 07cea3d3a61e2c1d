"""Claims and the SLA sweep on PostgreSQL: opposite lock orders must not deadlock.

A claim updates its task row and then inserts its audit line, whose foreign key takes a
key-share lock on the case row. The sweep locks cases, then updates their overdue task rows.
With ``FOR UPDATE`` on the case the two orders deadlocked; every case lock is ``FOR NO KEY
UPDATE`` (``engine.cases.store``, ``engine.deadlines.supervision.lock_cases``), which a
key-share lock does not wait for.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from engine.deadlines.tracking import run_sweep
from engine.errors import AlreadyClaimed
from engine.time.clock import ManualClock
from tests.support.engines import ANALYST, MONDAY, bundle_engine, clerk, start_mini_startup

pytestmark = pytest.mark.postgres

CASES = 24
ROUNDS = 6


def test_claims_racing_the_sla_sweep_never_deadlock(pg_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = bundle_engine(pg_url, tmp_path, "mini-startup", clock)
    errors: list[BaseException] = []
    try:
        for _round in range(ROUNDS):
            ids = [start_mini_startup(engine) for _ in range(CASES)]
            tasks = [engine.get_case(ANALYST, case_id).tasks[0].id for case_id in ids]
            clock.advance(timedelta(days=10))  # every new task is overdue: the sweep touches each
            start = threading.Barrier(3)

            def sweep(start: threading.Barrier = start) -> None:
                start.wait()
                try:
                    for _ in range(3):
                        run_sweep(engine.db, engine.clock, engine.calendar, batch=CASES)
                except BaseException as exc:  # a deadlock surfaces here or in a claim
                    errors.append(exc)

            def claim(part: list[int], who: str, start: threading.Barrier = start) -> None:
                start.wait()
                for task_id in part:
                    try:
                        engine.claim(clerk("market-regulation", who), task_id)
                    except AlreadyClaimed:
                        pass
                    except BaseException as exc:
                        errors.append(exc)

            threads = [
                threading.Thread(target=sweep),
                threading.Thread(target=claim, args=(tasks, "a")),
                threading.Thread(target=claim, args=(list(reversed(tasks)), "b")),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            assert not any(t.is_alive() for t in threads)
            assert not errors, [repr(e) for e in errors]
            assert all(engine.get_case(ANALYST, case_id).tasks[0].assignee for case_id in ids)
    finally:
        engine.close()
