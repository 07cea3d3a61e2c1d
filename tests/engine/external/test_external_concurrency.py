"""Workers polling one topic at once never hold the same task: threads, each with its own engine
(its own connection pool, as separate processes would have), on a real SQLite file and a real
PostgreSQL database."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from engine.cases.states import CaseStatus
from engine.service import Engine
from engine.storage.settings import Settings
from engine.time.clock import ManualClock
from tests.engine.external.scenario import TAX_SYSTEM, fetch_tax, start_case, tax_engine
from tests.support.engines import ANALYST, MONDAY

WORKERS = 4
CASES = 12


def test_concurrent_workers_never_hold_one_task_and_complete_each_once(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    setup = tax_engine(db_url, tmp_path, clock)
    cases = [start_case(setup) for _ in range(CASES)]
    engines = [
        Engine(Settings(database_url=db_url, data_dir=tmp_path / "var"), clock=clock) for _ in range(WORKERS)
    ]
    held: dict[str, list[int]] = {f"worker-{n}": [] for n in range(WORKERS)}
    errors: list[BaseException] = []
    barrier = threading.Barrier(WORKERS)

    def work(engine: Engine, worker: str) -> None:
        try:
            barrier.wait(10)
            while True:
                tasks = fetch_tax(engine, worker=worker, max_tasks=2)
                if not tasks:
                    return
                for task in tasks:
                    held[worker].append(task.id)
                    engine.complete_external(TAX_SYSTEM, task.id, worker, {"tax_violations": 0}, {})
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(engine, worker), name=worker)
        for engine, worker in zip(engines, held, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    counts = Counter(task_id for ids in held.values() for task_id in ids)
    assert len(counts) == CASES and set(counts.values()) == {1}, counts
    assert sum(1 for ids in held.values() if ids) >= 2  # the workers really competed
    for case_id in cases:
        view = setup.get_case(ANALYST, case_id)
        tax = [t for t in view.tasks if t.item == "tax-registration"]
        assert [t.state for t in tax] == ["completed"]
        approvals = [e for e in view.timeline if e.kind == "approved" and e.actor == TAX_SYSTEM.username]
        assert len(approvals) == 1
        assert view.status == CaseStatus.RUNNING  # the social insurance system has not worked yet
    for engine in engines:
        engine.close()
    setup.close()


def test_concurrent_fetches_lock_each_task_once(db_url: str, tmp_path: Path) -> None:
    """Only fetching (no completion in between): every task goes to exactly one of the racing fetches."""
    setup = tax_engine(db_url, tmp_path)
    for _ in range(CASES):
        start_case(setup)
    engines = [
        Engine(Settings(database_url=db_url, data_dir=tmp_path / "var"), clock=ManualClock(MONDAY))
        for _ in range(WORKERS)
    ]
    got: dict[int, list[int]] = {n: [] for n in range(WORKERS)}
    errors: list[BaseException] = []
    barrier = threading.Barrier(WORKERS)

    def fetch(n: int) -> None:
        try:
            barrier.wait(10)
            for _ in range(CASES):
                got[n].extend(t.id for t in fetch_tax(engines[n], worker=f"w{n}", max_tasks=1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    every = [task_id for ids in got.values() for task_id in ids]
    assert len(every) == CASES and len(set(every)) == CASES
    for engine in engines:
        engine.close()
    setup.close()
