"""Running enterprise-startup cases on v1 at different points, and the v2 plan the tests use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.cases.states import Outcome, WorkItemState
from engine.demo import department_systems_work
from engine.service import Engine
from engine.storage.models import WorkItem
from engine.storage.settings import shipped_processes_dir
from tests.support.engines import APPLICANT, clerk, make_engine, upload

STARTUP = "enterprise-startup"
V2 = Path(__file__).resolve().parent / "enterprise-startup-v2"
# v2 renames the seal task, merges the tax system's registration with the invoice clerk's step,
# and adds a filing step at the end; the rename and the merge need the plan to say where to go.
PLAN_TASKS = [
    {"from": "Task_engrave_seal", "to": "Task_seal_engraving"},
    {"from": "Task_tax_registration", "to": "Task_tax_and_invoices"},
    {"from": "Task_issue_invoices", "to": "Task_tax_and_invoices"},
]


def startup_engine(db_url: str, tmp_path: Path) -> Engine:
    """An engine with enterprise-startup v1 deployed."""
    engine = make_engine(db_url, tmp_path)
    engine.deployments.deploy_dir(shipped_processes_dir() / STARTUP)
    return engine


def examples(engine: Engine) -> list[dict[str, Any]]:
    """The bundle's worked examples (with employees and invoices; without)."""
    return [dict(e) for e in engine.bundle_detail(STARTUP, version=1).examples]


def start_cases(engine: Engine, count: int) -> list[int]:
    """``count`` cases, alternating the two examples, worked forward 0..6 steps (case i: i % 7)."""
    found = examples(engine)
    materials = {kind: upload(engine, APPLICANT, kind) for e in found for kind in e["materials"]}
    ids: list[int] = []
    for i in range(count):
        example = found[i % len(found)]
        chosen = {kind: materials[kind] for kind in example["materials"]}
        case_id = engine.start_case(APPLICANT, STARTUP, example["data"], chosen).id
        work_steps(engine, case_id, example["decisions"], i % 7, claim_last=i % 3 == 0)
        ids.append(case_id)
    return ids


def open_human_tasks(engine: Engine, case_id: int) -> list[tuple[int, str, str, str]]:
    """The case's open clerk tasks, oldest first: (id, state, department, item).

    The engine's own task rows, read as ``get_case`` reads them (without building the whole
    case view, timeline and materials, which a walk of a thousand cases does not need).
    """
    with engine.db.read() as s:
        rows = s.execute(
            select(WorkItem.id, WorkItem.state, WorkItem.department, WorkItem.item_key)
            .where(
                WorkItem.case_id == case_id,
                WorkItem.kind == "human",
                WorkItem.state.in_((WorkItemState.READY, WorkItemState.CLAIMED)),
            )
            .order_by(WorkItem.id)
        ).all()
    return [(r.id, str(r.state), r.department, r.item_key) for r in rows]


def work_steps(
    engine: Engine, case_id: int, decisions: dict[str, Any], steps: int, *, claim_last: bool = False
) -> None:
    """Do ``steps`` actions on a case (a system's step or one clerk's approval); maybe claim one more."""
    for _ in range(steps):
        if department_systems_work(engine, case_id, decisions):
            continue
        open_items = open_human_tasks(engine, case_id)
        if not open_items:
            return
        task_id, state, department, item = open_items[0]
        actor = clerk(department)
        if state == WorkItemState.READY:
            engine.claim(actor, task_id)
        engine.complete(actor, task_id, Outcome.APPROVE, decisions.get(item, {}), "同意")
    if claim_last:
        ready = [t for t in open_human_tasks(engine, case_id) if t[1] == WorkItemState.READY]
        if ready:
            engine.claim(clerk(ready[-1][2]), ready[-1][0])
