"""SIGKILL in the middle of a migration run: every case wholly on v1 or v2; resuming finishes the rest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from engine.storage.migration_tables import MigrationRun, MigrationRunCase
from engine.storage.models import Case, WorkItem
from tests.engine.migration.support import PLAN_TASKS, STARTUP, V2, examples, start_cases, startup_engine
from tests.support.engines import ANALYST, work_all

ROOT = Path(__file__).resolve().parents[3]


def test_a_killed_run_leaves_each_case_on_one_version_and_resumes(db_url: str, tmp_path: Path) -> None:
    engine = startup_engine(db_url, tmp_path)
    ids = start_cases(engine, 40)
    engine.deployments.deploy_dir(V2)
    plan = engine.create_migration_plan(ANALYST, STARTUP, 1, 2, PLAN_TASKS, [], {})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.crash_migrate",
            db_url,
            str(tmp_path / "var"),
            str(plan.id),
            "12",
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    v1_tasks = {"Task_engrave_seal", "Task_tax_registration", "Task_issue_invoices"}
    v2_tasks = {"Task_seal_engraving", "Task_tax_and_invoices", "Task_archive"}
    with engine.db.read() as s:
        run_id = s.scalars(select(MigrationRun.id)).one()
        states = dict(s.execute(select(MigrationRunCase.case_id, MigrationRunCase.state)).all())
        assert list(states.values()).count("migrated") == 11  # the 12th died before its commit
        for case in s.scalars(select(Case).where(Case.id.in_(ids))):
            names = set(
                s.scalars(
                    select(WorkItem.task_name).where(
                        WorkItem.case_id == case.id, WorkItem.state.in_(["ready", "claimed"])
                    )
                )
            )
            migrated = states.get(case.id) == "migrated"
            assert case.version == (2 if migrated else 1)
            assert not names & (v1_tasks if migrated else v2_tasks)
    report = engine.resume_migration_run(ANALYST, STARTUP, run_id)
    assert report.counts["pending"] == 0 and report.counts["failed"] == 0
    assert report.counts["migrated"] == len(states)
    found = examples(engine)
    for i, case_id in enumerate(ids):
        work_all(engine, case_id, found[i % 2]["decisions"])
    with engine.db.read() as s:
        assert set(s.scalars(select(Case.status).where(Case.id.in_(ids)))) == {"completed"}
