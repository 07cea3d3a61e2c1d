"""The long-review bundle's case, read the same way by its test and its benchmark.

``long-review`` (tests/engine/bundles): one desk checks 200 entries one after another, so a
case takes 200 task actions; the test asserts its state grows linearly, the benchmark times it.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.cases.states import WorkItemState
from engine.service import Engine
from engine.storage.models import Case, WorkItem
from tests.support.engines import clerk

BUNDLE = "long-review"
ENTRIES = 200  # the bundle's loopCardinality
DESK = clerk("market-regulation")
DATA = {"company_name": "上海一件事科技有限公司"}


def state_bytes(engine: Engine, case_id: int) -> int:
    """The stored workflow state's size in UTF-8 bytes."""
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return len(case.state.encode())


def ready_task(engine: Engine, case_id: int) -> int:
    """The case's one ready task row."""
    with engine.db.read() as s:
        found = s.scalars(
            select(WorkItem.id).where(WorkItem.case_id == case_id, WorkItem.state == WorkItemState.READY)
        ).one()
        return int(found)
