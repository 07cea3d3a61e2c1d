"""Migrating running enterprise-startup cases from v1 to v2 (a rename, a merge, an added step)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.cases.migration_plans import CaseFilter
from engine.errors import InvalidInput, NotAllowed
from engine.service import Engine
from engine.storage.migration_tables import MigrationRunCase
from engine.storage.models import Case, CaseEvent, WorkItem
from tests.engine.migration.support import PLAN_TASKS, STARTUP, V2, examples, start_cases, startup_engine
from tests.support.engines import ANALYST, APPLICANT, clerk, work_all

CASES = 1000


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a migration may touch, for comparing before and after."""
    with engine.db.read() as s:
        return {
            "cases": [
                (c.id, c.deployment_id, c.version, c.status, c.state_version, c.state, str(c.data))
                for c in s.scalars(select(Case).order_by(Case.id))
            ],
            "tasks": [
                (w.id, w.spiff_id, w.task_name, w.state, w.assignee, w.due_at, w.deployment_id)
                for w in s.scalars(select(WorkItem).order_by(WorkItem.id))
            ],
            "events": [(e.id, e.kind) for e in s.scalars(select(CaseEvent).order_by(CaseEvent.id))],
        }


def test_a_thousand_cases_move_to_v2_and_all_finish(db_url: str, tmp_path: Path) -> None:
    engine = startup_engine(db_url, tmp_path)
    t0 = time.perf_counter()
    ids = start_cases(engine, CASES)
    made = time.perf_counter() - t0
    engine.deployments.deploy_dir(V2)
    plan = engine.create_migration_plan(ANALYST, STARTUP, 1, 2, PLAN_TASKS, [], {"default": "keep"})
    assert engine.validate_migration(ANALYST, STARTUP, plan.id).valid
    with engine.db.read() as s:
        running = set(s.scalars(select(Case.id).where(Case.status == "running", Case.version == 1)))
        claimed = {
            (w.case_id, w.task_name): (w.assignee, w.due_at)
            for w in s.scalars(select(WorkItem).where(WorkItem.state == "claimed"))
        }
        done_steps = Counter(
            s.scalars(
                select(WorkItem.case_id).where(WorkItem.case_id.in_(running), WorkItem.state == "completed")
            )
        )
    # 3 in 14 cases finish on v1 (the example without employees, worked 4 steps or more).
    assert len(running) > CASES * 0.7 and claimed
    # The running cases wait at every point of the route, 0 to 6 steps done, each at many cases.
    points = Counter(done_steps[case_id] for case_id in running)
    assert set(points) == set(range(7)) and min(points.values()) >= CASES // 20, points
    t1 = time.perf_counter()
    report = engine.start_migration_run(ANALYST, STARTUP, plan.id, CaseFilter(), batch_size=200)
    migrated = time.perf_counter() - t1
    assert report.counts["migrated"] == len(running) and report.counts["failed"] == 0, report.failures[:3]
    assert report.status == "finished"
    renamed = {"Task_engrave_seal": "Task_seal_engraving", "Task_issue_invoices": "Task_tax_and_invoices"}
    with engine.db.read() as s:
        assert set(s.scalars(select(Case.version).where(Case.id.in_(running)))) == {2}
        for w in s.scalars(select(WorkItem).where(WorkItem.state == "claimed")):
            assignee, due = claimed[
                (w.case_id, next((k for k, v in renamed.items() if v == w.task_name), w.task_name))
            ]
            assert (w.assignee, w.due_at) == (assignee, due)
        audit = {
            case_id: detail
            for case_id, detail in s.execute(
                select(CaseEvent.case_id, CaseEvent.detail).where(CaseEvent.kind == "case_migrated")
            )
        }
    assert set(audit) == running
    assert all(d["from_version"] == 1 and d["to_version"] == 2 for d in audit.values())
    found = examples(engine)
    t2 = time.perf_counter()
    for i, case_id in enumerate(ids):
        work_all(engine, case_id, found[i % 2]["decisions"])
    worked = time.perf_counter() - t2
    with engine.db.read() as s:
        assert set(s.scalars(select(Case.status).where(Case.id.in_(ids)))) == {"completed"}
        archived = set(
            s.scalars(
                select(WorkItem.case_id).where(
                    WorkItem.task_name == "Task_archive", WorkItem.outcome == "approve"
                )
            )
        )
    assert running <= archived  # every migrated case did v2's added step
    print(
        f"\n{db_url.split(':')[0]}: made {made:.1f}s, migrated {len(running)} in {migrated:.1f}s, "
        f"worked {worked:.1f}s"
    )


