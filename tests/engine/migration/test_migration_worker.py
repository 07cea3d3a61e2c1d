"""A run asked for is only queued; the worker moves its cases; field rules reach task decisions."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from engine.cases.migration_plans import CaseFilter
from engine.storage.models import Case, WorkItem
from engine.worker import Worker
from tests.engine.migration.support import PLAN_TASKS, STARTUP, V2, start_cases, startup_engine
from tests.support.engines import ANALYST

RENAME = [{"field": "uscc", "action": "rename", "to": "credit_code"}]


def test_the_worker_moves_a_queued_run_and_renamed_decision_fields_read_the_same(
    db_url: str, tmp_path: Path
) -> None:
    engine = startup_engine(db_url, tmp_path)
    ids = start_cases(engine, 4)
    engine.deployments.deploy_dir(V2)
    plan = engine.create_migration_plan(ANALYST, STARTUP, 1, 2, PLAN_TASKS, RENAME, {})
    with engine.db.read() as s:
        before = {
            r.id: r.decision["uscc"]
            for r in s.scalars(select(WorkItem).where(WorkItem.case_id.in_(ids)))
            if "uscc" in r.decision
        }
    assert before  # some cases are past business registration

    queued = engine.queue_migration_run(ANALYST, STARTUP, plan.id, CaseFilter(), batch_size=2)

    assert queued.status == "running" and queued.counts["pending"] == len(ids)
    with engine.db.read() as s:
        assert set(s.scalars(select(Case.version).where(Case.id.in_(ids)))) == {1}  # nothing moved yet
    tick = Worker(engine, migration_batch=3).run_once()
    assert tick.migrated == 3 and not tick.errors
    assert engine.migration_report(ANALYST, STARTUP, queued.id).counts["pending"] == 1
    assert Worker(engine).run_once().migrated == 1
    report = engine.migration_report(ANALYST, STARTUP, queued.id)
    assert report.status == "finished" and report.counts["migrated"] == len(ids)
    with engine.db.read() as s:
        assert set(s.scalars(select(Case.version).where(Case.id.in_(ids)))) == {2}
        after = {r.id: r.decision for r in s.scalars(select(WorkItem).where(WorkItem.id.in_(list(before))))}
    assert {i: d.get("credit_code") for i, d in after.items()} == before
    assert not any("uscc" in d for d in after.values())
