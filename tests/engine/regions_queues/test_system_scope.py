"""A department's system account works the external tasks of its department in its division's subtree.

The ``tax-system`` test bundle (a market-regulation clerk, then the tax system's external task)
is applied for in 上城区 (330102), where both departments have an office, and without a
division (the default, 上海市). The tax system without a division (``system.tax``) works
上海市's; ``system.tax@330000`` (浙江省) works 上城区's; ``system.tax@330105`` (拱墅区) neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cases.external_views import TopicRequest
from engine.cases.states import Outcome
from engine.errors import ExternalTaskNotFound, NotAllowed, WorkItemNotFound
from engine.people.actors import Actor, Role
from engine.service import Engine
from tests.engine.external.scenario import BUNDLE, DATA, TAX_SYSTEM, TAX_TOPIC
from tests.support.engines import APPLICANT, make_engine, upload

PROCESSES = Path(__file__).resolve().parents[3] / "processes"
SHANGCHENG, GONGSHU, ZHEJIANG, HANGZHOU = "330102", "330105", "330000", "330100"


def system(division: str | None) -> Actor:
    """The tax department's system account at a division (None: the default's)."""
    return Actor(f"system.tax@{division}", Role.SYSTEM, frozenset({"tax"}), division=division)


def market_clerk(division: str | None) -> Actor:
    return Actor("clerk.market-regulation", Role.CLERK, frozenset({"market-regulation"}), division=division)


@pytest.fixture
def engine(sqlite_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(sqlite_url, tmp_path)
    eng.regions.load_shipped(PROCESSES / "divisions")
    for department in ("market-regulation", "tax"):
        eng.regions.add_office(None, department, SHANGCHENG)
    eng.regions.add_office(None, "tax", GONGSHU)
    eng.deployments.deploy_dir(BUNDLE)
    yield eng
    eng.close()


def reach_tax(engine: Engine, division: str | None) -> int:
    """A case decided in ``division`` whose market clerk approved: it waits for the tax system."""
    material = upload(engine, APPLICANT, "articles_of_association")
    case_id = engine.start_case(
        APPLICANT, "tax-system", DATA, {"articles_of_association": material}, division=division
    ).id
    task = next(t for t in engine.get_case(APPLICANT, case_id).tasks if t.item == "business-registration")
    engine.claim(market_clerk(division), task.id)
    engine.complete(market_clerk(division), task.id, Outcome.APPROVE, {"uscc": "91350100M000100Y43"}, "同意")
    return case_id


def fetch(engine: Engine, actor: Actor, worker: str = "w") -> list[int]:
    """The case ids of the tax tasks ``actor`` fetches and locks."""
    locked = engine.fetch_and_lock(actor, worker, 10, [TopicRequest(TAX_TOPIC, 60_000)])
    return [t.case_id for t in locked]


def test_a_system_fetches_and_works_only_its_subtrees_external_tasks(engine: Engine) -> None:
    zhejiang_case, default_case = reach_tax(engine, SHANGCHENG), reach_tax(engine, None)
    assert fetch(engine, system(GONGSHU)) == []  # a sibling district's system: nothing
    assert fetch(engine, system(ZHEJIANG)) == [zhejiang_case]
    assert fetch(engine, TAX_SYSTEM) == [default_case]  # system.tax without a division: 上海市's
    (zhejiang_task,) = [t for t in engine.external_tasks(system(ZHEJIANG))]
    (default_task,) = [t for t in engine.external_tasks(TAX_SYSTEM)]
    assert (zhejiang_task.case_id, zhejiang_task.division) == (zhejiang_case, SHANGCHENG)
    assert (default_task.case_id, default_task.division) == (default_case, "310000")
    assert engine.external_tasks(system(GONGSHU)) == []
    with pytest.raises(ExternalTaskNotFound):
        engine.external_task(system(ZHEJIANG), default_task.id)
    with pytest.raises(WorkItemNotFound):
        engine.get_task(system(ZHEJIANG), default_task.id)
    assert engine.get_task(system(ZHEJIANG), zhejiang_task.id).task.division == SHANGCHENG
    # Another subtree's system cannot act on a task, even naming the lock's worker.
    with pytest.raises(ExternalTaskNotFound):
        engine.complete_external(TAX_SYSTEM, zhejiang_task.id, "w", {"tax_violations": 0})
    with pytest.raises(ExternalTaskNotFound):
        engine.extend_lock(TAX_SYSTEM, zhejiang_task.id, "w", 1000)
    with pytest.raises(ExternalTaskNotFound):
        engine.unlock(system(GONGSHU), zhejiang_task.id)
    engine.complete_external(system(ZHEJIANG), zhejiang_task.id, "w", {"tax_violations": 0})
    done = next(t for t in engine.get_case(APPLICANT, zhejiang_case).tasks if t.id == zhejiang_task.id)
    assert done.state == "completed"


def test_supervisors_and_scoped_admins_reach_external_tasks_of_their_subtree(engine: Engine) -> None:
    zhejiang_case, default_case = reach_tax(engine, SHANGCHENG), reach_tax(engine, None)
    city = Actor("supervisor.tax@330100", Role.CLERK, frozenset({"tax"}), supervisor=True, division=HANGZHOU)
    sibling = Actor(
        "supervisor.tax@330105", Role.CLERK, frozenset({"tax"}), supervisor=True, division=GONGSHU
    )
    scoped_admin = Actor("admin@330100", Role.ADMIN, division=HANGZHOU)
    assert [t.case_id for t in engine.external_tasks(city)] == [zhejiang_case]
    assert [t.case_id for t in engine.external_tasks(scoped_admin)] == [zhejiang_case]
    assert engine.external_tasks(sibling) == []
    (task,) = engine.external_tasks(city)
    with pytest.raises(ExternalTaskNotFound):
        engine.hand_to_clerk(sibling, task.id, "系统故障")
    default_task = next(
        t for t in engine.external_tasks(Actor("admin", Role.ADMIN)) if t.case_id == default_case
    )
    with pytest.raises(ExternalTaskNotFound):
        engine.set_retries(scoped_admin, default_task.id, 3)
    handed = engine.hand_to_clerk(city, task.id, "系统故障，转人工办理")
    assert (handed.kind, handed.division) == ("human", SHANGCHENG)
    # Now a human task of 上城区's tax office: its clerk claims it, the city supervisor may not.
    assert [t.id for t in engine.list_tasks(city).items] == [task.id]
    with pytest.raises(NotAllowed):
        engine.claim(city, task.id)
    tax_clerk = Actor("clerk.tax@330102", Role.CLERK, frozenset({"tax"}), division=SHANGCHENG)
    assert [t.id for t in engine.list_tasks(tax_clerk).items] == [task.id]
    assert engine.claim(tax_clerk, task.id).assignee == tax_clerk.username
