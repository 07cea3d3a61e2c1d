"""A migrated case's timeline line as its applicant reads it: the kind, never versions or steps."""

from __future__ import annotations

from pathlib import Path

from engine.cases.migration_plans import CaseFilter
from tests.engine.migration.support import PLAN_TASKS, STARTUP, V2, start_cases, startup_engine
from tests.support.engines import ANALYST, APPLICANT


def test_the_applicant_reads_the_move_without_its_detail(db_url: str, tmp_path: Path) -> None:
    engine = startup_engine(db_url, tmp_path)
    [case_id] = start_cases(engine, 1)
    engine.deployments.deploy_dir(V2)
    plan = engine.create_migration_plan(ANALYST, STARTUP, 1, 2, PLAN_TASKS, [], {})
    assert engine.start_migration_run(ANALYST, STARTUP, plan.id, CaseFilter(case_ids=(case_id,))).counts[
        "migrated"
    ]
    [mine] = [e for e in engine.get_case(APPLICANT, case_id).timeline if e.kind == "case_migrated"]
    assert mine.detail == {}
    [staff] = [e for e in engine.get_case(ANALYST, case_id).timeline if e.kind == "case_migrated"]
    assert staff.detail["from_version"] == 1 and staff.detail["to_version"] == 2
    engine.close()
