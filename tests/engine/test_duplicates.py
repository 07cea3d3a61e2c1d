"""Checks before an application is accepted, on SQLite and PostgreSQL: duplicate cases and plausibility.

A duplicate (an open case of the same bundle about the same company, or a licence already
issued for the name) is a warning the applicant confirms; the warning never shows another
applicant's data. Plausibility rules judge dates on the engine's clock, in China.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from engine.cases.duplicates import DuplicateCase
from engine.cases.states import Outcome
from engine.errors import Conflict, InvalidInput
from engine.people.actors import Actor
from engine.service import Engine
from engine.storage.models import Material
from engine.time.clock import ManualClock
from forms.checks import resident_id_check_char
from tests.support.engines import (
    ANALYST,
    APPLICANT,
    MINI_STARTUP,
    MINI_STARTUP_DECISIONS,
    MONDAY,
    OTHER_APPLICANT,
    bundle_engine,
    clerk,
    make_engine,
    upload,
    work_all,
)

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = bundle_engine(db_url, tmp_path, "mini-startup")
    yield eng
    eng.close()


def apply(engine: Engine, actor: Actor, confirm: bool | None, **changes: object) -> int:
    material = upload(engine, actor, "articles_of_association")
    data = {**MINI_STARTUP, **changes}
    return engine.start_case(
        actor, "mini-startup", data, {"articles_of_association": material}, confirm_duplicate=confirm
    ).id


def test_another_applicants_open_case_for_the_same_company_is_warned_without_their_data(
    engine: Engine,
) -> None:
    apply(engine, OTHER_APPLICANT, False)
    with pytest.raises(DuplicateCase) as caught:
        apply(engine, APPLICANT, False, legal_rep_name="李四")
    error = caught.value
    assert isinstance(error, Conflict) and isinstance(error, InvalidInput)  # 409, with its problems listed
    (problem,) = error.problems
    assert problem.where == "company_name" and problem.rule == "duplicate_case"
    assert problem.message == "已有一件企业名称相同的迷你企业开办申请正在办理，请核对是否重复申请"
    assert "already in progress" in problem.message_en
    said = str(problem.as_dict())
    for private in ("applicant2", "张三", str(MINI_STARTUP["legal_rep_id"]), "case_id"):
        assert private not in said
    assert problem.extra["fields"] == ["company_name"] and problem.extra["state"] == "open"


def test_the_applicant_confirms_and_the_case_starts(engine: Engine) -> None:
    first = apply(engine, OTHER_APPLICANT, False)
    second = apply(engine, APPLICANT, True)
    assert second != first
    assert engine.get_case(APPLICANT, second).status == "running"


def test_callers_that_do_not_ask_are_not_warned(engine: Engine) -> None:
    apply(engine, APPLICANT, None)
    apply(engine, APPLICANT, None)


def test_the_applicants_own_open_case_is_named(engine: Engine) -> None:
    first = apply(engine, APPLICANT, False)
    code = engine.get_case(APPLICANT, first).code
    with pytest.raises(DuplicateCase) as caught:
        apply(engine, APPLICANT, False)
    (problem,) = caught.value.problems
    assert f"办件编号 {code}" in problem.message and problem.extra["case_id"] == first
    assert engine.duplicates(APPLICANT, "mini-startup", MINI_STARTUP)[0].own_case_id == first


def test_another_company_name_or_a_withdrawn_case_is_no_duplicate(engine: Engine) -> None:
    first = apply(engine, OTHER_APPLICANT, False)
    apply(engine, APPLICANT, False, company_name="上海另一件事科技有限公司")
    engine.withdraw(OTHER_APPLICANT, first)
    apply(engine, APPLICANT, False)


def test_a_company_name_registered_by_a_finished_case_is_warned_until_its_licence_is_revoked(
    engine: Engine,
) -> None:
    first = apply(engine, OTHER_APPLICANT, None)
    work_all(engine, first, MINI_STARTUP_DECISIONS)
    assert engine.get_case(OTHER_APPLICANT, first).status == "completed"
    with pytest.raises(DuplicateCase) as caught:
        apply(engine, APPLICANT, False)
    (problem,) = caught.value.problems
    assert problem.extra["state"] == "registered"
    assert problem.message == "企业名称相同的营业执照已经核发，请核对是否重复申请"
    with engine.db.write() as session:
        session.execute(
            update(Material)
            .where(Material.issued_by_case == first, Material.kind == "business_licence")
            .values(revoked_at=MONDAY, revoked_by="clerk.market-regulation", revoked_reason="test")
        )
    apply(engine, APPLICANT, False)


def test_a_duplicate_is_looked_for_only_once_the_application_is_valid(engine: Engine) -> None:
    apply(engine, OTHER_APPLICANT, False)
    with pytest.raises(InvalidInput) as caught:
        apply(engine, APPLICANT, False, registered_capital=-1)
    assert not isinstance(caught.value, DuplicateCase)
    assert [p.where for p in caught.value.problems] == ["registered_capital"]


def test_a_supplement_is_checked_for_plausibility_where_it_changes_answers(engine: Engine) -> None:
    case_id = apply(engine, APPLICANT, None)
    for item, department, outcome, problems in (
        ("business-registration", "market-regulation", Outcome.APPROVE, []),
        ("tax-registration", "tax", Outcome.RETURN, [{"field": "legal_rep_id", "message": "证件号码有误"}]),
        ("social-insurance", "human-resources-social-security", Outcome.APPROVE, []),
    ):
        [task] = [t for t in engine.get_case(ANALYST, case_id).tasks if t.item == item and t.state == "ready"]
        engine.claim(clerk(department), task.id)
        decision = MINI_STARTUP_DECISIONS.get(item, {}) if outcome is Outcome.APPROVE else {}
        engine.complete(clerk(department), task.id, outcome, decision, "", problems)
    assert engine.get_case(APPLICANT, case_id).status == "awaiting_applicant"
    body = "1101052015010100"  # born 1 January 2015: ten years old on the test clock's day
    minor = body + "2" + resident_id_check_char(body + "2")
    with pytest.raises(InvalidInput) as caught:
        engine.supplement(APPLICANT, case_id, {"legal_rep_id": minor}, {})
    assert [(p.where, p.rule) for p in caught.value.problems] == [("legal_rep_id", "plausibility.age")]
    assert (
        engine.supplement(APPLICANT, case_id, {"legal_rep_id": "110105194912310038"}, {}).status == "running"
    )


# --- plausibility, wired into applying: the shipped newborn bundle on a moved clock --------

NEWBORN = {
    "child_name": "陈予安",
    "newborn_gender": "female",
    "newborn_birth_date": "2025-03-03",
    "birth_hospital": "浙江大学医学院附属妇产科医院",
    "mother_name": "林晓",
    "mother_id": "330106199205054020",
    "father_name": "陈浩",
    "father_id": "330106199008082516",
    "settle_with": "mother",
    "household_head_name": "林晓",
    "household_address": "浙江省杭州市西湖区文三路259号7幢302室",
    "guardian_phone": "13858012345",
    "mother_employee_insured": False,
}


@pytest.fixture
def clock() -> ManualClock:
    # 23:30 UTC on 2 March is 07:30 on 3 March in China.
    return ManualClock(MONDAY - timedelta(hours=1, minutes=30))


@pytest.fixture
def newborn_engine(db_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Engine]:
    eng = make_engine(db_url, tmp_path, clock)
    eng.deployments.deploy_dir(PROCESSES / "newborn-birth")
    yield eng
    eng.close()


def apply_newborn(engine: Engine, **changes: object) -> int:
    material = upload(engine, APPLICANT, "household_register")
    data = {**NEWBORN, **changes}
    return engine.start_case(APPLICANT, "newborn-birth", data, {"household_register": material}).id


def test_the_three_cases_of_the_issue_come_back_in_one_answer_with_the_field_problems(
    newborn_engine: Engine,
) -> None:
    male_mother = "330106199205054039"  # 17th digit 3: male
    with pytest.raises(InvalidInput) as caught:
        apply_newborn(
            newborn_engine,
            newborn_birth_date="2025-03-04",
            mother_id=male_mother,
            father_id=male_mother,
            guardian_phone="12345",
        )
    found = {(p.where, p.rule) for p in caught.value.problems}
    assert found == {
        ("guardian_phone", "format"),
        ("newborn_birth_date", "plausibility.not_future"),
        ("mother_id", "plausibility.id_sex"),
        ("father_id", "plausibility.distinct"),
    }
    for problem in caught.value.problems:
        assert problem.message and problem.message_en
    distinct = next(p for p in caught.value.problems if p.rule == "plausibility.distinct")
    assert distinct.extra["fields"] == ["father_id", "mother_id"]


def test_today_comes_from_the_engines_clock_in_china_time(newborn_engine: Engine, clock: ManualClock) -> None:
    # It is already 3 March in China although the clock (UTC) still says 2 March.
    assert newborn_engine.today().isoformat() == "2025-03-03"
    apply_newborn(newborn_engine)
    with pytest.raises(InvalidInput):
        apply_newborn(newborn_engine, newborn_birth_date="2025-03-04")
    clock.advance(timedelta(days=1))
    apply_newborn(newborn_engine, newborn_birth_date="2025-03-04")
