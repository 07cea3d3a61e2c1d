"""An applicant withdraws (撤回) a case only while no department has decided on it.

A claimed task is not yet a decision: the case may still be withdrawn, and its open rows are
cancelled. Once a department has approved (or returned) a step, the withdrawal is refused with
a clear conflict and the case goes on untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cases.states import WorkItemState, decided
from engine.errors import Conflict
from engine.service import Engine
from tests.support.engines import APPLICANT, MINI_STARTUP_DECISIONS, bundle_engine, clerk, start_mini_startup

MARKET = clerk("market-regulation")


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = bundle_engine(db_url, tmp_path, "mini-startup")
    yield eng
    eng.close()


def test_a_case_whose_first_step_is_only_claimed_can_be_withdrawn(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    [registration] = engine.get_case(APPLICANT, case_id).tasks
    engine.claim(MARKET, registration.id)
    assert not decided(t.state for t in engine.get_case(APPLICANT, case_id).tasks)
    withdrawn = engine.withdraw(APPLICANT, case_id)
    assert withdrawn.status == "withdrawn"
    assert [t.state for t in withdrawn.tasks] == [WorkItemState.CANCELLED]


def test_a_case_a_department_has_decided_on_cannot_be_withdrawn(engine: Engine) -> None:
    case_id = start_mini_startup(engine)
    [registration] = engine.get_case(APPLICANT, case_id).tasks
    engine.claim(MARKET, registration.id)
    engine.complete(MARKET, registration.id, "approve", MINI_STARTUP_DECISIONS["business-registration"])
    before = engine.get_case(APPLICANT, case_id)
    assert decided(t.state for t in before.tasks)
    with pytest.raises(Conflict, match="不能撤回"):
        engine.withdraw(APPLICANT, case_id)
    after = engine.get_case(APPLICANT, case_id)
    assert after.status == "running"
    assert [(t.id, t.state) for t in after.tasks] == [(t.id, t.state) for t in before.tasks]
    assert "withdrawn" not in [e.kind for e in after.timeline]
