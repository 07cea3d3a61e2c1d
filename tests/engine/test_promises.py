"""容缺受理 (accept with a promise): the case runs on; the material stays listed until it arrives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.errors import CaseNotWaiting, InvalidInput
from engine.service import Engine
from engine.time.clock import ManualClock
from tests.support.engines import (
    ANALYST,
    APPLICANT,
    MONDAY,
    bundle_engine,
    clerk,
    upload,
    work_all,
)

DATA = {
    "company_name": "上海一件事科技有限公司",
    "legal_rep_name": "张三",
    "legal_rep_id": "11010519491231002X",
    "address": "上海市浦东新区世纪大道1号",
    "registered_capital": 100,
    "has_employees": False,
}
DECISIONS = {"business-registration": {"uscc": "91350100M000100Y43"}}
PROMISED = "articles_of_association"  # the mini bundle allows it 5 working days
MARKET = clerk("market-regulation")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def engine(db_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Engine]:
    eng = bundle_engine(db_url, tmp_path, "mini-startup", clock)
    yield eng
    eng.close()


def promised_case(engine: Engine) -> int:
    return engine.start_case(APPLICANT, "mini-startup", DATA, {}, promised=[PROMISED]).id


def test_a_promised_case_runs_with_its_pending_material_listed(engine: Engine) -> None:
    case = engine.get_case(APPLICANT, promised_case(engine))
    assert case.status == "running"
    assert case.materials == {}
    pending = case.pending_materials[PROMISED]
    assert datetime.fromisoformat(pending["promised_at"]) == MONDAY
    assert datetime.fromisoformat(pending["due"]) == engine.calendar.due_for(5, MONDAY)
    [submitted] = [e for e in case.timeline if e.kind == "submitted"]
    assert submitted.detail["promised"] == [PROMISED]
    # The first department works on it now; the clerk and the analyst see what is still owed.
    [task] = engine.list_tasks(MARKET).items
    assert task.item == "business-registration"
    assert engine.get_case(MARKET, case.id).pending_materials == case.pending_materials
    assert engine.get_case(ANALYST, case.id).pending_materials == case.pending_materials
    assert PROMISED not in engine.get_task(MARKET, task.id).materials


def test_the_promised_material_handed_in_later_clears_the_promise(engine: Engine) -> None:
    case_id = promised_case(engine)
    material = upload(engine, APPLICANT, PROMISED)
    view = engine.supplement(APPLICANT, case_id, {}, {PROMISED: material})
    assert view.status == "running" and view.pending_materials == {}
    assert view.materials == {PROMISED: material}
    [kept] = [e for e in view.timeline if e.kind == "supplemented"]
    assert kept.detail["promises_kept"] == [PROMISED]
    [task] = engine.list_tasks(MARKET).items
    assert engine.get_task(MARKET, task.id).materials == {PROMISED: material}
    assert task.round == 1  # a kept promise is not a correction round
    # With nothing owed and no notice, a further supplement has nothing to answer.
    with pytest.raises(CaseNotWaiting):
        engine.supplement(APPLICANT, case_id, {}, {PROMISED: material})


def test_the_pending_material_stays_listed_until_it_arrives(engine: Engine) -> None:
    case_id = promised_case(engine)
    work_all(engine, case_id, DECISIONS)
    finished = engine.get_case(APPLICANT, case_id)
    assert finished.status == "completed"
    assert list(finished.pending_materials) == [PROMISED]


def test_only_materials_the_bundle_allows_may_be_promised(engine: Engine) -> None:
    with pytest.raises(InvalidInput) as caught:
        engine.start_case(
            APPLICANT, "mini-startup", DATA, {}, promised=["business_licence", "premises_proof"]
        )
    found = {(p.where, p.rule) for p in caught.value.problems}
    assert ("business_licence", "promise_not_allowed") in found
    assert ("premises_proof", "promise_not_allowed") in found
    assert (PROMISED, "missing") in found  # nothing promised or given for it: still missing
    for problem in caught.value.problems:
        assert problem.message and problem.message_en


def test_a_material_given_now_is_not_pending_even_if_promised(engine: Engine) -> None:
    material = upload(engine, APPLICANT, PROMISED)
    case = engine.start_case(APPLICANT, "mini-startup", DATA, {PROMISED: material}, promised=[PROMISED])
    assert case.pending_materials == {}


def test_a_missed_promise_is_visible_to_clerk_and_analyst(engine: Engine, clock: ManualClock) -> None:
    case_id = promised_case(engine)
    on_time = engine.get_case(ANALYST, case_id).pending_materials[PROMISED]
    assert on_time["overdue"] is False
    clock.set(datetime.fromisoformat(on_time["due"]) + timedelta(minutes=1))
    for actor in (ANALYST, MARKET, APPLICANT):
        assert engine.get_case(actor, case_id).pending_materials[PROMISED]["overdue"] is True
