"""Migration throughput: running enterprise-startup cases moved from v1 to v2, cases per second.

Per backend (SQLite file; PostgreSQL in a throwaway cluster, skipped with the reason when the
server binaries are missing): ``CASES`` cases waiting at different points (``tests.engine.
migration.support``), v2 deployed (a rename, a merge, an added step). The baseline, measured
in the same run on the same cases: each case's plain restore + save in its own locked
transaction (``CaseCore._mutate`` with no change), the least any per-case migration costs.
Then one migration run of all of them (batches of 100). The workflow cache is emptied before
each, so both restore every case from its stored state. Printed: both rates and their ratio.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from engine.cases.migration_plans import CaseFilter
from engine.service import Engine
from engine.storage.models import Case
from tests.engine.migration.support import PLAN_TASKS, STARTUP, V2, start_cases, startup_engine
from tests.support.engines import ANALYST
from tests.support.pg import find_pg_bin, start_cluster

Report = Callable[[str, float, str], None]
CASES = 300


def _forget(engine: Engine, ids: list[int]) -> None:
    for case_id in ids:
        engine.store.cache.forget(case_id)


def _measure(report: Report, backend: str, url: str, root: Path) -> None:
    engine = startup_engine(url, root)
    try:
        ids = start_cases(engine, CASES)
        engine.deployments.deploy_dir(V2)
        with engine.db.read() as s:
            running = list(s.scalars(select(Case.id).where(Case.status == "running").order_by(Case.id)))
        _forget(engine, ids)
        t0 = time.perf_counter()
        for case_id in running:
            engine._mutate(case_id, lambda _oc: None)
        plain = time.perf_counter() - t0
        _forget(engine, ids)
        plan = engine.create_migration_plan(ANALYST, STARTUP, 1, 2, PLAN_TASKS, [], {"default": "keep"})
        t1 = time.perf_counter()
        done = engine.start_migration_run(ANALYST, STARTUP, plan.id, CaseFilter(), batch_size=100)
        moved = time.perf_counter() - t1
        count = done.counts["migrated"]
        assert count == len(running) and done.counts["failed"] == 0, done.counts
        report(f"{backend}: cases migrated", count, "cases")
        report(f"{backend}: baseline, plain restore + save per case", len(running) / plain, "cases/s")
        report(f"{backend}: migration run (replay onto v2, rows, audit)", count / moved, "cases/s")
        report(
            f"{backend}: migration cost / plain restore + save", (moved / count) / (plain / len(running)), "x"
        )
    finally:
        engine.close()


def run(report: Report) -> None:
    """Both backends; PostgreSQL skipped with the reason when it is not installed."""
    with tempfile.TemporaryDirectory(prefix="bench-migration-") as tmp:
        root = Path(tmp)
        (root / "sqlite").mkdir()
        _measure(report, "sqlite", f"sqlite:///{root / 'sqlite' / 'bench.db'}", root / "sqlite")
        if find_pg_bin() is None:
            print("  postgres: skipped (PostgreSQL server binaries not found)", flush=True)
            return
        cluster = start_cluster()
        try:
            (root / "pg").mkdir()
            _measure(report, "postgres", cluster.create_database(), root / "pg")
        finally:
            cluster.stop()
