"""Two processes, two workflow caches, one database: a case changed by one is never advanced from
the other's stale copy.

Each ``Engine`` stands for one ``onething serve`` process (``--workers N`` runs N of them): its
own ``WorkflowCache``, the same database. A cached workflow is used only at the ``state_version``
the locked case row holds (``engine.cases.store``), so a copy another process has since moved on
from is left in the cache and the state is read from the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.errors import Conflict
from engine.service import Engine
from engine.storage.models import Case, CaseEvent, WorkItem
from engine.storage.settings import Settings
from engine.time.clock import ManualClock
from tests.support.engines import ANALYST, APPLICANT, MONDAY, TEST_BUNDLES, clerk, make_engine

TWO_DESKS = {"company_name": "上海一件事科技有限公司", "legal_rep_name": "张三"}


@pytest.fixture
def two_processes(db_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two engines with caches of their own on one database (the two-desks bundle deployed)."""
    first = make_engine(db_url, tmp_path)
    first.deployments.deploy_dir(TEST_BUNDLES / "two-desks")
    settings: Settings = first.settings
    second = Engine(settings, clock=ManualClock(MONDAY))
    try:
        yield first, second
    finally:
        second.close()
        first.close()


def version_of(engine: Engine, case_id: int) -> int:
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case.state_version


def open_task(engine: Engine, case_id: int, item: str) -> int:
    with engine.db.read() as s:
        row = s.scalars(select(WorkItem).where(WorkItem.case_id == case_id, WorkItem.item_key == item)).one()
        return row.id


def test_a_case_moved_on_by_one_process_is_advanced_from_the_database_by_the_other(
    two_processes: tuple[Engine, Engine],
) -> None:
    a, b = two_processes
    case_id = a.start_case(APPLICANT, "two-desks", TWO_DESKS, {}).id
    started_at = version_of(a, case_id)
    # B does the review: it reads the case from the database and moves it on.
    review = open_task(a, case_id, "review")
    market = clerk("market-regulation")
    b.claim(market, review)
    b.complete(market, review, "approve", {}, "同意")
    assert version_of(a, case_id) > started_at
    # A still holds its copy from the submission, at the old version.
    stale = a.store.cache.take(case_id, started_at)
    assert stale is not None
    a.store.cache.put(case_id, started_at, stale.workflow, stale.size)

    # A does the tax check: were its copy used, the review would still be waiting in it.
    tax_check = open_task(a, case_id, "tax-check")
    tax = clerk("tax")
    a.claim(tax, tax_check)
    a.complete(tax, tax_check, "approve", {}, "同意")

    view = a.get_case(ANALYST, case_id)
    assert view.status == "completed"
    assert [(t.item, t.state, t.outcome) for t in view.tasks] == [
        ("review", "completed", "approve"),
        ("tax-check", "completed", "approve"),
    ]
    with a.db.read() as s:
        kinds = list(
            s.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id))
        )
    assert kinds.count("approved") == 2 and kinds.count("task_created") == 2 and kinds[-1] == "completed"
    # And B's copy (from the review) is stale now too: B sees the finished case, not its copy.
    assert b.get_case(ANALYST, case_id).status == "completed"


def test_a_process_whose_copy_is_stale_cannot_redo_a_decision_the_other_made(
    two_processes: tuple[Engine, Engine],
) -> None:
    a, b = two_processes
    case_id = a.start_case(APPLICANT, "two-desks", TWO_DESKS, {}).id
    review = open_task(a, case_id, "review")
    market = clerk("market-regulation")
    a.claim(market, review)
    b.complete(market, review, "approve", {}, "同意")  # claimed through A, decided through B
    # A's copy still has the review ready; a second decision through A must be refused.
    with pytest.raises(Conflict):
        a.complete(market, review, "approve", {}, "同意")
    with a.db.read() as s:
        approvals = s.scalars(
            select(CaseEvent.id).where(CaseEvent.case_id == case_id, CaseEvent.kind == "approved")
        ).all()
    assert len(approvals) == 1
    assert [t.item for t in a.get_case(ANALYST, case_id).tasks if t.state == "ready"] == ["tax-check"]
