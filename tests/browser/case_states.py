"""Cases of applicant1 in the states the applicant's pages must show, made through the engine.

- ``fresh``: just submitted, no department has decided (it may be withdrawn);
- ``pending``: registration approved, then public security returned while the other
  departments of the round still work (办理中 with a return pending);
- ``awaiting``: the same return, and every other department of the round has looked: the one
  correction notice waits for the applicant;
- ``completed``: every department approved, a licence issued, the whole service rated;
- ``withdrawn``: withdrawn by the applicant before any decision.
"""

from __future__ import annotations

import io
from typing import Any

from engine.demo import demo_pdf, department_systems_work
from engine.feedback import ratings
from engine.people.actors import Actor, Role
from engine.service import Engine

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)
RETURNING = "public-security"  # the department that asks for a correction
RETURN_PROBLEMS = [{"field": "legal_rep_phone", "message": "该号码无法接通，请提供可联系的手机号码"}]


def clerk_of(department: str) -> Actor:
    """The demo clerk of a department at the default division."""
    return Actor(f"clerk.{department}", Role.CLERK, frozenset({department}))


def start(engine: Engine, bundle: str = BUNDLE) -> int:
    """A case of applicant1 from the bundle's first example, its materials uploaded."""
    example = engine.bundle_detail(bundle).examples[0]
    materials = {
        kind: engine.materials.upload(APPLICANT.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind))).id
        for kind in example["materials"]
    }
    return engine.start_case(APPLICANT, bundle, example["data"], materials).id


def _decisions(engine: Engine, bundle: str = BUNDLE) -> dict[str, Any]:
    return dict(engine.bundle_detail(bundle).examples[0]["decisions"])


def work_round(engine: Engine, case_id: int, returning: str | None = None, only: str | None = None) -> None:
    """Decide the case's open clerk tasks once (``only``: just that department's), systems working too.

    ``returning``'s task is sent back with ``RETURN_PROBLEMS``; every other one is approved.
    """
    decisions = _decisions(engine)
    if only is None:
        department_systems_work(engine, case_id, decisions)
    for task in engine.get_case(APPLICANT, case_id).tasks:
        if task.state != "ready" or task.by_system or (only is not None and task.department != only):
            continue
        clerk = clerk_of(task.department)
        engine.claim(clerk, task.id)
        if task.department == returning:
            engine.complete(clerk, task.id, "return", {}, "请核对联系方式", RETURN_PROBLEMS)
        else:
            engine.complete(clerk, task.id, "approve", decisions.get(task.item, {}))


def registered(engine: Engine) -> int:
    """A case whose registration is approved: the parallel departments now work."""
    case_id = start(engine)
    work_round(engine, case_id, only="market-regulation")
    return case_id


def pending(engine: Engine) -> int:
    """Public security returned; the others of the round still work."""
    case_id = registered(engine)
    work_round(engine, case_id, returning=RETURNING, only=RETURNING)
    assert engine.get_case(APPLICANT, case_id).status == "running"
    return case_id


def awaiting(engine: Engine) -> int:
    """Public security returned and the round is over: the one notice waits for the applicant."""
    case_id = registered(engine)
    for _ in range(10):
        if engine.get_case(APPLICANT, case_id).status != "running":
            break
        work_round(engine, case_id, returning=RETURNING)
    assert engine.get_case(APPLICANT, case_id).status == "awaiting_applicant"
    return case_id


def completed(engine: Engine, rate: bool = True) -> int:
    """Every department approved (a licence issued); the whole service rated 5 when ``rate``."""
    case_id = start(engine)
    for _ in range(20):
        if engine.get_case(APPLICANT, case_id).status != "running":
            break
        work_round(engine, case_id)
    assert engine.get_case(APPLICANT, case_id).status == "completed"
    if rate:
        ratings.rate(engine.db, engine.clock, APPLICANT, case_id, 5, "很方便", "", calendar=engine.calendar)
    return case_id


def withdrawn(engine: Engine) -> int:
    """Withdrawn by the applicant before any department decided."""
    case_id = start(engine)
    engine.withdraw(APPLICANT, case_id)
    return case_id


def all_states(engine: Engine) -> dict[str, int]:
    """One case in each state, by name."""
    return {
        "fresh": start(engine),
        "pending": pending(engine),
        "awaiting": awaiting(engine),
        "completed": completed(engine),
        "withdrawn": withdrawn(engine),
    }
