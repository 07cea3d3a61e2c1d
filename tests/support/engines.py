"""Building real engines for tests: a real database, a real materials folder, a moved clock."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.cases.states import Outcome
from engine.demo import department_systems_work
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.settings import Settings
from engine.time.clock import ManualClock

TEST_BUNDLES = Path(__file__).resolve().parent.parent / "engine" / "bundles"
# A Monday morning in Beijing (01:00 UTC), far from public holidays.
MONDAY = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)

APPLICANT = Actor("applicant1", Role.APPLICANT)
OTHER_APPLICANT = Actor("applicant2", Role.APPLICANT)
ANALYST = Actor("analyst", Role.ANALYST)

# A valid application to the test bundle ``mini-startup`` (with employees: every item runs),
# and the decisions its clerks enter to approve.
MINI_STARTUP = {
    "company_name": "上海一件事科技有限公司",
    "legal_rep_name": "张三",
    "legal_rep_id": "11010519491231002X",
    "address": "上海市浦东新区世纪大道1号",
    "registered_capital": 100,
    "has_employees": True,
    "employee_count": 3,
}
MINI_STARTUP_DECISIONS = {
    "business-registration": {"uscc": "91350100M000100Y43"},
    "social-insurance": {"social_insurance_no": "SI00001"},
}

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def clerk(department: str, name: str | None = None) -> Actor:
    """A clerk of one department."""
    return Actor(name or f"clerk.{department}", Role.CLERK, frozenset({department}))


def make_engine(db_url: str, tmp_path: Path, clock: ManualClock | None = None, **settings: Any) -> Engine:
    """An engine on a fresh database with the schema in place."""
    config = Settings(database_url=db_url, data_dir=tmp_path / "var", **settings)
    engine = Engine(config, clock=clock or ManualClock(MONDAY))
    engine.upgrade()
    return engine


def bundle_engine(db_url: str, tmp_path: Path, bundle: str, clock: ManualClock | None = None) -> Engine:
    """``make_engine`` with one test bundle of ``tests/engine/bundles`` deployed."""
    engine = make_engine(db_url, tmp_path, clock)
    engine.deployments.deploy_dir(TEST_BUNDLES / bundle)
    return engine


def upload(engine: Engine, actor: Actor, kind: str, content: bytes | None = None) -> str:
    """Upload a small real PDF as a material of ``kind``; returns its id."""
    body = content if content is not None else PDF + kind.encode()
    return engine.materials.upload(actor.username, kind, f"{kind}.pdf", io.BytesIO(body)).id


def start_mini_startup(engine: Engine, data: dict[str, Any] | None = None) -> int:
    """Apply to ``mini-startup`` as APPLICANT with its articles uploaded (``MINI_STARTUP`` by default)."""
    material = upload(engine, APPLICANT, "articles_of_association")
    return engine.start_case(
        APPLICANT, "mini-startup", data or MINI_STARTUP, {"articles_of_association": material}
    ).id


def work_all(engine: Engine, case_id: int, decisions: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Approve every open task of a case, round after round; returns the items done in order.

    Clerks claim and approve their departments' tasks; steps a department's own system does
    (external tasks, items waiting for a system's message) are done by the demo's in-process
    department-system worker with the same decisions.
    """
    done: list[str] = []
    for _ in range(50):
        by_systems = department_systems_work(engine, case_id, decisions or {})
        done.extend(step.item for step in by_systems)
        if by_systems:
            continue  # their results may open further system steps before any clerk's
        view = engine.get_case(ANALYST, case_id)
        open_items = [t for t in view.tasks if t.state in ("ready", "claimed")]
        if not open_items:
            return done
        for task in open_items:
            actor = clerk(task.department)
            if task.state == "ready":
                engine.claim(actor, task.id)
            engine.complete(actor, task.id, Outcome.APPROVE, (decisions or {}).get(task.item, {}), "同意")
            done.append(task.item)
    raise AssertionError("the case did not finish within 50 rounds")
