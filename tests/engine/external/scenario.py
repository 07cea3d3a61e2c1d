"""The test bundle ``tax-system`` and the people around it: a case that reaches its systems' tasks.

After the business registration (a clerk of market-regulation), the tax system (topic
``tax-registration``, priority 5, a refusal caught by an error boundary) and the social
insurance system (topic = its department key) each get an external task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.cases.external_views import ExternalTaskView, TopicRequest
from engine.cases.states import Outcome
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.time.clock import ManualClock
from tests.support.engines import APPLICANT, make_engine, upload

BUNDLE = Path(__file__).resolve().parent / "bundles" / "tax-system"
TAX_TOPIC = "tax-registration"
SOCIAL = "human-resources-social-security"

DATA: dict[str, Any] = {
    "company_name": "上海一件事科技有限公司",
    "legal_rep_name": "张三",
    "legal_rep_id": "11010519491231002X",
    "address": "上海市浦东新区世纪大道1号",
    "employee_count": 3,
}

TAX_SYSTEM = Actor("system.tax", Role.SYSTEM, frozenset({"tax"}))
SOCIAL_SYSTEM = Actor(f"system.{SOCIAL}", Role.SYSTEM, frozenset({SOCIAL}))
TAX_CLERK = Actor("clerk.tax", Role.CLERK, frozenset({"tax"}))
TAX_SUPERVISOR = Actor("supervisor.tax", Role.CLERK, frozenset({"tax"}), supervisor=True)
MARKET_SUPERVISOR = Actor(
    "supervisor.market-regulation", Role.CLERK, frozenset({"market-regulation"}), supervisor=True
)
MARKET_CLERK = Actor("clerk.market-regulation", Role.CLERK, frozenset({"market-regulation"}))
ADMIN = Actor("admin", Role.ADMIN)


def tax_engine(db_url: str, tmp_path: Path, clock: ManualClock | None = None) -> Engine:
    """An engine with ``tax-system`` deployed."""
    engine = make_engine(db_url, tmp_path, clock)
    engine.deployments.deploy_dir(BUNDLE)
    return engine


def start_case(engine: Engine) -> int:
    """Apply and let the market clerk approve: the case now waits for both systems."""
    material = upload(engine, APPLICANT, "articles_of_association")
    case_id = engine.start_case(APPLICANT, "tax-system", DATA, {"articles_of_association": material}).id
    task = next(t for t in engine.get_case(APPLICANT, case_id).tasks if t.item == "business-registration")
    engine.claim(MARKET_CLERK, task.id)
    engine.complete(MARKET_CLERK, task.id, Outcome.APPROVE, {"uscc": "91350100M000100Y43"}, "同意")
    return case_id


def fetch_tax(
    engine: Engine, worker: str = "tax-worker-1", lock_ms: int = 60_000, max_tasks: int = 10, **kwargs: Any
) -> list[ExternalTaskView]:
    """The tax system's fetch-and-lock on its topic."""
    return engine.fetch_and_lock(
        TAX_SYSTEM, worker, max_tasks, [TopicRequest(TAX_TOPIC, lock_ms, kwargs.get("variables"))], True
    )
