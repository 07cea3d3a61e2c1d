"""One notice (一次性告知): a round's returns reach the applicant together; only they run again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.cases.states import Outcome
from engine.errors import CaseNotFound, CaseNotWaiting, InvalidInput
from engine.service import Engine
from engine.storage.models import WorkItem
from tests.support.engines import (
    ANALYST,
    APPLICANT,
    MINI_STARTUP,
    MINI_STARTUP_DECISIONS,
    OTHER_APPLICANT,
    bundle_engine,
    clerk,
    start_mini_startup,
    work_all,
)

VALID = MINI_STARTUP
DECISIONS = MINI_STARTUP_DECISIONS
TAX = clerk("tax")
HR = clerk("human-resources-social-security")
MARKET = clerk("market-regulation")
TAX_PROBLEM = {"field": "legal_rep_name", "message": "法定代表人姓名与身份证件不一致"}
HR_PROBLEM = {"field": "employee_count", "message": "参保人数与用工登记不符"}


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = bundle_engine(db_url, tmp_path, "mini-startup")
    yield eng
    eng.close()


def registered_case(engine: Engine) -> int:
    """A case whose registration is approved: tax and social insurance now run in parallel."""
    case_id = start_mini_startup(engine)
    [registration] = engine.get_case(ANALYST, case_id).tasks
    engine.claim(MARKET, registration.id)
    engine.complete(MARKET, registration.id, Outcome.APPROVE, DECISIONS["business-registration"], "同意")
    return case_id


def open_task(engine: Engine, case_id: int, item: str) -> Any:
    [task] = [t for t in engine.get_case(ANALYST, case_id).tasks if t.item == item and t.state == "ready"]
    return task


def give_back(engine: Engine, case_id: int, item: str, problem: dict[str, str], comment: str) -> None:
    actor = TAX if item == "tax-registration" else HR
    task = open_task(engine, case_id, item)
    engine.claim(actor, task.id)
    engine.complete(actor, task.id, Outcome.RETURN, {}, comment, [problem])


def rows_by_item(engine: Engine, case_id: int) -> Counter[str]:
    with engine.db.read() as s:
        rows = s.scalars(select(WorkItem).where(WorkItem.case_id == case_id)).all()
        return Counter(r.item_key for r in rows)


def test_two_returns_in_one_round_make_one_notice(engine: Engine) -> None:
    case_id = registered_case(engine)
    give_back(engine, case_id, "tax-registration", TAX_PROBLEM, "请核对法定代表人")
    # The other department is still working: no notice yet, the applicant is not disturbed.
    halfway = engine.get_case(APPLICANT, case_id)
    assert halfway.status == "running" and halfway.notice is None
    give_back(engine, case_id, "social-insurance", HR_PROBLEM, "请核对参保人数")

    view = engine.get_case(APPLICANT, case_id)
    assert view.status == "awaiting_applicant"
    notice = view.notice
    assert notice is not None and notice["round"] == 1
    assert [(i["item"], i["department"]) for i in notice["items"]] == [
        ("tax-registration", "tax"),
        ("social-insurance", "human-resources-social-security"),
    ]
    assert [i["comment"] for i in notice["items"]] == ["请核对法定代表人", "请核对参保人数"]
    assert notice["problems"] == [
        {**TAX_PROBLEM, "item": "tax-registration", "department": "tax"},
        {**HR_PROBLEM, "item": "social-insurance", "department": "human-resources-social-security"},
    ]
    notices = [e for e in view.timeline if e.kind == "notice_issued"]
    assert len(notices) == 1
    assert notices[0].detail["departments"] == ["human-resources-social-security", "tax"]
    assert notices[0].detail["problems"] == 2
    # Nothing waits in the queues while the applicant corrects.
    assert engine.list_tasks(TAX).items == () and engine.list_tasks(HR).items == ()


def test_the_supplement_resumes_only_the_returning_tasks(engine: Engine) -> None:
    case_id = registered_case(engine)
    give_back(engine, case_id, "tax-registration", TAX_PROBLEM, "请核对")
    give_back(engine, case_id, "social-insurance", HR_PROBLEM, "请核对")

    after = engine.supplement(APPLICANT, case_id, {"legal_rep_name": "张三丰", "employee_count": 5}, {})
    assert after.status == "running" and after.notice is None
    reopened = [(t.item, t.round) for t in after.tasks if t.state == "ready"]
    assert sorted(reopened) == [("social-insurance", 2), ("tax-registration", 2)]
    assert rows_by_item(engine, case_id) == {
        "business-registration": 1,  # decided once, kept: not asked again
        "tax-registration": 2,
        "social-insurance": 2,
    }
    assert after.data is not None and after.data["employee_count"] == 5
    supplemented = [e for e in after.timeline if e.kind == "supplemented"]
    assert supplemented[0].detail["fields"] == ["employee_count", "legal_rep_name"]
    # The clerk now sees the corrected answer.
    detail = engine.get_task(HR, open_task(engine, case_id, "social-insurance").id)
    assert detail.fields["employee_count"] == 5

    done = work_all(engine, case_id, DECISIONS)
    assert sorted(done) == ["social-insurance", "tax-registration"]
    final = engine.get_case(APPLICANT, case_id)
    assert final.status == "completed"
    assert [e.kind for e in final.timeline].count("certificate_issued") == 1
    licence = engine.materials.certificate_data(final.outputs["business_licence"])
    assert licence["fields"]["uscc"] == DECISIONS["business-registration"]["uscc"]


def test_an_approval_in_the_same_round_keeps_its_decision(engine: Engine) -> None:
    case_id = registered_case(engine)
    give_back(engine, case_id, "tax-registration", TAX_PROBLEM, "请核对")
    assert engine.get_case(APPLICANT, case_id).status == "running"
    hr_task = open_task(engine, case_id, "social-insurance")
    engine.claim(HR, hr_task.id)
    engine.complete(HR, hr_task.id, Outcome.APPROVE, DECISIONS["social-insurance"], "同意")

    view = engine.get_case(APPLICANT, case_id)
    assert view.status == "awaiting_applicant"
    assert view.notice is not None
    assert [i["department"] for i in view.notice["items"]] == ["tax"]
    assert view.notice["problems"] == [{**TAX_PROBLEM, "item": "tax-registration", "department": "tax"}]

    engine.supplement(APPLICANT, case_id, {"legal_rep_name": "张三丰"}, {})
    assert work_all(engine, case_id, DECISIONS) == ["tax-registration"]
    assert rows_by_item(engine, case_id) == {
        "business-registration": 1,
        "tax-registration": 2,
        "social-insurance": 1,
    }
    assert engine.get_case(APPLICANT, case_id).status == "completed"


def test_a_second_round_of_returns_makes_a_second_notice(engine: Engine) -> None:
    case_id = registered_case(engine)
    give_back(engine, case_id, "tax-registration", TAX_PROBLEM, "第一次")
    give_back(engine, case_id, "social-insurance", HR_PROBLEM, "第一次")
    engine.supplement(APPLICANT, case_id, {"employee_count": 4}, {})
    give_back(engine, case_id, "social-insurance", HR_PROBLEM, "仍不符")
    tax_task = open_task(engine, case_id, "tax-registration")
    engine.claim(TAX, tax_task.id)
    engine.complete(TAX, tax_task.id, Outcome.APPROVE, {}, "同意")

    view = engine.get_case(APPLICANT, case_id)
    assert view.status == "awaiting_applicant"
    assert view.notice is not None and view.notice["round"] == 2
    assert [i["comment"] for i in view.notice["items"]] == ["仍不符"]
    assert [e.kind for e in view.timeline].count("notice_issued") == 2


def test_a_supplement_is_checked_whole_and_only_by_its_owner_when_awaited(engine: Engine) -> None:
    case_id = registered_case(engine)
    with pytest.raises(CaseNotWaiting):
        engine.supplement(APPLICANT, case_id, {"employee_count": 4}, {})
    give_back(engine, case_id, "tax-registration", TAX_PROBLEM, "请核对")
    give_back(engine, case_id, "social-insurance", HR_PROBLEM, "请核对")
    with pytest.raises(CaseNotFound):
        engine.supplement(OTHER_APPLICANT, case_id, {"employee_count": 4}, {})
    with pytest.raises(InvalidInput) as caught:
        engine.supplement(
            APPLICANT, case_id, {"employee_count": "many", "legal_rep_id": "110105194912310021"}, {}
        )
    assert {(p.where, p.rule) for p in caught.value.problems} == {
        ("employee_count", "type"),
        ("legal_rep_id", "not-asked"),  # the notice asked for legal_rep_name and employee_count
    }
    assert all(p.message and p.message_en for p in caught.value.problems)
    # A refused supplement changes nothing: the notice still stands.
    assert engine.get_case(APPLICANT, case_id).status == "awaiting_applicant"


def test_a_return_needs_a_reason(engine: Engine) -> None:
    case_id = registered_case(engine)
    task = open_task(engine, case_id, "tax-registration")
    engine.claim(TAX, task.id)
    with pytest.raises(InvalidInput) as caught:
        engine.complete(TAX, task.id, Outcome.RETURN, {}, "  ", [])
    assert caught.value.problems[0].rule == "return-reason"
    assert engine.get_case(APPLICANT, case_id).status == "running"