def test_a_dry_run_changes_nothing_and_shows_each_move(db_url: str, tmp_path: Path) -> None:
    engine = startup_engine(db_url, tmp_path)
    ids = start_cases(engine, 14)
    engine.deployments.deploy_dir(V2)
    plan = engine.create_migration_plan(ANALYST, STARTUP, 1, 2, PLAN_TASKS, [], {"default": "keep"})
    before = snapshot(engine)
    previews = engine.dry_run_migration(ANALYST, STARTUP, plan.id, CaseFilter(case_ids=tuple(ids)))
    assert snapshot(engine) == before
    assert previews and all(p.problem is None for p in previews)
    moves = {(step.source, step.target) for p in previews for step in p.steps}
    assert ("Task_tax_registration", "Task_tax_and_invoices") in moves
    assert ("Task_engrave_seal", "Task_seal_engraving") in moves
    kept = [step for p in previews for step in p.steps if step.assignee is not None]
    assert kept and all(step.claim == "kept" and step.due_from == step.due_to for step in kept)


def test_validation_refuses_unmapped_unknown_and_cross_department_moves(db_url: str, tmp_path: Path) -> None:
    engine = startup_engine(db_url, tmp_path)
    engine.deployments.deploy_dir(V2)

    def rules(tasks: list[dict[str, Any]]) -> dict[str, str]:
        plan = engine.create_migration_plan(ANALYST, STARTUP, 1, 2, tasks, [], {})
        check = engine.validate_migration(ANALYST, STARTUP, plan.id)
        return {p.where or "": p.rule or "" for p in check.problems}

    unmapped = rules([])  # the invoice step has no same id and SpecDiff cannot align it
    assert unmapped.get("Task_issue_invoices") == "unmapped"
    assert rules([*PLAN_TASKS[:2], {"from": "Task_issue_invoices", "to": "Task_nowhere"}]) == {
        "Task_issue_invoices": "unknown-target"
    }
    cross = [*PLAN_TASKS, {"from": "Task_housing_fund", "to": "Task_social_insurance"}]
    assert rules(cross) == {"Task_housing_fund": "cross-department"}
    said: list[dict[str, Any]] = [
        *PLAN_TASKS,
        {"from": "Task_housing_fund", "to": "Task_social_insurance", "cross_department": True},
    ]
    assert rules(said) == {}
    bad = engine.create_migration_plan(ANALYST, STARTUP, 1, 2, [], [], {})
    with pytest.raises(InvalidInput):
        engine.start_migration_run(ANALYST, STARTUP, bad.id, CaseFilter())
    with pytest.raises(NotAllowed):
        engine.create_migration_plan(APPLICANT, STARTUP, 1, 2, PLAN_TASKS, [], {})
    with pytest.raises(NotAllowed):
        engine.validate_migration(clerk("tax"), STARTUP, bad.id)


def test_field_changes_and_recomputed_due_times_apply(db_url: str, tmp_path: Path) -> None:
    engine = startup_engine(db_url, tmp_path)
    ids = start_cases(engine, 3)  # case 0 waits at registration, cases 1-2 further on
    engine.deployments.deploy_dir(V2)
    fields = [
        {"field": "bank_name", "action": "rename", "to": "bank"},
        {"field": "seal_set", "action": "drop"},
        {"field": "channel", "action": "default", "value": "online"},
    ]
    plan = engine.create_migration_plan(
        ANALYST, STARTUP, 1, 2, PLAN_TASKS, fields, {"default": "recompute", "release_claims": True}
    )
    report = engine.start_migration_run(ANALYST, STARTUP, plan.id, CaseFilter(case_ids=(ids[0],)))
    assert report.counts["migrated"] == 1
    with engine.db.read() as s:
        case = s.get(Case, ids[0])
        assert case is not None
        assert "bank" in case.data and "bank_name" not in case.data and "seal_set" not in case.data
        assert case.data["channel"] == "online"
        row = s.scalars(
            select(WorkItem).where(WorkItem.case_id == ids[0], WorkItem.state.in_(["ready", "claimed"]))
        ).one()
        assert row.state == "ready" and row.assignee is None  # the plan released claims
        assert row.due_at == engine.calendar.due_for(1, row.created_at)
    # A second run of the same plan skips nothing it already moved: the case is on v2 now.
    again = engine.start_migration_run(ANALYST, STARTUP, plan.id, CaseFilter(case_ids=(ids[0],)))
    assert sum(again.counts.values()) == 0


def test_resuming_skips_a_case_that_moved_or_finished_meanwhile(db_url: str, tmp_path: Path) -> None:
    engine = startup_engine(db_url, tmp_path)
    ids = start_cases(engine, 2)
    engine.deployments.deploy_dir(V2)
    plan = engine.create_migration_plan(ANALYST, STARTUP, 1, 2, PLAN_TASKS, [], {})
    with engine.db.write() as s:  # a run listed both cases and stopped before moving any
        from engine.storage.migration_tables import MigrationRun

        run = MigrationRun(plan_id=plan.id, filter={}, batch_size=10, status="running", created_by="analyst")
        s.add(run)
        s.flush()
        s.add_all(MigrationRunCase(run_id=run.id, case_id=i, state="pending") for i in ids)
        run_id = run.id
    work_all(engine, ids[0], examples(engine)[0]["decisions"])  # finished on v1 meanwhile
    report = engine.resume_migration_run(ANALYST, STARTUP, run_id)
    assert report.counts["migrated"] == 1 and report.counts["skipped"] == 1
    assert report.failures[0].case_id == ids[0] and "completed" in report.failures[0].reason
